"""Binary deconvolution layers.

Two schemes (registered by name in :data:`pbgan.settings.SCHEMES`):

``bwn``
    The paper's binary weight network: ``W_b = alpha * sign(W)`` with ``alpha`` the
    mean ``|W|`` of each **output** channel, float activations, straight-through
    gradients clipped at ``|w| <= 1``. Trains as larq ``QuantConv2DTranspose``.

``xnor``
    The deployable form: binary weights *and* binary inputs, built from
    ``QuantConv2D`` so that Larq Compute Engine turns it into ``LceBconv2d``
    (it cannot binarize transposed convolutions). A 4x4, stride-2, "same"
    transposed convolution is four 2x2 convolutions, one per output phase
    (row parity x column parity)::

        y[2m + a, 2n + b] = sum_{r,c in {0,1}} xp[m + a + r, n + b + c] . K_ab[r, c]

    with ``xp`` the input padded by one pixel and ``K_ab`` the taps of the 4x4 kernel
    that land on phase ``(a, b)`` (rows ``(3, 1)`` for ``a = 0``, ``(2, 0)`` for
    ``a = 1``; columns likewise). One 2x2 "valid" convolution with ``4 * filters``
    outputs computes all phases over ``(H + 1) x (W + 1)`` positions; phase ``(a, b)``
    needs the window starting at ``(a, b)``. Stacking the phases in *reversed*
    ``depth_to_space`` order makes that one crop: with ``D = depth_to_space(Y, 2)``,
    ``D[2k + s] = Y_{1-s}[k]``, so ``y[2m] = Y_0[m] = D[2m + 1]`` and
    ``y[2m + 1] = Y_1[m + 1] = D[2m + 2]``, i.e. ``y = D[1 : 2H + 1, 1 : 2W + 1]``.
    The interleave is one ``DEPTH_TO_SPACE`` and one slice, instead of four slices,
    a concatenation and a ``DEPTH_TO_SPACE``. Every tap is a real weight, so the
    parameter count equals the 4x4 deconvolution's, and with float weights the layer
    reproduces ``Conv2DTranspose`` exactly.
"""

from __future__ import annotations

from pbgan.settings import get_scheme

import larq as lq
import numpy as np
import tensorflow as tf

__all__ = [
    "ChannelScaledSign",
    "PhaseConv2DTranspose",
    "Projection",
    "phase_kernel_from_transpose",
]

# Taps of a 4x4 stride-2 "same" transposed-convolution kernel that reach output
# parity 0 and 1, in the order they meet the padded input window.
_PHASE_TAPS = ((3, 1), (2, 0))
# Phase (a, b) held by each depth_to_space slot, in slot order: reversed (see above).
_SLOT_PHASES = ((1, 1), (1, 0), (0, 1), (0, 0))


def _register(cls):
    return lq.utils.register_keras_custom_object(
        tf.keras.utils.register_keras_serializable("pbgan")(cls)
    )


