"""Keras generator -> LCE flatbuffer, with graph and parity checks and a manifest.

``convert_generator`` is bytes out: it converts an inference copy of the generator
(batch norms folded, float tail fused: :mod:`pbgan.convert.fold`) with Larq Compute
Engine, orders its operators for a small arena (:mod:`pbgan.convert.schedule`), then
proves the result before anyone ships it:

* **graph check** — the flatbuffer's weighted operators are matched, in execution
  order, to the generator's projection and deconvolutions; every layer the plan
  binarizes (xnor scheme) must be an ``LceBconv2d`` with bit-packed ``int32``
  weights, every other layer a float operator with float weights. A failure is an
  error, not a warning.
* **parity check** — the LCE interpreter and Keras agree on a fixed latent batch
  (:mod:`pbgan.convert.parity`): a float graph to 1e-4 everywhere; a binary graph
  except for rare, unstructured sign flips of inputs within rounding of zero.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
import os
from pathlib import Path

from pbgan.analysis import LayerDoR, analyze, load_keras_model
from pbgan.convert.fold import fold_batch_norms
from pbgan.convert.parity import PARITY_LATENTS, ConversionError, check_parity, fixed_latents
from pbgan.convert.schedule import schedule_for_memory
from pbgan.io import atomic_write_bytes, atomic_write_json
from pbgan.layers import PhaseConv2DTranspose, Projection
from pbgan.machine import machine_info
from pbgan.settings import DEFAULT_SCHEME, Setting, get_scheme, get_setting
from pbgan.tflite_graph import ModelInfo, OpInfo, live_bytes, read_flatbuffer

import tensorflow as tf

__all__ = [
    "DEFAULT_PARITY_TOLERANCE",
    "MAX_MISMATCH_FRACTION",
    "ConversionError",
    "Conversion",
    "LayerReport",
    "check_graph",
    "check_output",
    "convert_generator",
    "infer_scheme",
    "layer_ops",
    "load_generator_source",
    "weighted_ops_per_layer",
    "write_conversion",
]

# The rule a *device* is held to against this machine's LCE outputs (``pbgan
# android-assets`` writes it for the app, whose Java check knows only these two
# numbers): at most 1% of values off by more than 1e-3. The conversion itself is held
# to the stricter rules of :mod:`pbgan.convert.parity`.
DEFAULT_PARITY_TOLERANCE = 1e-3
MAX_MISMATCH_FRACTION = 0.01

WEIGHTED_OPS = frozenset(
    {"LceBconv2d", "CONV_2D", "TRANSPOSE_CONV", "FULLY_CONNECTED", "DEPTHWISE_CONV_2D"}
)
_FLOAT = frozenset({"float32", "float16"})


@dataclasses.dataclass
class LayerReport:
    layer: str
    dor: int
    binarized: bool
    tflite_ops: list[str]
    weight_bytes: int
    # The most activation bytes alive at any of the layer's operators (the arena
    # estimate of pbgan.tflite_graph, per layer).
    peak_live_bytes: int


@dataclasses.dataclass
class Conversion:
    flatbuffer: bytes
    manifest: dict


def infer_scheme(model: tf.keras.Model) -> str | None:
    """``"xnor"``/``"bwn"`` from the model's binary layers, ``None`` if it has none."""
    schemes = set()
    for row in analyze(model):
        if not row.binarized:
            continue
        layer = model.get_layer(row.layer)
        if isinstance(layer, Projection | PhaseConv2DTranspose):
            schemes.add(layer.scheme)
        else:
            schemes.add("bwn")
    if len(schemes) > 1:
        raise ConversionError(f"generator mixes binarization schemes {sorted(schemes)}")
    return schemes.pop() if schemes else None


def _filter(op: OpInfo) -> object:
    """The weight tensor of a weighted operator (TRANSPOSE_CONV: input 1, others too)."""
    constants = [t for t in op.inputs if t.is_constant and len(t.shape) >= 2]
    if not constants:
        raise ConversionError(f"operator {op.index} ({op.name}) has no constant weights")
    return constants[0]


