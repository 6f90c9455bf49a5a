import json
import warnings
from functools import cache

from pbgan.cli import main
from pbgan.convert import ConversionError
from pbgan.convert.quantize import (
    DYNAMIC_MIN_ELEMENTS,
    MAX_QUANTIZED_MEAN_ABS_ERR,
    QUANTIZE_MODES,
    quantization_error,
    quantize_flatbuffer,
    quantize_generator,
)
from pbgan.interpreters import tflite_interpreter
from pbgan.models import build_generator
from pbgan.settings import NegativeDoRWarning
from pbgan.tflite_graph import read_flatbuffer

import numpy as np
import pytest
from click.testing import CliRunner

# dcgan32 at width 1/8, float (setting A): a projection and four deconvolutions.
SMALL = dict(resolution=32, width=0.125)
WEIGHTED = {"CONV_2D", "TRANSPOSE_CONV"}


@cache
def _generator(seed=0):
    """A float generator whose images span [-1, 1] like a trained one's (mean |x| ~0.25).

    At its DCGAN initialisation (std 0.02) the output is ~1e-4 everywhere: any graph would
    be "close" to it, so kernels are redrawn at unit gain.
    """
    gen = build_generator(setting="A", **SMALL)
    rng = np.random.default_rng(seed)
    for w in gen.weights:
        if "kernel" in w.name:
            fan = np.prod(w.shape) / max(w.shape[-1], w.shape[-2])
            w.assign(rng.standard_normal(w.shape).astype(np.float32) * np.sqrt(2 / fan))
    return gen


@cache
def _quantized(mode):
    return quantize_generator(_generator(), mode=mode, source="test")


def _weighted_ops(info):
    return [op for op in info.ops if op.name in WEIGHTED]


def test_int8_quantizes_weights_and_activations_with_float_interface():
    info = read_flatbuffer(_quantized("int8").flatbuffer)
    ops = _weighted_ops(info)
    assert len(ops) == 5  # projection (1x1 CONV_2D) + 4 deconvolutions
    for op in ops:
        tensors = [t for t in op.inputs if len(t.shape) == 4] + op.outputs
        assert {t.dtype for t in tensors} == {"int8"}, (op.name, tensors)
    assert info.ops[0].name == "QUANTIZE" and info.ops[-1].name == "DEQUANTIZE"
    assert info.inputs[0].dtype == info.outputs[0].dtype == "float32"
    assert info.float_weight_bytes == 0 and not info.has_lce_ops


def test_dynamic_range_stores_int8_weights_and_computes_in_float():
    info = read_flatbuffer(_quantized("dynamic").flatbuffer)
    producers = {t.index: op for op in info.ops for t in op.outputs}
    for op in _weighted_ops(info):
        # CONV_2D: (input, filter, bias); TRANSPOSE_CONV: (output shape, filter, input)
        kernel = op.inputs[1]
        if not kernel.is_constant:  # TRANSPOSE_CONV has no hybrid kernel
            assert producers[kernel.index].name == "DEQUANTIZE"
            kernel = producers[kernel.index].inputs[0]
        assert kernel.is_constant
        # TFLite leaves kernels under 1024 elements in float (here deconv4, 3x4x4x16).
        assert kernel.dtype == (
            "int8" if np.prod(kernel.shape) >= DYNAMIC_MIN_ELEMENTS else "float32"
        )
        assert {t.dtype for t in op.outputs} == {"float32"}
    assert "QUANTIZE" not in info.op_counts
    dtypes = [layer["weight_dtype"] for layer in _quantized("dynamic").manifest["layers"]]
    assert dtypes == ["int8"] * 4 + ["float32"]


@pytest.mark.parametrize("mode", QUANTIZE_MODES)
def test_quantized_generator_is_about_4x_smaller_than_float(mode):
    m = _quantized(mode).manifest
    float_bytes = sum(int(np.prod(w.shape)) * 4 for w in _generator().weights)
    assert m["size_bytes"] < float_bytes / 3
    assert m["int8_constant_bytes"] > 0.2 * float_bytes


@pytest.mark.parametrize("mode", QUANTIZE_MODES)
def test_quantized_output_matches_keras_within_the_documented_bound(mode):
    result = _quantized(mode)
    m = result.manifest
    assert m["quantize"] == mode and m["setting"] == "A" and not m["deploys_binary"]
    assert m["parity_rule"] == "quantized"
    assert 0 < m["parity_mean_abs_err"] <= m["parity_max_abs_err"]
    assert m["parity_mean_abs_err"] <= m["parity_max_mean_abs_err"] == MAX_QUANTIZED_MEAN_ABS_ERR
    assert [layer["layer"] for layer in m["layers"]][:2] == ["projection", "deconv1"]
    # TensorFlow Lite's own interpreter runs it too, and agrees with LCE's.
    z = np.random.default_rng(0).standard_normal((1, 100)).astype(np.float32)
    interpreter = tflite_interpreter(result.flatbuffer)
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], z)
    interpreter.invoke()
    lite = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    keras = _generator()(z, training=False).numpy()
    assert np.abs(lite - keras).mean() <= MAX_QUANTIZED_MEAN_ABS_ERR


