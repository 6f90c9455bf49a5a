"""SWD on cases whose answer is known: synthetic smooth random fields made here with numpy."""

import sys

from pbgan.metrics.swd import (
    extract_descriptors,
    gaussian_pyramid,
    laplacian_pyramid,
    normalize_descriptors,
    reconstruct_laplacian,
    sliced_wasserstein,
    swd,
    to_uint8,
)

import numpy as np
import pytest

N, SIZE = 48, 32
MIX = np.array([[1.0, 0.5, 0.2], [0.3, 1.0, 0.4], [0.1, 0.3, 1.0]], dtype=np.float32)


def _smooth(x: np.ndarray, passes: int) -> np.ndarray:
    """Repeated 3-tap binomial blur with wrap-around borders (independent of the code under test)."""
    for _ in range(passes):
        for axis in (1, 2):
            x = 0.25 * np.roll(x, 1, axis) + 0.5 * x + 0.25 * np.roll(x, -1, axis)
    return x


def fields(n: int, size: int, seed: int, smooth: int = 6) -> np.ndarray:
    """Smooth random colour blobs: a stationary Gaussian field, so a few dozen images
    already sample the patch distribution; ``smooth`` sets the blob size."""
    rng = np.random.default_rng(seed)
    x = _smooth(rng.standard_normal((n, size, size, 3)).astype(np.float32), smooth) @ MIX
    x = (x - x.mean()) / x.std()
    return np.clip(np.rint(128 + 40 * x), 0, 255).astype(np.uint8)


def blurred(x: np.ndarray, passes: int) -> np.ndarray:
    return np.clip(np.rint(_smooth(x.astype(np.float32), passes)), 0, 255).astype(np.uint8)


def noisy(x: np.ndarray, sigma: float) -> np.ndarray:
    noise = np.random.default_rng(99).normal(0.0, sigma, x.shape)
    return np.clip(np.rint(x + noise), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def draws() -> tuple[np.ndarray, np.ndarray]:
    """Two independent draws from the same distribution."""
    return fields(N, SIZE, seed=0), fields(N, SIZE, seed=1)


@pytest.fixture(scope="module")
def floor(draws) -> dict:
    a, b = draws
    return swd(a, b)


def test_identical_sets_give_zero_at_every_level(draws):
    a, _ = draws
    result = swd(a, a)
    # Both sets share patch centres and directions, so identical sets match exactly.
    assert set(result["levels"]) == {32, 16}
    assert all(v < 1e-6 for v in result["levels"].values())
    assert result["avg"] < 1e-6


@pytest.mark.parametrize(
    "shift",
    [
        pytest.param(lambda x, s: blurred(x, s), id="blur"),
        pytest.param(lambda x, s: noisy(x, 6.0 * s), id="additive-noise"),
    ],
)
def test_distance_grows_monotonically_with_shift_strength(draws, shift):
    _, b = draws
    # The same images before and after the change: only the change itself is measured.
    # One set of directions instead of four keeps it fast; the ordering does not need more.
    results = [swd(b, shift(b, strength), repeats=1) for strength in (1, 2, 4)]
    for size in (32, 16):
        values = [r["levels"][size] for r in results]
        assert values[0] > 1.0
        assert values[0] < values[1] < values[2], (size, values)


def test_affine_change_of_each_channel_is_normalised_away(draws):
    _, b = draws
    # Each set is normalised by its own per-channel mean and std, so SWD compares the
    # shape of the patch distributions: an exact per-channel affine change (no clipping,
    # no rounding) leaves nothing but float error, while a slight blur registers.
    base = b // 2  # 0..127, room for the changes below
    brighter = base + np.array([10, 40, 64], dtype=np.uint8)
    stretched = base * np.uint8(2)
    assert swd(base, brighter, repeats=1)["avg"] < 0.05
    assert swd(base, stretched, repeats=1)["avg"] < 0.05
    assert swd(base, blurred(base, 1), repeats=1)["avg"] > 5.0


def test_swd_is_symmetric(draws, floor):
    a, b = draws
    swapped = swd(b, a)
    assert swapped["avg"] == pytest.approx(floor["avg"], rel=1e-9)
    for size, value in floor["levels"].items():
        assert swapped["levels"][size] == pytest.approx(value, rel=1e-9)


def test_sliced_wasserstein_ignores_the_order_of_descriptors():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2000, 147)).astype(np.float32)
    b = (rng.standard_normal((2000, 147)) * 1.3 + 0.2).astype(np.float32)
    perm = rng.permutation(len(b))
    base = sliced_wasserstein(a, b, rng=7)
    assert base > 0.1
    assert sliced_wasserstein(a, b[perm], rng=7) == pytest.approx(base, rel=1e-6)
    assert sliced_wasserstein(a[perm], b, rng=7) == pytest.approx(base, rel=1e-6)
    # Normalisation statistics are order-free too, so whole pipelines commute with order.
    np.testing.assert_allclose(
        normalize_descriptors(b[perm]), normalize_descriptors(b)[perm], rtol=1e-5, atol=1e-5
    )


