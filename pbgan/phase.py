"""Index math of a transposed convolution written as per-phase ordinary convolutions.

Pure Python and NumPy (no TensorFlow): :class:`pbgan.layers.PhaseConv2DTranspose` builds
its graph from it, :mod:`pbgan.transfer` rearranges kernels with it, and a binarization
plan asks :func:`phase_plan` whether a layer can take the phase form at all.

One axis (rows and columns are independent). ``tf.nn.conv2d_transpose`` with stride
``s``, a ``k``-tap kernel ``K`` and ``pb`` rows cropped at the start computes::

    y[o] = sum_{i, t : i*s + t = o + pb} x[i] . K[t]

Write the uncropped position ``o + pb = m*s + r``: phase ``r`` (``0 <= r < s``) meets
the taps ``t = r + j*s`` (``j = 0 .. n_r - 1``, ``n_r = len(range(r, k, s))``) at
``x[m - j]``. So phase ``r`` is an ordinary stride-1 correlation of ``x`` with the
``n_r`` taps ``K[r + (n_r - 1)*s], ..., K[r + s], K[r]`` (the flipped sub-sample),
over ``x`` padded by zeros. The ``s`` phases, stacked as channels in phase order and
interleaved by ``depth_to_space(s)``, give the uncropped output; ``y`` is a window of it.

``pb`` and the output length follow Keras (``conv_utils.deconv_output_length``) and
TensorFlow's ``SAME`` rule: ``same`` gives ``in*s`` (``pb = max(k - s, 0) // 2``),
``valid`` gives ``in*s + max(k - s, 0)`` (``pb = 0``); an ``output_padding`` ``op``
gives ``(in - 1)*s + k - 2*pad + op`` with ``pad = k // 2`` for ``same`` (0 for
``valid``), and ``same`` then crops ``max((in - 1)*s + k - out, 0) // 2``.

Only the rows that reach ``y`` are computed: phase rows ``m0 = pb // s`` to
``m0 + rows - 1``. Every phase conv of ``n`` taps reads the input padded by
``pad = (n_max - 1 - m0, m0 + rows - in)`` from offset ``n_max - n``, so phases with
the same tap count share one convolution and no kernel holds a zero tap (which a
binary ``±1`` kernel could not represent). When ``k`` is not a multiple of ``s`` the
phases differ in size (a 5x5 kernel at stride 2: 3x3, 3x2, 2x3, 2x2); when ``k < s``
some phases meet no tap at all and are zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "AxisGeometry",
    "PhasePlan",
    "axis_geometry",
    "output_length",
    "pair",
    "phase_groups",
    "phase_kernel_from_transpose",
    "phase_kernels",
    "phase_plan",
    "phase_taps",
]

PADDINGS = ("same", "valid")


def output_length(
    in_size: int, kernel: int, stride: int, padding: str, output_padding: int | None = None
) -> int:
    """The output length Keras gives a ``Conv2DTranspose`` along one axis."""
    if output_padding is None:
        return in_size * stride + (max(kernel - stride, 0) if padding == "valid" else 0)
    pad = kernel // 2 if padding == "same" else 0
    return (in_size - 1) * stride + kernel - 2 * pad + output_padding


def phase_taps(kernel: int, stride: int) -> tuple[tuple[int, ...], ...]:
    """Kernel taps of each phase ``r``, in the order they meet the input window."""
    return tuple(tuple(reversed(range(r, kernel, stride))) for r in range(stride))


@dataclass(frozen=True)
class AxisGeometry:
    """Where the phase convolutions read and where the output is cut, along one axis."""

    taps: tuple[tuple[int, ...], ...]  # per phase r, as phase_taps
    pad: tuple[int, int]  # zeros before and after the input
    rows: int  # phase rows computed (each phase conv's output length)
    crop: int  # first row of y in the interleaved rows * stride
    size: int  # output length

    @property
    def stride(self) -> int:
        return len(self.taps)

    def offset(self, n: int) -> int:
        """Where a phase conv of ``n`` taps starts reading the padded input."""
        return max(len(t) for t in self.taps) - n


def axis_geometry(
    in_size: int, kernel: int, stride: int, padding: str, output_padding: int | None = None
) -> AxisGeometry:
    """The phase form of one axis; ``ValueError`` names a combination Keras refuses too."""
    if padding not in PADDINGS:
        raise ValueError(f"padding {padding!r}: the phase form knows {PADDINGS}")
    if output_padding is not None and not 0 <= output_padding < stride:
        raise ValueError(f"output_padding {output_padding} must be in [0, stride={stride})")
    size = output_length(in_size, kernel, stride, padding, output_padding)
    if padding == "same":
        # TensorFlow's SAME rule for the forward conv of which this is the gradient.
        if -(-size // stride) != in_size:
            raise ValueError(
                f"output length {size} does not downsample to {in_size} at stride {stride}"
            )
        before = max((in_size - 1) * stride + kernel - size, 0) // 2
    else:
        before = 0
    first = before // stride
    rows = -(-(before + size) // stride) - first
    taps = phase_taps(kernel, stride)
    n_max = max(len(t) for t in taps)
    return AxisGeometry(
        taps=taps,
        pad=(n_max - 1 - first, first + rows - in_size),
        rows=rows,
        crop=before - first * stride,
        size=size,
    )


def phase_groups(
    taps_h: tuple[tuple[int, ...], ...], taps_w: tuple[tuple[int, ...], ...]
) -> list[tuple[tuple[int, int], list[tuple[int, int]]]]:
    """Phases ``(r, c)`` grouped by their ``(n_rows, n_cols)`` tap counts.

    Groups come in order of their first phase in ``depth_to_space`` order (``r`` major),
    phases in that order within a group; a group with a zero count is all-zero phases.
    """
    groups: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for r, rows in enumerate(taps_h):
        for c, cols in enumerate(taps_w):
            groups.setdefault((len(rows), len(cols)), []).append((r, c))
    return list(groups.items())


def phase_kernels(kernel: np.ndarray, strides: tuple[int, int]) -> list[np.ndarray]:
    """A ``(kh, kw, c_out, c_in)`` transposed-conv kernel as one kernel per phase group.

    Returns, for each non-empty group of :func:`phase_groups`, the ``(n_h, n_w, c_in,
    len(group) * c_out)`` kernel of its convolution, phases stacked along the output axis.
    Every tap of ``kernel`` appears exactly once.
    """
    kernel = np.asarray(kernel)
    taps_h, taps_w = (
        phase_taps(kernel.shape[0], strides[0]),
        phase_taps(kernel.shape[1], strides[1]),
    )
    out = []
    for (nh, nw), phases in phase_groups(taps_h, taps_w):
        if nh and nw:
            blocks = [kernel[np.ix_(taps_h[r], taps_w[c])] for r, c in phases]
            out.append(np.concatenate([b.transpose(0, 1, 3, 2) for b in blocks], axis=-1))
    return out


class PhasePlan(NamedTuple):
    """Whether a layer can take the phase form; ``reason`` says why not (or what it is)."""

    ok: bool
    reason: str


def pair(value: Any) -> tuple[int, int]:
    """``3`` or ``(3, 3)`` or ``[3, 3]`` as ``(3, 3)``."""
    return (int(value), int(value)) if np.ndim(value) == 0 else tuple(int(v) for v in value)


def phase_plan(layer: Any) -> PhasePlan:
    """Can ``layer`` (a Keras ``Conv2DTranspose``) be written as phase convolutions?

    Reads only the layer's configuration attributes. A refused layer should stay a
    float transposed convolution; ``reason`` is a sentence a plan can print.
    """
    name = getattr(layer, "name", type(layer).__name__)
    if not all(hasattr(layer, a) for a in ("kernel_size", "strides", "padding", "output_padding")):
        return PhasePlan(False, f"{name} is not a 2-D transposed convolution")
    kernel, strides = pair(layer.kernel_size), pair(layer.strides)
    if len(kernel) != 2 or getattr(layer, "rank", 2) != 2:
        return PhasePlan(False, f"{name} is not a 2-D transposed convolution")
    dilation = pair(getattr(layer, "dilation_rate", 1))
    if dilation != (1, 1):
        return PhasePlan(
            False,
            f"{name} has dilation_rate {dilation}: each phase would be a dilated convolution "
            "(and some phases empty); not implemented, keep it float",
        )
    if getattr(layer, "groups", 1) != 1:
        return PhasePlan(
            False,
            f"{name} has groups={layer.groups}: grouped transposed convolutions have no "
            "phase form here; keep it float",
        )
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        return PhasePlan(
            False, f"{name} is channels_first: the phase form (depth_to_space) is channels_last"
        )
    if layer.padding not in PADDINGS:
        return PhasePlan(
            False, f"{name} has padding {layer.padding!r}; the phase form knows {PADDINGS}"
        )
    if min(strides) < 1:
        return PhasePlan(False, f"{name} has strides {strides}")
    output_padding = getattr(layer, "output_padding", None)
    if output_padding is not None:
        for op, s in zip(pair(output_padding), strides, strict=True):
            if not 0 <= op < s:
                return PhasePlan(False, f"{name} has output_padding {op} >= stride {s}")
    sizes = [
        "x".join(str(len(t)) for t in (rows, cols))
        for (rows, cols) in (
            (phase_taps(kernel[0], strides[0])[r], phase_taps(kernel[1], strides[1])[c])
            for r in range(strides[0])
            for c in range(strides[1])
        )
    ]
    return PhasePlan(
        True,
        f"{kernel[0]}x{kernel[1]} stride {strides} {layer.padding}: "
        f"{math.prod(strides)} phase convolutions of {', '.join(sorted(set(sizes), reverse=True))} taps",
    )


def phase_kernel_from_transpose(kernel: np.ndarray) -> np.ndarray:
    """Rearrange a ``(4, 4, c_out, c_in)`` transposed-conv kernel into phase form.

    Returns the ``(2, 2, c_in, 4 * c_out)`` kernel of the built-in 4x4 stride-2 layer,
    phases stacked along the output axis in ``depth_to_space`` order of the uncropped
    output. Other kernels and strides: :func:`phase_kernels`.
    """
    kernel = np.asarray(kernel)
    if kernel.shape[:2] != (4, 4):
        raise ValueError(f"expected a 4x4 kernel, got shape {kernel.shape}")
    (single,) = phase_kernels(kernel, (2, 2))
    return single
