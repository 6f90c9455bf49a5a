"""Parity: the converted generator computes what the Keras generator computes.

Both run on the same fixed latents (each latent a batch-1 inference, as deployed) and
their images in [-1, 1] are compared value by value. Which rule applies depends on the
flatbuffer, not on what anyone claims about it:

* **float graph** (no ``LceBconv2d``): every value within :data:`FLOAT_RULE`'s
  ``max_abs_err`` (1e-4). Keras and TFLite sum the same products in another order,
  which costs ~1e-6 (5e-6 measured on dcgan64 at full width); a crop, pad, tap or
  channel that is wrong anywhere costs far more than 1e-4 somewhere.
* **binary graph**: a value may differ only where a binary layer's input lies within
  rounding of zero, so that its sign flips. Such flips are rare, touch one image each,
  and land wherever that image puts a near-zero activation. :data:`BINARY_RULE` bounds
  the share of values that differ by more than its ``tolerance``, their maximum, and
  the share of any one row, column or channel of the batch: a graph error repeats in
  every image at the same place, a sign flip does not.

:func:`check_parity` applies the rule to a flatbuffer (or its outputs) against a Keras
model (or its outputs) and raises :class:`ConversionError` with a one-line message
naming what differed.
"""

from __future__ import annotations

import dataclasses
import os

from pbgan.interpreters import lce_interpreter, predict_rows
from pbgan.tflite_graph import read_flatbuffer

import numpy as np

__all__ = [
    "BINARY_RULE",
    "FLOAT_RULE",
    "PARITY_LATENTS",
    "ConversionError",
    "ParityFigures",
    "ParityRule",
    "check_parity",
    "flatbuffer_outputs",
    "parity_figures",
    "fixed_latents",
]

PARITY_LATENTS = 16


class ConversionError(ValueError):
    """A refused conversion or a failed check; the message names the fix."""


@dataclasses.dataclass(frozen=True)
class ParityRule:
    """What a converted graph may differ by.

    A value *differs* when its abs error exceeds ``tolerance``; at most
    ``max_mismatch_fraction`` of all values may differ, none by more than
    ``max_abs_err``, and no row, column or channel (over the whole batch) may have more
    than ``max_line_fraction`` of its values differ.
    """

    name: str
    tolerance: float
    max_mismatch_fraction: float
    max_abs_err: float
    max_line_fraction: float

    def with_tolerance(self, tolerance: float) -> ParityRule:
        """The rule with another per-value tolerance (a float graph: also its max)."""
        if self.max_mismatch_fraction == 0:
            return dataclasses.replace(self, tolerance=tolerance, max_abs_err=tolerance)
        return dataclasses.replace(self, tolerance=tolerance)


# No value may differ: the max abs error is the whole rule. Measured over settings A-H
# and auto: <= 5.2e-6 on dcgan64 at full width (random weights, batch-norm statistics
# like a trained model's), <= 1.3e-6 on trained dcgan32 w0.25 generators.
FLOAT_RULE = ParityRule(
    "float", tolerance=1e-4, max_mismatch_fraction=0.0, max_abs_err=1e-4, max_line_fraction=0.0
)
# A bconv's output is an integer count times a scale, hundreds for 1,024 input
# channels; the float layers after it carry its 1e-7 relative rounding to ~3e-4 at the
# output (dcgan64, setting B), so a value counts as differing only beyond 1e-3, a
# quarter of an 8-bit grey level. A sign flip moves the few pixels it reaches by up to
# the whole range (1.7 measured: a flip in setting D's deconv3 input, dcgan64), so the
# max is bounded by the range of tanh, 2, which catches only NaN, infinities and an
# output that is not an image. What separates a flip from a wrong graph is how many
# values differ and where: at most 0.1% of them (measured: <= 0.025% in any batch of
# 16 latents, dcgan64 full width, 256 latents of settings B, D, E, G and auto), and no
# row, column or channel of the batch over 5% (measured: <= 0.4%). A flip touches one
# of 16 images, so a line's share stays under 1/16 even when it crosses that image; a
# wrong crop, pad or channel hits the same line in every image.
BINARY_RULE = ParityRule(
    "binary", tolerance=1e-3, max_mismatch_fraction=1e-3, max_abs_err=2.0, max_line_fraction=0.05
)