def layer_ops(info: ModelInfo, layer: str, weighted: list[OpInfo]) -> list[OpInfo]:
    """Operators whose outputs are named after ``layer``, plus its weighted operators."""
    marker = f"/{layer}/"
    named = [op for op in info.ops if any(marker in t.name for t in op.outputs)]
    return named + [op for op in weighted if op not in named]


def weighted_ops_per_layer(
    model: tf.keras.Model, rows: list[LayerDoR], fused: dict[str, str] | None = None
) -> list[int]:
    """Weighted operators each row's layer converts to: a phase layer's convolutions, else 1.

    A :class:`PhaseConv2DTranspose` converts to one convolution per output phase it
    computes (four for the built-in 4x4 stride-2 layer), see
    :meth:`~pbgan.layers.PhaseConv2DTranspose.converted_convolutions`; a tail fused
    into one (``fused``, ``{phase layer: tail}``, :mod:`pbgan.convert.fold`) to one
    transposed convolution per phase.
    """
    counts = {}
    for row in rows:
        layer = model.get_layer(row.layer)
        if isinstance(layer, PhaseConv2DTranspose | Projection):
            counts[row.layer] = layer.converted_convolutions()
    for source, tail in (fused or {}).items():
        counts[tail] = counts[source]
    return [counts.get(row.layer, 1) for row in rows]


def _check_op(row: LayerDoR, op: OpInfo, scheme: str | None) -> None:
    """``op``, a weighted operator of ``row``'s layer, is binary exactly where planned."""
    weights = _filter(op)
    expect_binary = row.binarized and scheme is not None and get_scheme(scheme).deploys_binary
    if expect_binary:
        packed_channels = math.ceil(row.c_in / 32)
        if op.name != "LceBconv2d" or weights.dtype != "int32":
            raise ConversionError(
                f"{row.layer} is binarized but converted to {op.name} with {weights.dtype} "
                "weights instead of LceBconv2d with bit-packed weights"
            )
        if weights.shape[-1] != packed_channels:
            raise ConversionError(
                f"{row.layer}: LceBconv2d weights have {weights.shape[-1]} packed input words, "
                f"expected {packed_channels} for {row.c_in} input channels"
            )
    elif op.name == "LceBconv2d" or weights.dtype not in _FLOAT:
        raise ConversionError(
            f"{row.layer} is planned float but converted to {op.name} with {weights.dtype} weights"
        )


def ops_by_layer(
    info: ModelInfo,
    rows: list[LayerDoR],
    ops_per_layer: list[int] | None = None,
    fused: dict[str, str] | None = None,
) -> list[list[OpInfo]]:
    """The weighted operators of each row's layer, in order: ``ops_per_layer`` (one each
    by default) consecutive ones per layer; ``ConversionError`` when the counts differ.

    A phase layer and the tail fused into it (``fused``, ``{phase layer: tail}``) run
    interleaved, phase by phase: their operators are one block, the layer's are the
    ``LceBconv2d`` among them and the tail's the rest, each in order."""
    weighted = [op for op in info.ops if op.name in WEIGHTED_OPS]
    counts = ops_per_layer or [1] * len(rows)
    if len(weighted) != sum(counts):
        raise ConversionError(
            f"flatbuffer has {len(weighted)} weighted operators for {len(rows)} generator "
            f"layers, not {sum(counts)}: the converter fused or split a layer, so the plan "
            "cannot be checked"
        )
    names, fused = [r.layer for r in rows], fused or {}
    out: list[list[OpInfo]] = []
    start = k = 0
    while k < len(rows):
        if k + 1 < len(rows) and fused.get(names[k]) == names[k + 1]:
            block = weighted[start : start + counts[k] + counts[k + 1]]
            binary = [op for op in block if op.name == "LceBconv2d"]
            if len(binary) != counts[k]:
                raise ConversionError(
                    f"{names[k]} with its fused tail {names[k + 1]}: {len(binary)} LceBconv2d "
                    f"among their {len(block)} weighted operators, expected {counts[k]}"
                )
            out += [binary, [op for op in block if op.name != "LceBconv2d"]]
            start, k = start + len(block), k + 2
        else:
            out.append(weighted[start : start + counts[k]])
            start, k = start + counts[k], k + 1
    return out


