"""Batch norms folded into the binary layers before them (pbgan.convert.fold)."""

from __future__ import annotations

from pbgan.convert import convert_generator
from pbgan.convert.fold import fold_batch_norms, foldable_batch_norms
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
    folded, pairs = fold_batch_norms(gen)
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
