"""Binary deconvolution layers.

Two schemes (registered by name in :data:`pbgan.settings.SCHEMES`):

``bwn``
    The paper's binary weight network: ``W_b = alpha * sign(W)`` with ``alpha`` the
    mean ``|W|`` of each **output** channel, float activations, straight-through
    gradients clipped at ``|w| <= 1``. Trains as larq ``QuantConv2DTranspose``.

``xnor``
    The deployable form: binary weights *and* binary inputs, built from
    ``QuantConv2D`` so that Larq Compute Engine turns it into ``LceBconv2d``
    (it cannot binarize transposed convolutions). A transposed convolution of stride
    ``s`` is ``s x s`` stride-1 convolutions, one per output phase, interleaved by
    ``depth_to_space(s)`` and cropped (:mod:`pbgan.phase` has the index math). For the
    built-in 4x4, stride-2, "same" layer the four phases are 2x2: one 2x2 "valid"
    convolution with ``4 * filters`` outputs over the input padded by one pixel, then
    ``y = depth_to_space(Y, 2)[1 : 2H + 1, 1 : 2W + 1]`` (phase ``(r, c)`` of the
    uncropped output, taps ``(2, 0)`` for ``r = 0`` and ``(3, 1)`` for ``r = 1``, in
    slot ``2r + c``). Every tap is a real weight, so the parameter count equals the
    deconvolution's, and with float weights the layer reproduces ``Conv2DTranspose``
    exactly. That is the training form. At inference, and so in the converted graph,
    each phase is computed only over the rows and columns the crop keeps: four 2x2
    convolutions of ``filters`` outputs, each over its own ``(H + 1) x (W + 1)`` window
    of the padded input, interleaved by ``depth_to_space`` with no crop: the same
    numbers, and 36% fewer binary operations for the 4x4 input of deconv1 (21% and 11%
    at 8x8 and 16x16).
"""

from __future__ import annotations

from collections.abc import Callable

from pbgan.phase import (
    AxisGeometry,
    axis_geometry,
    output_length,
    pair,
    phase_groups,
    phase_kernel_from_transpose,
    phase_kernels,
    phase_plan,
    phase_taps,
)
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


def _quantized_conv(
    conv: lq.layers.QuantConv2D,
    x: tf.Tensor,
    channels: slice = slice(None),
    quantize_input: bool = False,
) -> tf.Tensor:
    """``x`` convolved with ``channels`` of ``conv``'s kernel as ``conv`` quantizes it;
    ``x`` quantized by ``conv``'s input quantizer only when ``quantize_input``."""
    if quantize_input and conv.input_quantizer is not None:
        x = conv.input_quantizer(x)
    with lq.context.quantized_scope(True):  # larq quantizes the kernel when read here
        kernel = tf.convert_to_tensor(conv.kernel)
    return tf.nn.conv2d(x, kernel[..., channels], 1, "VALID")


def _interleave(y: tf.Tensor, sh: int, sw: int) -> tf.Tensor:
    """``depth_to_space`` with a block of ``sh x sw`` (phase ``(r, c)`` in slot ``r*sw + c``)."""
    if sh == sw == 1:
        return y
    if sh == sw:
        return tf.nn.depth_to_space(y, sh)
    b, mh, mw, f = tf.shape(y)[0], y.shape[1], y.shape[2], y.shape[3] // (sh * sw)
    y = tf.transpose(tf.reshape(y, [b, mh, mw, sh, sw, f]), [0, 1, 3, 2, 4, 5])
    return tf.reshape(y, [b, mh * sh, mw * sw, f])