def check_graph(
    info: ModelInfo,
    rows: list[LayerDoR],
    *,
    scheme: str | None,
    ops_per_layer: list[int] | None = None,
    fused: dict[str, str] | None = None,
) -> list[LayerReport]:
    """Match weighted operators to layers and enforce the plan (see module docstring).

    ``ops_per_layer`` (:func:`weighted_ops_per_layer`; one each by default) is how many
    consecutive weighted operators each layer converts to, ``fused`` the tails fused
    into a phase layer (:func:`ops_by_layer`); every operator is checked.
    """
    reports = []
    live = live_bytes(info.ops, info.inputs, info.outputs)
    for row, ops in zip(rows, ops_by_layer(info, rows, ops_per_layer, fused), strict=True):
        for op in ops:
            _check_op(row, op, scheme)
        # The phases of a layer share their output multiplier and bias: count them once.
        constants = {t.index: t.nbytes for op in ops for t in op.inputs if t.is_constant}
        weight_bytes = sum(constants.values())
        mine = layer_ops(info, row.layer, ops)
        reports.append(
            LayerReport(
                row.layer,
                row.dor,
                row.binarized,
                [op.name for op in mine],
                weight_bytes,
                max(live[op.index] for op in mine),
            )
        )
    return reports


def _describe_plan(rows: list[LayerDoR], plan: list[bool]) -> str:
    names = [r.layer for r, b in zip(rows, plan, strict=True) if b]
    return ", ".join(names) if names else "nothing"


def _settings_matching(rows: list[LayerDoR], actual: list[bool]) -> list[str]:
    dors = [r.dor for r in rows]
    matching = []
    for name in ("A", "B", "C", "D", "E", "F", "G", "H", "auto"):
        try:
            if get_setting(name).plan(dors, warn=False) == actual:
                matching.append(name)
        except ValueError:  # it names more deconvolutions than the generator has
            continue
    return matching