def test_permuting_one_image_set_moves_swd_only_within_sampling_noise(draws, floor):
    a, b = draws
    perm = np.random.default_rng(5).permutation(N)
    # Patch centres are drawn per image slot, so a permutation pairs images with other
    # centres: the descriptor sets change, but only by position-sampling noise, well
    # inside the noise floor and far from a genuine shift.
    permuted = swd(a, b[perm])["avg"]
    assert permuted != floor["avg"]
    assert abs(permuted - floor["avg"]) < 0.25 * floor["avg"]


def test_noise_floor_is_small_relative_to_a_shifted_distribution(draws, floor):
    a, _ = draws
    # Same colours without the spatial smoothing: different patch statistics.
    other = fields(N, SIZE, seed=1, smooth=0)
    shifted = swd(a, other)
    assert floor["avg"] < 0.5 * shifted["avg"]
    for size, value in floor["levels"].items():
        assert value < shifted["levels"][size]


def test_laplacian_pyramid_reconstructs_the_image_exactly():
    x = np.random.default_rng(0).uniform(0, 255, (3, 64, 64, 3)).astype(np.float32)
    pyramid = laplacian_pyramid(x)
    assert [p.shape for p in pyramid] == [(3, 64, 64, 3), (3, 32, 32, 3), (3, 16, 16, 3)]
    np.testing.assert_array_equal(pyramid[-1], gaussian_pyramid(x)[-1])
    np.testing.assert_allclose(reconstruct_laplacian(pyramid), x, atol=1e-3)


def test_constant_image_has_empty_bands_and_constant_residual():
    # Mirror borders keep the zero-insertion parity, so up(down(c)) == c exactly.
    x = np.full((1, 32, 32, 3), 77.0, dtype=np.float32)
    band, residual = laplacian_pyramid(x)
    np.testing.assert_allclose(band, 0.0, atol=1e-4)
    np.testing.assert_allclose(residual, 77.0, atol=1e-4)


def test_descriptors_are_n_times_128_by_147_patches_inside_the_image():
    n, size = 4, 32
    # Encode (image, row, col) in the three channels to read back where patches came from.
    level = np.zeros((n, size, size, 3), dtype=np.float32)
    level[..., 0] = np.arange(n)[:, None, None]
    level[..., 1] = np.arange(size)[None, :, None]
    level[..., 2] = np.arange(size)[None, None, :]
    desc = extract_descriptors(level, rng=0)
    assert desc.shape == (n * 128, 147) and desc.dtype == np.float32
    patches = desc.reshape(n, 128, 7, 7, 3)
    assert (patches[..., 0] == np.arange(n)[:, None, None, None]).all()
    rows, cols = patches[..., 1], patches[..., 2]
    np.testing.assert_array_equal(np.diff(rows, axis=2), 1)  # 7 consecutive rows
    np.testing.assert_array_equal(np.diff(cols, axis=3), 1)
    centres = np.concatenate([rows[:, :, 3, 3].ravel(), cols[:, :, 3, 3].ravel()])
    assert centres.min() == 3 and centres.max() == size - 4  # both ends of [3, size-4]


