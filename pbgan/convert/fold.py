"""Fold batch norms into the binary layers before them, for conversion only.

At inference a batch norm is a per-channel affine map ``y * s + b`` with
``s = gamma / sqrt(var + eps)`` and ``b = beta - mean * s``. After a phase deconvolution
the Keras graph applies it once the phases are interleaved
(CONCATENATION, DEPTH_TO_SPACE), where LCE cannot fuse it and it stays a float MUL (and
ADD) over the whole feature map. :func:`fold_batch_norms` returns a copy of the
generator in which such a batch norm is an identity and the layer before it applies
the affine map to every phase convolution's output instead
(:meth:`pbgan.layers.PhaseConv2DTranspose.fold_affine`); LCE then fuses it into each
``LceBconv2d``'s output multiplier and bias. The numbers are the same up to float
rounding, which is why only batch norms with no binary layer after them are folded
(:func:`_no_sign_after`). The copy is for inference (training ignores the folded map).
"""

from __future__ import annotations

from pbgan.layers import PhaseConv2DTranspose, Projection

import numpy as np
import tensorflow as tf

__all__ = ["fold_batch_norms", "foldable_batch_norms"]


def _producer(layer: tf.keras.layers.Layer) -> tf.keras.layers.Layer | None:
    nodes = layer.inbound_nodes
    if len(nodes) != 1:
        return None
    inbound = nodes[0].inbound_layers
    return inbound if isinstance(inbound, tf.keras.layers.Layer) else None


def _binary_inputs(layer: tf.keras.layers.Layer) -> bool:
    inner = layer.conv if isinstance(layer, Projection | PhaseConv2DTranspose) else layer
    return getattr(inner, "input_quantizer", None) is not None


def _folds_into(layer: tf.keras.layers.Layer) -> bool:
    """A phase layer with binary inputs (``LceBconv2d`` to fuse into) that can take the map.

    Not the projection: its batch norm always has a binary layer after it in the
    built-in plans, where no batch norm folds (:func:`_no_sign_after`)."""
    return (
        isinstance(layer, PhaseConv2DTranspose)
        and _binary_inputs(layer)
        and not layer.shortcut
        and layer.activation is tf.keras.activations.linear
        and not (layer.binary and layer.pad_values == 0.0)
    )


def _no_sign_after(model: tf.keras.Model, bn: tf.keras.layers.Layer) -> bool:
    """Whether no layer after the batch norm takes the sign of its input.

    Fused into a bconv, the map rounds differently from Keras in the last bit, and a
    trained binary generator does put values within that bit of zero: in one of ours a
    channel of deconv1 outputs the integer 42 where its batch norm's moving mean is
    42.317 and its learned beta cancels the rest to -1.2e-7; Keras keeps -1.2e-7, the
    fused bconv gives 0.0, and the flipped sign changes 4% of the image by more than the
    parity tolerance. Such a tie has no right answer at float precision, but the
    converted graph must compute what the generator computes, so a batch norm is folded
    only where no sign follows it (the last binary layer before the float tail).
    """
    later = model.layers[model.layers.index(bn) + 1 :]
    return not any(_binary_inputs(layer) for layer in later)


def foldable_batch_norms(model: tf.keras.Model) -> dict[str, str]:
    """``{batch norm: layer it folds into}``: each batch norm over the last axis whose
    only input is a linear :class:`~pbgan.layers.PhaseConv2DTranspose` with binary
    inputs and no shortcut, read by nothing else, with no sign after it (:func:`_no_sign_after`)."""
    pairs = {}
    for layer in model.layers:
        if not isinstance(layer, tf.keras.layers.BatchNormalization):
            continue
        producer = _producer(layer)
        axis = layer.axis if isinstance(layer.axis, int) else list(layer.axis)
        if (
            producer is None
            or not _folds_into(producer)
            or axis not in (-1, 3, [3], [-1])
            or len(producer.outbound_nodes) != 1
            or not _no_sign_after(model, layer)
        ):
            continue
        pairs[layer.name] = producer.name
    return pairs


def _affine(bn: tf.keras.layers.BatchNormalization) -> tuple[np.ndarray, np.ndarray]:
    """``(scale, shift)`` of the batch norm at inference, in float32 by TensorFlow's ops."""
    mean, var = bn.moving_mean, bn.moving_variance
    scale = tf.math.rsqrt(var + bn.epsilon)
    if bn.scale:
        scale = scale * bn.gamma
    shift = (bn.beta if bn.center else tf.zeros_like(mean)) - mean * scale
    return scale.numpy(), shift.numpy()


def fold_batch_norms(model: tf.keras.Model) -> tuple[tf.keras.Model, dict[str, str]]:
    """An inference copy of ``model`` with its foldable batch norms folded (module doc),
    and ``{batch norm: layer}`` of what was folded; ``model`` itself is unchanged."""
    pairs = foldable_batch_norms(model)
    if not pairs:
        return model, {}

    def clone(layer: tf.keras.layers.Layer) -> tf.keras.layers.Layer:
        if layer.name in pairs:
            return tf.keras.layers.Identity(name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    copy = tf.keras.models.clone_model(model, clone_function=clone)
    for layer in model.layers:
        if layer.name not in pairs and layer.weights:
            copy.get_layer(layer.name).set_weights(layer.get_weights())
    for bn, target in pairs.items():
        copy.get_layer(target).fold_affine(*_affine(model.get_layer(bn)))
    return copy, pairs