@_register
class ChannelScaledSign(lq.quantizers.Quantizer):
    r"""``alpha * sign(W)`` with ``alpha`` the mean ``|W|`` per output channel.

    .. math:: W_b[..., o, ...] = \frac{1}{n} \lVert W[..., o, ...] \rVert_1 \; sign(W[..., o, ...])

    ``axis`` is the output-channel axis of the kernel: -1 for ``Conv2D``/``Dense``,
    -2 for ``Conv2DTranspose`` (its kernel is ``(kh, kw, c_out, c_in)``; larq's
    ``magnitude_aware_sign`` averages over every axis but the last and would scale per
    *input* channel there). ``channels`` splits that axis as ``(-1, channels)`` and
    shares alpha across the leading part, so a projection whose outputs are
    ``h * w * c`` units is scaled per feature-map channel ``c``. Gradients are
    straight-through, clipped at ``|w| <= clip_value``; alpha is a constant to them.
    """

    precision = 1

    def __init__(
        self, axis: int = -1, channels: int | None = None, clip_value: float = 1.0, **kwargs
    ):
        self.axis = axis
        self.channels = channels
        self.clip_value = clip_value
        super().__init__(**kwargs)

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        moved = tf.experimental.numpy.moveaxis(inputs, self.axis, -1)
        groups = self.channels or moved.shape[-1]
        flat = tf.reshape(tf.abs(moved), [-1, groups])
        alpha = tf.stop_gradient(tf.reduce_mean(flat, axis=0))
        scale = tf.reshape(tf.tile(alpha, [moved.shape[-1] // groups]), [-1])
        scaled = lq.quantizers.ste_sign(moved, clip_value=self.clip_value) * scale
        return tf.experimental.numpy.moveaxis(scaled, -1, self.axis)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "axis": self.axis,
            "channels": self.channels,
            "clip_value": self.clip_value,
        }


def _quant_kwargs(binary: bool, scheme: str, kernel_axis: int, channels: int | None = None):
    """larq quantizer arguments for a layer that is (or is not) binarized."""
    if not binary:
        return {}
    if scheme == "bwn":
        return {
            "kernel_quantizer": ChannelScaledSign(axis=kernel_axis, channels=channels),
            "kernel_constraint": "weight_clip",
        }
    if scheme == "xnor":
        return {
            "input_quantizer": "ste_sign",
            "kernel_quantizer": "ste_sign",
            "kernel_constraint": "weight_clip",
        }
    get_scheme(scheme)  # a one-line error naming the registered schemes
    raise NotImplementedError(f"scheme {scheme!r} has no quantizers in pbgan.layers")


def phase_kernel_from_transpose(kernel: np.ndarray) -> np.ndarray:
    """Rearrange a ``(4, 4, c_out, c_in)`` transposed-conv kernel into phase form.

    Returns the ``(2, 2, c_in, 4 * c_out)`` kernel of :class:`PhaseConv2DTranspose`,
    phases stacked along the output axis in reversed ``depth_to_space`` order.
    """
    kernel = np.asarray(kernel)
    if kernel.shape[:2] != (4, 4):
        raise ValueError(f"expected a 4x4 kernel, got shape {kernel.shape}")
    blocks = []
    for a, b in _SLOT_PHASES:
        rows, cols = _PHASE_TAPS[a], _PHASE_TAPS[b]
        taps = kernel[np.ix_(rows, cols)]  # (2, 2, c_out, c_in)
        blocks.append(np.transpose(taps, (0, 1, 3, 2)))
    return np.concatenate(blocks, axis=-1)


@_register
class PhaseConv2DTranspose(tf.keras.layers.Layer):
    """A 4x4, stride-2, "same" transposed convolution as one 2x2 ``QuantConv2D``.

    See the module docstring for the construction. With ``binary=True`` and
    ``scheme="xnor"`` the inner convolution has sign inputs and sign weights and
    converts to ``LceBconv2d``; the one-pixel frame the layer pads binarizes to
    +1 both in training and after conversion, so the trained layer is exactly the
    deployed one. ``use_scale`` adds a learned per-channel multiplier, for a binary
    layer that no batch norm follows (the output layer); it is applied to the four
    phases before the interleave, where LCE can fold it into the bconv's output
    multiplier.

    ``shortcut`` adds a real-valued path around the binary convolution (Bi-Real Net
    style): the float input, folded to ``filters`` channels (the mean of each group of
    ``c_in / filters`` channels, no parameters) and upsampled 2x by nearest neighbour,
    is added to the (scaled) binary output. Binarization then loses only what the
    shortcut cannot carry; it costs a MEAN, a RESIZE_NEAREST_NEIGHBOR and an ADD at
    inference. It needs ``use_scale`` (the binary sum is ~``sqrt(4 c_in)`` times
    larger than the shortcut) and ``c_in`` a multiple of ``filters``.
    """

    def __init__(
        self,
        filters: int,
        *,
        binary: bool = False,
        scheme: str = "xnor",
        use_bias: bool = False,
        use_scale: bool = False,
        shortcut: bool = False,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if shortcut and not use_scale:
            raise ValueError("a shortcut needs use_scale=True (see the class docstring)")
        self.filters = filters
        self.binary = binary
        self.scheme = scheme
        self.use_bias = use_bias
        self.use_scale = use_scale
        self.shortcut = shortcut
        self.kernel_initializer = tf.keras.initializers.get(kernel_initializer)
        self.conv = lq.layers.QuantConv2D(
            4 * filters,
            2,
            padding="valid",
            use_bias=False,
            kernel_initializer=self.kernel_initializer,
            name="phase_conv",
            **_quant_kwargs(binary, scheme, kernel_axis=-1),
        )

    def build(self, input_shape):
        _, h, w, c = input_shape
        if self.shortcut and c % self.filters:
            raise ValueError(
                f"{self.name}: a shortcut folds {c} input channels into {self.filters}: "
                "c_in must be a multiple of filters"
            )
        self.conv.build((None, None if h is None else h + 2, None if w is None else w + 2, c))
        if self.use_scale:
            self.scale = self.add_weight(
                name="scale",
                shape=(self.filters,),
                initializer=tf.keras.initializers.Constant(1.0 / np.sqrt(4 * c)),
            )
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")
        super().build(input_shape)

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        h, w = inputs.shape[1], inputs.shape[2]
        padded = tf.pad(inputs, [[0, 0], [1, 1], [1, 1], [0, 0]])
        y = self.conv(padded)
        if self.use_scale:
            # depth_to_space takes slot k's channels from [k * filters, (k + 1) * filters).
            y = y * tf.tile(self.scale, [4])
        y = tf.nn.depth_to_space(y, 2)[:, 1 : 2 * h + 1, 1 : 2 * w + 1, :]
        if self.shortcut:
            c = inputs.shape[-1]
            folded = tf.reduce_mean(
                tf.reshape(inputs, (-1, h, w, self.filters, c // self.filters)), axis=-1
            )
            y = y + tf.image.resize(folded, (2 * h, 2 * w), method="nearest")
        if self.use_bias:
            y = y + self.bias
        return y

    def compute_output_shape(self, input_shape):
        b, h, w, _ = input_shape
        return tf.TensorShape(
            (b, None if h is None else 2 * h, None if w is None else 2 * w, self.filters)
        )

    def set_from_transpose_kernel(self, kernel: np.ndarray) -> None:
        """Load the weights of an equivalent ``Conv2DTranspose`` kernel."""
        self.conv.kernel.assign(phase_kernel_from_transpose(kernel))

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "filters": self.filters,
            "binary": self.binary,
            "scheme": self.scheme,
            "use_bias": self.use_bias,
            "use_scale": self.use_scale,
            "shortcut": self.shortcut,
            "kernel_initializer": tf.keras.initializers.serialize(self.kernel_initializer),
        }


@_register
class Projection(tf.keras.layers.Layer):
    """``z -> (h, w, c)``: a deconvolution from a ``1 x 1 x z`` input (DoR = z - 1).

    Computed as a 1x1 ``QuantConv2D`` with ``h * w * c`` filters on the latent seen
    as a 1x1 image, because LCE converts that to ``LceBconv2d`` when binarized while
    a binarized ``Dense`` stays a float ``FULLY_CONNECTED``.
    """

    def __init__(
        self,
        target_shape,
        *,
        binary: bool = False,
        scheme: str = "xnor",
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(v) for v in target_shape)
        self.binary = binary
        self.scheme = scheme
        self.kernel_initializer = tf.keras.initializers.get(kernel_initializer)
        h, w, c = self.target_shape
        self.conv = lq.layers.QuantConv2D(
            h * w * c,
            1,
            use_bias=False,
            kernel_initializer=self.kernel_initializer,
            name="projection_conv",
            **_quant_kwargs(binary, scheme, kernel_axis=-1, channels=c),
        )

    def build(self, input_shape):
        self.conv.build((None, 1, 1, input_shape[-1]))
        super().build(input_shape)

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        y = self.conv(inputs[:, None, None, :])
        return tf.reshape(y, (-1, *self.target_shape))

    def compute_output_shape(self, input_shape):
        return tf.TensorShape((input_shape[0], *self.target_shape))

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "target_shape": list(self.target_shape),
            "binary": self.binary,
            "scheme": self.scheme,
            "kernel_initializer": tf.keras.initializers.serialize(self.kernel_initializer),
        }
