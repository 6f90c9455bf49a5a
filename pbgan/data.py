"""Training and evaluation data: an embedded synthetic face set, CelebA, image folders.

Everything ends up as a ``tf.data`` pipeline of float32 batches in ``[-1, 1]``
(:func:`make_dataset`) or as uint8 arrays for the SWD metric (:func:`real_images`).
Nothing is ever downloaded and the user's files are only read.

The synthetic set (:func:`synthetic_faces`) lets ``train`` run on a fresh machine: a
procedural cartoon-face data set, deterministic by seed, with structure at the 64, 32
and 16 pixel scales that SWD compares.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import io
import logging
import math
import os
import threading
import zipfile
from pathlib import Path

import pbgan  # noqa: F401  (selects Keras 2 before TensorFlow loads)

import numpy as np
import tensorflow as tf
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = [
    "CELEBA_CROP",
    "CELEBA_IMAGE_SIZE",
    "IMAGE_EXTENSIONS",
    "SYNTHETIC",
    "SYNTHETIC_SEED",
    "DataError",
    "SourceInfo",
    "crop_box",
    "describe_source",
    "make_dataset",
    "preprocess",
    "real_images",
    "synthetic_face",
    "synthetic_faces",
    "synthetic_faces_at",
]

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------
# Counter-based randomness: every parameter of image ``i`` is a hash of (seed, i, k), so
# any slice of the data set renders on its own and batch boundaries never matter.
# --------------------------------------------------------------------------------------

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _splitmix(x: np.ndarray) -> np.ndarray:
    x = x + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * _MIX1
    x = (x ^ (x >> np.uint64(27))) * _MIX2
    return x ^ (x >> np.uint64(31))


class _Draws:
    """Independent uniform streams for a vector of image indices.

    All streams are hashed in one vectorised call; a draw is then a column."""

    _STREAMS = 128

    def __init__(self, seed: int, index: np.ndarray):
        with np.errstate(over="ignore"):
            key = _splitmix(np.full(index.shape, seed % 2**64, dtype=np.uint64))
            base = _splitmix(key ^ index.astype(np.uint64))
            streams = np.arange(1, self._STREAMS + 1, dtype=np.uint64) * _MIX2
            bits = _splitmix(base[:, None] + streams[None, :])
        self._u = ((bits >> np.uint64(40)).astype(np.float32) * np.float32(2.0**-24)).T
        self._next = 0

    def uniform(self, lo: float = 0.0, hi: float = 1.0) -> np.ndarray:
        u = self._u[self._next]
        self._next += 1
        return lo + (hi - lo) * u

    def choice(self, k: int) -> np.ndarray:
        return np.minimum((self.uniform() * k).astype(np.int64), k - 1)

    def chance(self, p: float) -> np.ndarray:
        return self.uniform() < p

    def normal(self, scale: float = 1.0) -> np.ndarray:
        # Sum of four uniforms: bell-shaped and bounded, enough for pose and colour jitter.
        s = self.uniform() + self.uniform() + self.uniform() + self.uniform()
        return (s - np.float32(2.0)) * np.float32(math.sqrt(3.0) * scale)


# Palettes, sRGB 0..1.
_SKIN = (
    np.array(
        [
            (255, 224, 196),
            (246, 206, 178),
            (241, 194, 167),
            (234, 192, 150),
            (224, 172, 125),
            (210, 160, 110),
            (198, 134, 66),
            (170, 115, 75),
            (141, 85, 36),
            (115, 72, 45),
            (90, 56, 37),
        ],
        dtype=np.float32,
    )
    / 255.0
)
_HAIR = (
    np.array(
        [
            (25, 20, 20),
            (45, 32, 25),
            (70, 45, 30),
            (105, 70, 45),
            (150, 110, 70),
            (185, 150, 95),
            (225, 195, 135),
            (135, 60, 30),
            (185, 90, 45),
            (140, 140, 140),
            (215, 215, 210),
        ],
        dtype=np.float32,
    )
    / 255.0
)
# Dark hair is most common; the weights keep that so the set is not uniformly exotic.
_HAIR_P = np.cumsum([0.16, 0.16, 0.14, 0.12, 0.08, 0.07, 0.07, 0.05, 0.05, 0.05, 0.05])
_IRIS = (
    np.array(
        [
            (95, 58, 30),
            (60, 36, 22),
            (125, 105, 50),
            (75, 125, 80),
            (65, 115, 175),
            (110, 135, 155),
        ],
        dtype=np.float32,
    )
    / 255.0
)
_IRIS_P = np.cumsum([0.35, 0.25, 0.12, 0.08, 0.12, 0.08])


def _hsv(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Vectorised HSV -> RGB, shape (n, 3)."""
    k = (np.array([5.0, 3.0, 1.0], np.float32)[None, :] + h[:, None] * 6.0) % 6.0
    w = np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)
    return (v[:, None] * (1.0 - s[:, None] * w)).astype(np.float32)


