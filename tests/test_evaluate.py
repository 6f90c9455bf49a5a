"""``pbgan evaluate``: SWD per level, noise floor and diversity for runs, .keras and .tflite."""

import json
import shutil

import pbgan  # noqa: F401
from pbgan.analysis import load_keras_model
from pbgan.cli import main
from pbgan.convert import convert_generator, write_conversion
from pbgan.data import real_images
from pbgan.metrics.evaluate import EvaluationError, load_real_sets
from pbgan.models import build_discriminator

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

N = 32  # images per set: enough for every code path, seconds per evaluation
LEVELS = ["32", "16"]  # a 32x32 generator's pyramid


@pytest.fixture(scope="module")
def run_dir(trained_run):
    """One tiny trained xnor run (auto binarizes three layers, so the .tflite has bconvs)."""
    path, _ = trained_run("auto", "xnor")
    return path


@pytest.fixture(scope="module")
def flatbuffer(run_dir, tmp_path_factory):
    result = convert_generator(load_keras_model(run_dir / "generator.keras"), setting="auto")
    tflite, _ = write_conversion(result, tmp_path_factory.mktemp("evaluate") / "auto.tflite")
    return tflite


def _evaluate(*args):
    return CliRunner().invoke(main, ["evaluate", *map(str, args)])


def _json(*args):
    result = _evaluate(*args, "-n", N, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def run_result(run_dir):
    return _json(run_dir)


def _one_line_failure(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


def test_run_directory_reports_swd_per_level_noise_floor_and_diversity(run_result):
    r = run_result
    assert (r["kind"], r["setting"], r["scheme"]) == ("run", "auto", "xnor")
    assert r["data"] == "synthetic"  # taken from the run's config.json
    assert (r["resolution"], r["n"]) == (32, N)
    for key in ("swd_x1e3", "noise_floor_x1e3"):
        assert list(r[key]["levels"]) == LEVELS
        assert r[key]["avg"] == pytest.approx(np.mean(list(r[key]["levels"].values())))
    assert r["noise_floor_x1e3"]["n"] == N and r["noise_floor_x1e3"]["note"] is None
    # Two real sets are closer than an untrained generator and the real set.
    assert 0 < r["noise_floor_x1e3"]["avg"] < r["swd_x1e3"]["avg"]
    assert 0 < r["ms_ssim"]["real"] < 1 and 0 < r["ms_ssim"]["generated"] <= 1


def test_out_writes_the_same_json_as_stdout(run_dir, tmp_path, run_result):
    out = tmp_path / "nested" / "eval.json"
    result = _evaluate(run_dir, "-n", N, "--out", out)
    assert result.exit_code == 0, result.output
    saved = json.loads(out.read_text())
    assert saved["swd_x1e3"] == run_result["swd_x1e3"]  # same seed, same number
    assert saved["noise_floor_x1e3"] == run_result["noise_floor_x1e3"]
    # The human table goes to stdout, progress to stderr.
    assert "noise floor" in result.stdout and "MS-SSIM" in result.stdout
    assert all(level in result.stdout for level in LEVELS)
    assert "evaluate: generating" in result.stderr and "evaluate:" not in result.stdout


def test_keras_file_is_evaluated_like_its_run(run_dir, tmp_path, run_result):
    keras = tmp_path / "gen.keras"
    shutil.copy(run_dir / "generator.keras", keras)
    r = _json(keras, "--data", "synthetic")
    assert r["kind"] == "keras" and list(r["swd_x1e3"]["levels"]) == LEVELS
    assert r["swd_x1e3"] == run_result["swd_x1e3"]


def test_tflite_measures_the_deployed_model_on_the_same_latents(flatbuffer, run_result):
    r = _json(flatbuffer, "--data", "synthetic")
    assert (
        r["kind"] == "tflite" and r["ops"]["LceBconv2d"] == 4 + 4 + 4
    )  # 2x2 projection, 4 phases per deconv
    assert (r["setting"], r["scheme"]) == ("auto", "xnor")  # read from the manifest
    assert list(r["swd_x1e3"]["levels"]) == LEVELS
    assert r["noise_floor_x1e3"] == run_result["noise_floor_x1e3"]
    # The flatbuffer matches Keras to ~1e-6, so its images and SWD are the run's.
    assert r["swd_x1e3"]["avg"] == pytest.approx(run_result["swd_x1e3"]["avg"], rel=1e-2)


def test_missing_source_is_a_one_line_error(tmp_path):
    line = _one_line_failure(_evaluate(tmp_path / "nope.keras", "--data", "synthetic"))
    assert "does not exist" in line and ".tflite" in line


def test_garbage_flatbuffer_is_a_one_line_error(tmp_path):
    garbage = tmp_path / "gen.tflite"
    garbage.write_bytes(b"this is not a flatbuffer at all")
    assert "not a TFLite flatbuffer" in _one_line_failure(_evaluate(garbage, "--data", "synthetic"))


def test_non_generator_model_is_refused(tmp_path):
    path = tmp_path / "disc.keras"
    build_discriminator(resolution=32, width=1 / 16).save(path)
    assert "not a generator" in _one_line_failure(_evaluate(path, "--data", "synthetic"))


def test_folder_without_generator_and_keras_without_data_name_the_fix(run_dir, tmp_path):
    assert "no generator.keras" in _one_line_failure(_evaluate(tmp_path))
    assert "pass --data" in _one_line_failure(_evaluate(run_dir / "generator.keras"))


def _image_folder(path, count):
    path.mkdir()
    for i, image in enumerate(real_images("synthetic", count, 32, seed=1)):
        Image.fromarray(image).save(path / f"{i:03d}.png")
    return path


def test_synthetic_noise_floor_compares_two_disjoint_sets():
    sets = load_real_sets("synthetic", 16, 32, seed=0)
    assert sets.note is None and len(sets.floor_a) == len(sets.floor_b) == 16
    assert sets.first is sets.floor_a or np.array_equal(sets.first, sets.floor_a)
    flat_a = {a.tobytes() for a in sets.floor_a}
    assert not flat_a & {b.tobytes() for b in sets.floor_b}


def test_small_folder_splits_what_it_has_and_says_so(tmp_path):
    sets = load_real_sets(str(_image_folder(tmp_path / "imgs", 20)), 16, 32, seed=0)
    assert len(sets.first) == 16 and len(sets.floor_a) == len(sets.floor_b) == 10
    assert "holds 20 readable images, fewer than 2 x 16" in sets.note
    with pytest.raises(EvaluationError, match="at least 4"):
        load_real_sets(str(_image_folder(tmp_path / "few", 3)), 16, 32, seed=0)
