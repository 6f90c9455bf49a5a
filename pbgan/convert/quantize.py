"""Generator -> TensorFlow Lite post-training quantized flatbuffer, checked.

The peers a user would pick instead of partial binarization are TFLite's own
post-training quantizations of the float generator (setting A):

* ``dynamic`` — dynamic-range quantization: weights stored as int8, activations float.
  ``CONV_2D`` runs as a hybrid kernel on the int8 weights; ``TRANSPOSE_CONV`` has no
  hybrid kernel, so the converter stores its weights int8 and inserts a ``DEQUANTIZE``
  in front of it.
* ``int8`` — full-integer quantization with float input and output: int8 weights
  (per output channel) and int8 activations, their ranges calibrated on a
  representative batch of :data:`REPRESENTATIVE_LATENTS` standard-normal latents drawn
  with :data:`REPRESENTATIVE_SEED` (a fixed seed: the same model always quantizes to
  the same bytes); a ``QUANTIZE`` at the input and a ``DEQUANTIZE`` at the output keep
  the deployed interface (float latent in, float image out).

A float generator goes through the plain TFLite converter, not LCE's: it has no binary
layer for LCE to convert, and LCE's converter quantizes only graphs that carry fake-quant
ops or one dummy range for every tensor (``experimental_default_int8_range``, "for
latency tests only": on a generator it is off by as much as the image itself). The graph
is traced at batch 1, as LCE's converter does, so it holds no dynamic-shape operators.

**int8 beside binary layers** (``int8`` only, xnor scheme, plans whose float layers all
follow the binary ones, as ``auto``'s do): the ``LceBconv2d`` stay binary and the float
tail (``auto`` at dcgan64: deconv4 with the batch norm and ReLU before it and the tanh
after) runs int8. TFLite's converter knows no LCE ops and LCE's quantizes only from
fake-quant ops, so :func:`fake_quant_tail` inserts ``FakeQuantWithMinMaxArgs`` after the
layer feeding the tail and after every tail layer, each range the min/max (widened to
include 0) of that layer's output on the same representative latents; LCE's converter
turns them into int8 operators with int8 weights (it quantizes the kernels from their
own values).

Checks, as for :func:`pbgan.convert.convert_generator`, but honest for a quantized graph:

* **graph check** — weighted operators match the generator's projection and
  deconvolutions one to one, and each holds int8 weights (for ``dynamic``: an int8
  constant, directly or through a ``DEQUANTIZE``; a kernel under
  :data:`DYNAMIC_MIN_ELEMENTS` elements stays float, as TFLite leaves it). Each
  layer's ``weight_dtype`` is in the manifest.
* **error check** — the float rule (1% of values off by more than 1e-3) cannot hold
  after rounding every weight (and activation) to 8 bits, so the flatbuffer is compared
  with Keras on :data:`ERROR_LATENTS` fixed latents (seed 0, not the calibration seed)
  by **mean** and **max abs error** on images in [-1, 1], both recorded in the manifest.
  It refuses only a grossly wrong graph: mean abs error above
  :data:`MAX_QUANTIZED_MEAN_ABS_ERR`. Measured on the trained dcgan32 w0.25 float
  generator (``docs/results/levers_dcgan32_w025/generators/A_seed0.keras``, whose
  images have mean |x| 0.38): dynamic 0.0030 (max 0.043), int8 0.0096 (max 0.13,
  1.2 grey levels of 255 on average); the same graph holding other weights is off by
  0.39, as far as two unrelated images. 0.05 (6.4 grey levels) leaves 5x headroom over
  int8 and refuses a wrong graph by 8x.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
import os

from pbgan.analysis import LayerDoR, analyze
from pbgan.convert.core import (
    Conversion,
    ConversionError,
    LayerReport,
    infer_scheme,
    layer_ops,
    ops_by_layer,
    weighted_ops_per_layer,
)
from pbgan.convert.fold import fold_batch_norms
from pbgan.convert.schedule import schedule_for_memory
from pbgan.interpreters import exact_config, lce_interpreter, predict_rows
from pbgan.machine import machine_info
from pbgan.settings import DEFAULT_SCHEME, Setting, get_scheme, get_setting
from pbgan.tflite_graph import ModelInfo, OpInfo, TensorInfo, live_bytes, read_flatbuffer

import numpy as np
import tensorflow as tf

__all__ = [
    "DYNAMIC_MIN_ELEMENTS",
    "ERROR_LATENTS",
    "MAX_QUANTIZED_MEAN_ABS_ERR",
    "QUANTIZE_MODES",
    "QuantizedLayerReport",
    "REPRESENTATIVE_LATENTS",
    "REPRESENTATIVE_SEED",
    "check_quantized_graph",
    "fake_quant_tail",
    "quantization_error",
    "quantize_flatbuffer",
    "quantize_generator",
    "representative_latents",
]

QUANTIZE_MODES = ("dynamic", "int8")
REPRESENTATIVE_LATENTS = 128
REPRESENTATIVE_SEED = 1  # not the error check's seed 0: calibration and check differ
ERROR_LATENTS = 64
# TFLite's dynamic-range quantization leaves weight tensors under 1024 elements in float
# (its ``min_elements`` default): e.g. the output layer of a narrow generator.
DYNAMIC_MIN_ELEMENTS = 1024
MAX_QUANTIZED_MEAN_ABS_ERR = 0.05  # on images in [-1, 1]; see the module docstring


def representative_latents(
    z_dim: int, *, n: int = REPRESENTATIVE_LATENTS, seed: int = REPRESENTATIVE_SEED
) -> np.ndarray:
    """The fixed calibration batch: ``n`` standard-normal latents ``(n, z_dim)`` float32."""
    return np.random.default_rng(seed).standard_normal((n, z_dim)).astype(np.float32)


def quantize_flatbuffer(
    model: tf.keras.Model, *, mode: str, representative: np.ndarray | None = None
) -> bytes:
    """TFLite post-training quantization of ``model`` at batch 1 (no checks).

    ``representative`` (int8 only): calibration latents, default
    :func:`representative_latents`.
    """
    if mode not in QUANTIZE_MODES:
        raise ConversionError(f"quantize {mode!r}: choose from {', '.join(QUANTIZE_MODES)}")
    z_dim = int(model.input_shape[-1])
    forward = tf.function(lambda z: model(z, training=False))
    concrete = forward.get_concrete_function(tf.TensorSpec([1, z_dim], tf.float32))
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "int8":
        latents = representative_latents(z_dim) if representative is None else representative
        converter.representative_dataset = lambda: (
            [latents[i : i + 1]] for i in range(len(latents))
        )
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.float32
        converter.inference_output_type = tf.float32
    return converter.convert()


def _producers(info: ModelInfo) -> dict[int, OpInfo]:
    return {t.index: op for op in info.ops for t in op.outputs}


def _stored_weights(op: OpInfo, producers: dict[int, OpInfo]) -> list[TensorInfo]:
    """The constant tensors an operator's weights are stored in (through DEQUANTIZE)."""
    stored = []
    for t in op.inputs:
        if t.is_constant:
            stored.append(t)
        elif t.index in producers and producers[t.index].name == "DEQUANTIZE":
            stored += [s for s in producers[t.index].inputs if s.is_constant]
    return stored