def _face_params(seed: int, index: np.ndarray) -> dict[str, np.ndarray]:
    r = _Draws(seed, index)
    f32 = np.float32
    p: dict[str, np.ndarray] = {}
    # Background: two colours of one hue family and a linear gradient between them.
    hue = r.uniform()
    p["bg0"] = _hsv(hue, r.uniform(0.1, 0.6), r.uniform(0.35, 0.95))
    p["bg1"] = _hsv((hue + r.normal(0.08)) % 1.0, r.uniform(0.1, 0.6), r.uniform(0.2, 0.9))
    ang = r.uniform(0, 2 * np.pi)
    # math.cos/sin per element: numpy's vectorised transcendentals may round differently
    # in the SIMD body and the scalar tail, which would make images depend on batching.
    p["bgx"] = np.array([math.cos(a) for a in ang], f32)
    p["bgy"] = np.array([math.sin(a) for a in ang], f32)
    # Head pose and shape (image units, y down), framed like aligned CelebA crops.
    p["cx"] = r.uniform(0.44, 0.56)
    p["cy"] = r.uniform(0.48, 0.57)
    p["ry"] = r.uniform(0.3, 0.39)
    p["rx"] = p["ry"] * r.uniform(0.72, 0.86)
    p["irx"], p["iry"] = 1.0 / p["rx"], 1.0 / p["ry"]
    rot = r.normal(0.07)
    p["cr"] = np.array([math.cos(a) for a in rot], f32)
    p["sr"] = np.array([math.sin(a) for a in rot], f32)
    p["jaw"] = r.uniform(0.05, 0.3)
    # Skin.
    skin = _SKIN[r.choice(len(_SKIN))] * (1.0 + r.normal(0.03)[:, None])
    warm = r.normal(0.015)[:, None] * np.array([1.0, -0.5, -1.0], f32)
    p["skin"] = np.clip(skin + warm, 0, 1)
    # Hair.
    hair = _HAIR[np.searchsorted(_HAIR_P, r.uniform() * _HAIR_P[-1])]
    hair = np.clip(hair * (1.0 + r.normal(0.08)[:, None]), 0, 1)
    style = r.choice(5)  # 0 short, 1 fringe, 2 long, 3 long with fringe, 4 buzz cut
    fringe = (style == 1) | (style == 3)
    p["long"] = ((style == 2) | (style == 3)).astype(f32)
    p["hl"] = np.where(fringe, r.uniform(-0.34, -0.14), r.uniform(-0.62, -0.4))
    p["curv"] = np.where(fringe, r.uniform(0.1, 0.3), r.uniform(0.45, 0.75))
    p["fringe"] = np.where(fringe, r.uniform(0.03, 0.09), 0.0).astype(f32)
    p["part"] = r.uniform(-0.5, 0.5)
    p["volume"] = np.where(style == 4, r.uniform(1.0, 1.03), r.uniform(1.05, 1.18))
    p["sidew"] = r.uniform(0.72, 0.85)
    p["length"] = r.uniform(0.7, 1.6)
    buzz = np.where(style == 4, r.uniform(0.3, 0.6), 0.0)[:, None]
    p["hair"] = (hair * (1 - buzz) + p["skin"] * 0.8 * buzz).astype(f32)
    p["brow"] = np.minimum(hair * 0.8, p["skin"] * 0.5)
    p["strands"] = r.uniform(0.05, 0.12)
    # Eyes (face units: the head ellipse is the unit circle).
    p["ex"] = r.uniform(0.3, 0.42)
    p["ey"] = r.uniform(-0.12, 0.02)
    p["ew"] = r.uniform(0.14, 0.19)
    p["eh"] = p["ew"] * r.uniform(0.42, 0.62)
    p["irad"] = r.uniform(0.85, 1.05)
    p["iris"] = np.clip(
        _IRIS[np.searchsorted(_IRIS_P, r.uniform() * _IRIS_P[-1])] * (1.0 + r.normal(0.1)[:, None]),
        0,
        1,
    )
    p["gx"] = r.normal(0.2)
    p["gy"] = r.normal(0.1)
    p["glasses"] = r.chance(0.12).astype(f32)
    p["frame"] = r.uniform(0.004, 0.009)
    p["frame_c"] = _hsv(r.uniform(), r.uniform(0.0, 0.6), r.uniform(0.05, 0.5))
    # Eyebrows.
    p["by"] = r.uniform(0.11, 0.17)
    p["bt"] = r.uniform(0.022, 0.045)
    p["btilt"] = r.normal(0.12)
    p["barch"] = r.uniform(0.0, 2.5)
    # Nose and mouth.
    p["ny"] = r.uniform(0.24, 0.34)
    p["nw"] = r.uniform(0.07, 0.11)
    p["my"] = r.uniform(0.47, 0.6)
    p["mw"] = r.uniform(0.2, 0.33)
    p["smile"] = r.uniform(-0.05, 0.14)
    p["lip"] = r.uniform(0.03, 0.055)
    p["open"] = np.where(r.chance(0.3), r.uniform(0.02, 0.07), 0.0).astype(f32)
    p["teeth"] = (p["open"] > 0).astype(f32)
    lip_tint = np.array([0.95, 0.62, 0.62], f32)
    lipstick = np.array([0.62, 0.12, 0.22], f32)
    t = np.where(r.chance(0.15), r.uniform(0.5, 1.0), 0.0)[:, None]
    p["lipc"] = (p["skin"] * lip_tint) * (1 - t) + lipstick * t
    # Light, blush, clothes, texture.
    p["lx"] = r.uniform(-0.3, 0.3)
    p["lsign"] = np.where(p["lx"] >= 0, 1.0, -1.0).astype(f32)
    p["blush"] = r.uniform(0.0, 0.3)
    p["shirt"] = _hsv(r.uniform(), r.uniform(0.1, 0.8), r.uniform(0.15, 0.9))
    p["grain"] = r.uniform(0.006, 0.02)
    p["ox"] = r.choice(_TILE)
    p["oy"] = r.choice(_TILE)
    for k in ("bg0", "bg1", "skin", "hair", "brow", "iris", "frame_c", "lipc", "shirt"):
        p[k] = p[k] * 255.0  # render in 0..255 so the final cast needs no rescale
    p["grain"] = p["grain"] * 255.0
    return {k: (v if k in ("ox", "oy") else np.asarray(v, f32)) for k, v in p.items()}


_TILE = 256


def _noise_tiles() -> tuple[np.ndarray, np.ndarray]:
    """Fixed noise tiles shared by every seed; each image samples them at its own offset.

    ``grain`` is slightly blurred white noise (skin and photo grain); ``strands`` is
    smeared vertically so that hair reads as strands."""
    rng = np.random.default_rng(20180227)
    g = rng.standard_normal((_TILE, _TILE)).astype(np.float32)
    g = (np.roll(g, 1, 0) + 2 * g + np.roll(g, -1, 0)) / 4
    g = (np.roll(g, 1, 1) + 2 * g + np.roll(g, -1, 1)) / 4
    s = rng.standard_normal((_TILE, _TILE)).astype(np.float32)
    s = sum(np.roll(s, k, 0) for k in range(-4, 5)) + 0.5 * (np.roll(s, 1, 1) + np.roll(s, -1, 1))
    return g / g.std(), s / s.std()


