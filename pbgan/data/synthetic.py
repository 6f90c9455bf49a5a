"""The embedded synthetic face data set, so that ``train`` runs on a fresh machine.

A procedural cartoon-face set, deterministic by seed, with structure at the 64, 32 and
16 pixel scales that SWD compares. Parameters come from
:mod:`pbgan.data.synthetic_params`, pixels from :mod:`pbgan.data.synthetic_render`.
Nothing here imports TensorFlow.
"""

from __future__ import annotations

from pbgan.data.synthetic_params import face_params
from pbgan.data.synthetic_render import Ops, render_chunk

import numpy as np

__all__ = ["SYNTHETIC_SEED", "synthetic_face", "synthetic_faces", "synthetic_faces_at"]

# Images per vectorised pass: enough to amortise numpy's per-call cost, few enough that
# the working arrays stay in cache.
_CHUNK = 32

#: Seed of the embedded synthetic data set used by :func:`~pbgan.data.make_dataset`
#: and :func:`~pbgan.data.real_images`; their ``seed`` only orders it, as it would order
#: CelebA.
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
    ops = Ops()
    out = np.empty((len(idx), size, size, 3), np.uint8)
    for lo in range(0, len(idx), _CHUNK):
        chunk = idx[lo : lo + _CHUNK]
        out[lo : lo + len(chunk)] = render_chunk(face_params(seed, chunk), size, ops)
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