@dataclasses.dataclass
class QuantizedLayerReport(LayerReport):
    weight_dtype: str


def _elements(t: TensorInfo) -> int:
    return math.prod(max(d, 1) for d in t.shape)


def check_quantized_graph(
    info: ModelInfo,
    rows: list[LayerDoR],
    *,
    mode: str,
    ops_per_layer: list[int] | None = None,
) -> list[QuantizedLayerReport]:
    """Weighted operators match the generator's layers (``ops_per_layer`` as in
    :func:`~pbgan.convert.core.check_graph`); binarized ones are ``LceBconv2d`` with
    bit-packed weights, every other one holds int8 weights."""
    producers = _producers(info)
    live = live_bytes(info.ops, info.inputs, info.outputs)
    reports = []
    for row, ops in zip(rows, ops_by_layer(info, rows, ops_per_layer), strict=True):
        op = ops[0]
        if row.binarized or any(o.name == "LceBconv2d" for o in ops):
            stored = [t for o in ops for t in _stored_weights(o, producers)]
            for o in ops:
                kernel = next(t for t in _stored_weights(o, producers) if len(t.shape) >= 2)
                if not (row.binarized and o.name == "LceBconv2d" and kernel.dtype == "int32"):
                    raise ConversionError(
                        f"{row.layer} is {'' if row.binarized else 'not '}binarized but "
                        f"converted to {o.name} with {kernel.dtype} weights"
                    )
            bytes_ = sum({t.index: t.nbytes for t in stored}.values())  # shared once
            names = [o.name for o in ops]
            peak = max(live[o.index] for o in layer_ops(info, row.layer, ops))
            reports.append(
                QuantizedLayerReport(row.layer, row.dor, True, names, bytes_, peak, "binary")
            )
            continue
        stored = _stored_weights(op, producers)
        kernels = [t for t in stored if len(t.shape) >= 2]
        small_float = mode == "dynamic" and all(
            t.dtype == "float32" and _elements(t) < DYNAMIC_MIN_ELEMENTS for t in kernels
        )
        if not kernels or (not small_float and any(t.dtype != "int8" for t in kernels)):
            dtypes = sorted({t.dtype for t in kernels}) or ["no constant"]
            raise ConversionError(
                f"{row.layer} converted to {op.name} with {'/'.join(dtypes)} weights, not int8: "
                "the converter did not quantize it"
            )
        dequantize = [
            "DEQUANTIZE"
            for t in op.inputs
            if t.index in producers and producers[t.index].name == "DEQUANTIZE"
        ]
        names = [*dequantize, op.name]
        weight_bytes = sum(t.nbytes for t in stored)
        dtype = kernels[0].dtype
        peak = max(live[o.index] for o in layer_ops(info, row.layer, ops))
        reports.append(
            QuantizedLayerReport(row.layer, row.dor, False, names, weight_bytes, peak, dtype)
        )
    return reports


