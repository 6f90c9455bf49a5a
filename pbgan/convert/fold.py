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

The same copy may also **fuse a float tail** (``fuse_tails=True``): a float
``Conv2DTranspose`` after the last binary phase layer (in the built-in generators the
output layer, after its ReLU) is a sum over the phases. With ``u`` the interleaved
phases ``P_a`` of a stride-``s`` layer (``u[s*m + a] = P_a[m]``) and ``K`` the tail's
``k``-tap kernel at stride ``t``, along one axis::

    y[o] = sum_i u[i] K[o + pb - t*i] = sum_a Y_a[o + pb - t*a],
    Y_a  = conv_transpose(P_a, K, stride s*t, "valid")

so each phase goes through the layers between (per pixel: ReLU, batch norm, ...) and
its own stride-``s*t`` transposed convolution, placed ``t*a`` into a canvas of the
tail's uncropped output, and the canvases add up (``pb`` is the tail's crop). The
phases are never interleaved: the four phase outputs and their interleaved copy
(CONCATENATION, DEPTH_TO_SPACE), the largest tensors alive at once in the binary
generator, are gone, and what a phase leaves behind is the tail's small output. A tail
is fused only where its output is smaller than the phase layer's
(:func:`fusable_tails`); :meth:`pbgan.layers.PhaseConv2DTranspose.sink_phases` is the
hook.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from pbgan.layers import PhaseConv2DTranspose, Projection
from pbgan.phase import output_length, pair

import numpy as np
import tensorflow as tf

__all__ = ["Folded", "fold_batch_norms", "foldable_batch_norms", "fusable_tails"]

# Layers that act on each pixel alone (its values, or its vector of channels): they
# commute with splitting a feature map into phases.
_PER_PIXEL = (
    tf.keras.layers.ReLU,
    tf.keras.layers.LeakyReLU,
    tf.keras.layers.Activation,
    tf.keras.layers.BatchNormalization,
    tf.keras.layers.Identity,
)


def _over_channels(bn: tf.keras.layers.BatchNormalization) -> bool:
    """Whether a batch norm normalizes over the channel axis (NHWC) only."""
    axis = bn.axis if isinstance(bn.axis, int) else list(bn.axis)
    return axis in (-1, 3, [3], [-1])


