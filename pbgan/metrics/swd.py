"""Sliced Wasserstein distance (SWD) between two image sets, after Karras et al. 2017.

The metric compares the distributions of local patches at every level of a Laplacian
pyramid, so it sees both coarse structure (the 16x16 level) and fine texture (the
full-resolution level). The recipe, for uint8 images ``x`` of size ``S x S x 3``:

1. **Pyramid.** ``K = k k^T / 256`` with ``k = [1, 4, 6, 4, 1]``; ``conv`` is a per-channel
   2-D convolution with mirror borders (``x[-i] = x[i]``, the edge sample not repeated).

   ``down(x) = conv(x, K)[::2, ::2]``, ``up(x) = conv(z, 4K)`` where ``z`` is ``x`` with
   zeros inserted between samples (``z[::2, ::2] = x``, zero elsewhere; ``4K`` restores
   the mean lost to the zeros).

   ``P = [x]``; while the next level is at least ``min_size``:
   ``P.append(down(P[-1])); P[-2] -= up(P[-1])``. Every level but the last is a band-pass
   (Laplacian) image; the last is the low-pass residual. ``x`` is recovered exactly by
   ``x_l = P_l + up(x_{l+1})`` from the bottom up.

2. **Descriptors.** From each image and level, 128 patches of ``7 x 7 x 3`` with centres
   drawn uniformly from ``[3, size - 4]`` (patches never leave the image), flattened to
   147-d vectors.

3. **Normalisation.** Each set is normalised by its *own* per-colour-channel statistics,
   ``d[..., c] <- (d[..., c] - mu_c) / sigma_c`` with ``mu_c, sigma_c`` taken over every
   patch and pixel of the set: SWD then compares the shape of the patch distributions,
   not their overall brightness per channel.

4. **Distance.** For a ``147 x 128`` matrix ``D`` of Gaussian directions with unit-length
   columns, ``SW(A, B) = mean_{i, j} |sort(A D)_{ij} - sort(B D)_{ij}|`` (each column
   sorted): the 1-D Wasserstein-1 distance between the projected sets, averaged over
   directions. Four such matrices are averaged. The value is reported x 1e3, per level
   and as the mean over levels.

Randomness. Every draw comes from ``numpy.random.Generator`` streams spawned from one
``seed``, so the same inputs and seed give the same number, whatever ``batch_size``.
The patch centres of a level are drawn once per image *slot* and used for both sets
(common random numbers). Each set's descriptors are distributed exactly as in the recipe;
sharing only removes position-sampling noise from the *difference*, so identical sets
give exactly 0 and ``swd(a, b) == swd(b, a)``. Permuting one set pairs its images with
other centres, so the value moves within the sampling noise but not beyond it.

Memory. Descriptors are built one level at a time, from batches of images, into one
float32 array per set (``N * 128 * 147 * 4`` bytes: 1.2 GB per set for 16384 images); the
projections are computed a few directions at a time (at most 2 x 256 MB), so 16384
images per set need about 3 GB whatever their resolution.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator

from pbgan.plots import to_uint8

import numpy as np
from tqdm import tqdm

__all__ = [
    "extract_descriptors",
    "gaussian_pyramid",
    "laplacian_pyramid",
    "normalize_descriptors",
    "pyramid_resolutions",
    "reconstruct_laplacian",
    "sliced_wasserstein",
    "swd",
    "to_uint8",
]

# Binomial approximation of a Gaussian, separable: K = outer(_K1, _K1) = outer(k, k) / 256.
_K1 = np.array([1.0, 4.0, 6.0, 4.0, 1.0], dtype=np.float32) / 16.0

PATCH_SIZE = 7
PATCHES_PER_IMAGE = 128
DIRS_PER_REPEAT = 128
REPEATS = 4

RngLike = np.random.Generator | int | None


def _as_uint8_images(images: np.ndarray, name: str) -> np.ndarray:
    """uint8 passes through; floats are read as generator output in [-1, 1]."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"{name}: expected images of shape (N, H, W, 3), got {images.shape}")
    if images.dtype == np.uint8:
        return images
    if np.issubdtype(images.dtype, np.floating):
        lo, hi = float(images.min()), float(images.max())
        if lo < -1.01 or hi > 1.01:
            raise ValueError(
                f"{name}: float images must lie in [-1, 1] (generator output), got "
                f"[{lo:.3g}, {hi:.3g}]; pass uint8 images for the 0..255 range"
            )
        return to_uint8(images)
    raise ValueError(f"{name}: expected uint8 or float images, got dtype {images.dtype}")