def test_normalized_descriptors_have_zero_mean_unit_std_per_channel():
    rng = np.random.default_rng(0)
    desc = (rng.standard_normal((500, 7, 7, 3)) * [1.0, 5.0, 20.0] + [10, -3, 100]).astype(
        np.float32
    )
    out = normalize_descriptors(desc)
    assert out.shape == (500, 147) and out.dtype == np.float32
    per_channel = out.reshape(-1, 3)
    np.testing.assert_allclose(per_channel.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(per_channel.std(axis=0), 1.0, atol=1e-5)


@pytest.mark.parametrize(
    "size,levels", [(32, [32, 16]), (64, [64, 32, 16]), (128, [128, 64, 32, 16])]
)
def test_levels_cover_every_octave_down_to_16(size, levels):
    a, b = fields(4, size, seed=0), fields(4, size, seed=1)
    result = swd(a, b)
    assert list(result["levels"]) == levels
    assert result["avg"] == pytest.approx(np.mean(list(result["levels"].values())))
    assert all(v > 0 for v in result["levels"].values())


def test_same_seed_gives_the_same_number_whatever_the_batch_size():
    a, b = fields(12, 32, seed=0), fields(12, 32, seed=1)
    reference = swd(a, b, seed=3)
    assert swd(a, b, seed=3, batch_size=5) == reference
    assert swd(a, b, seed=4)["avg"] != reference["avg"]


def test_sliced_wasserstein_of_a_translated_set_is_the_mean_projected_shift():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((300, 10)).astype(np.float32)
    shift = rng.standard_normal(10).astype(np.float32)
    # Every projection moves by <shift, d>: sorted order is kept, so W1 = |<shift, d>|.
    dirs = np.random.default_rng(11).standard_normal((10, 64))
    dirs /= np.linalg.norm(dirs, axis=0)
    expected = np.abs(shift @ dirs).mean()
    got = sliced_wasserstein(a, a + shift, dirs_per_repeat=64, repeats=1, rng=11)
    assert got == pytest.approx(expected, rel=1e-4)


def test_float_images_in_minus_one_one_are_mapped_to_uint8():
    np.testing.assert_array_equal(
        to_uint8(np.array([-1.0, -0.5, 0.0, 1.0, 1.2])), [0, 64, 128, 255, 255]
    )
    a = fields(4, 32, seed=0)
    as_float = (a.astype(np.float32) - 127.5) / 127.5
    assert swd(as_float, a)["avg"] < 1e-6
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        swd(a.astype(np.float32), a)


def test_mismatched_or_unusable_inputs_raise_clear_errors():
    a = fields(4, 32, seed=0)
    with pytest.raises(ValueError, match="same shape"):
        swd(a, a[:3])
    with pytest.raises(ValueError, match="same shape"):
        sliced_wasserstein(np.zeros((10, 147)), np.zeros((12, 147)))
    with pytest.raises(ValueError, match="square"):
        swd(a[:, :, :16], a[:, :, :16])
    with pytest.raises(ValueError, match="smaller than min_size"):
        swd(a[:, :8, :8], a[:, :8, :8])


@pytest.mark.parametrize("with_tqdm", [True, False], ids=["tqdm", "plain"])
def test_progress_bar_reports_on_stderr_and_completes(capsys, monkeypatch, with_tqdm):
    if not with_tqdm:
        monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # import fails: plain counter
    a = fields(4, 32, seed=0)
    swd(a, a, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    # 2 levels x (2 sets x 1 batch + 4 repeats x 4 chunks of 32 directions)
    assert "swd" in captured.err and "36/36" in captured.err
    swd(a, a)
    assert capsys.readouterr().err == ""
