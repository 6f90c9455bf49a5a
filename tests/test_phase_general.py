"""The general phase form of a transposed convolution (pbgan.phase, PhaseConv2DTranspose)
checked against tf.keras ``Conv2DTranspose`` itself, float and binarized."""

import types

from pbgan.layers import PhaseConv2DTranspose
from pbgan.phase import axis_geometry, phase_kernels, phase_plan
from pbgan.transfer import TransferError, copy_float_weights, copy_into_phase

import numpy as np
import pytest
import tensorflow as tf

SHAPE = (2, 3, 4, 3)  # batch 2, odd height, even width, 3 input channels
FILTERS = 2


def _fits(k, s, padding, op, sizes=SHAPE[1:3]) -> bool:
    """Keras builds this layer on SHAPE (same padding refuses some output paddings)."""
    try:
        for n, ki, si, oi in zip(sizes, *(np.broadcast_to(v, 2) for v in (k, s, op)), strict=True):
            axis_geometry(int(n), int(ki), int(si), padding, None if oi is None else int(oi))
    except ValueError:
        return False
    return True


def _grid():
    cases = []
    for k in range(1, 6):
        for s in (1, 2, 3):
            for padding in ("same", "valid"):
                for op in (None, *range(s)):
                    if _fits(k, s, padding, op):
                        bias = (k + s + len(cases)) % 2 == 0  # on and off across the grid
                        cases.append(
                            pytest.param(
                                k, s, padding, op, bias, id=f"k{k}s{s}{padding}op{op}b{int(bias)}"
                            )
                        )
    return cases


GRID = _grid()

# The layers that motivated the general form, on their real input sizes.
TARGETS = {
    "tf-dcgan-tutorial-5x5-s2-same": (dict(kernel_size=5, strides=2, padding="same"), (2, 7, 7, 4)),
    "pytorch-dcgan-first-4x4-s1-valid": (
        dict(kernel_size=4, strides=1, padding="valid"),
        (2, 1, 1, 6),
    ),
    "3x3-s2-output-padding-1": (
        dict(kernel_size=3, strides=2, padding="same", output_padding=1),
        (2, 5, 4, 3),
    ),
    "valid-3x3-s2-output-padding-1": (
        dict(kernel_size=3, strides=2, padding="valid", output_padding=1),
        (2, 5, 4, 3),
    ),
    "unequal-3x5-s2x3": (
        dict(kernel_size=(3, 5), strides=(2, 3), padding="same", output_padding=(1, 2)),
        (2, 3, 5, 3),
    ),
    "unequal-5x2-s3x2-valid": (
        dict(kernel_size=(5, 2), strides=(3, 2), padding="valid"),
        (2, 4, 3, 3),
    ),
}


def _sign(a):
    return np.where(a >= 0, 1.0, -1.0).astype("float32")  # ste_sign: sign(0) = +1


def _layers(shape, binary=False, **config):
    """A built float ``Conv2DTranspose`` with random weights and its phase form (eager,
    layer by layer: a functional model would trace each case for a second)."""
    deconv = tf.keras.layers.Conv2DTranspose(**{"filters": FILTERS, "use_bias": False, **config})
    deconv.build(shape)
    rng = np.random.default_rng(0)
    deconv.set_weights([rng.normal(size=w.shape).astype("float32") for w in deconv.get_weights()])
    phase = PhaseConv2DTranspose.from_transpose(deconv, binary=binary)
    phase.build(shape)
    copy_into_phase(phase, deconv)
    return deconv, phase


def _inputs(shape):
    x = np.random.default_rng(1).normal(size=shape).astype("float32")
    x.flat[::7] = 0.0  # exact zeros, which binarize to +1
    return x


def _both_forms(phase, x):
    """The layer's training form (grouped phases, cropped) and its inference form (each
    phase over its own window where the output allows it, else the same as training)."""
    return [phase(x, training=training).numpy() for training in (True, False)]


def _check_float(shape, **config):
    deconv, phase = _layers(shape, **config)
    x = _inputs(shape)
    expected = deconv(x).numpy()
    for got in _both_forms(phase, x):
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=1e-5)


def _check_binary(shape, **config):
    deconv, phase = _layers(shape, binary=True, **config)
    x = _inputs(shape)
    forms = _both_forms(phase, x)
    deconv.set_weights([_sign(deconv.kernel.numpy()), *deconv.get_weights()[1:]])
    expected = deconv(_sign(x)).numpy()
    for got in forms:
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=1e-4)