def _per_pixel(layer: tf.keras.layers.Layer) -> bool:
    """Whether ``layer`` commutes with a split into phases (a batch norm: over channels)."""
    if isinstance(layer, tf.keras.layers.BatchNormalization):
        return _over_channels(layer)
    return isinstance(layer, _PER_PIXEL)


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
        if (
            producer is None
            or not _folds_into(producer)
            or not _over_channels(layer)
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


def _single_consumer(layer: tf.keras.layers.Layer) -> bool:
    return len(layer.inbound_nodes) == 1 and len(layer.outbound_nodes) == 1


def _float_transpose(layer: tf.keras.layers.Layer) -> bool:
    """A plain float ``Conv2DTranspose`` (no larq quantizer) the sum form can take."""
    return (
        isinstance(layer, tf.keras.layers.Conv2DTranspose)
        and getattr(layer, "kernel_quantizer", None) is None
        and getattr(layer, "input_quantizer", None) is None
        and layer.data_format == "channels_last"
        and pair(layer.dilation_rate) == (1, 1)
        and layer.output_padding is None
        and layer.padding in ("same", "valid")
    )


def _whole_phases(layer: PhaseConv2DTranspose) -> bool:
    """The layer's inference output is its interleaved phases and nothing after them."""
    plain = (
        layer.pad_values == 1.0
        and not layer.use_bias
        and layer.activation is tf.keras.activations.linear
    )
    return layer.built_exact() and not layer.shortcut and plain


def fusable_tails(model: tf.keras.Model) -> dict[str, tuple[str, list[str]]]:
    """``{phase layer: (tail, [layers between])}``: each float ``Conv2DTranspose`` whose
    input is a binary phase layer's output through per-pixel layers only (each read
    by nothing else), with no binary layer after it and an output smaller than the
    phase layer's (module doc)."""
    tails = {}
    for tail in model.layers:
        if not _float_transpose(tail) or len(tail.inbound_nodes) != 1:
            continue
        between, layer = [], _producer(tail)
        while _per_pixel(layer) and _single_consumer(layer):
            between.insert(0, layer)
            layer = _producer(layer)
        if (
            isinstance(layer, PhaseConv2DTranspose)
            and _binary_inputs(layer)
            and len(layer.outbound_nodes) == 1
            and _whole_phases(layer)
            and _no_sign_after(model, tail)
            and np.prod(tail.output_shape[1:]) < np.prod(layer.output_shape[1:])
        ):
            tails[layer.name] = (tail.name, [b.name for b in between])
    return tails


class _TailAxis(NamedTuple):
    """One axis of the phase-by-phase tail over ``n`` phase rows (module doc)."""

    phase: int  # length of each phase's stride s*t transposed convolution
    stride: int  # s*t
    step: int  # t: phase a starts t*a into the canvas
    canvas: int  # the tail's uncropped output length
    crop: int  # pb, the tail's crop at the start
    size: int  # the tail's output length

    @classmethod
    def of(cls, n: int, s: int, k: int, t: int, padding: str) -> _TailAxis:
        size = output_length(s * n, k, t, padding)
        canvas = (s * n - 1) * t + k
        crop = (canvas - size) // 2 if padding == "same" else 0
        return cls((n - 1) * s * t + k, s * t, t, canvas, crop, size)

    def pad(self, a: int) -> list[int]:
        """Zeros before and after phase ``a``'s output to place it on the canvas."""
        return [self.step * a, self.canvas - self.phase - self.step * a]


def _tail_sink(
    between: list[tf.keras.layers.Layer],
    tail: tf.keras.layers.Conv2DTranspose,
    strides: tuple[int, int],
) -> Callable[[list[tf.Tensor]], tf.Tensor]:
    """The phases (slot order) through ``between`` and ``tail`` as a sum (module doc)."""
    kernel = tf.constant(tail.kernel.numpy())
    bias = tf.constant(tail.bias.numpy()) if tail.use_bias else None
    sizes = pair(tail.kernel_size), pair(tail.strides), strides

    def sink(phases: list[tf.Tensor]) -> tf.Tensor:
        h, w = (
            _TailAxis.of(n, s, k, t, tail.padding)
            for n, k, t, s in zip(phases[0].shape[1:3], *sizes, strict=True)
        )
        total = None
        for q, x in enumerate(phases):
            a, b = divmod(q, strides[1])
            for layer in between:
                x = layer(x, training=False)
            shape = [tf.shape(x)[0], h.phase, w.phase, kernel.shape[2]]
            y = tf.nn.conv2d_transpose(x, kernel, shape, (h.stride, w.stride), "VALID")
            y = tf.pad(y, [[0, 0], h.pad(a), w.pad(b), [0, 0]])
            total = y if total is None else total + y
        y = total[:, h.crop : h.crop + h.size, w.crop : w.crop + w.size, :]
        if bias is not None:
            y = y + bias
        return tail.activation(y)

    return sink


def _fresh(layer: tf.keras.layers.Layer) -> tf.keras.layers.Layer:
    """A new layer with ``layer``'s configuration and weights (built on first call)."""
    copy = layer.__class__.from_config(layer.get_config())
    if layer.weights:
        copy.build(layer.input_shape)
        copy.set_weights(layer.get_weights())
    return copy


class Folded(NamedTuple):
    """An inference copy and what it folded: ``{batch norm: layer}``, ``{layer: tail}``."""

    model: tf.keras.Model
    batch_norms: dict[str, str]
    tails: dict[str, str]


def fold_batch_norms(model: tf.keras.Model, *, fuse_tails: bool = False) -> Folded:
    """An inference copy of ``model`` with its foldable batch norms folded and, with
    ``fuse_tails``, its float tails fused (module doc); ``model`` is unchanged (and is
    returned itself when there is nothing to do)."""
    pairs = foldable_batch_norms(model)
    tails = fusable_tails(model) if fuse_tails else {}
    if not pairs and not tails:
        return Folded(model, {}, {})
    # A tail and the layers between become identities; the phase layer computes them.
    absorbed = {name for tail, between in tails.values() for name in (tail, *between)}

    def clone(layer: tf.keras.layers.Layer) -> tf.keras.layers.Layer:
        if layer.name in pairs or layer.name in absorbed:
            return tf.keras.layers.Identity(name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    copy = tf.keras.models.clone_model(model, clone_function=clone)
    for layer in model.layers:
        if layer.name not in pairs and layer.name not in absorbed and layer.weights:
            copy.get_layer(layer.name).set_weights(layer.get_weights())
    for bn, target in pairs.items():
        copy.get_layer(target).fold_affine(*_affine(model.get_layer(bn)))
    for name, (tail, between) in tails.items():
        kept = [_fresh(model.get_layer(b)) for b in between if b not in pairs]
        layer = copy.get_layer(name)
        layer.sink_phases(_tail_sink(kept, model.get_layer(tail), layer.strides))
    return Folded(copy, pairs, {name: tail for name, (tail, _) in tails.items()})
