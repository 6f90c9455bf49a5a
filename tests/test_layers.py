from pbgan.layers import (
    ChannelScaledSign,
    PhaseConv2DTranspose,
    Projection,
    phase_kernel_from_transpose,
)

import numpy as np
import pytest
import tensorflow as tf


@pytest.mark.parametrize(
    "shape,filters", [((2, 4, 4, 8), 5), ((1, 5, 7, 3), 2), ((3, 1, 1, 16), 4)]
)
def test_phase_decomposition_equals_conv2d_transpose(shape, filters):
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    reference = tf.keras.layers.Conv2DTranspose(
        filters, 4, strides=2, padding="same", use_bias=False
    )
    expected = reference(x).numpy()
    layer = PhaseConv2DTranspose(filters)
    layer(x)
    layer.set_from_transpose_kernel(reference.kernel.numpy())
    got = layer(x).numpy()
    assert got.shape == expected.shape == (shape[0], 2 * shape[1], 2 * shape[2], filters)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_phase_kernel_has_the_deconvolution_parameter_count():
    kernel = np.zeros((4, 4, 6, 10))
    assert phase_kernel_from_transpose(kernel).size == kernel.size
    with pytest.raises(ValueError, match="4x4"):
        phase_kernel_from_transpose(np.zeros((5, 5, 6, 10)))


def _deconv_kernel_with_distinct_channel_magnitudes():
    rng = np.random.default_rng(1)
    kernel = rng.normal(size=(4, 4, 3, 5)).astype("float32")  # (kh, kw, c_out, c_in)
    kernel *= np.array([0.1, 1.0, 10.0], "float32")[None, None, :, None]
    kernel *= np.array([1.0, 2.0, 3.0, 4.0, 5.0], "float32")[None, None, None, :]
    return kernel


def test_bwn_alpha_is_per_output_channel_of_a_transposed_conv_kernel():
    kernel = _deconv_kernel_with_distinct_channel_magnitudes()
    quantized = ChannelScaledSign(axis=-2)(tf.constant(kernel)).numpy()
    expected_alpha = np.abs(kernel).mean(axis=(0, 1, 3))  # per c_out
    for o in range(3):
        np.testing.assert_allclose(np.abs(quantized[:, :, o, :]), expected_alpha[o], rtol=1e-5)
    np.testing.assert_array_equal(np.sign(quantized), np.sign(kernel))
    # larq's magnitude_aware_sign would scale per input channel here: make sure we differ.
    per_input = np.abs(kernel).mean(axis=(0, 1, 2))
    assert not np.allclose(np.abs(quantized[0, 0, 0, :]), per_input[0])


def test_projection_scale_is_shared_per_feature_map_channel():
    rng = np.random.default_rng(2)
    kernel = rng.normal(size=(1, 1, 7, 4 * 3)).astype("float32")  # h*w=4 positions x c=3
    quantized = ChannelScaledSign(axis=-1, channels=3)(tf.constant(kernel)).numpy()
    grouped = np.abs(kernel).reshape(7, 4, 3).mean(axis=(0, 1))
    np.testing.assert_allclose(np.abs(quantized).reshape(7, 4, 3)[0, 0], grouped, rtol=1e-5)


@pytest.mark.parametrize("scheme, convs", [("xnor", 6), ("bwn", 1)])
def test_binary_projection_infers_one_convolution_per_position_with_the_same_numbers(scheme, convs):
    """xnor: one bconv of c outputs per position at inference, so LCE shares one output
    multiplier and bias of c values between them; bwn keeps its float-input form."""
    layer = Projection((2, 3, 5), binary=True, scheme=scheme)
    z = np.random.default_rng(3).normal(size=(4, 7)).astype("float32")
    trained, inferred = (layer(z, training=t).numpy() for t in (True, False))
    np.testing.assert_array_equal(trained, inferred)
    assert layer.converted_convolutions() == convs
    graph = tf.function(lambda x: layer(x, training=False)).get_concrete_function(
        tf.TensorSpec((1, 7))
    )
    assert [op.type for op in graph.graph.get_operations()].count("Conv2D") == convs


def test_bwn_gradient_is_straight_through_and_clipped():
    w = tf.Variable([[-2.0, -0.5, 0.5, 2.0]])
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(ChannelScaledSign(axis=0)(w))  # one channel, alpha = 1.25
    np.testing.assert_allclose(tape.gradient(y, w).numpy(), [[0, 1.25, 1.25, 0]], rtol=1e-6)


def test_xnor_phase_layer_computes_with_signs_of_inputs_and_weights():
    x = np.random.default_rng(3).normal(size=(2, 3, 3, 4)).astype("float32")
    layer = PhaseConv2DTranspose(2, binary=True, scheme="xnor")
    y = layer(x).numpy()
    # Integer sums of +-1 products: 2x2 taps x 4 channels, so |y| <= 16 and y is even.
    assert np.all(np.abs(y) <= 16)
    np.testing.assert_array_equal(np.mod(y, 2), 0)


# Every argument differs from its default, so a get_config that drops one reloads a layer
# that differs in an attribute (and, for binary/scheme/use_bias/use_scale, in its output).
ROUND_TRIP = {
    "phase-xnor": (
        PhaseConv2DTranspose,
        dict(filters=3, binary=True, scheme="xnor", use_bias=True, use_scale=True),
        (4, 4, 5),
    ),
    "phase-bwn": (
        PhaseConv2DTranspose,
        dict(filters=3, binary=True, scheme="bwn", kernel_initializer="he_normal"),
        (4, 4, 5),
    ),
    "phase-float": (PhaseConv2DTranspose, dict(filters=2, use_bias=True), (3, 5, 4)),
    "projection-bwn": (
        Projection,
        dict(target_shape=(2, 2, 3), binary=True, scheme="bwn", kernel_initializer="he_normal"),
        (6,),
    ),
    "projection-xnor": (Projection, dict(target_shape=(2, 3, 2), binary=True), (6,)),
}


@pytest.mark.parametrize("name", list(ROUND_TRIP))
def test_custom_layers_reload_from_a_keras_file_with_their_arguments_and_outputs(name, tmp_path):
    cls, kwargs, input_shape = ROUND_TRIP[name]
    inputs = tf.keras.Input(input_shape)
    model = tf.keras.Model(inputs, cls(**kwargs, name="custom")(inputs))
    rng = np.random.default_rng(4)  # random biases and scales too, not their initial values
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
    x = rng.normal(size=(2, *input_shape)).astype("float32")
    expected = model(x).numpy()

    path = tmp_path / f"{name}.keras"
    model.save(path)
    tf.keras.backend.clear_session()
    reloaded = tf.keras.models.load_model(path)  # no custom_objects: the layers registered

    layer = reloaded.get_layer("custom")
    assert type(layer) is cls
    for key, value in kwargs.items():
        got = getattr(layer, key)
        if key == "kernel_initializer":
            assert type(got) is type(tf.keras.initializers.get(value))
        else:
            assert got == (tuple(value) if key == "target_shape" else value), key
    assert layer.get_config() == cls(**kwargs, name="custom").get_config()
    np.testing.assert_allclose(reloaded(x).numpy(), expected, rtol=1e-6, atol=1e-6)