def _conv(x: np.ndarray, gain: float = 1.0) -> np.ndarray:
    """``conv(x, gain * K)`` on NHWC float32 with mirror borders.

    ``K`` is separable, so one 5-tap pass per axis over the mirror-padded array equals the
    2-D convolution with mirrored borders on both axes. ``K`` is symmetric, so convolution
    and correlation coincide.
    """
    h, w = x.shape[1], x.shape[2]
    p = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="reflect")
    # The 2-D kernel is the outer product of the two passes: apply the gain in one only.
    k_rows = _K1 * np.float32(gain)
    rows = sum(k_rows[i] * p[:, i : i + h] for i in range(5))
    return sum(_K1[i] * rows[:, :, i : i + w] for i in range(5))


def _down(x: np.ndarray) -> np.ndarray:
    return _conv(x)[:, ::2, ::2]


def _up(x: np.ndarray) -> np.ndarray:
    n, h, w, c = x.shape
    z = np.zeros((n, 2 * h, 2 * w, c), dtype=np.float32)
    z[:, ::2, ::2] = x
    return _conv(z, gain=4.0)


def _as_float_batch(images: np.ndarray) -> np.ndarray:
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 3:  # a single HWC image
        x = x[None]
    if x.ndim != 4:
        raise ValueError(f"expected images of shape (N, H, W, C), got {np.shape(images)}")
    return x


