"""Rasterise synthetic faces: a batch of face parameters becomes uint8 images.

Every shape is a signed distance turned into coverage with a one-pixel ramp, drawn
directly at the output size and vectorised over the images of a chunk. Eyes and mouth
are drawn only inside per-image windows (:func:`_window`), which is most of the speed.
"""

from __future__ import annotations

from pbgan.data.synthetic_params import padded_noise

import numpy as np

__all__ = ["Ops", "render_chunk"]


class Ops:
    """Clipping helpers; numpy's scalar-operand max/min is several times slower than
    the array-array form, so the bounds are cached full-size arrays."""

    def __init__(self) -> None:
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


def render_chunk(p: dict[str, np.ndarray], size: int, ops: Ops) -> np.ndarray:
    """Faces of :func:`~pbgan.data.synthetic_params.face_params` rows ``p`` as uint8
    ``(n, size, size, 3)``; ``ops`` may be shared between calls to reuse its bounds."""
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
    grain_tile, strand_tile = padded_noise(size)
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


def _with_window(img, p, q, size, t, box, draw, ops: Ops) -> None:
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


def _eyes(win, q, U, V, size: int, ops: Ops) -> None:
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


def _mouth(win, q, U, V, size: int, ops: Ops) -> None:
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
