"""Sample diversity: mean MS-SSIM between random pairs of distinct samples.

SWD compares local patch statistics and can miss a generator that draws few distinct
images (mode collapse). Following Odena et al. 2017, we also report the mean multi-scale
SSIM (Wang et al. 2003) between random pairs of samples from one set: pairs of unrelated
images score low, near-copies score close to 1, so **lower means more diverse**. Compare a
generator's value with the same figure for the real data.

MS-SSIM at ``M`` scales, the image halved (2x2 average) between scales:

    MS-SSIM(x, y) = l_M(x, y)^{b_M} * prod_{j=1..M} cs_j(x, y)^{b_j},

``l`` the luminance term and ``cs`` the contrast-structure term of SSIM, each a mean over
an ``F x F`` Gaussian window (``F = 11``, ``sigma = 1.5`` as in SSIM), averaged over colour
channels by ``tf.image.ssim_multiscale``.
"""

from __future__ import annotations

import math

import pbgan  # noqa: F401  (selects Keras 2 before TensorFlow loads)
from pbgan.plots import to_uint8

import numpy as np

__all__ = ["MS_SSIM_WEIGHTS", "ms_ssim_diversity", "ms_ssim_power_factors"]

# Wang et al.'s per-scale exponents for 5 scales, finest first (the TensorFlow default).
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def ms_ssim_power_factors(size: int, filter_size: int = 11) -> tuple[float, ...]:
    """Per-scale exponents for images of side ``size``: as many scales as fit the window.

    The standard five scales need a ``16 * 11 = 176``-pixel image: at the fifth scale a
    64x64 image is 4x4, smaller than the 11x11 window, and ``tf.image.ssim_multiscale``
    refuses it. We keep the SSIM window (``F = 11``, ``sigma = 1.5``) and use the
    ``M = min(5, 1 + floor(log2(size / F)))`` finest scales, whose coarsest level is still
    at least ``F`` pixels, with the first ``M`` standard exponents rescaled to sum to 1 (so
    that equal per-scale terms ``s`` give ``MS-SSIM = s``, as with five scales):

    ====  ======  ==================================
    size  scales  exponents, finest first
    ====  ======  ==================================
    11-21 1       1 (plain SSIM)
    32    2       0.1356, 0.8644
    64    3       0.0711, 0.4530, 0.4760
    128   4       0.0517, 0.3295, 0.3462, 0.2726
    >=176 5       the standard ones
    ====  ======  ==================================

    Values are comparable between runs at one resolution, not across resolutions.
    """
    if size < filter_size:
        raise ValueError(f"images of side {size} are smaller than the {filter_size}-pixel window")
    scales = min(len(MS_SSIM_WEIGHTS), 1 + int(math.floor(math.log2(size / filter_size))))
    w = MS_SSIM_WEIGHTS[:scales]
    return tuple(x / sum(w) for x in w)


def _as_uint8(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"expected images of shape (N, H, W, C), got {images.shape}")
    if images.dtype == np.uint8:
        return images
    if np.issubdtype(images.dtype, np.floating) and images.min() >= -1.01 and images.max() <= 1.01:
        return to_uint8(images)
    raise ValueError("expected uint8 images, or float images in [-1, 1] (generator output)")


def ms_ssim_diversity(
    images: np.ndarray,
    pairs: int = 500,
    seed: int = 0,
    *,
    batch_size: int = 64,
    power_factors: tuple[float, ...] | None = None,
    filter_size: int = 11,
    filter_sigma: float = 1.5,
) -> float:
    """Mean MS-SSIM over ``pairs`` random pairs ``(i, j)``, ``i != j``, of ``images``.

    ``images``: ``(N, H, W, C)`` uint8 (``max_val = 255``), or float in ``[-1, 1]`` mapped
    to uint8 first, ``N >= 2``. Pairs are drawn with replacement from a
    ``numpy.random.Generator(seed)``: ``i`` uniform, ``j = (i + u) mod N`` with ``u``
    uniform in ``1..N-1``, so every ordered pair of distinct samples is equally likely.
    ``power_factors=None`` picks the scales from the image size
    (:func:`ms_ssim_power_factors`). Lower is more diverse.
    """
    import tensorflow as tf

    images = _as_uint8(images)
    n = len(images)
    if n < 2:
        raise ValueError(f"need at least 2 images to form pairs, got {n}")
    if pairs < 1:
        raise ValueError(f"pairs must be positive, got {pairs}")
    if power_factors is None:
        power_factors = ms_ssim_power_factors(min(images.shape[1:3]), filter_size)
    rng = np.random.default_rng(seed)
    first = rng.integers(0, n, size=pairs)
    second = (first + rng.integers(1, n, size=pairs)) % n
    scores = []
    for start in range(0, pairs, batch_size):
        i = first[start : start + batch_size]
        j = second[start : start + batch_size]
        x = tf.constant(images[i], dtype=tf.float32)
        y = tf.constant(images[j], dtype=tf.float32)
        scores.append(
            tf.image.ssim_multiscale(
                x,
                y,
                max_val=255.0,
                power_factors=power_factors,
                filter_size=filter_size,
                filter_sigma=filter_sigma,
            ).numpy()
        )
    return float(np.mean(np.concatenate(scores)))