def quantization_error(
    flatbuffer: bytes, model: tf.keras.Model, *, n: int = ERROR_LATENTS, seed: int = 0
) -> dict[str, float]:
    """Mean, 99th-percentile and max abs difference from Keras on ``n`` fixed latents.

    The flatbuffer runs batch 1 in LCE's interpreter, as ``pbgan evaluate`` runs it.
    """
    z_dim = int(model.input_shape[-1])
    z = np.random.default_rng(seed).standard_normal((n, z_dim)).astype(np.float32)
    config = exact_config(read_flatbuffer(flatbuffer).has_lce_ops)
    interpreter = lce_interpreter(flatbuffer, threads=os.cpu_count() or 1, config=config)
    diff = np.abs(predict_rows(interpreter, z) - model(z, training=False).numpy())
    return {
        "mean_abs_err": float(diff.mean()),
        "p99_abs_err": float(np.percentile(diff, 99)),
        "max_abs_err": float(diff.max()),
    }


def _checked_rows(
    model: tf.keras.Model, setting: Setting, mode: str, scheme: str | None
) -> list[LayerDoR]:
    """The generator's layers, if ``mode`` can quantize what ``setting`` built."""
    rows = analyze(model)
    if len(rows) < 2 or rows[0].kind != "projection":
        raise ConversionError(
            "source is not a generator with a projection and deconvolutions: pass a generator"
        )
    plan = setting.plan([r.dor for r in rows], warn=False)
    actual = [r.binarized for r in rows]
    if actual != plan:
        raise ConversionError(
            f"the generator binarizes {[r.layer for r in rows if r.binarized] or 'nothing'} "
            f"but setting {setting.name} plans otherwise: pass the setting it was built with"
        )
    if not any(plan):
        return rows
    model_scheme = infer_scheme(model) or scheme or DEFAULT_SCHEME
    first_float = plan.index(False) if False in plan else len(plan)
    if mode != "int8" or not get_scheme(model_scheme).deploys_binary or any(plan[first_float:]):
        raise ConversionError(
            f"--quantize {mode} with setting {setting.name} ({model_scheme}) is not supported: "
            "quantize the float generator (--setting A), or use --quantize int8 with an xnor "
            "setting whose float layers all follow its binary ones (auto)"
        )
    return rows