@dataclasses.dataclass(frozen=True)
class ParityFigures:
    """How far a flatbuffer's outputs are from the reference, and under which rule."""

    rule: ParityRule
    max_abs_err: float
    mismatch_fraction: float
    worst_row_fraction: float
    worst_column_fraction: float
    worst_channel_fraction: float
    worst_row: int
    worst_column: int
    worst_channel: int
    worst_value: tuple[int, ...]  # (image, row, column, channel) of the max abs error

    def violations(self) -> list[str]:
        """What breaks the rule, one phrase each (empty: the outputs pass)."""
        r = self.rule
        out = []
        # Written as "not (x <= bound)" so that a NaN fails.
        if not self.max_abs_err <= r.max_abs_err:
            i, y, x, c = self.worst_value
            out.append(
                f"max abs err {self.max_abs_err:.3g} > {r.max_abs_err:g} (image {i}, row {y}, "
                f"column {x}, channel {c})"
            )
        if not self.mismatch_fraction <= r.max_mismatch_fraction:
            out.append(
                f"{self.mismatch_fraction:.3%} of values differ by more than {r.tolerance:g} "
                f"(allowed {r.max_mismatch_fraction:.1%})"
            )
        for line, fraction, index in (
            ("row", self.worst_row_fraction, self.worst_row),
            ("column", self.worst_column_fraction, self.worst_column),
            ("channel", self.worst_channel_fraction, self.worst_channel),
        ):
            if not fraction <= r.max_line_fraction:
                out.append(
                    f"{fraction:.1%} of {line} {index} differs across the batch "
                    f"(allowed {r.max_line_fraction:.0%})"
                )
        return out

    def manifest(self) -> dict:
        """The figures and the bounds they were held to, for a conversion manifest."""
        return {
            "parity_rule": self.rule.name,
            "parity_tolerance": self.rule.tolerance,
            "parity_max_abs_err": self.max_abs_err,
            "parity_mismatch_fraction": self.mismatch_fraction,
            "parity_worst_row_fraction": self.worst_row_fraction,
            "parity_worst_column_fraction": self.worst_column_fraction,
            "parity_worst_channel_fraction": self.worst_channel_fraction,
            "parity_bounds": {
                "max_abs_err": self.rule.max_abs_err,
                "mismatch_fraction": self.rule.max_mismatch_fraction,
                "line_fraction": self.rule.max_line_fraction,
            },
        }


def fixed_latents(z_dim: int, *, n: int = PARITY_LATENTS, seed: int = 0) -> np.ndarray:
    """The fixed latents parity runs on: ``n x z_dim`` standard normal, float32."""
    return np.random.default_rng(seed).normal(size=(n, z_dim)).astype("float32")


def flatbuffer_outputs(flatbuffer: bytes, latents: np.ndarray) -> np.ndarray:
    """The LCE interpreter's outputs (default kernels), one batch-1 inference per latent."""
    interpreter = lce_interpreter(flatbuffer, threads=os.cpu_count() or 1)
    return predict_rows(interpreter, latents)


def parity_figures(actual: np.ndarray, reference: np.ndarray, *, rule: ParityRule) -> ParityFigures:
    """Compare NHWC image batches under ``rule`` (a NaN counts as differing)."""
    actual, reference = np.asarray(actual), np.asarray(reference)
    if actual.shape != reference.shape or actual.ndim != 4:
        raise ConversionError(
            f"parity check failed: outputs of shape {actual.shape} against reference "
            f"{reference.shape}; the converted graph does not compute the generator"
        )
    diff = np.abs(actual.astype(np.float64) - reference.astype(np.float64))
    diff = np.where(np.isnan(diff), np.inf, diff)
    differs = diff > rule.tolerance
    rows = differs.mean(axis=(0, 2, 3))
    columns = differs.mean(axis=(0, 1, 3))
    channels = differs.mean(axis=(0, 1, 2))
    worst = np.unravel_index(int(np.argmax(diff)), diff.shape)
    return ParityFigures(
        rule=rule,
        max_abs_err=float(diff.max()),
        mismatch_fraction=float(differs.mean()),
        worst_row_fraction=float(rows.max()),
        worst_column_fraction=float(columns.max()),
        worst_channel_fraction=float(channels.max()),
        worst_row=int(rows.argmax()),
        worst_column=int(columns.argmax()),
        worst_channel=int(channels.argmax()),
        worst_value=tuple(int(i) for i in worst),
    )


def check_parity(
    actual: bytes | np.ndarray,
    reference: object,
    *,
    binary: bool | None = None,
    latents: np.ndarray | None = None,
    tolerance: float | None = None,
) -> ParityFigures:
    """Hold a converted generator to the parity rule; raise :class:`ConversionError` if not.

    ``actual`` is a flatbuffer (run here on ``latents``) or its outputs; ``reference``
    a Keras model (run here on ``latents``) or its outputs. ``latents`` default to
    :func:`fixed_latents` of the reference's latent size. ``binary`` picks the rule;
    for a flatbuffer it defaults to whether the graph holds ``LceBconv2d``.
    ``tolerance`` replaces the rule's per-value tolerance.

    Example::

        figures = check_parity(result.flatbuffer, unmodified_generator)
        figures.max_abs_err, figures.mismatch_fraction
    """
    if isinstance(actual, bytes | bytearray):
        if binary is None:
            binary = read_flatbuffer(bytes(actual)).has_lce_ops
        if latents is None:
            latents = _latents_for(reference)
        actual = flatbuffer_outputs(bytes(actual), latents)
    if binary is None:
        raise ConversionError("pass binary=True or False with outputs (no flatbuffer to read)")
    if not isinstance(reference, np.ndarray):
        if latents is None:
            latents = _latents_for(reference)
        reference = reference(latents, training=False).numpy()
    rule = BINARY_RULE if binary else FLOAT_RULE
    if tolerance is not None:
        rule = rule.with_tolerance(tolerance)
    figures = parity_figures(actual, reference, rule=rule)
    problems = figures.violations()
    if problems:
        raise ConversionError(
            f"parity check failed ({rule.name} graph): {'; '.join(problems)}; the converted "
            "graph does not compute the generator"
        )
    return figures


def _latents_for(model: object) -> np.ndarray:
    shape = getattr(model, "input_shape", None)
    if shape is None:
        raise ConversionError("pass latents with reference outputs (no model to read z from)")
    return fixed_latents(shape[-1])
