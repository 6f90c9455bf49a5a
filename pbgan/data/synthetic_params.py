"""What varies between synthetic faces: seeded per-image parameters and noise textures.

:func:`face_params` draws every parameter of a face (pose, shape, palette colours, hair
style, features, light) from a hash of ``(seed, index)``; the shared noise tiles give
grain and hair strands. :mod:`pbgan.data.synthetic_render` turns both into pixels.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from matplotlib.colors import hsv_to_rgb

__all__ = ["TILE", "face_params", "padded_noise"]

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
    """HSV -> RGB for vectors of hue, saturation and value, shape (n, 3)."""
    return hsv_to_rgb(np.stack([h, s, v], axis=-1)).astype(np.float32)


def face_params(seed: int, index: np.ndarray) -> dict[str, np.ndarray]:
    """Every parameter of faces ``index`` of data set ``seed``, one row per face.

    Colours are in 0..255 (shape ``(n, 3)``); ``ox``/``oy`` are integer offsets into the
    noise tiles; everything else is float32 of shape ``(n,)``. Row ``i`` depends only on
    ``(seed, index[i])``.
    """
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
    p["ox"] = r.choice(TILE)
    p["oy"] = r.choice(TILE)
    for k in ("bg0", "bg1", "skin", "hair", "brow", "iris", "frame_c", "lipc", "shirt"):
        p[k] = p[k] * 255.0  # render in 0..255 so the final cast needs no rescale
    p["grain"] = p["grain"] * 255.0
    return {k: (v if k in ("ox", "oy") else np.asarray(v, f32)) for k, v in p.items()}


#: Side of the noise tiles; each face reads them at its own offset (``ox``, ``oy``).
TILE = 256


def _noise_tiles() -> tuple[np.ndarray, np.ndarray]:
    """Fixed noise tiles shared by every seed; each image samples them at its own offset.

    ``grain`` is slightly blurred white noise (skin and photo grain); ``strands`` is
    smeared vertically so that hair reads as strands."""
    rng = np.random.default_rng(20180227)
    g = rng.standard_normal((TILE, TILE)).astype(np.float32)
    g = (np.roll(g, 1, 0) + 2 * g + np.roll(g, -1, 0)) / 4
    g = (np.roll(g, 1, 1) + 2 * g + np.roll(g, -1, 1)) / 4
    s = rng.standard_normal((TILE, TILE)).astype(np.float32)
    s = sum(np.roll(s, k, 0) for k in range(-4, 5)) + 0.5 * (np.roll(s, 1, 1) + np.roll(s, -1, 1))
    return g / g.std(), s / s.std()


_NOISE = _noise_tiles()


@functools.lru_cache(maxsize=8)
def padded_noise(size: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``(grain, strands)`` tiles, padded by ``size`` for ``size``-pixel images."""
    # Wrapped so that a size x size window at any offset is a plain slice.
    return tuple(np.pad(t, ((0, size), (0, size)), mode="wrap") for t in _NOISE)
