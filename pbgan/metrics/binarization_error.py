"""How well can a binarized deconvolution reproduce a float one? (the paper's Fig. 2 question)

The degree of redundancy of a deconvolution with an ``h x w x c`` input is
``DoR = c - h * w``. The argument behind it: one input ``X`` (an ``hw x c`` matrix, one
row per pixel) reaches each kernel tap's weights ``W_t`` (a ``c``-vector) only through
``X W_t``, so every weight in ``W_t + null(X)`` gives the same output, a
``max(0, DoR)``-dimensional family; the larger it is, the likelier it holds a scaled sign
vector ``alpha * B``. This module measures that directly, by exhaustive search.

**The layer.** A transposed convolution with ``c`` input channels, one output channel,
a ``k x k`` kernel and stride ``k`` ("valid"): each input pixel paints its own ``k x k``
output block, ``y[p k + i, q k + j] = sum_c X[p, q, c] W[i, j, c]``. Stride = kernel keeps
taps from overlapping, so every tap sees the input through the same ``hw x c`` matrix
and the null-space dimension is exactly ``max(0, c - hw)`` per tap, the DoR of the paper
(with overlapping taps the count would involve the kernel size too). In matrix form
``Y = X W`` with ``W`` of ``c x k^2``. The default ``k = 1`` spends the whole enumeration
budget on channels (``n = c k^2`` binary weights), giving the widest DoR range.

**What is enumerated.** Every ``B`` in ``{-1, +1}^{c x k^2}`` (``2^n`` sign patterns;
``n <= 16`` in the default grid, at most 20), each with its optimal scale in closed form:

    alpha* = <X B, Y> / ||X B||^2,   ||Y - alpha* X B||^2 = ||Y||^2 - <X B, Y>^2 / ||X B||^2,

using ``<X B, Y> = sum_t <X s_t, Y_t>`` and ``||X B||^2 = sum_t ||X s_t||^2`` over the
columns ``s_t`` of ``B``, so only the ``2^c`` products ``X s`` are formed (and, as ``B``
and ``-B`` reach the same error, only the half of the patterns with one weight fixed to
+1 is scored). ``W`` and ``X`` are i.i.d. standard normal. Errors are relative and
pooled over the ``M`` inputs of a weight draw,
``sqrt(sum_m ||Y_m - alpha_m X_m B_m||^2 / sum_m ||Y_m||^2)`` (scale-free, and not
dominated by an input whose output happens to be near 0), then averaged over draws.
Three errors per configuration:

* ``min_error`` -- the best ``(B_m, alpha_m)`` **for each input** ``m``: the redundancy
  the DoR counts (one input at a time).
* ``shared_error`` -- the best single ``(B, alpha)`` for **all** ``inputs`` inputs of a
  draw jointly: what a deployed layer, which sees many inputs, would need. Stacking
  ``M`` inputs turns the null space into that of an ``M hw x c`` matrix, "DoR"
  ``c - M hw``.
* ``sign_error`` -- XNOR-Net's ``B = sign(W)``, ``alpha = mean |W|``, for reference.

**What it shows** (default grid: ``c`` in 2..16, ``h x w`` from 1x1 to 4x4, 8 weight
draws of 8 inputs each, seed 0, a few seconds; :func:`run_binarization_experiment`
reproduces it):

* ``min_error`` is exactly 0 for ``hw = 1`` (one output value per tap: any ``B`` with
  ``X B != 0`` fits it). For a fixed ``c >= 4`` it rises as ``hw`` grows, i.e. it falls
  with the DoR (``c = 16``: 0, 0, 0.04, 0.13, 0.25, 0.34, 0.40 for ``hw`` = 1, 2, 4, 6, 9,
  12, 16).
* There is no threshold at ``DoR = 0``. There ``X`` is square and invertible, the exact
  solution is ``W`` itself, which is not a scaled sign vector: ``min_error`` is 0.35-0.40
  for ``c >= 4``, 65-70% of the ``sign(W)`` error. The error comes close to 0 (< 0.05)
  only when ``c`` is several times ``hw`` (``c = 16, hw = 4``: 0.04; ``c = 8, hw = 2``:
  0.014), because the ``2^(c-1)`` candidate directions ``X B`` must cover the
  ``hw``-dimensional output space: the error follows the ratio ``c / hw`` more than the
  difference ``c - hw``, and equal DoR gives different errors (DoR 4: 0.18 at ``c = 8``,
  0.34 at ``c = 16``).
* ``c = 2`` sits low for every ``hw > 1`` (0.18-0.34): a 2-vector is never far from a
  scaled sign vector (at most 45 degrees away), whatever the input.
* ``shared_error`` is 0.20-0.64. While the stacked DoR ``c - 8 hw`` is negative it stays
  at 76-100% of ``sign_error``; it drops only where the stacked DoR is >= 0 (``c = 16,
  hw = 1``: 0.20 against 0.63). A layer that serves many inputs keeps little of the
  per-input freedom the DoR counts; the DoR as a criterion for binarizing a trained
  generator rests on the training experiments of the paper, not on this identity alone.
* With ``k = 1``, ``c = 1`` (one weight) is trivially exact: a single number is a scaled
  sign. The default grid starts at ``c = 2`` for that reason.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "DEFAULT_CHANNELS",
    "DEFAULT_SPATIAL",
    "binarization_error",
    "deconv2d",
    "format_binarization_table",
    "layer_binarization_errors",
    "plot_binarization_error",
    "run_binarization_experiment",
    "sign_patterns",
]

DEFAULT_CHANNELS = (2, 4, 8, 12, 16)
DEFAULT_SPATIAL = ((1, 1), (1, 2), (2, 2), (2, 3), (3, 3), (3, 4), (4, 4))
MAX_BITS = 20  # 2^20 patterns: still a fraction of a second per input


def deconv2d(x: np.ndarray, kernel: np.ndarray, stride: int) -> np.ndarray:
    """Transposed convolution, "valid" padding: ``(N, h, w, c_in) -> (N, H, W, c_out)``.

    ``kernel`` has the Keras layout ``(k, k, c_out, c_in)``; ``H = (h - 1) s + k``.
    ``y[n, p s + i, q s + j, o] += sum_c x[n, p, q, c] kernel[i, j, o, c]``.
    """
    x = np.asarray(x, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    n, h, w, _ = x.shape
    k, _, c_out, _ = kernel.shape
    out = np.zeros((n, (h - 1) * stride + k, (w - 1) * stride + k, c_out))
    for i, j in itertools.product(range(k), range(k)):
        out[:, i : i + (h - 1) * stride + 1 : stride, j : j + (w - 1) * stride + 1 : stride] += (
            x @ kernel[i, j].T
        )
    return out


@functools.lru_cache(maxsize=8)
def _cached_sign_patterns(n: int) -> np.ndarray:
    bits = (np.arange(2**n)[:, None] >> np.arange(n)) & 1
    out = (2 * bits - 1).astype(np.float64)
    out.flags.writeable = False  # shared between calls
    return out


def sign_patterns(n: int) -> np.ndarray:
    """All ``2^n`` vectors of ``{-1, +1}^n``, shape ``(2^n, n)``; row ``r`` is the bits of ``r``.

    The second half (rows ``2^(n-1)`` on) holds exactly the vectors whose last entry is +1.
    """
    return _cached_sign_patterns(n).copy()


def _tap_sum(per_tap: list[np.ndarray]) -> np.ndarray:
    """``out[..., s_1, ..., s_T] = sum_t per_tap[t][..., s_t]``, flattened over the taps."""
    taps = len(per_tap)
    out = 0.0
    for t, arr in enumerate(per_tap):
        shape = arr.shape[:-1] + (1,) * t + (arr.shape[-1],) + (1,) * (taps - 1 - t)
        out = out + arr.reshape(shape)
    return np.asarray(out).reshape(per_tap[0].shape[:-1] + (-1,))


def _best_residual(num: np.ndarray, den: np.ndarray, y2: np.ndarray) -> np.ndarray:
    """``min_B ||Y||^2 - <XB, Y>^2 / ||XB||^2`` along the last axis (``XB = 0``: no fit)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.where(den > 0, num**2 / den, 0.0)
    return np.maximum(y2 - gain.max(axis=-1), 0.0)


