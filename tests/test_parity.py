"""The parity rule passes correct conversions and rejects graphs that are wrong in one place.

Each wrong flatbuffer is converted from a modified copy of a generator and compared with
the *unmodified* generator, as a converter bug would look: one layer's output shifted by
one pixel, or two output channels of one layer's kernel swapped.
"""

import warnings
from functools import cache

from pbgan.convert import (
    BINARY_RULE,
    FLOAT_RULE,
    ConversionError,
    check_parity,
    convert_generator,
    fixed_latents,
)
from pbgan.models import build_generator
from pbgan.settings import NegativeDoRWarning

import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY

# Float A and binary xnor auto (projection, deconv1, deconv2 binary; deconv3-4 float).
CASES = {"float": ("A", "bwn"), "binary": ("auto", "xnor")}


def _build(setting: str, scheme: str) -> tf.keras.Model:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NegativeDoRWarning)
        return build_generator(
            resolution=32, width=TINY["width"], setting=setting, scheme=scheme, name="gen"
        )


def _lively(model: tf.keras.Model, seed: int = 3) -> tf.keras.Model:
    """Batch-norm statistics and an output scale like a trained model's.

    At random init batch norm is the identity and a tiny float generator's images are
    ~1e-3 in size: a wrong graph would be within 1e-4 of it too. Here every batch norm
    normalizes what reaches it (with a random gain and offset) and the last layer's
    kernel is scaled so that the image spans the range of tanh.
    """
    rng = np.random.default_rng(seed)
    z = fixed_latents(model.input_shape[-1], n=64, seed=seed)
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            x = tf.keras.Model(model.input, layer.input)(z, training=False).numpy()
            shape = layer.gamma.shape
            mean, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
            layer.set_weights([rng.uniform(0.5, 1.5, shape), rng.normal(0, 0.2, shape), mean, var])
    last = model.get_layer("deconv4")
    std = tf.keras.Model(model.input, last.output)(z, training=False).numpy().std()
    last.set_weights([w / std for w in last.get_weights()])
    return model


@cache
def _reference(kind: str) -> tf.keras.Model:
    tf.keras.utils.set_random_seed(0)
    return _lively(_build(*CASES[kind]))


def _copy(kind: str) -> tf.keras.Model:
    """A second generator holding the reference's weights (to modify)."""
    model = _build(*CASES[kind])
    model.set_weights(_reference(kind).get_weights())
    return model


def _flatbuffer(model: tf.keras.Model) -> bytes:
    import larq_compute_engine as lce

    return lce.convert_keras_model(model)


def _shifted(model: tf.keras.Model, after: str) -> tf.keras.Model:
    """``model`` with the output of layer ``after`` moved down one pixel (top row zero)."""
    z = tf.keras.Input(model.input_shape[1:])
    x = z
    for layer in model.layers[1:]:
        x = layer(x)
        if layer.name == after:
            x = tf.keras.layers.ZeroPadding2D(((1, 0), (0, 0)))(x)
            x = tf.keras.layers.Cropping2D(((0, 1), (0, 0)))(x)
    return tf.keras.Model(z, x)


def _swap_output_channels(model: tf.keras.Model, layer: str, a: int = 0, b: int = 1) -> None:
    """Swap output channels ``a`` and ``b`` of ``layer``'s (first) kernel in place."""
    target = model.get_layer(layer)
    weights = target.get_weights()
    kernel = weights[0]
    # Conv2DTranspose kernels are (kh, kw, c_out, c_in); every other kernel ends in c_out.
    axis = -2 if isinstance(target, tf.keras.layers.Conv2DTranspose) else -1
    order = np.arange(kernel.shape[axis])
    order[[a, b]] = order[[b, a]]
    weights[0] = np.take(kernel, order, axis=axis)
    assert not np.array_equal(weights[0], kernel)
    target.set_weights(weights)


@pytest.mark.parametrize("kind", list(CASES))
def test_correct_conversion_passes_with_its_rule_recorded(kind):
    setting, scheme = CASES[kind]
    result = convert_generator(_reference(kind), setting=setting, scheme=scheme)
    m = result.manifest
    rule = FLOAT_RULE if kind == "float" else BINARY_RULE
    assert m["parity_rule"] == kind
    assert m["parity_bounds"] == {
        "max_abs_err": rule.max_abs_err,
        "mismatch_fraction": rule.max_mismatch_fraction,
        "line_fraction": rule.max_line_fraction,
    }
    assert m["parity_max_abs_err"] <= rule.max_abs_err
    for key in ("mismatch", "worst_row", "worst_column", "worst_channel"):
        assert m[f"parity_{key}_fraction"] == 0.0  # no sign flip on these 16 latents
    # The check is not vacuous: the images span the output range.
    assert _reference(kind)(fixed_latents(100), training=False).numpy().std() > 0.3