_NOISE = _noise_tiles()


@functools.lru_cache(maxsize=8)
def _padded_noise(size: int) -> tuple[np.ndarray, np.ndarray]:
    # Wrapped so that a size x size window at any offset is a plain slice.
    return tuple(np.pad(t, ((0, size), (0, size)), mode="wrap") for t in _NOISE)


class _Ops:
    """Clipping helpers; numpy's scalar-operand max/min is several times slower than
    the array-array form, so the bounds are cached full-size arrays."""

    def __init__(self):
        self._cache: dict = {}

    def bounds(self, shape: tuple[int, ...], hi: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        key = (shape, hi)
        b = self._cache.get(key)
        if b is None:
            b = (np.zeros(shape, np.float32), np.full(shape, hi, np.float32))
            self._cache[key] = b
        return b

    def clip01(self, x: np.ndarray) -> np.ndarray:
        lo, hi = self.bounds(x.shape)
        np.maximum(x, lo, out=x)
        return np.minimum(x, hi, out=x)

    def relu(self, x: np.ndarray) -> np.ndarray:
        return np.maximum(x, self.bounds(x.shape)[0], out=x)

    def cover(self, d: np.ndarray, size: int) -> np.ndarray:
        """Coverage of ``d < 0`` for a signed distance in image units: a one-pixel ramp."""
        x = d * np.float32(-size)
        x += np.float32(0.5)
        return self.clip01(x)


def _tri(x: np.ndarray) -> np.ndarray:
    """Triangle wave in [0, 1] with period 1; cheaper than a sine for wavy hair edges."""
    y = x - np.floor(x)
    y -= np.float32(0.5)
    return np.abs(y, out=y) * np.float32(2.0)


def _frame(p, X, Y):
    """Face coordinates (U, V) of image points: head centre at the origin, head ellipse
    the unit circle, rotated with the pose. Computed the same way for the full frame and
    for feature windows so that both give bit-identical values."""
    dx = X - p["cx"]
    dy = Y - p["cy"]
    U = dx * p["cr"] + dy * p["sr"]
    U *= p["irx"]
    V = dy * p["cr"] - dx * p["sr"]
    V *= p["iry"]
    return dx, dy, U, V


def _paint(img: np.ndarray, alpha: np.ndarray, colour: np.ndarray) -> None:
    for c in range(3):
        ch = img[c]
        ch += alpha * (colour[c] - ch)


def _darken(img: np.ndarray, amount: np.ndarray) -> None:
    for c in range(3):
        img[c] -= amount * img[c]


def _render_chunk(p: dict[str, np.ndarray], size: int, ops: _Ops) -> np.ndarray:
    f32 = np.float32
    n = len(p["cx"])
    t = (np.arange(size, dtype=f32) + f32(0.5)) / f32(size)
    X = t[None, None, :]
    Y = t[None, :, None]
    img = np.empty((3, n, size, size), f32)
    q = {k: (v.reshape(n, 1, 1) if v.ndim == 1 else v.T.reshape(3, n, 1, 1)) for k, v in p.items()}
    ry = q["ry"]
    rx = q["rx"]

    g = (X - f32(0.5)) * q["bgx"] + (Y - f32(0.5)) * q["bgy"]
    g += f32(0.5)
    ops.clip01(g)
    for c in range(3):
        img[c] = q["bg0"][c] + g * (q["bg1"][c] - q["bg0"][c])

    dx, dy, U, V = _frame(q, X, Y)
    Ua = np.abs(U)
    U2 = U * U
    long_ = q["long"]

    # Long hair hangs behind head and shoulders.
    back = np.sqrt(U2 + (V - f32(0.15)) ** 2) - f32(1.25) * q["volume"]
    hem = V - q["length"] - f32(0.08) * _tri(U * f32(5.0))
    back = np.maximum(back, hem, out=back)
    back *= ry
    back_a = ops.cover(back, size) * long_
    _paint(img, back_a, q["hair"])

    # Shoulders.
    sh = np.sqrt((dx * (f32(0.48) / rx)) ** 2 + ((dy - ry * f32(2.0)) * (f32(1.05) / ry)) ** 2)
    sh -= f32(1.0)
    sh *= rx * f32(1.6)
    shirt_a = ops.cover(sh.copy(), size)
    _paint(img, shirt_a, q["shirt"])

    # Skin: head (narrower towards the chin), ears and the neck above the collar, in one
    # layer; the neck's shadow comes from the shading pass below.
    Uh = ops.relu(V.copy())
    Uh *= q["jaw"]
    Uh += f32(1.0)
    Uh *= U
    rr = Uh * Uh
    rr += V * V
    head = np.sqrt(rr) - f32(1.0)
    head *= ry
    ear = np.sqrt(((Ua - f32(0.96)) * f32(1 / 0.15)) ** 2 + ((V - f32(0.08)) * f32(1 / 0.24)) ** 2)
    ear -= f32(1.0)
    ear *= rx * f32(0.15)
    neck = np.maximum(np.abs(dx) - rx * f32(0.5), -dy)
    neck = np.maximum(neck, -sh, out=neck)
    skin = np.minimum(neck, ear, out=neck)
    skin = np.minimum(skin, head, out=skin)
    skin_a = ops.cover(skin, size)
    _paint(img, skin_a, q["skin"])
    head_a = ops.cover(head, size)

    # Front hair: a cap slightly larger than the head, above a hairline with a parting
    # and an optional fringe, plus curtains over the sides of the face for long styles.
    cap = np.sqrt(U2 + ((V + f32(0.06)) * f32(1 / 1.03)) ** 2) - q["volume"]
    parting = f32(1.0) - np.abs(U - q["part"]) * f32(5.0)
    line = q["hl"] + q["curv"] * U2 - f32(0.12) * ops.relu(parting)
    line += q["fringe"] * _tri(U * f32(6.0) + q["part"])
    top = V - line
    side = np.maximum(q["sidew"] - Ua, V - q["length"])
    side += f32(1.0) - long_
    front = np.maximum(cap, np.minimum(top, side, out=top), out=cap)
    front *= ry
    front_a = ops.cover(front, size)
    _paint(img, front_a, q["hair"])

    _with_window(img, p, q, size, t, _eye_window(p), _eyes, ops)
    _with_window(img, p, q, size, t, _mouth_window(p), _mouth, ops)

    # Side light, rim darkening and blush on the head, shadow on the neck, strand texture
    # in the hair, grain everywhere.
    shade = q["lx"] * U
    shade -= f32(0.2) * rr * rr
    shade *= ops.clip01(f32(1.4) - rr)
    shade += f32(1.0)
    shade -= (skin_a - head_a) * ops.clip01((V - f32(0.85)) * f32(2.0)) * f32(0.3)
    hair_a = back_a * (f32(1.0) - skin_a)
    hair_a *= f32(1.0) - shirt_a
    np.maximum(hair_a, front_a, out=hair_a)
    ox, oy = p["ox"], p["oy"]
    grain_tile, strand_tile = _padded_noise(size)
    grain = np.stack([grain_tile[y : y + size, x : x + size] for x, y in zip(ox, oy, strict=True)])
    strands = np.stack(
        [strand_tile[y : y + size, x : x + size] for x, y in zip(ox, oy, strict=True)]
    )
    strands *= q["strands"]
    strands *= hair_a
    shade += strands
    grain *= q["grain"]
    grain += f32(0.5)  # rounds in the cast to uint8 below
    blush = (Ua - f32(0.5)) ** 2
    blush += (V - f32(0.3)) ** 2
    blush = ops.relu(f32(0.05) - blush) * q["blush"]
    for c in range(3):
        ch = img[c]
        ch *= shade - blush * f32(_BLUSH[c])
        ch += grain
    lo, hi = ops.bounds(img.shape, 255.0)
    np.maximum(img, lo, out=img)
    np.minimum(img, hi, out=img)
    return img.astype(np.uint8).transpose(1, 2, 3, 0)


# Blush lowers green and blue more than red.
_BLUSH = (0.5, 3.0, 3.0)


def _window(p, size: int, u_half, v_top, v_bot) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Per-image pixel windows that contain a face-space box [-u_half, u_half] x
    [v_top, v_bot] (plus a two-pixel margin), all of one size.

    Small features are drawn only inside such windows, which is most of the rendering
    speed. A window depends only on its own image, and the features drawn in it have
    exactly zero effect outside the box, so results do not depend on batching."""
    vm, vh = (v_top + v_bot) / 2, (v_bot - v_top) / 2
    rx, ry = p["rx"], p["ry"]
    xc = p["cx"] - vm * ry * p["sr"]
    yc = p["cy"] + vm * ry * p["cr"]
    hx = u_half * rx * np.abs(p["cr"]) + vh * ry * np.abs(p["sr"])
    hy = u_half * rx * np.abs(p["sr"]) + vh * ry * np.abs(p["cr"])
    x0 = np.clip(np.floor((xc - hx) * size) - 2, 0, size).astype(int)
    x1 = np.clip(np.ceil((xc + hx) * size) + 2, 0, size).astype(int)
    y0 = np.clip(np.floor((yc - hy) * size) - 2, 0, size).astype(int)
    y1 = np.clip(np.ceil((yc + hy) * size) + 2, 0, size).astype(int)
    w = int(np.max(x1 - x0))
    h = int(np.max(y1 - y0))
    return np.minimum(y0, size - h), np.minimum(x0, size - w), h, w


def _eye_window(p):
    # Brows reach 1.25 eye widths out and glasses 1.35 (plus the frame); the glasses'
    # rims reach less than 1.1 eye widths up and down.
    u_half = p["ex"] + 1.35 * p["ew"] + p["frame"] / p["rx"] + 0.03
    brow_top = p["ey"] - p["by"] - p["bt"] - 0.035 * p["barch"] - 0.08 * np.abs(p["btilt"])
    rim = 1.1 * p["ew"] + p["frame"] / p["ry"]
    v_top = np.minimum(brow_top, p["ey"] - rim) - 0.03
    v_bot = p["ey"] + rim + 0.03
    return u_half, v_top, v_bot


def _mouth_window(p):
    # The side shadow of the nose is centred up to (1 + 4 |lx|) nose widths off-axis.
    nose_half = p["nw"] * (2.0 + 4.0 * np.abs(p["lx"]))
    u_half = np.maximum(np.maximum(p["mw"], 1.6 * p["nw"]), nose_half) + 0.03
    v_top = p["ey"] + p["eh"] - 0.03
    v_bot = np.maximum(p["my"] + 0.05 + 1.5 * p["lip"] + p["open"], p["ny"] + 0.1) + 0.03
    return u_half, v_top, v_bot


def _with_window(img, p, q, size, t, box, draw, ops: _Ops) -> None:
    n = img.shape[1]
    r0, c0, h, w = _window(p, size, *box)
    X = t[c0[:, None] + np.arange(w)][:, None, :]
    Y = t[r0[:, None] + np.arange(h)][:, :, None]
    win = np.stack([img[:, i, r0[i] : r0[i] + h, c0[i] : c0[i] + w] for i in range(n)], axis=1)
    _, _, U, V = _frame(q, X, Y)
    draw(win, q, U, V, size, ops)
    for i in range(n):
        img[:, i, r0[i] : r0[i] + h, c0[i] : c0[i] + w] = win[:, i]


def _grey(v: float) -> np.ndarray:
    return np.full((3, 1, 1, 1), v, np.float32)


def _eyes(win, q, U, V, size: int, ops: _Ops) -> None:
    f32 = np.float32
    Ua = np.abs(U)
    rx, ry = q["rx"], q["ry"]
    # Eyes: white, iris, pupil, catch-light, lid line.
    ex, ey, ew, eh = q["ex"], q["ey"], q["ew"], q["eh"]
    eu = (Ua - ex) * rx
    ev = (V - ey) * ry
    ewi, ehi = ew * rx, eh * ry
    eye_d = np.sqrt((eu / ewi) ** 2 + (ev / ehi) ** 2)
    eye_d -= f32(1.0)
    eye_d *= ehi
    white_a = ops.cover(eye_d.copy(), size)
    _paint(win, white_a, _grey(237.0))
    gaze = np.where(U > 0, q["gx"], -q["gx"]) * ewi * f32(0.35)
    iu = eu - gaze
    iv = ev - q["gy"] * ehi * f32(0.3)
    ir = np.sqrt(iu * iu + iv * iv)
    irad = ehi * q["irad"]
    _paint(win, ops.cover(ir - irad, size) * white_a, q["iris"])
    _paint(win, ops.cover(ir - irad * f32(0.45), size) * white_a, _grey(10.0))
    glint = np.sqrt((iu + irad * f32(0.35)) ** 2 + (iv + irad * f32(0.35)) ** 2)
    glint -= irad * f32(0.25)
    _paint(win, ops.cover(glint, size) * white_a, _grey(255.0))
    lid = np.abs(eye_d) - np.maximum(ehi * f32(0.16), f32(0.55 / size))
    # At small sizes the half-pixel minimum would stretch the line along the eye's axis.
    lid = np.maximum(lid, np.abs(eu) - ewi * f32(1.2), out=lid)
    lid_a = ops.cover(lid, size) * ops.clip01(f32(0.6) - ev / ehi * f32(2.0))
    _paint(win, lid_a, q["hair"] * f32(0.2))

    # Glasses: two rings and a bridge.
    ring = np.abs(np.sqrt(eu * eu + ev * ev * f32(1.6)) - ewi * f32(1.35)) - q["frame"]
    bridge = np.maximum(np.abs(ev + ehi * f32(0.3)) - q["frame"], (Ua - ex + ew * f32(1.2)) * rx)
    glasses_a = ops.cover(np.minimum(ring, bridge, out=ring), size) * q["glasses"]
    _paint(win, glasses_a, q["frame_c"])

    # Eyebrows.
    bu = (Ua - ex) / (ew * f32(1.25))
    bv = ey - q["by"] - f32(0.035) * q["barch"] * (f32(1.0) - bu * bu) + q["btilt"] * bu * f32(0.08)
    brow = np.abs(V - bv) - q["bt"] * (f32(1.0) - f32(0.4) * bu * bu)
    brow *= ry
    brow = np.maximum(brow, (np.abs(bu) - f32(1.0)) * ew * f32(1.25) * rx, out=brow)
    _paint(win, ops.cover(brow, size), q["brow"])


def _mouth(win, q, U, V, size: int, ops: _Ops) -> None:
    f32 = np.float32
    Ua = np.abs(U)
    rx, ry = q["rx"], q["ry"]
    # Nose: a shadow down the side away from the light, nostrils, shade under the tip.
    nw, ny, ey, eh = q["nw"], q["ny"], q["ey"], q["eh"]
    su = (U + q["lx"] * nw * f32(4.0)) / nw + q["lsign"]
    ramp = (V - ey - eh) / (ny + f32(0.02) - ey - eh)
    ramp = ops.clip01(ramp) * (V < ny + f32(0.02))
    nose = ops.relu(f32(1.0) - su * su) * ramp
    nose *= f32(0.14)
    under = f32(1.0) - (U / (nw * f32(1.6))) ** 2 - ((V - ny - f32(0.05)) * f32(1 / 0.045)) ** 2
    nose += ops.relu(under) * f32(0.12)
    nos = np.sqrt(((Ua - nw * f32(0.6)) * f32(1 / 0.05)) ** 2 + ((V - ny) * f32(1 / 0.028)) ** 2)
    nos -= f32(1.0)
    nos *= ry * f32(0.028)
    nose += ops.cover(nos, size) * f32(0.35)
    _darken(win, nose)

    # Mouth: lips between two parabolas; some are open and show teeth.
    mw = q["mw"]
    mu = U / mw
    mu2 = mu * mu
    wl = ops.relu(f32(1.0) - mu2)
    mv = V - q["my"] + q["smile"] * mu2
    gap = q["open"] * wl
    lip = q["lip"] * wl
    ends = (Ua - mw) * rx
    lips = np.abs(mv - f32(0.3) * lip) - (f32(1.15) * lip + gap * f32(0.5))
    lips *= ry
    _paint(win, ops.cover(np.maximum(lips, ends, out=lips), size), q["lipc"])
    inner = np.abs(mv) - gap * f32(0.5)
    inner *= ry
    inner = np.maximum(inner, ends, out=inner)
    _paint(win, ops.cover(inner.copy(), size), np.array([77, 18, 23], f32).reshape(3, 1, 1, 1))
    teeth = np.maximum(inner, (mv + gap * f32(0.05)) * ry, out=inner)
    _paint(win, ops.cover(teeth, size) * q["teeth"], _grey(230.0))
    seam = (np.abs(mv) - f32(0.12) * lip) * ry - f32(0.3 / size)
    seam_a = ops.cover(np.maximum(seam, ends, out=seam), size) * f32(0.6)
    _paint(win, seam_a, q["lipc"] * f32(0.45))


# Images per vectorised pass: enough to amortise numpy's per-call cost, few enough that
# the working arrays stay in cache.
_CHUNK = 32

#: Seed of the embedded synthetic data set used by :func:`make_dataset` and
#: :func:`real_images`; their ``seed`` only orders it, as it would order CelebA.
SYNTHETIC_SEED = 0


def synthetic_faces_at(
    indices: np.ndarray | list[int], size: int = 64, seed: int = 0
) -> np.ndarray:
    """Render the synthetic faces with the given indices.

    Image ``i`` depends only on ``(seed, i)``: the same index renders the same image
    whatever else is rendered with it, so shuffled index batches from a ``tf.data``
    pipeline need no stored images.

    Returns:
        uint8 array of shape ``(len(indices), size, size, 3)``.
    """
    if size < 8:
        raise ValueError(f"size must be at least 8, got {size}")
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    ops = _Ops()
    out = np.empty((len(idx), size, size, 3), np.uint8)
    for lo in range(0, len(idx), _CHUNK):
        chunk = idx[lo : lo + _CHUNK]
        out[lo : lo + len(chunk)] = _render_chunk(_face_params(seed, chunk), size, ops)
    return out


def synthetic_faces(n: int, size: int = 64, seed: int = 0, *, start: int = 0) -> np.ndarray:
    """A procedurally generated, face-like data set: images ``start .. start + n - 1``.

    Each image is a cartoon head and shoulders framed like an aligned CelebA crop, with
    variation at every scale the SWD pyramid looks at:

    * coarse (16 px): background colour and gradient, head position, size, aspect,
      jaw and tilt, skin tone from a realistic palette, hair colour and style (short
      cap, fringe, long with side curtains, buzz cut), clothes colour, side light;
    * middle (32 px): eyes (spacing, size, openness, iris colour, gaze), eyebrows
      (thickness, arch, tilt), nose shadows, mouth (width, smile, lip colour, open
      with teeth), glasses, blush, neck shadow;
    * fine (64 px): pupils, catch-lights, lid lines, lip seams, hair strands, grain.

    Shapes are drawn with one-pixel anti-aliased edges directly at ``size`` (any size
    from 8; 32, 64 and 128 are the intended ones), vectorised over images and fast
    enough (thousands of 64x64 images per second per core) to render every training
    batch on the fly.

    Args:
        n: number of images.
        size: side length in pixels.
        seed: selects the data set; image ``i`` depends only on ``(seed, i)``.
        start: index of the first image, so that any slice renders on its own:
            ``synthetic_faces(10, start=5)`` equals ``synthetic_faces(15)[5:]``.

    Returns:
        uint8 array of shape ``(n, size, size, 3)``.
    """
    return synthetic_faces_at(np.arange(start, start + n), size, seed)


def synthetic_face(index: int, size: int = 64, seed: int = 0) -> np.ndarray:
    """Image ``index`` of :func:`synthetic_faces`, shape ``(size, size, 3)``."""
    return synthetic_faces_at([index], size, seed)[0]


# --------------------------------------------------------------------------------------
# Image files: CelebA folders and zips, any folder of images.
# --------------------------------------------------------------------------------------

#: File name endings read as images (case-insensitive).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
SYNTHETIC = "synthetic"
_CELEBA_DIR = "img_align_celeba"
#: Aligned CelebA images are 178x218; PGGAN crops 128x128 centred at (x=89, y=121).
CELEBA_IMAGE_SIZE = (178, 218)
CELEBA_CROP = (25, 57, 153, 185)  # (left, top, right, bottom)
_FIX = "pass --data synthetic, a folder of .jpg/.png images, or a CelebA folder or zip"
_LOG_FIRST = 10  # skipped files logged one by one before switching to a running count


class DataError(ValueError):
    """A data source cannot be used; the message says why and what to pass instead."""


@dataclasses.dataclass(eq=False)
class SourceInfo:
    """What a data source is and how reading it went.

    Attributes:
        kind: ``"synthetic"``, ``"celeba-folder"``, ``"celeba-zip"``, ``"folder"`` or
            ``"zip"``.
        path: the folder or zip that images are read from (for CelebA the folder that
            holds the ``.jpg`` files), or ``None`` for the synthetic set.
        num_images: number of image files (or synthetic images).
        files: image paths, or member names inside the zip, sorted.

    ``skipped`` counts the distinct files found unreadable so far by every pipeline and
    :func:`real_images` call that was given this object; pass the same object to
    :func:`make_dataset` to read it after (or during) iteration.
    """

    kind: str
    path: str | None
    num_images: int
    files: tuple[str, ...] = dataclasses.field(default=(), repr=False)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._skipped: dict[str, str] = {}
        self._zips: dict[int, zipfile.ZipFile] = {}

    @property
    def skipped(self) -> int:
        """Number of distinct unreadable images skipped so far."""
        with self._lock:
            return len(self._skipped)

    @property
    def skipped_files(self) -> dict[str, str]:
        """Unreadable files skipped so far, each with the reason."""
        with self._lock:
            return dict(self._skipped)

    def read_bytes(self, i: int) -> bytes:
        """The raw bytes of file ``i``; never modifies or extracts anything."""
        name = self.files[i]
        if self.kind.endswith("zip"):
            # A ZipFile has one file position, so each reader thread gets its own. Keyed by
            # thread id, not threading.local: tf.data calls in from native threads whose
            # Python thread state (and so any thread-local) is discarded after every call.
            tid = threading.get_ident()
            zf = self._zips.get(tid)
            if zf is None:
                zf = zipfile.ZipFile(self.path)
                with self._lock:
                    self._zips[tid] = zf
            return zf.read(name)
        with open(name, "rb") as f:
            return f.read()

    def load(self, i: int, size: int) -> np.ndarray | None:
        """File ``i`` preprocessed to ``(size, size, 3)`` uint8, or ``None`` if unreadable.

        An unreadable file is recorded and logged, never raised; once every file has
        failed, :class:`DataError` is raised so that a repeating pipeline cannot spin.
        """
        try:
            return preprocess(self.read_bytes(i), size)
        except UnidentifiedImageError:
            self._skip(self.files[i], "not a recognised image format")
        except Exception as e:  # any decoder or I/O failure means "unreadable"
            self._skip(self.files[i], f"{type(e).__name__}: {e}")
        return None

    def _skip(self, name: str, reason: str) -> None:
        with self._lock:
            if name in self._skipped:
                return
            self._skipped[name] = reason
            count = len(self._skipped)
        if count <= _LOG_FIRST:
            log.warning("skipped unreadable image %s (%s); %d skipped so far", name, reason, count)
        elif count % 100 == 0:
            log.warning("skipped %d unreadable images so far", count)
        if count >= self.num_images:
            raise DataError(
                f"none of the {self.num_images} images in {self.path} could be read: {_FIX}"
            )


def _is_image(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    # Dot files include macOS "._x.jpg" resource forks, which are not images.
    return not base.startswith(".") and base.lower().endswith(IMAGE_EXTENSIONS)


def _list_images(root: Path) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(os.path.join(dirpath, f) for f in filenames if _is_image(f))
    return sorted(found)


def _has_images(folder: Path) -> bool:
    if not folder.is_dir():
        return False
    with os.scandir(folder) as it:
        return any(e.is_file() and _is_image(e.name) for e in it)


def _celeba_folder(root: Path) -> Path | None:
    """The folder holding CelebA's jpgs, given it, its parent, or Kaggle's double nesting."""
    for cand in (root / _CELEBA_DIR / _CELEBA_DIR, root / _CELEBA_DIR, root):
        if cand.name == _CELEBA_DIR and _has_images(cand):
            return cand
    return None


def describe_source(source: str | os.PathLike, *, num_synthetic: int = 50_000) -> SourceInfo:
    """Resolve a data source and list its images without reading them.

    Args:
        source: ``"synthetic"``; a CelebA folder (``img_align_celeba`` itself, a folder
            that contains it, or Kaggle's ``img_align_celeba/img_align_celeba``); the
            CelebA zip (or any zip of images); or any folder of ``.jpg``, ``.jpeg``,
            ``.png`` or ``.bmp`` images, searched recursively.
        num_synthetic: size of the synthetic set.

    Raises:
        DataError: the path is missing, is not a folder or zip, or holds no images.
    """
    if isinstance(source, str) and source == SYNTHETIC:
        if num_synthetic < 1:
            raise DataError(f"num_synthetic must be positive, got {num_synthetic}")
        return SourceInfo("synthetic", None, num_synthetic)
    path = Path(source).expanduser()
    if not path.exists():
        raise DataError(f"data path not found: {path}: {_FIX}")
    if path.is_dir():
        celeba = _celeba_folder(path)
        folder = celeba or path
        files = _list_images(folder)
        if not files:
            raise DataError(f"no images found in {path}: {_FIX}")
        kind = "celeba-folder" if celeba else "folder"
        return SourceInfo(kind, str(folder), len(files), tuple(files))
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path} is neither a folder nor a zip file: {_FIX}")
    try:
        with zipfile.ZipFile(path) as zf:
            names = [i.filename for i in zf.infolist() if not i.is_dir()]
    except (OSError, zipfile.BadZipFile) as e:
        raise DataError(f"cannot read zip {path} ({e}): {_FIX}") from e
    names = [n for n in names if _is_image(n) and not n.startswith("__MACOSX/")]
    celeba = [n for n in names if _CELEBA_DIR in n.split("/")[:-1]]
    files = sorted(celeba or names)
    if not files:
        raise DataError(f"no images found in zip {path}: {_FIX}")
    return SourceInfo("celeba-zip" if celeba else "zip", str(path), len(files), tuple(files))


def crop_box(width: int, height: int) -> tuple[float, float, float, float]:
    """The square that :func:`preprocess` keeps, as ``(left, top, right, bottom)``.

    178x218 images (aligned CelebA) keep PGGAN's 128x128 crop centred at (x=89,
    y=121), which frames the face from brows to chin; other images keep the centred
    square of side ``min(width, height)``.
    """
    if (width, height) == CELEBA_IMAGE_SIZE:
        return CELEBA_CROP
    s = min(width, height)
    left, top = (width - s) / 2, (height - s) / 2
    return left, top, left + s, top + s


def preprocess(data: bytes, size: int) -> np.ndarray:
    """Decode image bytes and produce a ``(size, size, 3)`` uint8 training image.

    EXIF orientation is applied, transparency is composited onto white, the square of
    :func:`crop_box` is cut and resized to ``size`` with an area (box) filter when
    shrinking and bicubic when enlarging. Large JPEGs are decoded at a reduced scale
    first (JPEG "draft" mode), never below twice the target resolution.

    Raises:
        Exception: whatever the decoder raises for corrupt or unsupported data.
    """
    with Image.open(io.BytesIO(data)) as im:
        w, h = im.size
        orientation = im.getexif().get(_EXIF_ORIENTATION, 1)
        if im.format == "JPEG" and min(w, h) >= 4 * size and (w, h) != CELEBA_IMAGE_SIZE:
            s = min(w, h)
            im.draft("RGB", (-(-w * 2 * size // s), -(-h * 2 * size // s)))
        if orientation != 1:
            im = ImageOps.exif_transpose(im)
        if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
            rgba = im.convert("RGBA")
            im = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            im.alpha_composite(rgba)
        im = im.convert("RGB")
        # The crop is defined on the full, upright image; draft mode may have decoded it
        # smaller, so scale the box to what was actually decoded.
        full_w, full_h = (h, w) if orientation in (5, 6, 7, 8) else (w, h)
        scale = im.size[0] / full_w
        box = tuple(v * scale for v in crop_box(full_w, full_h))
        resample = Image.Resampling.BOX if box[2] - box[0] >= size else Image.Resampling.BICUBIC
        out = im.resize((size, size), resample=resample, box=box)
        return np.asarray(out, dtype=np.uint8)


_EXIF_ORIENTATION = 0x0112


# --------------------------------------------------------------------------------------
# Public pipeline.
# --------------------------------------------------------------------------------------


def _check(size: int, batch_size: int) -> None:
    if size < 8:
        raise ValueError(f"size must be at least 8, got {size}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")


def _loaded(image: tf.Tensor, ok: tf.Tensor) -> tf.Tensor:
    return ok


def _image_only(image: tf.Tensor, ok: tf.Tensor) -> tf.Tensor:
    return image


def _to_unit_range(images: tf.Tensor) -> tf.Tensor:
    return tf.cast(images, tf.float32) / 127.5 - 1.0


def make_dataset(
    source: str | os.PathLike | SourceInfo = SYNTHETIC,
    *,
    size: int = 64,
    batch_size: int = 64,
    seed: int = 0,
    shuffle: bool = True,
    repeat: bool = True,
    num_synthetic: int = 50_000,
) -> tf.data.Dataset:
    """Training batches as a ``tf.data.Dataset``.

    Every batch is float32 ``(batch_size, size, size, 3)`` in ``[-1, 1]`` (the
    generator's ``tanh`` range); a last partial batch is dropped.

    Sources (see :func:`describe_source`):

    * ``"synthetic"`` (default): the embedded face set of :func:`synthetic_faces`
      (``num_synthetic`` images, seed :data:`SYNTHETIC_SEED`), rendered on the fly from
      shuffled indices, a batch per call, in parallel; nothing is stored or downloaded.
    * image files (CelebA folder or zip, any image folder): decoded in parallel and
      preprocessed by :func:`preprocess`: aligned CelebA (178x218) is cropped to the
      128x128 square centred at (x=89, y=121) as in PGGAN, other images to their
      centred ``min(h, w)`` square, then area-resized to ``size``. Zip members are read
      in memory; nothing is extracted or written, and the user's files are only read.

    A corrupt or unreadable file is skipped, logged and counted, never fatal: pass a
    :class:`SourceInfo` from :func:`describe_source` and read ``info.skipped``.

    Args:
        source: ``"synthetic"``, a path, or a :class:`SourceInfo`.
        size: output side length in pixels.
        batch_size: images per batch.
        seed: order of the images (shuffle seed); the data set itself does not change
            with it, so runs with different seeds train on the same images.
        shuffle: reshuffle every epoch (deterministically from ``seed``).
        repeat: repeat forever; otherwise one epoch.
        num_synthetic: size of the synthetic set.

    Raises:
        DataError: the source is missing or holds no images.
    """
    _check(size, batch_size)
    info = (
        source
        if isinstance(source, SourceInfo)
        else describe_source(source, num_synthetic=num_synthetic)
    )
    if not repeat and info.num_images < batch_size:
        log.warning(
            "%s holds %d images, fewer than one batch of %d: the epoch is empty",
            info.path or info.kind,
            info.num_images,
            batch_size,
        )
    order = tf.data.Dataset.range(info.num_images)
    if shuffle:
        order = order.shuffle(info.num_images, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        order = order.repeat()
    auto = tf.data.AUTOTUNE
    if info.kind == "synthetic":

        def render(idx: np.ndarray) -> np.ndarray:
            return synthetic_faces_at(idx, size, SYNTHETIC_SEED)

        def render_batch(idx: tf.Tensor) -> tf.Tensor:
            images = tf.numpy_function(render, [idx], tf.uint8, stateful=False)
            return tf.ensure_shape(images, (batch_size, size, size, 3))

        ds = order.batch(batch_size, drop_remainder=True)
        ds = ds.map(render_batch, num_parallel_calls=auto, deterministic=True)
    else:
        blank = np.zeros((size, size, 3), np.uint8)

        def load(i: np.ndarray) -> tuple[np.ndarray, np.bool_]:
            image = info.load(int(i), size)
            return (blank, np.False_) if image is None else (image, np.True_)

        def load_one(i: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            image, ok = tf.numpy_function(load, [i], (tf.uint8, tf.bool), stateful=True)
            return tf.ensure_shape(image, (size, size, 3)), tf.ensure_shape(ok, ())

        ds = order.map(load_one, num_parallel_calls=auto, deterministic=True)
        # Batch (image, ok) pairs and drop ``ok`` afterwards: a map right before batch is
        # fused into one op that holds an error until its batch fills, which never
        # happens once every file has failed, so the error would hang instead of raising.
        ds = ds.filter(_loaded).batch(batch_size, drop_remainder=True)
        ds = ds.map(_image_only)
    return ds.map(_to_unit_range, num_parallel_calls=auto).prefetch(auto)


def real_images(
    source: str | os.PathLike | SourceInfo = SYNTHETIC,
    n: int = 10_000,
    size: int = 64,
    seed: int = 0,
    *,
    num_synthetic: int = 50_000,
) -> np.ndarray:
    """The first ``n`` images of a source in an order fixed by ``seed``, for evaluation.

    Preprocessing is that of :func:`make_dataset`. For the synthetic source the images
    come from the same set training uses (a seeded permutation of its indices).
    Unreadable files are skipped and counted as in :func:`make_dataset`.

    Returns:
        uint8 array ``(n, size, size, 3)``; fewer rows (with a warning) only when the
        source holds fewer than ``n`` readable images.

    Raises:
        DataError: the source is missing or holds no images.
    """
    _check(size, 1)
    info = (
        source
        if isinstance(source, SourceInfo)
        else describe_source(source, num_synthetic=num_synthetic)
    )
    order = np.random.default_rng(seed).permutation(info.num_images)
    if n > info.num_images:
        log.warning(
            "asked for %d real images but %s holds %d", n, info.path or info.kind, info.num_images
        )
    if info.kind == "synthetic":
        return synthetic_faces_at(order[:n], size, SYNTHETIC_SEED)
    out = np.empty((min(n, info.num_images), size, size, 3), np.uint8)
    got = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        pos = 0
        while got < len(out) and pos < len(order):
            block = order[pos : pos + len(out) - got]
            pos += len(block)
            # PIL releases the GIL while decoding, so threads decode in parallel.
            for image in pool.map(lambda i: info.load(int(i), size), block):
                if image is not None:
                    out[got] = image
                    got += 1
    if got < len(out):
        log.warning("only %d of the %d images requested from %s are readable", got, n, info.path)
    return out[:got]