def _window(
    source: tf.Tensor, pads: list, frame: float, top: int, height: int, left: int, width: int
) -> tf.Tensor:
    """``tf.pad(source, pads, constant_values=frame)[:, top:top + height, left:left + width]``
    without padding all of ``source``: the rows and columns of ``source`` the window
    covers (no slice when that is all of it), padded only where the window leaves it.
    A graph that pads once and slices four windows keeps the padded input alive across
    all four; this keeps only ``source`` and one window."""
    h, w = source.shape[1], source.shape[2]
    r0, c0 = top - pads[1][0], left - pads[2][0]
    r1, c1 = r0 + height, c0 + width
    sr0, sr1, sc0, sc1 = max(0, r0), min(h, r1), max(0, c0), min(w, c1)
    cut = source if (sr0, sr1, sc0, sc1) == (0, h, 0, w) else source[:, sr0:sr1, sc0:sc1, :]
    extra = [[0, 0], [sr0 - r0, r1 - sr1], [sc0 - c0, c1 - sc1], [0, 0]]
    if not any(a or b for a, b in extra):
        return cut
    return tf.pad(cut, extra, constant_values=frame)


def _affine(out: tf.Tensor, affine: tuple | None, bias: tf.Tensor | None = None) -> tf.Tensor:
    """``(out + bias) * scale + shift`` for a folded batch norm ``affine``; else ``out``."""
    if affine is None:
        return out
    scale, shift = affine
    if bias is not None:
        shift = shift + bias * scale
    return out * scale + shift


