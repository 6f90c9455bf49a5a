import json

from pbgan.analysis import AnalysisError, analyze
from pbgan.cli import main
from pbgan.models import build_generator

import pytest
import tensorflow as tf
from click.testing import CliRunner

KEYS = {"layer", "kind", "c_in", "h_in", "w_in", "dor", "binarize"}


def _run(*args):
    return CliRunner().invoke(main, list(args))


def test_dcgan64_matches_paper_table1():
    result = _run("analyze", "dcgan64", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert all(set(r) == KEYS for r in rows)
    assert [r["kind"] for r in rows] == ["projection"] + ["deconv"] * 4
    assert [r["dor"] for r in rows] == [99, 1008, 448, 0, -896]
    assert [r["binarize"] for r in rows] == [True, True, True, True, False]
    assert (rows[1]["c_in"], rows[1]["h_in"], rows[1]["w_in"]) == (1024, 4, 4)


@pytest.mark.parametrize(
    "arch,dors",
    [("dcgan32", [99, 1020, 496, 192, -128]), ("dcgan128", [99, 960, 256, -768, -3968])],
)
def test_other_resolutions_have_their_own_dor(arch, dors):
    rows = json.loads(_run("analyze", arch, "--json").output)
    assert [r["dor"] for r in rows] == dors


def test_table_output_names_the_plan():
    result = _run("analyze")
    assert result.exit_code == 0
    assert "-896" in result.output and "keep deconv4 in floating point" in result.output


def _user_generator():
    """A generator written without pbgan: Dense projection, plain Keras deconvolutions."""
    z = tf.keras.Input((16,))
    x = tf.keras.layers.Dense(2 * 2 * 40)(z)
    x = tf.keras.layers.Reshape((2, 2, 40))(x)
    x = tf.keras.layers.Conv2DTranspose(12, 4, strides=2, padding="same", activation="relu")(x)
    x = tf.keras.layers.Conv2DTranspose(3, 5, strides=2, padding="same", name="to_rgb")(x)
    return tf.keras.Model(z, x)


@pytest.mark.parametrize("suffix", [".keras", ".h5", ""])
def test_analyze_a_saved_user_model(tmp_path, suffix):
    path = tmp_path / f"user_gen{suffix}"
    _user_generator().save(path)
    result = _run("analyze", str(path), "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["kind"], r["c_in"], r["h_in"], r["dor"]) for r in rows] == [
        ("projection", 16, 1, 15),
        ("deconv", 40, 2, 36),
        ("deconv", 12, 4, -4),
    ]
    assert rows[-1]["layer"] == "to_rgb" and rows[-1]["binarize"] is False


def test_a_model_without_deconvolutions_is_a_one_line_error(tmp_path):
    path = tmp_path / "cnn.keras"
    tf.keras.Sequential([tf.keras.Input((8, 8, 3)), tf.keras.layers.Conv2D(4, 3)]).save(path)
    result = _run("analyze", str(path))
    assert result.exit_code == 2
    assert "no deconvolution" in result.output and len(result.output.strip().splitlines()) == 1


def test_a_file_that_is_not_a_keras_model_is_a_one_line_error(tmp_path):
    path = tmp_path / "notes.keras"
    path.write_text("not a model")
    result = _run("analyze", str(path))
    assert result.exit_code == 2
    assert "is not a Keras model" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_missing_path_is_a_one_line_error():
    result = _run("analyze", "no/such/model.keras")
    assert result.exit_code == 2 and "does not exist" in result.output


def test_analysis_reports_what_the_model_binarizes_now():
    gen = build_generator(width=0.125, setting="F", scheme="xnor")
    assert [r.binarized for r in analyze(gen)] == [False, True, True, True, False]
    with pytest.raises(AnalysisError):
        analyze(tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(2)]))