class _FakeQuant(tf.keras.layers.Layer):
    """``fake_quant_with_min_max_args`` with a fixed calibrated range (for conversion)."""

    def __init__(self, low: float, high: float, **kwargs):
        super().__init__(**kwargs)
        self.low, self.high = float(low), float(high)

    @tf.autograph.experimental.do_not_convert  # one op, no control flow to convert
    def call(self, inputs: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        return tf.quantization.fake_quant_with_min_max_args(inputs, self.low, self.high)

    def get_config(self) -> dict:
        return {**super().get_config(), "low": self.low, "high": self.high}


def fake_quant_tail(
    model: tf.keras.Model, rows: list[LayerDoR], representative: np.ndarray
) -> tf.keras.Model:
    """``model`` (shared weights) with calibrated fake-quant after its float tail's layers.

    The tail starts at the input of the first float layer after the last binary one.
    Refuses a generator that is not a chain of single-input layers (the rebuilt model
    must compute exactly what ``model`` does).
    """
    layers = model.layers[1:]
    names = [layer.name for layer in layers]
    binary = [r.layer for r in rows if r.binarized]
    start = max(names.index(b) for b in binary) + 1 if binary else 0
    first_float = next(
        i for i, layer in enumerate(layers) if i >= start and layer.name in {r.layer for r in rows}
    )
    probe = tf.keras.Model(model.input, [layer.output for layer in layers])
    outputs = probe(representative, training=False)
    x = z = tf.keras.Input(model.input_shape[1:], batch_size=1, name="z")
    plain = z
    for i, (layer, calibrated) in enumerate(zip(layers, outputs, strict=True)):
        x, plain = layer(x), layer(plain)
        if i >= first_float - 1:
            values = calibrated.numpy()
            x = _FakeQuant(min(values.min(), 0.0), max(values.max(), 0.0), name=f"fq_{layer.name}")(
                x
            )
    check = tf.keras.Model(z, plain)(representative[:4], training=False).numpy()
    if not np.allclose(check, model(representative[:4], training=False).numpy(), atol=1e-5):
        raise ConversionError(
            "the generator is not a chain of single-input layers: int8 with binary layers "
            "needs one (quantize the float generator with --setting A instead)"
        )
    return tf.keras.Model(z, x, name=f"{model.name}_fake_quant")


def quantize_generator(
    model: tf.keras.Model,
    *,
    mode: str,
    setting: str | Setting = "A",
    scheme: str | None = None,
    source: str = "",
    max_mean_abs_err: float = MAX_QUANTIZED_MEAN_ABS_ERR,
    error_latents: int = ERROR_LATENTS,
) -> Conversion:
    """Quantize a float generator with TFLite and check it (module docstring).

    Example::

        gen = build_generator(setting="A")
        result = quantize_generator(gen, mode="int8")
        Path("gen_int8.tflite").write_bytes(result.flatbuffer)
    """
    if not (math.isfinite(max_mean_abs_err) and max_mean_abs_err >= 0):
        raise ConversionError(f"max mean abs error {max_mean_abs_err}: pass a finite value >= 0")
    setting = get_setting(setting)
    rows = _checked_rows(model, setting, mode, scheme)
    representative = representative_latents(int(model.input_shape[-1]))
    binary = any(r.binarized for r in rows)
    if binary:
        import larq_compute_engine as lce

        scheme = infer_scheme(model)
        inference = fold_batch_norms(model).model
        flatbuffer = lce.convert_keras_model(fake_quant_tail(inference, rows, representative))
    else:
        flatbuffer = quantize_flatbuffer(model, mode=mode, representative=representative)
    flatbuffer = schedule_for_memory(flatbuffer)[0]
    info = read_flatbuffer(flatbuffer)
    layers = check_quantized_graph(
        info, rows, mode=mode, ops_per_layer=weighted_ops_per_layer(model, rows)
    )
    error = quantization_error(flatbuffer, model, n=error_latents)
    if not error["mean_abs_err"] <= max_mean_abs_err:
        raise ConversionError(
            f"quantized output is off by {error['mean_abs_err']:.3g} on average (max "
            f"{error['max_abs_err']:.3g}) on images in [-1, 1], above {max_mean_abs_err:g}: "
            f"the {mode} graph does not compute the generator"
        )
    manifest = {
        "setting": setting.name,
        "scheme": scheme,
        "quantize": mode,
        "converter": "LCE convert_keras_model, calibrated fake-quant on the float tail"
        if binary
        else "tf.lite.TFLiteConverter (post-training, batch 1)",
        "source": source,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "ops": dict(sorted(info.op_counts.items())),
        "size_bytes": len(flatbuffer),
        "binary_constant_bytes": info.binary_weight_bytes,
        "float_constant_bytes": info.float_weight_bytes,
        "int8_constant_bytes": info.constant_bytes_by_dtype.get("int8", 0),
        "layers": [dataclasses.asdict(r) for r in layers],
        "representative": None
        if mode != "int8"
        else {
            "latents": len(representative),
            "seed": REPRESENTATIVE_SEED,
            "distribution": "N(0, 1)",
        },
        # The float and binary rules of pbgan.convert.parity cannot hold after 8-bit
        # rounding: this one bounds the mean abs error only (module docstring).
        "parity_rule": "quantized",
        "parity_mean_abs_err": error["mean_abs_err"],
        "parity_p99_abs_err": error["p99_abs_err"],
        "parity_max_abs_err": error["max_abs_err"],
        "parity_max_mean_abs_err": max_mean_abs_err,
        "parity_latents": error_latents,
        "deploys_binary": binary,
        "machine": machine_info(),
    }
    return Conversion(flatbuffer, manifest)
