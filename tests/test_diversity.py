"""MS-SSIM diversity: known answers at the extremes, and every supported resolution."""

import pbgan  # noqa: F401  (selects Keras 2 before TensorFlow loads)
from pbgan.metrics.diversity import MS_SSIM_WEIGHTS, ms_ssim_diversity, ms_ssim_power_factors

import numpy as np
import pytest
import tensorflow as tf


def smooth_images(n: int, size: int, seed: int) -> np.ndarray:
    """Distinct smooth colour images: a few random Gaussian blobs on a random background."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    img = np.empty((n, size, size, 3), dtype=np.float32)
    img[:] = rng.uniform(40, 200, (n, 1, 1, 3))
    for _ in range(5):
        cy, cx = rng.uniform(0, 1, (2, n, 1, 1))
        radius = rng.uniform(0.05, 0.25, (n, 1, 1))
        colour = rng.uniform(-120, 120, (n, 1, 1, 3))
        img += colour * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius**2))[..., None]
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def test_copies_of_one_image_score_one():
    one = smooth_images(1, 64, seed=0)
    assert ms_ssim_diversity(np.repeat(one, 6, axis=0), pairs=8) == pytest.approx(1.0, abs=1e-4)


def test_collapsed_set_scores_higher_than_a_diverse_one():
    diverse = smooth_images(32, 64, seed=0)
    collapsed = np.concatenate([diverse[:2]] * 16)  # two modes
    noise = np.random.default_rng(0).integers(0, 256, (32, 64, 64, 3), dtype=np.uint8)
    d_noise = ms_ssim_diversity(noise, pairs=16)
    d_diverse = ms_ssim_diversity(diverse, pairs=16)
    d_collapsed = ms_ssim_diversity(collapsed, pairs=16)
    assert d_noise < 0.1  # unrelated images share no structure
    assert d_noise < d_diverse < d_collapsed


# The table in ms_ssim_power_factors' docstring: the first M standard exponents, rescaled.
EXPONENTS = {
    11: (1.0,),
    21: (1.0,),
    22: (0.1356, 0.8644),
    32: (0.1356, 0.8644),
    64: (0.0711, 0.4530, 0.4760),
    128: (0.0517, 0.3295, 0.3462, 0.2726),
}


@pytest.mark.parametrize("size", list(EXPONENTS))
def test_exponents_are_the_first_standard_ones_that_fit_the_window_rescaled(size):
    assert ms_ssim_power_factors(size) == pytest.approx(EXPONENTS[size], abs=1e-4)


@pytest.mark.parametrize("size", [32, 64, 128])
def test_runs_at_32_64_128(size):
    value = ms_ssim_diversity(smooth_images(6, size, seed=1), pairs=6)
    assert 0.0 < value < 1.0


def test_standard_five_scales_apply_from_176_pixels():
    assert ms_ssim_power_factors(176) == pytest.approx(MS_SSIM_WEIGHTS, rel=1e-3)
    assert len(ms_ssim_power_factors(175)) == 4


def test_64x64_pairs_score_three_scale_ms_ssim_where_the_tensorflow_default_fails():
    images = smooth_images(2, 64, seed=0)
    x, y = (tf.constant(images[k : k + 1], dtype=tf.float32) for k in (0, 1))
    # The reason for the size-dependent scales: 64 / 2**4 = 4 pixels < the 11x11 window.
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf.image.ssim_multiscale(x, y, max_val=255.0)

    # With two images every pair is (0, 1) or (1, 0), and MS-SSIM is symmetric.
    def three_scales(weights):
        return float(tf.image.ssim_multiscale(x, y, 255.0, power_factors=weights)[0])

    expected = three_scales(EXPONENTS[64])
    assert ms_ssim_diversity(images, pairs=5) == pytest.approx(expected, rel=1e-3)
    assert not three_scales((0.0448, 0.2856, 0.3001)) == pytest.approx(expected, rel=1e-3)


def test_same_seed_same_value_and_float_input_matches_uint8():
    images = smooth_images(8, 32, seed=2)
    as_float = (images.astype(np.float32) - 127.5) / 127.5
    first = ms_ssim_diversity(images, pairs=12, seed=3, batch_size=5)
    assert ms_ssim_diversity(images, pairs=12, seed=3) == pytest.approx(first, rel=1e-6)
    assert ms_ssim_diversity(as_float, pairs=12, seed=3) == pytest.approx(first, rel=1e-6)


def test_needs_two_images_and_a_known_range():
    images = smooth_images(2, 32, seed=0)
    with pytest.raises(ValueError, match="at least 2"):
        ms_ssim_diversity(images[:1])
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        ms_ssim_diversity(images.astype(np.float32))
