"""Read a TFLite / LCE flatbuffer without running it: operators, tensors, sizes.

The schema module shipped with larq-compute-engine is loaded straight from its file:
importing it through the ``larq_compute_engine`` package would run the package's
``__init__``, which imports the converter and with it all of TensorFlow (seconds of
start-up for a command that only reads a file). The module itself needs only
``flatbuffers``.

Activation arena estimate
-------------------------
``activation_arena_bytes`` is the peak, over the operators in execution order, of the
summed bytes of the non-constant tensors alive at that operator. A tensor is alive from
the operator that produces it (model inputs: from the first operator) to the last
operator that reads it (model outputs: to the last operator). This is the lower bound
an ideal arena planner reaches; TFLite's greedy planner adds alignment and
fragmentation, and kernels add scratch buffers (im2col, packed bitplanes) on top. It is
meant for comparing graphs, not for predicting a process's RSS.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import sys
from collections import Counter
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = [
    "FlatbufferError",
    "ModelInfo",
    "OpInfo",
    "TensorInfo",
    "format_summary",
    "live_bytes",
    "read_flatbuffer",
    "read_flatbuffer_file",
    "tflite_schema",
]

_IDENTIFIER = b"TFL3"
_HINT = "pass a .tflite file written by `pbgan convert`"
# Bytes per element; int4 packs two values per byte, string/resource/variant have no
# fixed size (their nbytes come from the buffer when constant, else count as 0).
_ITEM_BITS = {
    "float32": 32,
    "float16": 16,
    "int32": 32,
    "uint8": 8,
    "int64": 64,
    "bool": 8,
    "int16": 16,
    "complex64": 64,
    "int8": 8,
    "float64": 64,
    "complex128": 128,
    "uint64": 64,
    "uint32": 32,
    "uint16": 16,
    "int4": 4,
    "bfloat16": 16,
}
_FLOAT_DTYPES = frozenset({"float32", "float16"})
# LceBconv2d inputs: (input, filter, post_activation_multiplier, post_activation_bias,
# output_threshold); the filter is the bit-packed weight tensor.
_BCONV_FILTER_INPUT = 1


class FlatbufferError(ValueError):
    """The bytes are not a readable TFLite flatbuffer."""


@dataclasses.dataclass(frozen=True)
class TensorInfo:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    nbytes: int
    is_constant: bool

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "shape": list(self.shape)}


@dataclasses.dataclass(frozen=True)
class OpInfo:
    index: int
    name: str
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "inputs": [t.index for t in self.inputs],
            "outputs": [t.index for t in self.outputs],
        }


@dataclasses.dataclass
class ModelInfo:
    """What a flatbuffer holds (main subgraph), in execution order."""

    ops: list[OpInfo]
    tensors: list[TensorInfo]
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    op_counts: Counter
    size_bytes: int
    constant_bytes_by_dtype: dict[str, int]
    binary_weight_bytes: int
    float_weight_bytes: int
    activation_arena_bytes: int
    subgraph_count: int = 1

    @property
    def has_lce_ops(self) -> bool:
        return any(name.startswith("Lce") for name in self.op_counts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "size_bytes": self.size_bytes,
            "op_counts": dict(sorted(self.op_counts.items())),
            "constant_bytes_by_dtype": dict(sorted(self.constant_bytes_by_dtype.items())),
            "binary_weight_bytes": self.binary_weight_bytes,
            "float_weight_bytes": self.float_weight_bytes,
            "activation_arena_bytes": self.activation_arena_bytes,
            "subgraph_count": self.subgraph_count,
            "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs],
            "ops": [op.to_dict() for op in self.ops],
        }


@cache
def tflite_schema() -> ModuleType:
    """LCE's generated TFLite schema module, loaded from its file (see module doc)."""
    package = importlib.util.find_spec("larq_compute_engine")
    if package is None or not package.submodule_search_locations:
        raise ImportError(
            "larq-compute-engine is not installed; pip install larq-compute-engine==0.16.0"
        )
    path = Path(package.submodule_search_locations[0]) / "mlir" / "python" / "tflite_schema.py"
    name = "pbgan.runtime._tflite_schema"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}; reinstall larq-compute-engine==0.16.0")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@cache
def _enum_names(enum_name: str) -> dict[int, str]:
    enum = getattr(tflite_schema(), enum_name)
    return {v: k for k, v in vars(enum).items() if not k.startswith("_") and isinstance(v, int)}


def _fail(why: str) -> FlatbufferError:
    return FlatbufferError(f"not a TFLite flatbuffer: {why}; {_HINT}")


def _op_name(code: Any) -> str:
    # Schema v3a: the real builtin code is the larger of the int8 deprecated field and
    # the int32 field (old writers only fill the first, new ones both).
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    names = _enum_names("BuiltinOperator")
    if names.get(builtin) == "CUSTOM":
        custom = code.CustomCode()
        return custom.decode("utf-8", "replace") if custom else "CUSTOM"
    return names.get(builtin, f"BUILTIN_{builtin}")


