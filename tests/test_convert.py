import json
import warnings
from functools import cache

from pbgan.analysis import analyze
from pbgan.cli import main
from pbgan.convert import ConversionError, check_graph, convert_generator
from pbgan.models import binary_convolutions, build_generator, generator_dors
from pbgan.settings import SCHEMES, SETTINGS, NegativeDoRWarning, get_setting
from pbgan.tflite_graph import format_bytes, read_flatbuffer

import pytest
import tensorflow as tf
from click.testing import CliRunner
from conftest import TINY, every_setting_and_scheme

# dcgan32 at width 1/8: DoR 99, 124, 48, -32, -240, so auto binarizes projection, deconv1-2.
SMALL = dict(resolution=32, width=0.125)
MANIFEST_KEYS = {
    "setting",
    "scheme",
    "source",
    "ops",
    "size_bytes",
    "binary_constant_bytes",
    "float_constant_bytes",
    "layers",
    "parity_rule",
    "parity_bounds",
    "parity_max_abs_err",
    "parity_mismatch_fraction",
    "parity_worst_row_fraction",
    "parity_worst_column_fraction",
    "parity_worst_channel_fraction",
    "folded_batch_norms",
    "fused_tails",
    "arena_estimate_bytes",
    "arena_estimate_converter_order_bytes",
}


def _generator(setting, scheme="xnor"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NegativeDoRWarning)
        return build_generator(setting=setting, scheme=scheme, **SMALL)


def _plan(setting, width=0.125):
    return get_setting(setting).plan(generator_dors(32, width), warn=False)


def _converted(setting, scheme="xnor"):
    """A random-init generator and its conversion, once per module: tests only read them."""
    return _convert_once(setting, scheme)


@cache
def _convert_once(setting, scheme):
    gen = _generator(setting, scheme)
    return gen, convert_generator(gen, setting=setting, scheme=scheme, allow_negative_dor=True)


# Every xnor plan puts LceBconv2d at other positions, with other packed input widths. bwn
# layers convert to float operators wherever they are: G (every deconvolution, the output
# layer included) and auto (the projection) cover them; A-bwn builds the same generator
# as A-xnor, and H the same generator as F. The others run in `make test-all`.
SLOW_PAIRS = {("H", "xnor")} | {(s, "bwn") for s in SETTINGS if s not in ("G", "auto")}


@pytest.mark.parametrize(
    "setting,scheme",
    every_setting_and_scheme(fast={(s, c) for s in SETTINGS for c in SCHEMES} - SLOW_PAIRS),
)
def test_conversion_puts_binary_ops_exactly_where_the_plan_binarizes(setting, scheme):
    plan = _plan(setting)
    gen, result = _converted(setting, scheme)
    m = result.manifest
    assert MANIFEST_KEYS <= set(m)
    binary_layers = [layer["layer"] for layer in m["layers"] if "LceBconv2d" in layer["tflite_ops"]]
    planned = [row.layer for row, b in zip(analyze(gen), plan, strict=True) if b]
    if scheme == "xnor":
        assert binary_layers == planned
        assert m["ops"].get("LceBconv2d", 0) == binary_convolutions(plan, SMALL["resolution"])
    else:
        assert binary_layers == [] and "LceBconv2d" not in m["ops"]
        assert ("note" in m) == any(plan)
    assert m["parity_rule"] == ("binary" if "LceBconv2d" in m["ops"] else "float")
    assert m["parity_tolerance"] == (1e-3 if m["parity_rule"] == "binary" else 1e-4)
    assert m["parity_max_abs_err"] <= m["parity_bounds"]["max_abs_err"]
    assert m["parity_mismatch_fraction"] <= m["parity_bounds"]["mismatch_fraction"]
    assert [layer["binarized"] for layer in m["layers"]] == plan
    assert m["size_bytes"] == len(result.flatbuffer)
    assert all(layer["weight_bytes"] > 0 for layer in m["layers"])


def test_binary_layers_store_bit_packed_weights():
    float_m = _converted("A")[1].manifest
    auto_m = _converted("auto")[1].manifest
    for f, b in zip(float_m["layers"], auto_m["layers"], strict=True):
        if b["binarized"]:
            assert b["weight_bytes"] < f["weight_bytes"] / 8
        else:
            assert b["weight_bytes"] == f["weight_bytes"]


def test_graph_check_fails_when_a_planned_binary_layer_is_float():
    gen, result = _converted("G", "bwn")
    info = read_flatbuffer(result.flatbuffer)
    with pytest.raises(
        ConversionError, match="deconv1 is binarized but converted to TRANSPOSE_CONV"
    ):
        check_graph(info, analyze(gen), scheme="xnor")