@pytest.mark.parametrize(
    "kind,layer",
    [
        ("float", "projection"),
        ("float", "deconv3"),
        ("float", "deconv4"),  # the image itself, one pixel down
        ("binary", "deconv2"),  # a binary layer's output
        ("binary", "bn1"),  # a binary layer's input
    ],
)
def test_parity_rejects_one_layer_shifted_by_one_pixel(kind, layer):
    wrong = _flatbuffer(_shifted(_copy(kind), after=layer))
    with pytest.raises(ConversionError, match=r"parity check failed") as error:
        check_parity(wrong, _reference(kind))
    message = str(error.value)
    assert "\n" not in message and f"({kind} graph)" in message
    assert "max abs err" in message if kind == "float" else "of values differ" in message


@pytest.mark.parametrize(
    "kind,layer",
    [
        ("float", "deconv2"),
        ("float", "deconv4"),  # red and green swapped in the image
        ("binary", "projection"),
        ("binary", "deconv2"),
        ("binary", "deconv4"),
    ],
)
def test_parity_rejects_two_output_channels_swapped(kind, layer):
    model = _copy(kind)
    _swap_output_channels(model, layer)
    wrong = _flatbuffer(model)
    with pytest.raises(ConversionError, match=r"parity check failed") as error:
        check_parity(wrong, _reference(kind))
    assert "\n" not in str(error.value)


def test_channel_swap_in_the_image_is_named_as_that_channel():
    model = _copy("binary")
    _swap_output_channels(model, "deconv4", 0, 2)  # red and blue
    with pytest.raises(ConversionError, match=r"of channel (0|2) differs"):
        check_parity(_flatbuffer(model), _reference("binary"))


# Outputs constructed directly: what each bound catches on its own.
SHAPE = (16, 64, 64, 3)


def _images(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, SHAPE).astype(np.float32)


def test_float_rule_allows_summation_rounding_and_nothing_more():
    reference = _images()
    rounding = reference + np.random.default_rng(1).normal(0, 2e-6, SHAPE).astype(np.float32)
    assert check_parity(rounding, reference, binary=False).max_abs_err < 1e-4
    one_value = rounding.copy()
    one_value[3, 10, 20, 1] += 3e-4
    with pytest.raises(ConversionError, match=r"image 3, row 10, column 20, channel 1"):
        check_parity(one_value, reference, binary=False)


def test_binary_rule_allows_scattered_sign_flips():
    reference = _images()
    flipped = reference.copy()
    # Two flips in two images, each moving a 4x4 patch by up to the whole range.
    flipped[2, 40:44, 7:11, :] *= -1
    flipped[9, 3:7, 50:54, :] *= -1
    figures = check_parity(flipped, reference, binary=True)
    assert 0 < figures.mismatch_fraction <= BINARY_RULE.max_mismatch_fraction
    assert figures.worst_row_fraction <= BINARY_RULE.max_line_fraction


def test_binary_rule_rejects_a_corner_off_in_every_image_that_hides_in_the_share():
    reference = _images()
    wrong = reference.copy()
    wrong[:, 0, :4, :] += 0.5  # a pad error: four border pixels of every image
    differing = 16 * 4 * 3 / reference.size
    assert differing < BINARY_RULE.max_mismatch_fraction  # the share alone would pass it
    with pytest.raises(ConversionError, match=r"of row 0 differs across the batch"):
        check_parity(wrong, reference, binary=True)


def test_binary_rule_rejects_too_many_differing_values():
    reference = _images()
    wrong = reference.copy()
    mask = np.random.default_rng(2).random(SHAPE) < 0.005
    wrong[mask] += 0.01
    with pytest.raises(ConversionError, match=r"of values differ by more than 0.001"):
        check_parity(wrong, reference, binary=True)


@pytest.mark.parametrize("binary", [False, True])
def test_a_nan_output_fails_either_rule(binary):
    reference = _images()
    wrong = reference.copy()
    wrong[0, 0, 0, 0] = np.nan
    with pytest.raises(ConversionError, match="max abs err inf"):
        check_parity(wrong, reference, binary=binary)


def test_outputs_of_another_shape_fail():
    with pytest.raises(ConversionError, match="shape"):
        check_parity(_images()[:, :32], _images(), binary=False)
