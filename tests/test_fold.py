"""Batch norms folded into the binary layers before them (pbgan.convert.fold)."""

from __future__ import annotations

from pbgan.analysis import analyze
from pbgan.convert import ConversionError, convert_generator
from pbgan.convert.core import ops_by_layer
from pbgan.convert.fold import fold_batch_norms, foldable_batch_norms, fusable_tails
from pbgan.layers import PhaseConv2DTranspose
from pbgan.models import build_generator
from pbgan.tflite_graph import read_flatbuffer

import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY


def _with_batch_statistics(model: tf.keras.Model, seed: int = 0) -> tf.keras.Model:
    """Every batch norm given nonzero mean and beta, a gamma with both signs and a
    variance far from 1, so a wrong fold cannot pass as the identity."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            n = layer.moving_mean.shape[0]
            layer.set_weights(
                [
                    rng.uniform(-2.0, 2.0, n),  # gamma, some negative
                    rng.normal(0.0, 0.5, n),  # beta
                    rng.normal(0.0, 0.3, n),  # moving mean
                    rng.uniform(0.2, 3.0, n),  # moving variance
                ]
            )
    return model


def _latents(n: int = 6, dim: int = 100) -> np.ndarray:
    return np.random.default_rng(1).standard_normal((n, dim)).astype(np.float32)


def test_folds_every_batch_norm_after_a_binary_layer_and_computes_the_same():
    gen = _with_batch_statistics(
        build_generator(resolution=32, width=TINY["width"], setting="auto", scheme="xnor")
    )
    folded, pairs, _ = fold_batch_norms(gen)
    # At this width auto binarizes the projection, deconv1 and deconv2. bn0 and bn1 feed
    # a binary layer's sign and stay (see fold._no_sign_after); bn2 feeds the float tail;
    # bn3 follows the float deconv3, not a binary layer.
    assert pairs == {"bn2": "deconv2"}
    z = _latents()
    want = gen(z, training=False).numpy()
    got = folded(z, training=False).numpy()
    np.testing.assert_allclose(got, want, atol=2e-5)
    assert not np.allclose(want, gen(z, training=True).numpy(), atol=1e-3)  # stats matter
    # The original is untouched: its batch norms still run.
    assert gen.get_layer("bn1").__class__ is tf.keras.layers.BatchNormalization


def test_float_generator_has_nothing_to_fold():
    gen = build_generator(resolution=32, width=TINY["width"], setting="A", scheme="xnor")
    assert foldable_batch_norms(gen) == {}
    assert fold_batch_norms(gen)[0] is gen


def test_shortcut_layers_keep_their_batch_norm():
    gen = build_generator(
        resolution=32, width=TINY["width"], setting="auto", scheme="xnor", shortcut=True
    )
    # bn2 would fold (nothing binary after it) but deconv2 has a shortcut.
    assert foldable_batch_norms(gen) == {}
    layer = gen.get_layer("deconv1")
    assert isinstance(layer, PhaseConv2DTranspose) and layer.shortcut
    with pytest.raises(ValueError, match="linear layer"):
        layer.fold_affine(np.ones(layer.filters), np.zeros(layer.filters))


def test_no_batch_norm_before_a_sign_is_folded():
    gen = build_generator(resolution=64, width=1.0, setting="auto", scheme="xnor")
    # dcgan64 at full width: auto binarizes the projection and deconv1-3; only bn3
    # (before the float deconv4) folds.
    assert foldable_batch_norms(gen) == {"bn3": "deconv3"}


def test_converted_auto_keeps_bit_exact_signs_and_passes_parity():
    gen = _with_batch_statistics(
        build_generator(resolution=32, width=TINY["width"], setting="auto", scheme="xnor")
    )
    result = convert_generator(gen, setting="auto", source="test")
    ops = read_flatbuffer(result.flatbuffer).op_counts
    # bn2 fused into deconv2's bconvs; bn0 and bn1 stay one MUL each (their shift is
    # fused into the bconvs before them by the converter).
    assert ops.get("MUL", 0) == 2
    assert result.manifest["folded_batch_norms"] == {"bn2": "deconv2"}
    assert result.manifest["parity_max_abs_err"] < 1e-4


def _chain(tail: tf.keras.layers.Layer, between: list, channels: int = 16) -> tf.keras.Model:
    """A binary 4x4 stride-2 phase layer on a 6x5 input, ``between``, then ``tail``."""
    x = inp = tf.keras.Input((6, 5, channels))
    x = PhaseConv2DTranspose(channels, binary=True, scheme="xnor", name="phase")(x)
    for layer in between:
        x = layer(x)
    return tf.keras.Model(inp, tail(x))


@pytest.mark.parametrize(
    ("kernel", "strides", "padding"),
    [(4, 2, "same"), (3, 2, "same"), (5, 1, "valid"), (4, 2, "valid"), (3, (1, 2), "same")],
)
def test_fused_tail_computes_the_transposed_convolution(kernel, strides, padding):
    """The phase-by-phase sum (fold module doc) is the tail's transposed convolution for
    other kernels, strides and paddings than the built-in one, bias and activation too."""
    between = [
        tf.keras.layers.BatchNormalization(name="bn"),
        tf.keras.layers.LeakyReLU(0.2, name="act"),
    ]
    tail = tf.keras.layers.Conv2DTranspose(
        2, kernel, strides=strides, padding=padding, activation="tanh", name="tail"
    )
    model = _with_batch_statistics(_chain(tail, between))
    tail.bias.assign(np.linspace(-0.5, 0.5, 2))
    assert fusable_tails(model) == {"phase": ("tail", ["bn", "act"])}
    folded = fold_batch_norms(model, fuse_tails=True)
    assert folded.tails == {"phase": "tail"} and folded.batch_norms == {"bn": "phase"}
    x = np.random.default_rng(2).standard_normal((3, 6, 5, 16)).astype(np.float32)
    want = model(x, training=False).numpy()
    np.testing.assert_allclose(folded.model(x, training=False).numpy(), want, atol=2e-5)


def test_a_tail_larger_than_the_phases_or_after_a_sign_is_not_fused():
    wide = tf.keras.layers.Conv2DTranspose(32, 4, strides=2, padding="same", name="tail")
    assert fusable_tails(_chain(wide, [tf.keras.layers.ReLU()])) == {}
    # TINY dcgan32 auto: deconv2 is the last binary layer, and the float deconv3 after
    # it has a larger output; nothing fuses.
    gen = build_generator(resolution=32, width=TINY["width"], setting="auto", scheme="xnor")
    assert fusable_tails(gen) == {}
    assert fold_batch_norms(gen, fuse_tails=True).tails == {}


def test_a_batch_norm_over_rows_between_keeps_the_tail_unfused():
    """Normalizing over a spatial axis does not commute with splitting into phases."""
    tail = tf.keras.layers.Conv2DTranspose(2, 4, strides=2, padding="same", name="tail")
    between = [tf.keras.layers.BatchNormalization(axis=1), tf.keras.layers.ReLU()]
    assert fusable_tails(_chain(tail, between)) == {}


def test_converted_fused_tail_skips_the_interleave_and_lowers_the_arena():
    gen = _with_batch_statistics(
        build_generator(resolution=32, width=0.25, setting="auto", scheme="xnor")
    )
    assert fusable_tails(gen) == {"deconv3": ("deconv4", ["bn3", "relu3"])}
    result = convert_generator(gen, setting="auto", source="test")
    info = read_flatbuffer(result.flatbuffer)
    manifest = result.manifest
    assert manifest["fused_tails"] == {"deconv3": "deconv4"}
    # deconv1 and deconv2 interleave their phases; deconv3's go straight into deconv4,
    # one transposed convolution each.
    assert info.op_counts["DEPTH_TO_SPACE"] == 2
    assert info.op_counts["TRANSPOSE_CONV"] == 4
    deconv3 = next(r for r in manifest["layers"] if r["layer"] == "deconv3")
    assert deconv3["tflite_ops"].count("LceBconv2d") == 4
    # Reported per layer: the peak is deconv3's (its input, a window, the canvases).
    assert deconv3["peak_live_bytes"] == manifest["arena_estimate_bytes"]
    # The plan check takes the block of a layer and its tail by kind: a wrong pair
    # (deconv2's block holds deconv3's bconvs too) is refused, not matched.
    rows = analyze(gen)
    with pytest.raises(
        ConversionError, match="LceBconv2d among their 8 weighted operators, expected 4"
    ):
        ops_by_layer(info, rows, [4, 4, 4, 4, 4], fused={"deconv2": "deconv3"})
    plain = convert_generator(
        build_generator(resolution=32, width=0.25, setting="A", scheme="xnor"), setting="A"
    )
    assert manifest["arena_estimate_bytes"] < plain.manifest["arena_estimate_bytes"]
    assert manifest["parity_max_abs_err"] < 1e-4