def test_error_check_separates_quantization_from_a_wrong_graph():
    flatbuffer = _quantized("int8").flatbuffer
    own = quantization_error(flatbuffer, _generator())
    other = quantization_error(flatbuffer, _generator(seed=1))
    assert own["mean_abs_err"] * 4 < other["mean_abs_err"]
    with pytest.raises(ConversionError, match="does not compute the generator"):
        quantize_generator(_generator(), mode="int8", max_mean_abs_err=own["mean_abs_err"] / 2)


def test_int8_calibration_is_deterministic():
    assert quantize_flatbuffer(_generator(), mode="int8") == _quantized("int8").flatbuffer


@cache
def _auto(scheme="xnor"):
    gen = build_generator(setting="auto", scheme=scheme, **SMALL)
    rng = np.random.default_rng(0)
    for w in gen.weights:  # unit gain, as in _generator
        if "kernel" in w.name:
            fan = np.prod(w.shape) / max(w.shape[-1], w.shape[-2])
            w.assign(rng.standard_normal(w.shape).astype(np.float32) * np.sqrt(2 / fan))
    return gen


def test_auto_int8_keeps_binary_layers_and_quantizes_the_float_tail():
    # SMALL auto binarizes projection, deconv1, deconv2; deconv3 and deconv4 are float.
    result = quantize_generator(_auto(), mode="int8", setting="auto")
    info = read_flatbuffer(result.flatbuffer)
    m = result.manifest
    assert m["deploys_binary"] and m["scheme"] == "xnor" and m["quantize"] == "int8"
    assert [layer["weight_dtype"] for layer in m["layers"]] == ["binary"] * 3 + ["int8"] * 2
    assert info.op_counts["LceBconv2d"] == 4 + 4 + 4  # 2x2 projection, two deconvs x 4 phases
    tail = [op for op in info.ops if op.name == "TRANSPOSE_CONV"]
    assert len(tail) == 2
    for op in tail:
        assert {t.dtype for t in op.inputs[1:] + op.outputs} == {"int8"}
    assert info.outputs[0].dtype == "float32" and info.float_weight_bytes < 0.2 * m["size_bytes"]
    assert m["parity_mean_abs_err"] <= MAX_QUANTIZED_MEAN_ABS_ERR


@pytest.mark.parametrize(
    "setting,scheme,mode",
    [("auto", "xnor", "dynamic"), ("auto", "bwn", "int8"), ("F", "xnor", "int8")],
)
def test_unsupported_quantization_of_a_binarized_generator_is_refused(setting, scheme, mode):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NegativeDoRWarning)  # F binarizes deconv3 here
        gen = _auto(scheme) if setting == "auto" else build_generator(setting=setting, **SMALL)
    with pytest.raises(ConversionError, match="not supported: quantize the float generator"):
        quantize_generator(gen, mode=mode, setting=setting)


def test_generator_of_another_setting_is_refused():
    with pytest.raises(ConversionError, match="pass the setting it was built with"):
        quantize_generator(_auto(), mode="int8", setting="A")


def _cli(*args):
    model = ["--model", "dcgan32", "--width", "0.125", "--init", "random"]
    return CliRunner().invoke(main, ["convert", *model, *args])


def test_cli_quantize_writes_flatbuffer_and_manifest(tmp_path):
    out = tmp_path / "a_int8.tflite"
    result = _cli("--setting", "A", "--quantize", "int8", "-o", str(out))
    assert result.exit_code == 0, result.output
    manifest = json.loads(out.with_suffix(".json").read_text())
    assert manifest["quantize"] == "int8" and manifest["size_bytes"] == out.stat().st_size
    assert "mean abs err" in result.output
    assert read_flatbuffer(out.read_bytes()).op_counts["QUANTIZE"] == 1


def test_cli_quantize_is_refused_with_an_unsupported_setting(tmp_path):
    result = _cli("--setting", "auto", "--quantize", "dynamic", "-o", str(tmp_path / "x.tflite"))
    assert result.exit_code == 2 and "--setting A" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_cli_quantize_choices_are_the_modes():
    from pbgan.convert.cli import convert

    option = next(p for p in convert.params if p.name == "quantize")
    assert sorted(option.type.choices) == sorted(QUANTIZE_MODES)


def test_cli_auto_int8_keeps_binary_layers(tmp_path):
    out = tmp_path / "auto_int8.tflite"
    result = _cli("--setting", "auto", "--quantize", "int8", "-o", str(out))
    assert result.exit_code == 0, result.output
    manifest = json.loads(out.with_suffix(".json").read_text())
    assert manifest["deploys_binary"] and manifest["ops"]["LceBconv2d"] == 4 + 4 + 4
    assert "binary" in result.output and "int8" in result.output
