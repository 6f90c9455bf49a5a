"""``pbgan android-assets``: the files android_demo ships and checks itself against."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from click.testing import CliRunner

TINY_WIDTH = 1 / 16  # tests/conftest.py TINY


def _properties(path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


@pytest.fixture(scope="module")
def tiny_tflite(tmp_path_factory):
    """A converted tiny auto generator (random init) with its manifest beside it."""
    from pbgan.convert import convert_generator, write_conversion
    from pbgan.models import build_generator
    from pbgan.settings import NegativeDoRWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NegativeDoRWarning)
        model = build_generator(resolution=32, width=TINY_WIDTH, setting="auto", scheme="xnor")
    out = tmp_path_factory.mktemp("tflite") / "gen.tflite"
    write_conversion(convert_generator(model, setting="auto"), out)
    return out


def test_assets_hold_lce_interpreter_outputs_and_sample_pixels(tiny_tflite, tmp_path):
    from pbgan.android import FILES, LATENTS, android_assets
    from pbgan.interpreters import lce_interpreter
    from pbgan.plots import to_uint8

    assets = android_assets(tiny_tflite, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FILES)
    assert (tmp_path / "model.tflite").read_bytes() == tiny_tflite.read_bytes()

    props = _properties(tmp_path / "model.properties")
    z = int(props["latent.size"])
    h, w = (int(v) for v in props["output.shape"].split(",")[1:3])
    assert (props["input.shape"], props["output.shape"]) == (f"1,{z}", f"1,{h},{w},3")
    assert (props["setting"], props["scheme"]) == ("auto", "xnor")
    assert float(props["parity.tolerance"]) == 1e-3
    assert float(props["parity.max_mismatch_fraction"]) == 0.01

    latents = np.fromfile(tmp_path / "latents.bin", dtype="<f4").reshape(LATENTS, z)
    expected_z = np.random.default_rng(0).normal(size=(LATENTS, z)).astype(np.float32)
    np.testing.assert_array_equal(latents, expected_z)

    # Independent of the module: the default (not indirect) kernels, latent by latent.
    interpreter = lce_interpreter(tiny_tflite.read_bytes(), config="lce-default")
    independent = np.stack([interpreter.predict([latents[i : i + 1]])[0][0] for i in range(16)])
    reference = np.fromfile(tmp_path / "reference.bin", dtype="<f4").reshape(LATENTS, h, w, 3)
    assert np.mean(np.abs(reference - independent) > 1e-3) <= 0.01
    assert reference.std() > 0  # a real image batch, not zeros

    pixels = np.fromfile(tmp_path / "reference_pixels.bin", dtype=np.uint8)
    np.testing.assert_array_equal(pixels.reshape(LATENTS, h, w, 3), to_uint8(reference))
    np.testing.assert_array_equal(assets.pixels, to_uint8(reference))


def test_run_directory_is_converted_with_its_recorded_setting(trained_run, tmp_path):
    from pbgan.android import android_assets

    run, _ = trained_run("auto")
    assets = android_assets(run, tmp_path)
    props = _properties(tmp_path / "model.properties")
    assert props["setting"] == "auto"
    assert (tmp_path / "model.tflite").read_bytes()[4:8] == b"TFL3"
    assert assets.reference.shape == (16, 32, 32, 3)


def test_properties_escape_what_java_would_misread():
    from pbgan.android import properties_text

    text = properties_text({"source": "C:\\runs\\a=b #1", "name": "façade"})
    assert "source=C\\:\\\\runs\\\\a\\=b \\#1" in text
    assert "name=fa\\u00e7ade" in text
    text.encode("ascii")


@pytest.mark.parametrize("kind", ["float-model", "not-a-model"])
def test_refuses_a_non_generator_in_one_line(kind, tmp_path):
    from pbgan.cli import main

    if kind == "float-model":
        import tensorflow as tf

        x = tf.keras.Input((8, 8, 3))
        model = tf.keras.Model(x, tf.keras.layers.Conv2D(4, 3)(x))
        source = tmp_path / "classifier.tflite"
        source.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    else:
        source = tmp_path / "notes.keras"
        source.write_text("not a model")
    result = CliRunner().invoke(main, ["android-assets", str(source), "-o", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    error = result.output.strip()
    assert len(error.splitlines()) == 1 and error.startswith("Error:"), error
    assert not (tmp_path / "o" / "model.tflite").exists()


def test_a_keras_file_without_a_recorded_setting_needs_one(tmp_path):
    from pbgan.android import android_assets
    from pbgan.models import build_generator
    from pbgan.settings import NegativeDoRWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NegativeDoRWarning)
        model = build_generator(resolution=32, width=TINY_WIDTH, setting="auto", scheme="xnor")
    source = tmp_path / "gen.keras"
    model.save(source)
    with pytest.raises(ValueError, match="pass --setting"):
        android_assets(source, tmp_path / "a")
    assets = android_assets(source, tmp_path / "b", setting="auto")
    assert assets.properties["setting"] == "auto"
    assert assets.properties["scheme"] == "xnor"
