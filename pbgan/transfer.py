"""Copy a float generator's weights into a partially binarized one of the same shape.

The binary generator's latent (real-valued) weights start from the float ones: the
first stage of two-stage binary training (float pre-training, then binarization on;
Bi-Real Net, Real-to-Binary). Layers are matched by name:

* same weight shapes (batch norms, float deconvolutions, the projection, a bwn
  ``QuantConv2DTranspose`` beside a ``Conv2DTranspose``): copied as they are;
* a :class:`~pbgan.layers.PhaseConv2DTranspose` beside a ``Conv2DTranspose`` of the same
  kernel size, strides, padding and output padding: the kernel is rearranged into the
  phase form (one kernel per group of equal phases, :func:`pbgan.phase.phase_kernels`;
  exact with float weights), and the bias copied when both have one; a learned output
  scale keeps its initial value.

Anything else is a one-line error naming the layer, so a mismatched teacher is refused
before any training starts.
"""

from __future__ import annotations

from typing import Any

from pbgan.layers import PhaseConv2DTranspose
from pbgan.phase import phase_plan

import tensorflow as tf

__all__ = ["TransferError", "copy_float_weights", "copy_into_phase"]


class TransferError(ValueError):
    """The source generator's weights do not fit the target; the message names why."""


def _shapes(layer: tf.keras.layers.Layer) -> list[tuple[int, ...]]:
    return [tuple(w.shape) for w in layer.weights]


def _geometry(layer: tf.keras.layers.Layer) -> tuple:
    op = layer.output_padding
    return (
        tuple(layer.kernel_size),
        tuple(layer.strides),
        layer.padding,
        None if op is None else tuple(op),
    )


def copy_into_phase(target: PhaseConv2DTranspose, source: tf.keras.layers.Layer) -> None:
    """Load a built ``Conv2DTranspose``'s kernel (and bias) into a built phase layer."""
    ok, reason = phase_plan(source)
    if not ok:
        raise TransferError(f"{target.name}: {reason}")
    kernel = source.kernel.numpy()
    if tuple(kernel.shape) != (*target.kernel_size, target.filters, kernel.shape[-1]):
        raise TransferError(
            f"{target.name}: source kernel {kernel.shape} does not fit "
            f"{target.kernel_size[0]}x{target.kernel_size[1]} kernels with {target.filters} filters"
        )
    if _geometry(source) != _geometry(target):
        raise TransferError(
            f"{target.name}: the source's (kernel, strides, padding, output_padding) "
            f"{_geometry(source)} differ from {_geometry(target)}"
        )
    target.set_from_transpose_kernel(kernel)
    if target.use_bias and getattr(source, "bias", None) is not None:
        target.bias.assign(source.bias)


def copy_float_weights(source: tf.keras.Model, target: tf.keras.Model) -> list[str]:
    """Copy ``source``'s weights into ``target`` layer by layer; returns the layers copied.

    Every ``target`` layer with weights must have a namesake in ``source``.
    """
    if source.input_shape != target.input_shape or source.output_shape != target.output_shape:
        raise TransferError(
            f"source maps {source.input_shape} -> {source.output_shape} but the target maps "
            f"{target.input_shape} -> {target.output_shape}: pass a run of the same "
            "--arch, --width and --z-dim"
        )
    by_name: dict[str, Any] = {layer.name: layer for layer in source.layers}
    copied = []
    for layer in target.layers:
        if not layer.weights:
            continue
        other = by_name.get(layer.name)
        if other is None:
            raise TransferError(f"the source generator has no layer {layer.name!r}")
        if isinstance(layer, PhaseConv2DTranspose) and not isinstance(other, PhaseConv2DTranspose):
            copy_into_phase(layer, other)
        elif _shapes(layer) == _shapes(other):
            layer.set_weights(other.get_weights())
        else:
            raise TransferError(
                f"{layer.name}: weights {_shapes(other)} in the source do not fit "
                f"{_shapes(layer)}: pass a run of the same architecture and width"
            )
        copied.append(layer.name)
    return copied
