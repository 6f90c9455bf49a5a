"""Per-operator latency of a flatbuffer at several thread counts.

LCE's Python interpreter has no op profiler, and ``lce_benchmark_model`` (which has
``--enable_op_profiling``) is built for devices, not shipped for this machine. So each
operator is cut out of the graph into a flatbuffer of its own (:func:`op_models`: the
same operator, options, constants and shapes; its non-constant inputs become the graph
inputs) and timed with the very interpreter and kernel configuration the whole model
uses. What an isolated operator cannot show is the cost *between* operators (a thread
pool waking up for the next one): :func:`profile_ops` therefore also times the whole
graph, and the gap between it and the sum of its operators is reported, not hidden.

Each timed call is LCE's ``predict()``, so every operator carries one input copy and one
output copy (microseconds; compare thread counts, not tiny absolute values).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Sequence
from typing import Any

from pbgan.interpreters import CONFIGS, KernelConfig
from pbgan.runtime.local import make_call, random_inputs, time_calls
from pbgan.tflite_graph import OpInfo, read_flatbuffer, tflite_schema

import flatbuffers
import numpy as np

__all__ = ["OpTiming", "op_models", "profile_ops", "sub_model", "summarize_by_type", "time_graph"]

_IDENTIFIER = b"TFL3"


@dataclasses.dataclass
class OpTiming:
    """One operator (or the whole graph, ``index`` -1) at each thread count."""

    index: int
    op: str
    output_shape: list[int]
    ms: dict[int, float]  # threads -> the lowest median wall time over the repeats
    cpu_ms: dict[int, float]  # threads -> the lowest CPU time per call, all threads summed

    def to_dict(self) -> dict[str, Any]:
        return {
            **dataclasses.asdict(self),
            "ms": {str(k): v for k, v in self.ms.items()},
            "cpu_ms": {str(k): v for k, v in self.cpu_ms.items()},
        }


def sub_model(data: bytes, first: int, last: int) -> bytes:
    """Operators ``first..last`` (inclusive) of the main subgraph as a flatbuffer of their own.

    Its inputs are the tensors those operators read but neither produce nor hold as
    constants; its outputs are the tensors they produce that later operators or the
    graph's outputs read. Buffers the slice does not read are emptied, so a slice of a
    50 MB model is only as large as its own constants.
    """
    schema = tflite_schema()
    info = read_flatbuffer(data)
    if not 0 <= first <= last < len(info.ops):
        raise ValueError(f"operators {first}..{last}: the graph has {len(info.ops)} (0-based)")
    inside = info.ops[first : last + 1]
    produced = {t.index for op in inside for t in op.outputs}
    read_later = {t.index for op in info.ops[last + 1 :] for t in op.inputs}
    read_later |= {t.index for t in info.outputs}
    inputs = list(
        dict.fromkeys(
            t.index
            for op in inside
            for t in op.inputs
            if not t.is_constant and t.index not in produced
        )
    )
    outputs = [t for t in dict.fromkeys(t.index for op in inside for t in op.outputs)]
    outputs = [t for t in outputs if t in read_later] or outputs[-1:]

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(data, 0))
    graph = model.subgraphs[0]
    graph.operators = graph.operators[first : last + 1]
    graph.inputs, graph.outputs = inputs, outputs
    model.subgraphs = [graph]
    model.signatureDefs = None  # they name the whole graph's inputs and outputs
    used = {graph.tensors[t.index].buffer for op in inside for t in op.inputs}
    used |= {m.buffer for m in model.metadata or ()}
    for k, buffer in enumerate(model.buffers):
        if k not in used:
            buffer.data = None
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=_IDENTIFIER)
    return bytes(builder.Output())


def op_models(data: bytes) -> list[tuple[OpInfo, bytes]]:
    """Every operator of the main subgraph as a one-operator flatbuffer, in graph order."""
    return [(op, sub_model(data, op.index, op.index)) for op in read_flatbuffer(data).ops]


def _measure(call: Any, *, runs: int, warmup: int) -> tuple[float, float]:
    """Median wall milliseconds of a call, and the process's CPU milliseconds per call.

    CPU time counts every thread of this process, so a thread pool that spins while it
    waits shows up here even when the wall time hides it; other processes' load does
    not inflate it the way it inflates wall time.
    """
    start = time.process_time()
    times = time_calls(call, runs=runs, warmup=warmup)
    cpu = (time.process_time() - start) * 1e3 / (runs + warmup)
    return float(np.median(times)), cpu


def time_graph(
    data: bytes,
    *,
    config: str | KernelConfig,
    threads: Sequence[int] = (1, 2),
    runs: int = 50,
    warmup: int = 5,
    repeats: int = 3,
    seed: int = 0,
) -> tuple[dict[int, float], dict[int, float]]:
    """``(wall ms, CPU ms)`` per thread count of one flatbuffer, each the lowest of
    ``repeats``.

    The thread counts alternate inside each repeat, so background load falls on all of
    them alike; the lowest value is kept (load only adds time).
    """
    config = CONFIGS[config] if isinstance(config, str) else config
    inputs = random_inputs(read_flatbuffer(data), seed=seed)
    calls = {n: make_call(config, data, threads=n, inputs=inputs) for n in threads}
    wall = {n: float("inf") for n in threads}
    cpu = dict(wall)
    for _ in range(repeats):
        for n in threads:
            median, per_call = _measure(calls[n], runs=runs, warmup=warmup)
            wall[n], cpu[n] = min(wall[n], median), min(cpu[n], per_call)
    return wall, cpu


def profile_ops(
    data: bytes,
    *,
    config: str | KernelConfig,
    threads: Sequence[int] = (1, 2),
    runs: int = 50,
    warmup: int = 5,
    repeats: int = 3,
) -> tuple[OpTiming, list[OpTiming]]:
    """``(whole graph, [each operator])``, each timed at every thread count."""
    info = read_flatbuffer(data)
    jobs: list[tuple[int, str, list[int], bytes]] = [
        (-1, "whole graph", list(info.outputs[0].shape), data)
    ]
    for op, sliced in op_models(data):
        jobs.append((op.index, op.name, list(op.outputs[0].shape), sliced))
    timings = []
    for index, name, shape, model in jobs:
        wall, cpu = time_graph(
            model,
            config=config,
            threads=threads,
            runs=runs,
            warmup=warmup,
            repeats=repeats,
            seed=index + 1,
        )
        timings.append(OpTiming(index, name, shape, wall, cpu))
    return timings[0], timings[1:]


def summarize_by_type(ops: Iterable[OpTiming], *, key: str = "ms") -> dict[str, dict[int, float]]:
    """Total milliseconds (``key`` "ms" wall or "cpu_ms") per operator type and thread
    count, largest first."""
    totals: dict[str, dict[int, float]] = {}
    for t in ops:
        row = totals.setdefault(t.op, {})
        for n, ms in getattr(t, key).items():
            row[n] = row.get(n, 0.0) + ms
    return dict(sorted(totals.items(), key=lambda kv: -max(kv[1].values())))