def pyramid_resolutions(size: int, min_size: int = 16) -> list[int]:
    """Level sizes of the pyramid of a ``size x size`` image: ``size, size/2, ..., >= min_size``.

    >>> pyramid_resolutions(64)
    [64, 32, 16]
    """
    if min_size < PATCH_SIZE:
        raise ValueError(f"min_size must be at least the patch size {PATCH_SIZE}, got {min_size}")
    if size < min_size:
        raise ValueError(f"images of size {size} are smaller than min_size={min_size}")
    sizes = [size]
    while sizes[-1] // 2 >= min_size:
        if sizes[-1] % 2:
            raise ValueError(
                f"image size {size} cannot be halved down to {min_size} (odd level "
                f"{sizes[-1]}); use a size of the form min_size * 2**k"
            )
        sizes.append(sizes[-1] // 2)
    return sizes


def _check_square(x: np.ndarray) -> int:
    if x.shape[1] != x.shape[2]:
        raise ValueError(f"expected square images, got {x.shape[1]}x{x.shape[2]}")
    return x.shape[1]


def gaussian_pyramid(images: np.ndarray, min_size: int = 16) -> list[np.ndarray]:
    """Gaussian pyramid ``G_0 = x, G_{l+1} = down(G_l)`` down to ``min_size``.

    ``images``: ``(N, H, W, C)`` (or one ``(H, W, C)`` image), any numeric dtype; levels
    are float32 ``(N, H / 2^l, W / 2^l, C)``.
    """
    x = _as_float_batch(images)
    sizes = pyramid_resolutions(_check_square(x), min_size)
    levels = [x]
    for _ in sizes[1:]:
        levels.append(_down(levels[-1]))
    return levels


def laplacian_pyramid(images: np.ndarray, min_size: int = 16) -> list[np.ndarray]:
    """Laplacian pyramid ``L_l = G_l - up(G_{l+1})``, the last level ``L_n = G_n``.

    Computed as in the recipe: ``P = [x]``, then ``P.append(down(P[-1]));
    P[-2] -= up(P[-1])`` while the next level is at least ``min_size``. For a 64x64 input
    and ``min_size=16`` the levels are 64, 32 (band-pass) and 16 (low-pass residual).
    """
    gauss = gaussian_pyramid(images, min_size)
    return [g - _up(gauss[i + 1]) for i, g in enumerate(gauss[:-1])] + [gauss[-1]]


def reconstruct_laplacian(pyramid: list[np.ndarray]) -> np.ndarray:
    """Invert :func:`laplacian_pyramid`: ``x_n = L_n``, ``x_l = L_l + up(x_{l+1})``, return ``x_0``.

    Exact up to float32 rounding, because ``up`` is the same operator that built the
    pyramid (no property of the filter is needed).
    """
    x = np.asarray(pyramid[-1], dtype=np.float32)
    for level in reversed(pyramid[:-1]):
        x = np.asarray(level, dtype=np.float32) + _up(x)
    return x


def _laplacian_level(x: np.ndarray, level: int, n_levels: int) -> np.ndarray:
    """Only level ``level`` of the pyramid of ``x``: ``G_l - up(G_{l+1})`` (``G_l`` if last)."""
    g = x
    for _ in range(level):
        g = _down(g)
    if level == n_levels - 1:
        return g
    return g - _up(_down(g))


def _draw_centres(
    n_images: int, size: int, patches_per_image: int, patch_size: int, rng: np.random.Generator
) -> np.ndarray:
    """Patch centres ``(n_images, patches_per_image, 2)`` (row, col), uniform in ``[r, size-1-r]``."""
    r = patch_size // 2
    if size < patch_size:
        raise ValueError(f"level of size {size} is smaller than the patch size {patch_size}")
    return rng.integers(r, size - r, size=(n_images, patches_per_image, 2), dtype=np.int32)


def _gather_patches(level: np.ndarray, centres: np.ndarray, patch_size: int) -> np.ndarray:
    """Patches around ``centres`` of ``level`` (NHWC), flattened to ``(N * P, ps * ps * C)``."""
    n, p, _ = centres.shape
    offsets = np.arange(patch_size) - patch_size // 2
    rows = centres[:, :, 0, None] + offsets  # (N, P, ps)
    cols = centres[:, :, 1, None] + offsets
    img = np.arange(n)[:, None, None, None]
    patches = level[img, rows[:, :, :, None], cols[:, :, None, :]]  # (N, P, ps, ps, C)
    return patches.reshape(n * p, -1)


def extract_descriptors(
    level: np.ndarray,
    patches_per_image: int = PATCHES_PER_IMAGE,
    patch_size: int = PATCH_SIZE,
    rng: RngLike = None,
) -> np.ndarray:
    """Random patches of one pyramid level, flattened: ``(N * patches_per_image, ps*ps*C)``.

    For each image, ``patches_per_image`` centres ``(i, j)`` are drawn uniformly from
    ``[r, size - 1 - r]`` with ``r = patch_size // 2`` (``[3, size - 4]`` for 7x7), and the
    patch ``level[n, i-r : i+r+1, j-r : j+r+1, :]`` is flattened in (row, col, channel)
    order: 147 values for 7x7x3, float32. Descriptors of image ``n`` occupy rows
    ``n * patches_per_image ... (n + 1) * patches_per_image - 1``.
    """
    x = _as_float_batch(level)
    size = _check_square(x)
    centres = _draw_centres(len(x), size, patches_per_image, patch_size, np.random.default_rng(rng))
    return _gather_patches(x, centres, patch_size)


def _iter_row_chunks(n_rows: int, chunk: int) -> Iterator[slice]:
    for start in range(0, n_rows, chunk):
        yield slice(start, min(start + chunk, n_rows))


def _channel_stats(desc: np.ndarray, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std over all rows and pixels, in float64, in bounded memory."""
    chunk = 1 << 16
    count = desc.size // channels
    total = np.zeros(channels)
    for s in _iter_row_chunks(len(desc), chunk):
        total += desc[s].reshape(-1, channels).sum(axis=0, dtype=np.float64)
    mean = total / count
    # Two passes rather than E[x^2] - E[x]^2: no cancellation for large offsets.
    sq = np.zeros(channels)
    for s in _iter_row_chunks(len(desc), chunk):
        sq += np.square(desc[s].reshape(-1, channels) - mean).sum(axis=0)
    return mean, np.sqrt(sq / count)


def normalize_descriptors(
    desc: np.ndarray, channels: int = 3, *, inplace: bool = False
) -> np.ndarray:
    """Normalise a descriptor set by its own per-channel statistics.

    ``desc`` is ``(M, ps * ps * channels)`` in (row, col, channel) order (or
    ``(M, ps, ps, channels)``). With ``mu_c`` and ``sigma_c`` the mean and standard deviation
    of channel ``c`` over all ``M`` patches and all their pixels,
    ``out[m, ..., c] = (desc[m, ..., c] - mu_c) / sigma_c``; a constant channel
    (``sigma_c = 0``) is only centred. Returns float32 ``(M, ps * ps * channels)``.
    ``inplace=True`` reuses ``desc`` when it is already a float32 array.
    """
    desc = np.asarray(desc)
    flat = desc.reshape(len(desc), -1)
    if flat.shape[1] % channels:
        raise ValueError(f"descriptor length {flat.shape[1]} is not a multiple of {channels}")
    if not (inplace and flat.dtype == np.float32):
        flat = flat.astype(np.float32)
    mean, std = _channel_stats(flat, channels)
    std = np.where(std > 0, std, 1.0)
    view = flat.reshape(len(flat), -1, channels)
    view -= mean.astype(np.float32)
    view /= std.astype(np.float32)
    return flat


def _unit_directions(dim: int, count: int, rng: np.random.Generator) -> np.ndarray:
    dirs = rng.standard_normal((dim, count))
    dirs /= np.linalg.norm(dirs, axis=0, keepdims=True)
    return dirs.astype(np.float32)


def sliced_wasserstein(
    a: np.ndarray,
    b: np.ndarray,
    dirs_per_repeat: int = DIRS_PER_REPEAT,
    repeats: int = REPEATS,
    rng: RngLike = None,
) -> float:
    """Sliced Wasserstein-1 distance between two equal-size point sets ``a, b`` of ``(M, d)``.

    For each of ``repeats`` draws, ``D`` is ``d x dirs_per_repeat`` with i.i.d. standard
    normal entries and unit-length columns ``D_j``. With ``sort`` ordering each column,

        SW = mean_r mean_{i, j} | sort(a D)_{ij} - sort(b D)_{ij} |,

    the mean over directions of the 1-D Wasserstein-1 distance between the projections
    (for equal-size empirical measures the optimal 1-D coupling matches order statistics).
    Invariant to the order of rows of either set; symmetric in ``a, b``. Not scaled.
    """
    return _sliced_wasserstein(a, b, dirs_per_repeat, repeats, np.random.default_rng(rng))


def _direction_chunk(m: int, dirs_per_repeat: int) -> int:
    """Directions projected at once: (chunk, M) float32 stays near 256 MB for M = 2.1M,
    and at most 32 so that a progress bar moves during long runs."""
    return max(1, min(dirs_per_repeat, 32, (1 << 26) // max(m, 1)))


def _sliced_wasserstein(
    a: np.ndarray,
    b: np.ndarray,
    dirs_per_repeat: int,
    repeats: int,
    rng: np.random.Generator,
    tick: Callable[[], None] = lambda: None,
) -> float:
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(
            f"sliced_wasserstein needs two sets of the same shape (M, d), got {a.shape} and "
            f"{b.shape}; sample the same number of images (and patches) from both sets"
        )
    m, dim = a.shape
    chunk = _direction_chunk(m, dirs_per_repeat)
    results = []
    for _ in range(repeats):
        # All directions of a repeat are drawn at once, so chunking does not change them.
        dirs = _unit_directions(dim, dirs_per_repeat, rng)
        total = 0.0
        for s in _iter_row_chunks(dirs_per_repeat, chunk):
            # (k, d) @ (d, M) gives rows that sort contiguously.
            pa = dirs[:, s].T @ a.T
            pb = dirs[:, s].T @ b.T
            pa.sort(axis=1)
            pb.sort(axis=1)
            pa -= pb
            total += float(np.abs(pa, out=pa).sum(dtype=np.float64))
            tick()
        results.append(total / (m * dirs_per_repeat))
    return float(np.mean(results))


def _level_descriptors(
    images: np.ndarray,
    level: int,
    n_levels: int,
    centres: np.ndarray,
    batch_size: int,
    tick: Callable[[], None],
) -> np.ndarray:
    """Normalised descriptors of one pyramid level for one set, built batch by batch."""
    n, p, _ = centres.shape
    out = np.empty((n * p, PATCH_SIZE * PATCH_SIZE * images.shape[-1]), dtype=np.float32)
    for s in _iter_row_chunks(n, batch_size):
        band = _laplacian_level(images[s].astype(np.float32), level, n_levels)
        out[s.start * p : s.stop * p] = _gather_patches(band, centres[s], PATCH_SIZE)
        tick()
    return normalize_descriptors(out, images.shape[-1], inplace=True)


def swd(
    real: np.ndarray,
    fake: np.ndarray,
    *,
    min_size: int = 16,
    patches_per_image: int = PATCHES_PER_IMAGE,
    seed: int = 0,
    batch_size: int = 256,
    dirs_per_repeat: int = DIRS_PER_REPEAT,
    repeats: int = REPEATS,
    progress: bool = False,
) -> dict:
    """SWD x 1e3 between two image sets, per Laplacian-pyramid level and averaged.

    ``real`` and ``fake`` are ``(N, S, S, 3)`` with the same ``N`` and ``S``: uint8, or
    float in ``[-1, 1]`` (mapped by :func:`to_uint8`). ``S`` must halve down to
    ``min_size`` (16, 32, 64, 128, ... for the default). For each level ``l`` of size
    ``s_l``, ``SWD_l = 1e3 * SW(norm(desc_l(real)), norm(desc_l(fake)))`` with
    ``patches_per_image`` 7x7x3 descriptors per image and ``repeats`` x
    ``dirs_per_repeat`` directions (see the module docstring for every step).

    Returns ``{"levels": {s_l: SWD_l, ...}, "avg": mean_l SWD_l}``, levels keyed by their
    resolution from the finest down, e.g. ``{64: ..., 32: ..., 16: ...}`` for 64x64 images.
    ``progress=True`` prints a progress bar on stderr. Deterministic in ``seed``.
    """
    real = _as_uint8_images(real, "real")
    fake = _as_uint8_images(fake, "fake")
    if real.shape != fake.shape:
        raise ValueError(
            f"real and fake must have the same shape (same number of images), got "
            f"{real.shape} and {fake.shape}"
        )
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    n = len(real)
    sizes = pyramid_resolutions(_check_square(real), min_size)
    n_batches = -(-n // batch_size)
    n_chunks = -(-dirs_per_repeat // _direction_chunk(n * patches_per_image, dirs_per_repeat))
    bar = tqdm(
        total=len(sizes) * (2 * n_batches + repeats * n_chunks),
        desc="swd",
        unit="step",
        file=sys.stderr,
        disable=not progress,
    )
    # One independent stream per level, split into patch centres and directions, so a
    # level's value does not depend on how many draws the other levels made.
    level_seqs = np.random.SeedSequence(seed).spawn(len(sizes))
    levels: dict[int, float] = {}
    try:
        for level, (size, seq) in enumerate(zip(sizes, level_seqs, strict=True)):
            pos_rng, dir_rng = (np.random.default_rng(s) for s in seq.spawn(2))
            centres = _draw_centres(n, size, patches_per_image, PATCH_SIZE, pos_rng)
            bar.set_postfix_str(f"level {size}", refresh=False)
            tick = lambda: bar.update(1)  # noqa: E731
            desc_real = _level_descriptors(real, level, len(sizes), centres, batch_size, tick)
            desc_fake = _level_descriptors(fake, level, len(sizes), centres, batch_size, tick)
            levels[size] = 1e3 * _sliced_wasserstein(
                desc_real, desc_fake, dirs_per_repeat, repeats, dir_rng, tick
            )
            del desc_real, desc_fake  # hold one level at a time
    finally:
        bar.close()
    return {"levels": levels, "avg": float(np.mean(list(levels.values())))}
