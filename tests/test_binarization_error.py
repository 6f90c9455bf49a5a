"""The binarization-error experiment: what is enumerated, known answers, and the trend."""

import itertools

import pbgan  # noqa: F401  (selects Keras 2 before TensorFlow loads)
from pbgan.metrics.binarization_error import (
    binarization_error,
    deconv2d,
    format_binarization_table,
    layer_binarization_errors,
    plot_binarization_error,
    run_binarization_experiment,
    sign_patterns,
)

import numpy as np
import pytest
import tensorflow as tf


@pytest.mark.parametrize("k,stride", [(1, 1), (2, 2), (3, 2), (4, 2), (3, 1)])
def test_deconv2d_matches_tensorflow_conv2d_transpose(k, stride):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4, 5))
    kernel = rng.standard_normal((k, k, 2, 5))
    out = deconv2d(x, kernel, stride)
    shape = (2, (3 - 1) * stride + k, (4 - 1) * stride + k, 2)
    expected = tf.nn.conv2d_transpose(x, kernel, shape, strides=stride, padding="VALID")
    np.testing.assert_allclose(out, expected.numpy(), atol=1e-10)


def test_sign_patterns_enumerate_every_vector_once():
    signs = sign_patterns(4)
    assert signs.shape == (16, 4)
    assert set(map(tuple, signs)) == set(itertools.product((-1.0, 1.0), repeat=4))


def _brute_force(x, kernel):
    """Every B through a real deconvolution, alpha by least squares: the definition."""
    k = kernel.shape[0]
    y = deconv2d(x, kernel, k)
    best_each = np.full(len(x), np.inf)
    best_shared = np.inf
    for bits in itertools.product((-1.0, 1.0), repeat=kernel.size):
        z = deconv2d(x, np.reshape(bits, kernel.shape), k)
        alpha_each = (z * y).sum(axis=(1, 2, 3)) / (z * z).sum(axis=(1, 2, 3))
        res_each = np.square(y - alpha_each[:, None, None, None] * z).sum(axis=(1, 2, 3))
        best_each = np.minimum(best_each, res_each)
        alpha = (z * y).sum() / (z * z).sum()
        best_shared = min(best_shared, np.square(y - alpha * z).sum())
    b = np.abs(kernel).mean() * np.sign(kernel)
    total = np.square(y).sum()
    return {
        "min_error": np.sqrt(best_each.sum() / total),
        "shared_error": np.sqrt(best_shared / total),
        "sign_error": np.sqrt(np.square(y - deconv2d(x, b, k)).sum() / total),
    }


@pytest.mark.parametrize("c,h,w,k", [(3, 2, 1, 1), (5, 2, 2, 1), (2, 2, 3, 2), (1, 3, 2, 2)])
def test_closed_form_search_equals_brute_force_over_the_deconvolution(c, h, w, k):
    rng = np.random.default_rng(c * 100 + h * 10 + k)
    x = rng.standard_normal((3, h, w, c))
    kernel = rng.standard_normal((k, k, 1, c))
    got = layer_binarization_errors(x, kernel)
    expected = _brute_force(x, kernel)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-7, abs=1e-9), key


def test_single_pixel_input_is_fitted_exactly_per_input():
    # hw = 1: one output value per tap, which any alpha * X B with X B != 0 reaches.
    for c in (2, 5, 9):
        # 1e-6: the residual ||Y||^2 - <XB, Y>^2 / ||XB||^2 cancels to ~1e-16, then a sqrt.
        assert binarization_error(c, 1, 1, trials=2)["min_error"] < 1e-6


def test_one_weight_is_always_a_scaled_sign():
    row = binarization_error(1, 3, 3, trials=2)
    assert row["dor"] == -8
    assert max(row["min_error"], row["shared_error"], row["sign_error"]) < 1e-6


def test_per_input_error_rises_as_dor_falls_at_fixed_channels():
    errors = [
        binarization_error(16, h, w)["min_error"] for h, w in ((1, 2), (2, 2), (3, 3), (4, 4))
    ]
    assert errors == sorted(errors)
    assert errors[0] < 0.01 and errors[-1] > 0.3  # DoR 14 near exact, DoR 0 far from it


def test_error_orderings_hold_by_construction():
    for row in run_binarization_experiment(channels=(2, 6), spatial=((1, 2), (2, 3)), trials=2):
        # sign(W) with mean|W| is one candidate of the shared search, and a shared B is one
        # candidate of each per-input search.
        assert row["min_error"] <= row["shared_error"] + 1e-12
        assert row["shared_error"] <= row["sign_error"] + 1e-12


def test_default_grid_is_complete_and_plots(tmp_path):
    rows = run_binarization_experiment()
    assert len(rows) == 5 * 7
    assert all(r["dor"] == r["c"] - r["h"] * r["w"] for r in rows)
    assert [r["dor"] for r in rows] == sorted(r["dor"] for r in rows)
    assert {"c", "h", "w", "dor", "min_error"} <= set(rows[0])
    assert "DoR" in format_binarization_table(rows).splitlines()[0]
    path = tmp_path / "binarization_error.png"
    plot_binarization_error(rows, str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_too_many_binary_weights_are_refused():
    with pytest.raises(ValueError, match="lowering c or kernel_size"):
        binarization_error(6, 2, 2, kernel_size=2)