def _buffer_bytes(buffer: Any, size: int) -> int:
    """Length of a buffer's data, checked against the file (catches truncation)."""
    if buffer is None:
        return 0
    offset, external = buffer.Offset(), buffer.Size()
    if offset > 1:  # >2 GB models keep data after the flatbuffer, addressed from file start
        if offset + external > size:
            raise _fail("a weight buffer ends past the end of the file (truncated?)")
        return int(external)
    length = buffer.DataLength()
    if length:
        tab = buffer._tab
        start = tab.Vector(tab.Offset(4))
        if start + length > size:
            raise _fail("a weight buffer ends past the end of the file (truncated?)")
    return int(length)


def _element_count(shape: tuple[int, ...]) -> int:
    return math.prod(max(d, 0) for d in shape)


def _tensor_info(index: int, tensor: Any, buffer_sizes: list[int]) -> TensorInfo:
    dtype = _enum_names("TensorType").get(tensor.Type(), f"type{tensor.Type()}").lower()
    shape = tuple(int(tensor.Shape(j)) for j in range(tensor.ShapeLength()))
    buffer = tensor.Buffer()
    stored = buffer_sizes[buffer] if 0 <= buffer < len(buffer_sizes) else 0
    if stored:
        nbytes = stored
    else:
        nbytes = math.ceil(_element_count(shape) * _ITEM_BITS.get(dtype, 0) / 8)
    name = tensor.Name()
    return TensorInfo(
        index=index,
        name=name.decode("utf-8", "replace") if name else "",
        shape=shape,
        dtype=dtype,
        nbytes=int(nbytes),
        is_constant=stored > 0,
    )


def _indices(getter: Any, length: int) -> list[int]:
    # -1 marks an omitted optional input.
    return [int(getter(j)) for j in range(length) if getter(j) >= 0]


def live_bytes(ops: list[OpInfo], inputs: list[TensorInfo], outputs: list[TensorInfo]) -> list[int]:
    """Summed bytes of the non-constant tensors alive at each operator (module docstring)."""
    first: dict[int, int] = {t.index: 0 for t in inputs}
    last: dict[int, int] = {}
    sizes: dict[int, int] = {}
    for op in ops:
        for t in op.outputs:
            if not t.is_constant:
                first.setdefault(t.index, op.index)
                last[t.index] = max(last.get(t.index, op.index), op.index)
                sizes[t.index] = t.nbytes
        for t in op.inputs:
            if not t.is_constant:
                first.setdefault(t.index, op.index)
                last[t.index] = op.index
                sizes[t.index] = t.nbytes
    for t in inputs + outputs:
        sizes[t.index] = t.nbytes
    for t in outputs:
        first.setdefault(t.index, 0)
        last[t.index] = len(ops) - 1
    for t in inputs:
        last.setdefault(t.index, 0)
    live = [0] * len(ops)
    for index, start in first.items():
        for i in range(start, last.get(index, start) + 1):
            live[i] += sizes.get(index, 0)
    return live


def arena_estimate(ops: list[OpInfo], inputs: list[TensorInfo], outputs: list[TensorInfo]) -> int:
    """Peak summed bytes of live non-constant tensors (see the module docstring)."""
    if not ops:
        return sum(t.nbytes for t in {t.index: t for t in inputs + outputs}.values())
    return max(live_bytes(ops, inputs, outputs))


def read_flatbuffer(data: bytes) -> ModelInfo:
    """Parse a TFLite flatbuffer (float or LCE) into a :class:`ModelInfo`."""
    data = bytes(data)
    if len(data) < 8:
        raise _fail(f"{len(data)} bytes is too short")
    if data[4:8] != _IDENTIFIER:
        raise _fail(f"file identifier is {data[4:8]!r}, expected {_IDENTIFIER!r}")
    try:
        return _read(data)
    except FlatbufferError:
        raise
    except Exception as err:  # the generated reader raises whatever the bad offset hits
        raise _fail("corrupt or truncated data") from err


def read_flatbuffer_file(path: str | Path) -> ModelInfo:
    """:func:`read_flatbuffer` on a file, with one-line errors for a missing file."""
    path = Path(path)
    if not path.is_file():
        raise FlatbufferError(f"{path} does not exist; {_HINT}")
    try:
        return read_flatbuffer(path.read_bytes())
    except FlatbufferError as err:
        raise FlatbufferError(f"{path}: {err}") from None