@_register
class PhaseConv2DTranspose(tf.keras.layers.Layer):
    """A ``Conv2DTranspose`` as stride-1 ``QuantConv2D`` phase convolutions.

    The defaults are the built-in generators' 4x4, stride-2, "same" layer: one 2x2
    convolution (see the module docstring). Any ``kernel_size``, ``strides``,
    ``padding`` (``same``/``valid``) and ``output_padding`` take the general form of
    :mod:`pbgan.phase`: one convolution per group of equally sized phases (up to four),
    each kernel holding only real taps, interleaved by ``depth_to_space`` and cropped.
    With float weights every form reproduces ``Conv2DTranspose`` exactly;
    :meth:`from_transpose` builds the layer that mirrors a given one.

    With ``binary=True`` and ``scheme="xnor"`` every phase convolution has sign inputs
    and sign weights and converts to ``LceBconv2d``. ``pad_values`` is what the zeros
    padded around the input are worth once inputs are binarized: ``1.0`` (the built-in
    generators) binarizes them to +1 like any input, in training and after conversion
    alike; ``0.0`` makes them contribute nothing, so the layer equals
    ``Conv2DTranspose`` on the signs of its inputs and weights (a binarized *given*
    layer): the +1 frame's contribution depends only on the kernel and is subtracted
    (the converter folds it into one constant ``SUB``). Float layers and bwn pad with
    real zeros either way.

    ``use_scale`` adds a learned per-channel multiplier, for a binary layer that no
    batch norm follows (the output layer); it multiplies each phase convolution's
    output, where LCE folds it into the bconv's output multiplier.

    ``shortcut`` adds a real-valued path around the binary convolution (Bi-Real Net
    style): the float input, folded to ``filters`` channels (the mean of each group of
    ``c_in / filters`` channels, no parameters) and upsampled by nearest neighbour,
    is added to the (scaled) binary output. Binarization then loses only what the
    shortcut cannot carry; it costs a MEAN, a RESIZE_NEAREST_NEIGHBOR and an ADD at
    inference. It needs ``use_scale`` (the binary sum is ~``sqrt(taps * c_in)`` times
    larger than the shortcut), ``c_in`` a multiple of ``filters`` and an output of
    exactly ``strides`` times the input.
    """

    def __init__(
        self,
        filters: int,
        kernel_size=4,
        strides=2,
        padding: str = "same",
        output_padding=None,
        *,
        binary: bool = False,
        scheme: str = "xnor",
        use_bias: bool = False,
        use_scale: bool = False,
        shortcut: bool = False,
        pad_values: float = 1.0,
        activation=None,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if shortcut and not use_scale:
            raise ValueError("a shortcut needs use_scale=True (see the class docstring)")
        if pad_values not in (0.0, 1.0):
            raise ValueError(f"pad_values must be 0.0 or 1.0, got {pad_values!r}")
        self.filters = filters
        self.kernel_size = pair(kernel_size)
        self.strides = pair(strides)
        self.padding = padding.lower()
        self.output_padding = None if output_padding is None else pair(output_padding)
        if not (plan := phase_plan(self)).ok:
            raise ValueError(plan.reason)
        self.binary = binary
        self.scheme = scheme
        self.use_bias = use_bias
        self.use_scale = use_scale
        self.shortcut = shortcut
        self.pad_values = float(pad_values)
        self.activation = tf.keras.activations.get(activation)
        self.kernel_initializer = tf.keras.initializers.get(kernel_initializer)
        quant = _quant_kwargs(binary, scheme, kernel_axis=-1)
        # The first convolution keeps the attribute and name of the 4x4 layer's only one:
        # a saved generator's weights are found by that path.
        for i, ((nh, nw), phases) in enumerate(self._conv_groups()):
            conv = lq.layers.QuantConv2D(
                len(phases) * filters,
                (nh, nw),
                padding="valid",
                use_bias=False,
                kernel_initializer=self.kernel_initializer,
                name="phase_conv" if i == 0 else f"phase_conv_{i}",
                **quant,
            )
            setattr(self, "conv" if i == 0 else f"conv_{i}", conv)

    def _conv_groups(self) -> list:
        kh, kw = self.kernel_size
        sh, sw = self.strides
        groups = phase_groups(phase_taps(kh, sh), phase_taps(kw, sw))
        return [(n, phases) for n, phases in groups if n[0] and n[1]]

    def _phase_convs(self) -> list:
        n = len(self._conv_groups())
        return [getattr(self, f"conv_{i}" if i else "conv") for i in range(n)]

    def _geometry(self, h: int, w: int) -> tuple[AxisGeometry, AxisGeometry]:
        op = self.output_padding or (None, None)
        return tuple(
            axis_geometry(n, k, s, self.padding, o)
            for n, k, s, o in zip((h, w), self.kernel_size, self.strides, op, strict=True)
        )

    def build(self, input_shape):
        _, h, w, c = input_shape
        if self.shortcut and c % self.filters:
            raise ValueError(
                f"{self.name}: a shortcut folds {c} input channels into {self.filters}: "
                "c_in must be a multiple of filters"
            )
        geometry = None if h is None or w is None else self._geometry(h, w)
        sh, sw = self.strides
        if self.shortcut and geometry and (geometry[0].size, geometry[1].size) != (sh * h, sw * w):
            raise ValueError(f"{self.name}: a shortcut needs an output of strides x the input")
        for conv, ((nh, nw), _) in zip(self._phase_convs(), self._conv_groups(), strict=True):
            if geometry is None:
                conv.build((None, None, None, c))
            else:
                gh, gw = geometry
                conv.build(
                    (None, h + sum(gh.pad) - gh.offset(nh), w + sum(gw.pad) - gw.offset(nw), c)
                )
        if self.use_scale:
            taps = -(-self.kernel_size[0] // sh) * -(-self.kernel_size[1] // sw)  # the most
            self.scale = self.add_weight(
                name="scale",
                shape=(self.filters,),
                initializer=tf.keras.initializers.Constant(1.0 / np.sqrt(taps * c)),
            )
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")
        super().build(input_shape)

    def _phases(self, padded: tf.Tensor, gh: AxisGeometry, gw: AxisGeometry, apply) -> tf.Tensor:
        """Every phase's (scaled) rows, stacked in ``depth_to_space`` slot order."""
        outs, order = [], []
        convs = iter(self._phase_convs())
        for (nh, nw), phases in phase_groups(gh.taps, gw.taps):
            if nh and nw:
                oh, ow = gh.offset(nh), gw.offset(nw)
                out = apply(next(convs), padded if oh == ow == 0 else padded[:, oh:, ow:, :])
                if self.use_scale:  # right after the conv, where LCE folds it into the bconv
                    out = out * tf.tile(self.scale, [len(phases)])
                outs.append(out)
            else:  # taps of no phase of this group exist (kernel smaller than stride)
                shape = [tf.shape(padded)[0], gh.rows, gw.rows, len(phases) * self.filters]
                outs.append(tf.zeros(shape, padded.dtype))
            order += phases
        y = outs[0] if len(outs) == 1 else tf.concat(outs, axis=-1)
        sw = gw.stride
        slots = [r * sw + c for r, c in order]
        if slots != sorted(slots):
            where = {slot: i for i, slot in enumerate(slots)}
            f = self.filters
            index = [where[t] * f + j for t in range(len(slots)) for j in range(f)]
            y = tf.gather(y, index, axis=-1)
        return y

    def converted_convolutions(self, input_shape=None) -> int:
        """How many convolutions this layer converts to for ``input_shape`` (default: the
        shape it was built for): one per computed phase when inference takes
        :meth:`_exact_phases`, else one per group of phases."""
        shape = input_shape or getattr(self, "_build_input_shape", None)
        h, w = (None, None) if shape is None else tuple(shape)[1:3]
        if h is not None and w is not None:
            gh, gw = self._geometry(h, w)
            whole = gh.size % gh.stride == 0 and gw.size % gw.stride == 0
            if whole and (gh.stride, gw.stride) != (1, 1):
                groups = phase_groups(gh.taps, gw.taps)
                return sum(len(phases) for (nh, nw), phases in groups if nh and nw)
        return len(self._phase_convs())

    def fold_affine(self, scale: np.ndarray, shift: np.ndarray) -> None:
        """Apply ``y * scale + shift`` (per output channel) at inference: a batch norm
        that follows this layer, folded in by :func:`pbgan.convert.fold.fold_batch_norms`.

        On the exact-phase path each phase convolution's output is scaled and shifted
        before the phases are interleaved, where LCE fuses both into that bconv's output
        multiplier and bias (no MUL or ADD is left); elsewhere it is applied to the
        output. Training ignores it (the folded copy is for conversion only).
        """
        if self.shortcut or self.activation is not tf.keras.activations.linear:
            raise ValueError(f"{self.name}: a batch norm folds only into a linear layer")
        if self.pad_values == 0.0 and self.binary:
            raise ValueError(f"{self.name}: zero-padded binary layers keep their batch norm")
        self._affine = (tf.constant(scale, tf.float32), tf.constant(shift, tf.float32))

    def sink_phases(self, sink: Callable[[list[tf.Tensor]], tf.Tensor]) -> None:
        """At inference, hand the phase outputs to ``sink`` instead of interleaving them.

        ``sink`` gets the ``strides[0] * strides[1]`` phase outputs in ``depth_to_space``
        slot order (phase ``(r, c)`` at ``r * strides[1] + c``, each ``h x w x filters``,
        any folded batch norm applied) and returns the layer's output, whatever its
        shape: :func:`pbgan.convert.fold.fold_batch_norms` (``fuse_tails``) passes the
        layers after this one through it. Only for a layer whose inference output is the
        interleaved phases alone (:meth:`_exact_phases`; no shortcut, zero-frame, bias or
        activation after them) and only in a copy meant for conversion.
        """
        if not self.built_exact():
            raise ValueError(f"{self.name}: only a built layer of whole phases takes a sink")
        self._sink = sink

    def built_exact(self) -> bool:
        """Whether the layer is built for a known height and width at which inference
        takes :meth:`_exact_phases` (each phase only over the rows it keeps)."""
        shape = getattr(self, "_build_input_shape", None)
        if shape is None or None in tuple(shape)[1:3]:
            return False
        return self._exact_possible(*self._geometry(*tuple(shape)[1:3]))

    def _exact_phases(
        self,
        source: tf.Tensor,
        pads: list,
        frame: float,
        gh: AxisGeometry,
        gw: AxisGeometry,
        quantize,
    ):
        """The output, each phase computed only where the crop keeps it: one convolution
        per phase over its own window of ``source`` padded by ``pads`` with ``frame``,
        interleaved with no crop. Each window is cut and padded on its own
        (:func:`_window`), so the padded input never exists as a whole.

        The same numbers as :meth:`_phases` + crop, with no phase row computed only to
        be cut (for the 4x4 stride-2 layer on an ``n x n`` input, ``n x n`` rows per
        phase instead of ``(n + 1) x (n + 1)``: 36% fewer binary operations at n = 4).
        ``None`` when the output is not a whole number of strides along an axis, and at
        stride 1 (one phase: nothing to save, and the converted graph keeps the crop
        between the bconv and a constant subtracted after it, see :meth:`call`).
        """
        if not self._exact_possible(gh, gw):
            return None
        sh, sw = gh.stride, gw.stride
        f = self.filters
        slots: dict[int, tf.Tensor] = {}
        convs = iter(self._phase_convs())
        for (nh, nw), phases in phase_groups(gh.taps, gw.taps):
            conv = next(convs) if nh and nw else None
            oh, ow = gh.offset(nh), gw.offset(nw)
            for k, (r, c) in enumerate(phases):
                i0, j0 = -(-(gh.crop - r) // sh), -(-(gw.crop - c) // sw)
                rows, cols = gh.size // sh, gw.size // sw
                if conv is None:
                    out = tf.zeros([tf.shape(source)[0], rows, cols, f], source.dtype)
                else:
                    box = (oh + i0, rows + nh - 1, ow + j0, cols + nw - 1)
                    window = _window(source, pads, frame, *box)
                    out = _quantized_conv(conv, window, slice(k * f, (k + 1) * f), quantize)
                    if self.use_scale:
                        out = out * self.scale
                out = self._apply_affine(out)
                slots[((r - gh.crop) % sh) * sw + (c - gw.crop) % sw] = out
        phases = [slots[q] for q in range(sh * sw)]
        sink = getattr(self, "_sink", None)
        if sink is not None and quantize:
            return sink(phases)
        return _interleave(tf.concat(phases, axis=-1), sh, sw)

    @staticmethod
    def _exact_possible(gh: AxisGeometry, gw: AxisGeometry) -> bool:
        """Whether :meth:`_exact_phases` applies (see there)."""
        sh, sw = gh.stride, gw.stride
        return not (gh.size % sh or gw.size % sw or sh == sw == 1)

    def _apply_affine(self, out: tf.Tensor) -> tf.Tensor:
        """The folded batch norm (and the bias before it) on one phase's output."""
        return _affine(out, getattr(self, "_affine", None), self.bias if self.use_bias else None)

    def call(self, inputs: tf.Tensor, training=None) -> tf.Tensor:
        """Training computes every phase with one convolution per group of phases and
        crops; inference (and the converted graph) computes only the rows it keeps
        (:meth:`_exact_phases`). Both give the same numbers."""
        h, w = inputs.shape[1], inputs.shape[2]
        gh, gw = self._geometry(h, w)
        pads = [[0, 0], list(gh.pad), list(gw.pad), [0, 0]]
        sh, sw = self.strides

        def assemble(y: tf.Tensor) -> tf.Tensor:
            y = _interleave(y, sh, sw)
            return y[:, gh.crop : gh.crop + gh.size, gw.crop : gw.crop + gw.size, :]

        affine = None if training else getattr(self, "_affine", None)

        def output(source: tf.Tensor, frame: float, quantize: bool) -> tf.Tensor:
            """The phases of ``source`` padded with ``frame``."""
            if not training:
                exact = self._exact_phases(source, pads, frame, gh, gw, quantize)
                if exact is not None:
                    return exact
            return assemble(
                self._phases(
                    tf.pad(source, pads, constant_values=frame),
                    gh,
                    gw,
                    (lambda conv, x: conv(x)) if quantize else _quantized_conv,
                )
            )

        y = output(inputs, 0.0, True)
        if affine is not None:  # applied with the bias (fold_affine)
            return y if self._exact_possible(gh, gw) else self._apply_affine(y)
        if self.pad_values == 0.0 and self.conv.input_quantizer is not None:
            # The frame binarized to +1: subtract what it added, which depends on the kernel
            # only (the converter folds it to a constant). After the interleave, because
            # LCE 0.16 fuses any constant added right after a bconv into its per-channel
            # bias without checking the shape ("TODO: Check shapes before fusing").
            mask = tf.zeros((1, h, w, inputs.shape[-1]), inputs.dtype)
            y = y - output(mask, 1.0, False)
        if self.shortcut:
            c = inputs.shape[-1]
            folded = tf.reduce_mean(
                tf.reshape(inputs, (-1, h, w, self.filters, c // self.filters)), axis=-1
            )
            y = y + tf.image.resize(folded, (sh * h, sw * w), method="nearest")
        if self.use_bias:
            y = y + self.bias
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        b, h, w, _ = input_shape
        op = self.output_padding or (None, None)
        size = [
            None if n is None else output_length(n, k, s, self.padding, o)
            for n, k, s, o in zip((h, w), self.kernel_size, self.strides, op, strict=True)
        ]
        return tf.TensorShape((b, *size, self.filters))

    @classmethod
    def from_transpose(cls, layer: tf.keras.layers.Layer, **kwargs) -> PhaseConv2DTranspose:
        """The phase layer computing what ``layer`` (a ``Conv2DTranspose``) computes.

        Same geometry, bias, activation and name; ``pad_values`` defaults to 0.0 (a
        binarized layer equals ``layer`` on signs). ``kwargs`` override (``binary``,
        ``scheme``, ...). ``ValueError`` with :func:`pbgan.phase.phase_plan`'s reason
        when there is no phase form. Weights: :func:`pbgan.transfer.copy_into_phase`.
        """
        if not (plan := phase_plan(layer)).ok:
            raise ValueError(plan.reason)
        config = dict(
            filters=layer.filters,
            kernel_size=layer.kernel_size,
            strides=layer.strides,
            padding=layer.padding,
            output_padding=layer.output_padding,
            use_bias=layer.use_bias,
            activation=tf.keras.activations.serialize(layer.activation),
            pad_values=0.0,
            name=layer.name,
        )
        return cls(**{**config, **kwargs})

    def set_from_transpose_kernel(self, kernel: np.ndarray) -> None:
        """Load the weights of an equivalent ``Conv2DTranspose`` kernel."""
        kernel = np.asarray(kernel)
        if tuple(kernel.shape[:3]) != (*self.kernel_size, self.filters):
            raise ValueError(
                f"{self.name}: a {kernel.shape} kernel does not fit "
                f"{self.kernel_size[0]}x{self.kernel_size[1]} kernels with {self.filters} filters"
            )
        kernels = phase_kernels(kernel, self.strides)
        for conv, phase_kernel in zip(self._phase_convs(), kernels, strict=True):
            conv.kernel.assign(phase_kernel)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "output_padding": self.output_padding,
            "binary": self.binary,
            "scheme": self.scheme,
            "use_bias": self.use_bias,
            "use_scale": self.use_scale,
            "shortcut": self.shortcut,
            "pad_values": self.pad_values,
            "activation": tf.keras.activations.serialize(self.activation),
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

    def call(self, inputs: tf.Tensor, training=None) -> tf.Tensor:
        """Training: one convolution with ``h * w * c`` outputs. Inference with binary
        inputs (and so the converted graph): one convolution of ``c`` outputs per output
        position, concatenated; the same numbers, and LCE stores one output multiplier
        and bias of ``c`` values that every position shares, not ``h * w * c``.
        """
        x = inputs[:, None, None, :]
        h, w, c = self.target_shape
        if training or self.conv.input_quantizer is None or h * w == 1:
            y = self.conv(x)
        else:
            y = tf.concat(
                [
                    _quantized_conv(self.conv, x, slice(p * c, (p + 1) * c), True)
                    for p in range(h * w)
                ],
                axis=-1,
            )
        return tf.reshape(y, (-1, *self.target_shape))

    def converted_convolutions(self, input_shape=None) -> int:
        """How many convolutions this layer converts to: one per output position with
        binary inputs (see :meth:`call`), else one."""
        h, w, _ = self.target_shape
        binary_inputs = self.conv.input_quantizer is not None
        return h * w if binary_inputs else 1

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