def convert_generator(
    model: tf.keras.Model,
    *,
    setting: str | Setting | None = None,
    scheme: str | None = None,
    source: str = "",
    allow_negative_dor: bool = False,
    parity_tolerance: float | None = None,
    parity_latents: int = PARITY_LATENTS,
) -> Conversion:
    """Convert a partially binarized generator to an LCE flatbuffer and check it.

    ``setting`` is the plan the generator must follow; ``None`` takes the generator as it
    is (one binarized elsewhere, e.g. by ``pbgan binarize``): binary operators exactly
    where it has binary layers.

    Example::

        gen = build_generator(setting="auto", scheme="xnor")
        result = convert_generator(gen, setting="auto")
        Path("gen.tflite").write_bytes(result.flatbuffer)
    """
    import larq_compute_engine as lce

    if parity_tolerance is not None and not (
        math.isfinite(parity_tolerance) and parity_tolerance >= 0
    ):
        raise ConversionError(
            f"parity tolerance {parity_tolerance}: pass a finite value >= 0 (a NaN or "
            "infinite one would pass any graph)"
        )
    rows = analyze(model)
    if len(rows) < 2 or rows[0].kind != "projection":
        raise ConversionError(
            "source is not a generator with a projection and deconvolutions: pass a generator"
        )
    actual = [r.binarized for r in rows]
    if setting is None:  # as built: the plan is what the generator binarizes
        plan = actual
        name = next(iter(_settings_matching(rows, actual)), "custom")
    else:
        setting = get_setting(setting)
        plan, name = setting.plan([r.dor for r in rows], warn=False), setting.name
    negative = [r.layer for r, b in zip(rows, plan, strict=True) if b and r.dor < 0]
    if negative and not allow_negative_dor:
        raise ConversionError(
            f"setting {name} binarizes {', '.join(negative)} with DoR < 0: pass "
            "--allow-negative-dor to convert it anyway"
        )
    if actual != plan:
        matching = _settings_matching(rows, actual)
        hint = f"pass --setting {matching[0]}" if matching else "pass the setting it was built with"
        raise ConversionError(
            f"the generator binarizes {_describe_plan(rows, actual)} but setting {setting.name} "
            f"plans {_describe_plan(rows, plan)}: {hint}"
        )
    model_scheme = infer_scheme(model)
    if scheme is not None and model_scheme is not None and scheme != model_scheme:
        raise ConversionError(
            f"the generator was built with --scheme {model_scheme}, not {scheme}: "
            f"pass --scheme {model_scheme}"
        )
    scheme = model_scheme or scheme or DEFAULT_SCHEME

    inference, folded, fused = fold_batch_norms(model, fuse_tails=True)
    flatbuffer, schedule = schedule_for_memory(lce.convert_keras_model(inference))
    info = read_flatbuffer(flatbuffer)
    layers = check_graph(
        info,
        rows,
        scheme=scheme,
        ops_per_layer=weighted_ops_per_layer(model, rows, fused),
        fused=fused,
    )
    figures = check_parity(
        flatbuffer,
        model,
        binary=info.has_lce_ops,
        latents=fixed_latents(model.input_shape[-1], n=parity_latents),
        tolerance=parity_tolerance,
    )

    binary_bytes = info.binary_weight_bytes
    float_bytes = info.float_weight_bytes
    manifest = {
        "setting": name,
        "scheme": scheme,
        "source": source,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "ops": dict(sorted(info.op_counts.items())),
        "size_bytes": len(flatbuffer),
        "binary_constant_bytes": binary_bytes,
        "float_constant_bytes": float_bytes,
        "layers": [dataclasses.asdict(r) for r in layers],
        "folded_batch_norms": folded,
        "fused_tails": fused,
        "arena_estimate_bytes": schedule["arena_estimate_after"],
        "arena_estimate_converter_order_bytes": schedule["arena_estimate_before"],
        **figures.manifest(),
        "parity_latents": parity_latents,
        "deploys_binary": get_scheme(scheme).deploys_binary and any(plan),
        "machine": machine_info(),
    }
    if not get_scheme(scheme).deploys_binary and any(plan):
        manifest["note"] = (
            "LCE has no binary-weight (float-input) kernels: bwn layers deploy as float "
            "operators holding +-alpha weights; use --scheme xnor for binary operators"
        )
    return Conversion(flatbuffer, manifest)


def load_generator_source(source: str | os.PathLike) -> tuple[tf.keras.Model, dict]:
    """A generator and what is known of it, from a run directory or a saved ``.keras`` file.

    A run directory holds ``generator.keras`` (written by ``pbgan train`` after every
    epoch) and ``config.json`` with the setting and scheme it was trained with.
    """
    from pbgan.runs import run_generator

    path, config = run_generator(source)
    if not path.exists():
        raise ConversionError(
            f"{path} does not exist: pass a run directory, a generator .keras file, or "
            "--model dcgan64 --init random"
        )
    return load_keras_model(path), config


def check_output(out: str | os.PathLike) -> None:
    """Refuse to replace a read-only ``OUT.tflite`` or ``OUT.json``.

    The atomic rename would replace it silently (it needs only the folder writable), and
    a file made read-only is one somebody meant to keep. Mode bits, not ``os.access``:
    root may write anything.
    """
    out = Path(out)
    for path in (out, out.with_suffix(".json")):
        if path.exists() and not path.stat().st_mode & 0o222:
            raise ConversionError(
                f"{path} is read-only: make it writable (chmod u+w) or pass another -o"
            )


def write_conversion(result: Conversion, out: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``OUT.tflite`` and ``OUT.json`` atomically (never over a read-only one)."""
    check_output(out)
    out = Path(out)
    tflite = atomic_write_bytes(out, result.flatbuffer)
    manifest = atomic_write_json(out.with_suffix(".json"), result.manifest)
    return tflite, manifest