def test_graph_check_fails_when_a_float_layer_is_binary():
    info = read_flatbuffer(_converted("B")[1].flatbuffer)
    rows = analyze(_generator("A"))
    with pytest.raises(
        ConversionError, match="deconv1 is planned float but converted to LceBconv2d"
    ):
        check_graph(info, rows, scheme="xnor", ops_per_layer=[1, 4, 1, 1, 1])
    with pytest.raises(ConversionError, match="8 weighted operators for 5 generator layers, not 5"):
        check_graph(info, rows, scheme="xnor")


def test_setting_mismatch_is_refused_with_the_right_setting_named():
    with pytest.raises(ConversionError, match="pass --setting B"):
        convert_generator(_generator("B"), setting="auto")


def test_negative_dor_plan_needs_the_flag():
    with pytest.raises(ConversionError, match="--allow-negative-dor"):
        convert_generator(_generator("G"), setting="G")


def test_scheme_mismatch_is_refused():
    with pytest.raises(ConversionError, match="pass --scheme bwn"):
        convert_generator(_generator("B", "bwn"), setting="B", scheme="xnor")


def _cli(*args):
    return CliRunner().invoke(main, ["convert", *args])


def test_cli_converts_random_init_and_writes_flatbuffer_and_manifest(tmp_path):
    out = tmp_path / "models" / "auto.tflite"
    result = _cli(
        "--model",
        "dcgan32",
        "--width",
        "0.125",
        "--init",
        "random",
        "--setting",
        "auto",
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads(out.with_suffix(".json").read_text())
    assert MANIFEST_KEYS <= set(manifest)
    assert manifest["source"].startswith("dcgan32")
    assert out.read_bytes()[4:8] == b"TFL3"
    assert sorted(p.name for p in out.parent.iterdir()) == ["auto.json", "auto.tflite"]
    # The written graph runs in the order whose arena the manifest and the output state.
    arena = read_flatbuffer(out.read_bytes()).activation_arena_bytes
    assert manifest["arena_estimate_bytes"] == arena
    assert manifest["arena_estimate_converter_order_bytes"] >= arena
    assert f"activation arena {format_bytes(arena)} (estimate" in result.output


def test_cli_bwn_says_layers_deploy_in_float(tmp_path):
    out = tmp_path / "f.tflite"
    result = _cli(
        "--model",
        "dcgan32",
        "--width",
        "0.125",
        "--init",
        "random",
        "--setting",
        "B",
        "--scheme",
        "bwn",
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    assert "no binary-weight" in result.output


def test_cli_converts_a_training_run_and_refuses_another_setting(tmp_path, trained_run):
    run, _ = trained_run("auto", "xnor")  # shared and read-only: write elsewhere
    out = tmp_path / "f.tflite"
    result = _cli(str(run), "--setting", "auto", "-o", str(out))
    assert result.exit_code == 0, result.output
    manifest = json.loads(out.with_suffix(".json").read_text())
    plan = _plan("auto", TINY["width"])
    # dcgan32: a 2x2 projection (4 bconvs), deconv1 and deconv2 (4 phases each).
    assert sum(plan) == 3 and manifest["ops"]["LceBconv2d"] == binary_convolutions(plan, 32) == 12
    result = _cli(str(run), "--setting", "B", "-o", str(out))
    assert result.exit_code == 2
    assert "trained with --setting auto: pass --setting auto" in result.output


@pytest.mark.parametrize("content", [b"", b"garbage that is not a model"])
def test_cli_unreadable_source_is_a_one_line_error(tmp_path, content):
    path = tmp_path / "gen.keras"
    path.write_bytes(content)
    result = _cli(str(path), "--setting", "F", "-o", str(tmp_path / "x.tflite"))
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1


def test_cli_non_generator_source_is_refused(tmp_path):
    path = tmp_path / "cnn.keras"
    tf.keras.Sequential([tf.keras.Input((8, 8, 3)), tf.keras.layers.Conv2D(4, 3)]).save(path)
    result = _cli(str(path), "--setting", "F", "-o", str(tmp_path / "x.tflite"))
    assert result.exit_code == 2 and "no deconvolution" in result.output


def test_cli_needs_a_source_or_a_model(tmp_path):
    result = _cli("--setting", "F", "-o", str(tmp_path / "x.tflite"))
    assert result.exit_code == 2 and "--model" in result.output


def test_parity_check_fails_for_a_flatbuffer_of_other_weights():
    from pbgan.convert import check_parity

    flatbuffer = _converted("B")[1].flatbuffer
    same_graph_other_weights = _generator("B")
    with pytest.raises(ConversionError, match=r"parity check failed \(binary graph\)"):
        check_parity(flatbuffer, same_graph_other_weights)