@pytest.mark.parametrize(
    "output_padding, convs",
    [(None, 4), (1, 1)],  # 8x12 output: one conv per phase; 7x11 (odd): one grouped conv
)
def test_inference_computes_each_phase_over_its_window_when_the_output_allows(
    output_padding, convs
):
    shape = (1, 4, 6, 8)
    phase = PhaseConv2DTranspose(3, binary=True, output_padding=output_padding)  # 4x4, s2
    phase.build(shape)
    assert phase.converted_convolutions() == convs
    graph = tf.function(lambda x: phase(x, training=False)).get_concrete_function(
        tf.TensorSpec(shape)
    )
    ops = [op.type for op in graph.graph.get_operations()]
    assert ops.count("Conv2D") == convs and ("DepthToSpace" in ops)
    x = _inputs(shape)
    np.testing.assert_array_equal(*_both_forms(phase, x))


@pytest.mark.parametrize("k,s,padding,op,bias", GRID)
def test_float_phase_form_equals_conv2d_transpose(k, s, padding, op, bias):
    _check_float(SHAPE, kernel_size=k, strides=s, padding=padding, output_padding=op, use_bias=bias)


@pytest.mark.parametrize("k,s,padding,op,bias", GRID)
def test_xnor_phase_form_equals_conv2d_transpose_of_signs(k, s, padding, op, bias):
    _check_binary(
        SHAPE, kernel_size=k, strides=s, padding=padding, output_padding=op, use_bias=bias
    )


@pytest.mark.parametrize("name", list(TARGETS))
def test_motivating_layers_are_exact_float_and_binarized(name):
    config, shape = TARGETS[name]
    _check_float(shape, use_bias=True, activation="tanh", **config)
    _check_binary(shape, use_bias=True, **config)


def test_phase_kernels_hold_every_tap_once_and_no_zero_taps():
    for k, s in [(5, 2), (4, 2), (3, 2), (4, 1), (2, 3), (5, 3), (1, 2)]:
        kernel = np.arange(1, k * k * 2 * 3 + 1, dtype="float32").reshape(k, k, 2, 3)
        taps = np.concatenate([p.ravel() for p in phase_kernels(kernel, (s, s))])
        np.testing.assert_array_equal(np.sort(taps), kernel.ravel())  # all nonzero, none twice


def test_five_by_five_stride_two_splits_into_four_convolutions_of_unequal_size():
    layer = PhaseConv2DTranspose(3, 5, 2, binary=True)
    layer(tf.zeros((1, 4, 4, 2)))
    sizes = [conv.kernel.shape[:2] for conv in layer._phase_convs()]
    assert sizes == [(3, 3), (3, 2), (2, 3), (2, 2)]
    assert sum(np.prod(conv.kernel.shape) for conv in layer._phase_convs()) == 5 * 5 * 3 * 2


def _layer(**overrides):
    config = dict(
        name="up",
        kernel_size=(3, 3),
        strides=(2, 2),
        padding="same",
        output_padding=None,
        dilation_rate=(1, 1),
    )
    return types.SimpleNamespace(**{**config, **overrides})


@pytest.mark.parametrize(
    "overrides,reason",
    [
        (dict(dilation_rate=(2, 2)), "dilation_rate"),
        (dict(groups=2), "groups"),
        (dict(data_format="channels_first"), "channels_last"),
        (dict(padding="full"), "padding"),
        (dict(output_padding=(2, 0)), "output_padding"),
    ],
)
def test_layers_without_a_phase_form_are_refused_with_a_reason(overrides, reason):
    ok, why = phase_plan(_layer(**overrides))
    assert not ok and reason in why and "up" in why


def test_phase_plan_accepts_and_describes_keras_layers():
    ok, why = phase_plan(tf.keras.layers.Conv2DTranspose(4, 5, strides=2, padding="same"))
    assert ok and "3x3" in why and "2x2" in why
    ok, why = phase_plan(tf.keras.layers.Conv2D(4, 3, name="conv"))
    assert not ok and "not a 2-D transposed convolution" in why
    dilated = tf.keras.layers.Conv2DTranspose(4, 3, dilation_rate=2, name="dilated")
    assert not phase_plan(dilated).ok
    with pytest.raises(ValueError, match="dilation_rate"):
        PhaseConv2DTranspose.from_transpose(dilated)