def layer_binarization_errors(inputs: np.ndarray, kernel: np.ndarray) -> dict:
    """Exhaustive binarization errors of one stride-``k`` deconvolution on given inputs.

    ``inputs``: ``(M, h, w, c)``; ``kernel``: ``(k, k, 1, c)`` (Keras layout), the layer
    being ``deconv2d(inputs, kernel, stride=k)``. In matrix form ``Y_m = X_m W`` with
    ``X_m`` the ``hw x c`` pixels of input ``m`` and column ``t = i k + j`` of ``W`` the
    tap ``(i, j)``; each of the ``2^(c k^2)`` patterns ``B`` takes its optimal ``alpha``.
    Returns the relative errors ``{"min_error", "shared_error", "sign_error"}`` pooled
    over the ``M`` inputs (definitions in the module docstring).
    """
    x_img = np.asarray(inputs, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    m, h, w, c = x_img.shape
    k = kernel.shape[0]
    if kernel.shape != (k, k, 1, c):
        raise ValueError(
            f"kernel must be (k, k, 1, {c}) for {c} input channels, got {kernel.shape}"
        )
    n_binary = c * k * k
    if n_binary > MAX_BITS:
        raise ValueError(
            f"{n_binary} binary weights (c * k^2) means 2^{n_binary} patterns; keep it <= "
            f"{MAX_BITS} by lowering c or kernel_size"
        )
    taps = k * k
    weights = kernel[:, :, 0, :].reshape(taps, c).T  # (c, T): column t = tap t
    x = x_img.reshape(m, h * w, c)  # one row per input pixel
    y = x @ weights  # (M, hw, T): the deconvolution output, block by block
    xs = x @ _cached_sign_patterns(c).T  # (M, hw, P): X s for every pattern s
    num_tap = y.transpose(0, 2, 1) @ xs  # (M, T, P): <X s, Y_t>
    den_tap = np.einsum("mps,mps->ms", xs, xs)  # (M, P): ||X s||^2
    # B and -B give the same error (alpha changes sign): fixing the sign of one weight of
    # the first tap halves the search without losing any minimum.
    half = xs.shape[-1] // 2
    num = _tap_sum([num_tap[:, 0, half:]] + [num_tap[:, t] for t in range(1, taps)])
    den = _tap_sum([den_tap[:, half:]] + [den_tap] * (taps - 1))
    y2 = np.square(y).sum(axis=(1, 2))  # (M,)
    total = y2.sum()
    b = np.abs(weights).mean() * np.sign(weights)
    return {
        "min_error": math.sqrt(_best_residual(num, den, y2).sum() / total),
        "shared_error": math.sqrt(_best_residual(num.sum(0), den.sum(0), total) / total),
        "sign_error": math.sqrt(np.square(y - x @ b).sum() / total),
    }


def binarization_error(
    c: int,
    h: int,
    w: int,
    *,
    kernel_size: int = 1,
    inputs: int = 8,
    trials: int = 8,
    rng: np.random.Generator | int | None = 0,
) -> dict:
    """Exhaustive binarization error of one configuration (see the module docstring).

    Draws ``trials`` times a kernel ``W`` of ``(k, k, 1, c)`` and ``inputs`` inputs of
    ``(h, w, c)``, all i.i.d. standard normal, and averages
    :func:`layer_binarization_errors` over the draws. Returns ``{"c", "h", "w", "dor",
    "min_error", "shared_error", "sign_error", "n_binary"}`` with ``dor = c - h w`` and
    ``n_binary = c k^2``.
    """
    n_binary = c * kernel_size**2
    if n_binary > MAX_BITS:
        raise ValueError(
            f"{n_binary} binary weights (c * k^2) means 2^{n_binary} patterns; keep it <= "
            f"{MAX_BITS} by lowering c or kernel_size"
        )
    rng = np.random.default_rng(rng)
    draws = []
    for _ in range(trials):
        kernel = rng.standard_normal((kernel_size, kernel_size, 1, c))
        x = rng.standard_normal((inputs, h, w, c))
        draws.append(layer_binarization_errors(x, kernel))
    return {
        "c": c,
        "h": h,
        "w": w,
        "dor": c - h * w,
        **{key: float(np.mean([d[key] for d in draws])) for key in draws[0]},
        "n_binary": n_binary,
    }


def run_binarization_experiment(
    channels: Iterable[int] = DEFAULT_CHANNELS,
    spatial: Iterable[tuple[int, int]] = DEFAULT_SPATIAL,
    *,
    kernel_size: int = 1,
    inputs: int = 8,
    trials: int = 8,
    seed: int = 0,
) -> list[dict]:
    """:func:`binarization_error` over the grid ``channels x spatial``, sorted by DoR.

    Each configuration gets its own generator spawned from ``seed``, so a row does not
    depend on which other rows are computed.
    """
    grid = [(c, h, w) for c in channels for h, w in spatial]
    seqs = np.random.SeedSequence(seed).spawn(len(grid))
    rows = [
        binarization_error(
            c,
            h,
            w,
            kernel_size=kernel_size,
            inputs=inputs,
            trials=trials,
            rng=np.random.default_rng(s),
        )
        for (c, h, w), s in zip(grid, seqs, strict=True)
    ]
    return sorted(rows, key=lambda r: (r["dor"], r["c"]))


def format_binarization_table(rows: Sequence[dict]) -> str:
    """Plain-text table of :func:`run_binarization_experiment` rows."""
    lines = [f"{'c':>3} {'h x w':>6} {'DoR':>5} {'min_error':>10} {'shared':>8} {'sign(W)':>8}"]
    for r in rows:
        lines.append(
            f"{r['c']:>3} {str(r['h']) + 'x' + str(r['w']):>6} {r['dor']:>5} "
            f"{r['min_error']:>10.4f} {r['shared_error']:>8.4f} {r['sign_error']:>8.4f}"
        )
    return "\n".join(lines)


def plot_binarization_error(rows: Sequence[dict], path: str | os.PathLike) -> Path:
    """Write a PNG: relative error vs DoR, one line per input size ``h x w``.

    Left: the per-input optimum (``min_error``); right: one ``(B, alpha)`` shared by all
    inputs (``shared_error``) with XNOR-Net's ``sign(W)`` as grey crosses.
    """
    from pbgan.plots import new_figure, save_figure

    fig, (left, right) = new_figure(1, 2, figsize=(10, 4), sharey=True)
    sizes = sorted({(r["h"], r["w"]) for r in rows}, key=lambda s: (s[0] * s[1], s))
    for h, w in sizes:
        sub = sorted((r for r in rows if (r["h"], r["w"]) == (h, w)), key=lambda r: r["dor"])
        dor = [r["dor"] for r in sub]
        (line,) = left.plot(dor, [r["min_error"] for r in sub], "o-", label=f"{h}x{w}")
        right.plot(dor, [r["shared_error"] for r in sub], "o-", color=line.get_color())
    right.plot(
        [r["dor"] for r in rows], [r["sign_error"] for r in rows], "x", color="0.5", label="sign(W)"
    )
    for ax, title in (
        (left, "best B, alpha per input"),
        (right, "one B, alpha for all inputs"),
    ):
        ax.axvline(0, color="0.7", lw=1, ls="--")
        ax.set_xlabel("DoR = c - h w")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    left.set_ylabel("relative output error ||Y - a XB|| / ||Y||")
    left.legend(title="input h x w", fontsize=8)
    right.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)
