"""Three user generators in the style of three families, tiny (for the byog tests).

None is the built-in DCGAN: Keras' default layer names, 5x5 and 3x3 kernels, a 1x1
latent image, output padding.
"""

from __future__ import annotations

import pbgan  # noqa: F401

import tensorflow as tf

L = tf.keras.layers


def tf_tutorial(z_dim: int = 16, c: int = 64) -> tf.keras.Model:
    """TensorFlow's DCGAN tutorial: Dense -> BN -> LeakyReLU -> Reshape -> 5x5 deconvs.

    Sequential, no biases, default layer names. At 7x7 with 64 channels the first two
    deconvolutions have DoR 15 (the s1 one a single 5x5 phase, the s2 one four unequal
    phases); the last one (DoR 32 - 196) stays float.
    """
    return tf.keras.Sequential(
        [
            tf.keras.Input((z_dim,)),
            L.Dense(7 * 7 * c, use_bias=False),
            L.BatchNormalization(),
            L.LeakyReLU(),
            L.Reshape((7, 7, c)),
            L.Conv2DTranspose(c, 5, strides=1, padding="same", use_bias=False),
            L.BatchNormalization(),
            L.LeakyReLU(),
            L.Conv2DTranspose(c // 2, 5, strides=2, padding="same", use_bias=False),
            L.BatchNormalization(),
            L.LeakyReLU(),
            L.Conv2DTranspose(3, 5, strides=2, padding="same", use_bias=False, activation="tanh"),
        ]
    )


def pytorch_dcgan(z_dim: int = 24, c: int = 32) -> tf.keras.Model:
    """PyTorch's DCGAN: z as a 1x1xZ image -> 4x4 s1 valid -> BN/ReLU -> 4x4 s2 same x2.

    Functional. The projection deconvolution (DoR z - 1) and the 4x4 -> 8x8 one (DoR
    32 - 16) binarize; the output one (DoR 16 - 64) stays float.
    """
    z = tf.keras.Input((z_dim,), name="latent")
    x = L.Reshape((1, 1, z_dim))(z)
    x = L.Conv2DTranspose(c, 4, strides=1, padding="valid", use_bias=False)(x)
    x = L.BatchNormalization()(x)
    x = L.ReLU()(x)
    x = L.Conv2DTranspose(c // 2, 4, strides=2, padding="same", use_bias=False)(x)
    x = L.BatchNormalization()(x)
    x = L.ReLU()(x)
    x = L.Conv2DTranspose(3, 4, strides=2, padding="same", use_bias=False)(x)
    out = L.Activation("tanh")(x)
    return tf.keras.Model(z, out, name="pytorch_dcgan")


def output_padding_3x3(z_dim: int = 16, c: int = 48) -> tf.keras.Model:
    """3x3 stride-2 deconvolutions with output_padding=1 (and biases), 4x4 -> 32x32.

    Functional. The projection is a ``Dense`` with a bias, which has no binary
    Projection form: it stays float. The 4x4 -> 8x8 deconvolution (DoR 32) binarizes
    as four phase convolutions (2x2, 2x1, 1x2, 1x1 taps); the others have DoR < 0.
    """
    z = tf.keras.Input((z_dim,))
    x = L.Dense(4 * 4 * c)(z)
    x = L.Reshape((4, 4, c))(x)
    x = L.BatchNormalization()(x)
    x = L.Activation("relu")(x)
    for filters in (c, c // 2):
        x = L.Conv2DTranspose(filters, 3, strides=2, padding="same", output_padding=1)(x)
        x = L.BatchNormalization()(x)
        x = L.Activation("relu")(x)
    x = L.Conv2DTranspose(3, 3, strides=2, padding="same", output_padding=1)(x)
    out = L.Activation("tanh")(x)
    return tf.keras.Model(z, out, name="output_padding_3x3")


FAMILIES = {
    "tf_tutorial": tf_tutorial,
    "pytorch": pytorch_dcgan,
    "output_padding": output_padding_3x3,
}