def test_copy_float_weights_fills_a_general_phase_layer_in_a_model():
    inputs = tf.keras.Input((3, 4, 2))
    deconv = tf.keras.layers.Conv2DTranspose(2, 5, 2, "same", use_bias=True, name="d")
    source = tf.keras.Model(inputs, deconv(inputs))
    source.set_weights([np.full(w.shape, 0.5, "float32") for w in source.get_weights()])
    target = tf.keras.Model(inputs, PhaseConv2DTranspose.from_transpose(deconv)(inputs))
    assert copy_float_weights(source, target) == ["d"]
    x = _inputs((2, 3, 4, 2))
    np.testing.assert_allclose(target(x).numpy(), source(x).numpy(), atol=1e-5)


def test_a_shortcut_upsamples_by_the_strides_and_needs_that_output_size():
    x = tf.random.normal((2, 3, 5, 4))
    plain = PhaseConv2DTranspose(2, 3, 2, "same", 1, binary=True, use_scale=True)
    short = PhaseConv2DTranspose(2, 3, 2, "same", 1, binary=True, use_scale=True, shortcut=True)
    plain(x), short(x)
    short.set_weights(plain.get_weights())
    folded = x.numpy().reshape(2, 3, 5, 2, 2).mean(-1).repeat(2, axis=1).repeat(2, axis=2)
    np.testing.assert_allclose(short(x).numpy(), plain(x).numpy() + folded, atol=1e-5)
    with pytest.raises(ValueError, match="strides x the input"):
        PhaseConv2DTranspose(2, 3, 2, "valid", binary=True, use_scale=True, shortcut=True)(x)


@pytest.mark.parametrize(
    "source,match",
    [
        (dict(kernel_size=5, strides=2, padding="same"), "does not fit 4x4"),
        (dict(kernel_size=4, strides=2, padding="valid", output_padding=1), "padding"),
        (dict(kernel_size=4, strides=1, padding="same", dilation_rate=2), "dilation_rate"),
    ],
)
def test_a_source_of_another_geometry_is_refused_by_transfer(source, match):
    source = tf.keras.layers.Conv2DTranspose(2, **source)
    target = PhaseConv2DTranspose(2, 4, 2, "same")
    source.build((1, 3, 3, 2)), target.build((1, 3, 3, 2))
    with pytest.raises(TransferError, match=match):
        copy_into_phase(target, source)


def test_a_general_binary_layer_reloads_from_a_keras_file(tmp_path):
    inputs = tf.keras.Input((4, 3, 2))
    layer = PhaseConv2DTranspose(
        3, 5, 2, "same", 1, binary=True, use_bias=True, use_scale=True, pad_values=0.0, name="up"
    )
    model = tf.keras.Model(inputs, layer(inputs))
    rng = np.random.default_rng(5)
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
    x = rng.normal(size=(2, 4, 3, 2)).astype("float32")
    model.save(tmp_path / "up.keras")
    reloaded = tf.keras.models.load_model(tmp_path / "up.keras")
    assert reloaded.get_layer("up").get_config() == layer.get_config()
    np.testing.assert_array_equal(reloaded(x).numpy(), model(x).numpy())


def test_a_binarized_five_by_five_layer_converts_to_one_bconv_per_phase_group_exactly():
    from pbgan.interpreters import exact_config, lce_interpreter, predict_rows
    from pbgan.tflite_graph import read_flatbuffer

    import larq_compute_engine as lce

    inputs = tf.keras.Input((5, 5, 8))
    layer = PhaseConv2DTranspose(4, 5, 2, "same", binary=True, use_scale=True, pad_values=0.0)
    model = tf.keras.Model(inputs, layer(inputs))
    rng = np.random.default_rng(6)
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
    flatbuffer = lce.convert_keras_model(model)
    ops = [op.name for op in read_flatbuffer(flatbuffer).ops]
    assert ops.count("LceBconv2d") == 4 and "CONV_2D" not in ops and "MUL" not in ops, ops
    x = rng.normal(size=(2, 5, 5, 8)).astype("float32")
    got = predict_rows(lce_interpreter(flatbuffer, config=exact_config(True)), x)
    np.testing.assert_allclose(got, model(x).numpy(), rtol=1e-5, atol=1e-4)