def _read(data: bytes) -> ModelInfo:
    schema = tflite_schema()
    model = schema.Model.GetRootAs(data, 0)
    if model.SubgraphsLength() < 1:
        raise _fail("it has no subgraph")
    size = len(data)
    # Every table entry takes at least 4 bytes: a larger count is garbage, and trusting
    # it would loop for minutes.
    if max(model.BuffersLength(), model.OperatorCodesLength()) > size // 4:
        raise _fail("corrupt or truncated data")
    buffer_sizes = [_buffer_bytes(model.Buffers(i), size) for i in range(model.BuffersLength())]
    op_names = [_op_name(model.OperatorCodes(i)) for i in range(model.OperatorCodesLength())]

    graph = model.Subgraphs(0)
    if max(graph.TensorsLength(), graph.OperatorsLength()) > size // 4:
        raise _fail("corrupt or truncated data")
    tensors = [
        _tensor_info(i, graph.Tensors(i), buffer_sizes) for i in range(graph.TensorsLength())
    ]

    def pick(indices: list[int]) -> list[TensorInfo]:
        if any(i >= len(tensors) for i in indices):
            raise _fail("an operator names a tensor that does not exist")
        return [tensors[i] for i in indices]

    ops = []
    for k in range(graph.OperatorsLength()):
        op = graph.Operators(k)
        code = op.OpcodeIndex()
        if code >= len(op_names):
            raise _fail("an operator names an opcode that does not exist")
        ops.append(
            OpInfo(
                index=k,
                name=op_names[code],
                inputs=pick(_indices(op.Inputs, op.InputsLength())),
                outputs=pick(_indices(op.Outputs, op.OutputsLength())),
            )
        )
    inputs = pick(_indices(graph.Inputs, graph.InputsLength()))
    outputs = pick(_indices(graph.Outputs, graph.OutputsLength()))

    # Count each weight buffer once, even when several tensors share it.
    by_buffer: dict[int, TensorInfo] = {}
    for i in range(graph.TensorsLength()):
        if tensors[i].is_constant:
            by_buffer.setdefault(graph.Tensors(i).Buffer(), tensors[i])
    binary_ids = {
        op.inputs[_BCONV_FILTER_INPUT].index
        for op in ops
        if op.name == "LceBconv2d"
        and len(op.inputs) > _BCONV_FILTER_INPUT
        and op.inputs[_BCONV_FILTER_INPUT].is_constant
    }
    by_dtype: Counter = Counter()
    binary = floating = 0
    for t in by_buffer.values():
        by_dtype[t.dtype] += t.nbytes
        if t.index in binary_ids:
            binary += t.nbytes
        elif t.dtype in _FLOAT_DTYPES:
            floating += t.nbytes

    return ModelInfo(
        ops=ops,
        tensors=tensors,
        inputs=inputs,
        outputs=outputs,
        op_counts=Counter(op.name for op in ops),
        size_bytes=size,
        constant_bytes_by_dtype=dict(by_dtype),
        binary_weight_bytes=binary,
        float_weight_bytes=floating,
        activation_arena_bytes=arena_estimate(ops, inputs, outputs),
        subgraph_count=model.SubgraphsLength(),
    )


def format_bytes(n: float) -> str:
    """1536 -> '1.5 KiB'; binary units, since weight sizes are powers-of-two friendly."""
    for unit in ("B", "KiB", "MiB"):
        if abs(n) < 1024 or unit == "MiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def _tensor_line(t: TensorInfo) -> str:
    return f"{t.name or f'#{t.index}'}  {t.dtype}{list(t.shape)}"


def format_summary(info: ModelInfo) -> str:
    """Operator histogram and sizes as an aligned plain-text table."""
    width = max([len("operator"), *(len(n) for n in info.op_counts)])
    lines = [f"{'operator':<{width}}  count", f"{'-' * width}  -----"]
    for name, count in sorted(info.op_counts.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"{name:<{width}}  {count:>5}")
    lines.append(f"{'total':<{width}}  {sum(info.op_counts.values()):>5}")
    lines.append("")
    rows = [
        ("flatbuffer size", format_bytes(info.size_bytes)),
        ("binary weights (bit-packed)", format_bytes(info.binary_weight_bytes)),
        ("float weights", format_bytes(info.float_weight_bytes)),
        *(
            (f"constants {dtype}", format_bytes(n))
            for dtype, n in sorted(info.constant_bytes_by_dtype.items())
        ),
        ("activation arena (estimate)", format_bytes(info.activation_arena_bytes)),
        *((f"input {i}", _tensor_line(t)) for i, t in enumerate(info.inputs)),
        *((f"output {i}", _tensor_line(t)) for i, t in enumerate(info.outputs)),
    ]
    if info.subgraph_count > 1:
        rows.append(("subgraphs", f"{info.subgraph_count} (main one shown)"))
    key_width = max(len(k) for k, _ in rows)
    lines.extend(f"{k:<{key_width}}  {v}" for k, v in rows)
    return "\n".join(lines)
