"""DCGAN generator and discriminator builders.

The generator is Radford et al.'s DCGAN with the PyTorch kernel convention (4x4,
stride 2, "same"): ``z -> projection -> r/16 x r/16 x 1024w -> 512w -> 256w -> 128w -> r x r x 3``
for resolution ``r`` and width multiplier ``w``. Every resolution has the same four
deconvolutions, so the paper's settings mean the same layers at 32, 64 and 128 and
only the degrees of redundancy change with resolution.

Layer names are stable (``projection``, ``deconv1``..``deconv4``, ``bn0``..``bn3``) so
that analysis, conversion checks and checkpoints can find them.
"""

from __future__ import annotations

from collections.abc import Sequence

import pbgan  # noqa: F401  (selects Keras 2 before TensorFlow loads)
from pbgan.layers import ChannelScaledSign, PhaseConv2DTranspose, Projection
from pbgan.settings import ARCHITECTURES, Setting, get_scheme, get_setting

import larq as lq
import tensorflow as tf

__all__ = [
    "ARCHITECTURES",
    "GENERATOR_WIDTHS",
    "build_discriminator",
    "binary_convolutions",
    "build_generator",
    "generator_channels",
    "generator_dors",
]

GENERATOR_WIDTHS = (1024, 512, 256, 128)


def _init() -> tf.keras.initializers.Initializer:
    # A fresh instance per layer: one unseeded instance returns the same values each call.
    return tf.keras.initializers.RandomNormal(stddev=0.02)


def _check_resolution(resolution: int) -> None:
    if resolution not in ARCHITECTURES.values():
        raise ValueError(f"resolution must be one of 32, 64, 128 (got {resolution})")


def generator_channels(width: float = 1.0) -> list[int]:
    """Channels of the projection output and deconv1-3 outputs for a width multiplier."""
    return [max(1, round(c * width)) for c in GENERATOR_WIDTHS]


def generator_dors(resolution: int = 64, width: float = 1.0, z_dim: int = 100) -> list[int]:
    """DoR of ``[projection, deconv1, .., deconv4]`` (DoR = c_in - h_in * w_in)."""
    _check_resolution(resolution)
    channels = generator_channels(width)
    side = resolution // 16
    dors = [z_dim - 1]
    for i, c_in in enumerate(channels):
        h = side * 2**i
        dors.append(c_in - h * h)
    return dors


def binary_convolutions(plan: Sequence[bool], resolution: int = 64) -> int:
    """``LceBconv2d`` operators of a built-in generator binarized by ``plan`` (projection,
    deconv1-4) as xnor: one per output position of the projection (``r/16 x r/16``), one
    per output phase (four) of each 4x4 stride-2 deconvolution (the layers'
    ``converted_convolutions``)."""
    _check_resolution(resolution)
    positions = (resolution // 16) ** 2
    return sum((4 if i else positions) for i, binary in enumerate(plan) if binary)


def _deconv(
    filters: int, *, binary: bool, scheme: str, output: bool, name: str, shortcut: bool = False
):
    """One 4x4 stride-2 deconvolution in the form its plan and scheme call for."""
    if not binary:
        return tf.keras.layers.Conv2DTranspose(
            filters,
            4,
            strides=2,
            padding="same",
            use_bias=output,
            kernel_initializer=_init(),
            name=name,
        )
    if scheme == "bwn":
        return lq.layers.QuantConv2DTranspose(
            filters,
            4,
            strides=2,
            padding="same",
            use_bias=output,
            kernel_quantizer=ChannelScaledSign(axis=-2),
            kernel_constraint="weight_clip",
            kernel_initializer=_init(),
            name=name,
        )
    return PhaseConv2DTranspose(
        filters,
        binary=True,
        scheme=scheme,
        use_bias=output,
        use_scale=output or shortcut,
        shortcut=shortcut,
        kernel_initializer=_init(),
        name=name,
    )


def build_generator(
    *,
    resolution: int = 64,
    width: float = 1.0,
    z_dim: int = 100,
    setting: str | Setting = "A",
    scheme: str = "bwn",
    shortcut: bool = False,
    name: str | None = None,
) -> tf.keras.Model:
    """A DCGAN generator partially binarized according to ``setting`` and ``scheme``.

    In the ``xnor`` scheme a binary layer takes the sign of the batch-norm output of
    the layer before it (``sign(relu(x))`` would be +1 everywhere); float layers take
    the ReLU as usual. In ``bwn`` activations stay float and every layer sees a ReLU.
    ``shortcut`` gives every binary xnor deconvolution but the output layer a
    real-valued path around it (:class:`~pbgan.layers.PhaseConv2DTranspose`).
    """
    scheme = get_scheme(scheme).name
    setting = get_setting(setting)
    plan = setting.plan(generator_dors(resolution, width, z_dim))
    channels = generator_channels(width)
    side = resolution // 16

    z = tf.keras.Input((z_dim,), name="z")
    x = Projection(
        (side, side, channels[0]),
        binary=plan[0],
        scheme=scheme,
        kernel_initializer=_init(),
        name="projection",
    )(z)
    for i in range(4):
        x = tf.keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"bn{i}")(x)
        if not (get_scheme(scheme).binary_inputs and plan[i + 1]):
            x = tf.keras.layers.ReLU(name=f"relu{i}")(x)
        filters = channels[i + 1] if i < 3 else 3
        x = _deconv(
            filters,
            binary=plan[i + 1],
            scheme=scheme,
            output=i == 3,
            name=f"deconv{i + 1}",
            shortcut=shortcut and get_scheme(scheme).binary_inputs and i < 3,
        )(x)
    out = tf.keras.layers.Activation("tanh", name="image")(x)
    return tf.keras.Model(z, out, name=name or f"generator_{setting.name}_{scheme}")


def build_discriminator(
    *, resolution: int = 64, width: float = 1.0, binary: bool = False, name: str | None = None
) -> tf.keras.Model:
    """DCGAN discriminator: four 4x4 stride-2 convolutions, then one logit.

    ``binary`` gives conv2-4 binary weights with a per-output-channel scale (bwn,
    whatever the generator's scheme: an xnor discriminator collapsed training in our
    prototype, and the discriminator is never deployed). The first convolution sees
    the image and the logit layer has one unit; both stay float.
    """
    _check_resolution(resolution)
    channels = [max(1, round(c * width)) for c in reversed(GENERATOR_WIDTHS)]
    image = tf.keras.Input((resolution, resolution, 3), name="image")
    x = image
    for i, filters in enumerate(channels):
        kwargs = {}
        if binary and i > 0:
            kwargs = {
                "kernel_quantizer": ChannelScaledSign(axis=-1),
                "kernel_constraint": "weight_clip",
            }
        x = lq.layers.QuantConv2D(
            filters,
            4,
            strides=2,
            padding="same",
            use_bias=i == 0,
            kernel_initializer=_init(),
            name=f"conv{i + 1}",
            **kwargs,
        )(x)
        if i > 0:
            x = tf.keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"bn{i}")(x)
        x = tf.keras.layers.LeakyReLU(0.2, name=f"lrelu{i}")(x)
    x = tf.keras.layers.Flatten(name="flatten")(x)
    logit = tf.keras.layers.Dense(1, kernel_initializer=_init(), name="logit")(x)
    return tf.keras.Model(
        image, logit, name=name or ("discriminator_binary" if binary else "discriminator")
    )
