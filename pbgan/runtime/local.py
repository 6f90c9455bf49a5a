"""Time a flatbuffer on this machine with every interpreter configuration that can run it.

Which configurations
--------------------
* A graph with LCE ops (``LceBconv2d`` ...) runs only in LCE's interpreter; its bconv
  kernel is the choice that matters (``lce-default``, ``lce-indirect-bgemm``,
  ``lce-reference-bconv``). On x86-64 the default path can be several times slower than
  the indirect BGEMM kernel, so reporting only one of them would mislead.
* A float-only graph is timed in LCE's interpreter with and without the XNNPACK
  delegate, and in TensorFlow Lite's own ``tf.lite.Interpreter`` with its builtin
  kernels and with its default XNNPACK delegate. The fair float baseline is the fastest
  of these (:func:`best`), never one picked in advance.

What is timed
-------------
``time.perf_counter`` around one inference call, after ``warmup`` untimed calls.
LCE's Python wrapper exposes only ``predict(list_of_arrays)``: each call copies the
input into the input tensor, invokes, and copies every output into a new array (a few
microseconds for a latent in and a 64x64x3 image out). ``tf.lite.Interpreter`` has
``set_tensor``/``invoke`` apart, so its input is set once and only ``invoke()`` is
timed. The copies therefore count against LCE configurations only, which can only
flatter the float baseline. The input is a standard-normal latent (or uniform integers
for integer inputs) of the shapes stored in the flatbuffer, batch dimension included.

Interpreters come from :mod:`pbgan.interpreters` (LCE's wrapper without TensorFlow;
TensorFlow only for ``tflite-*`` configurations).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from pbgan.interpreters import (
    BINARY_CONFIGS,
    CONFIGS,
    FLOAT_CONFIGS,
    InterpreterError,
    KernelConfig,
    lce_interpreter,
    tflite_interpreter,
)
from pbgan.tflite_graph import ModelInfo, read_flatbuffer

import numpy as np

__all__ = [
    "BINARY_CONFIGS",
    "CONFIGS",
    "FLOAT_CONFIGS",
    "BenchError",
    "BenchResult",
    "KernelConfig",
    "bench_local",
    "best",
    "default_configs",
    "measure_peak_rss",
    "random_inputs",
]


class BenchError(RuntimeError):
    """A benchmark that cannot run; the message is one line naming the fix."""


@dataclasses.dataclass
class BenchResult:
    model: str
    config: str
    runtime: str
    threads: int
    median_ms: float
    p10_ms: float
    p90_ms: float
    mean_ms: float
    times_ms: list[float]
    timed: str  # what one timed call covers

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def default_configs(info: ModelInfo) -> tuple[str, ...]:
    """Kernel choices for a graph with LCE ops, float runtimes for a float-only one."""
    return BINARY_CONFIGS if info.has_lce_ops else FLOAT_CONFIGS


def resolve_configs(
    configs: Iterable[str | KernelConfig] | None, info: ModelInfo
) -> list[KernelConfig]:
    """Names or objects -> configs, refusing ones that cannot load this graph."""
    chosen = []
    for c in default_configs(info) if configs is None else configs:
        if isinstance(c, str):
            if c not in CONFIGS:
                raise BenchError(f"unknown config {c!r}; choose from {', '.join(CONFIGS)}")
            c = CONFIGS[c]
        if info.has_lce_ops and not c.runs_lce_ops:
            raise BenchError(
                f"{c.name} cannot run LCE custom ops; use an lce-* config for binary graphs"
            )
        chosen.append(c)
    if not chosen:
        raise BenchError("no configuration to run; pass at least one config name")
    return chosen


def best(results: Sequence[BenchResult]) -> BenchResult:
    """The result with the lowest median latency."""
    if not results:
        raise ValueError("no results to choose from; run bench_local first")
    return min(results, key=lambda r: r.median_ms)


def random_inputs(info: ModelInfo, *, seed: int = 0) -> list[np.ndarray]:
    """One array per model input: standard normal for floats, small integers otherwise."""
    rng = np.random.default_rng(seed)
    arrays = []
    for t in info.inputs:
        shape = tuple(max(d, 1) for d in t.shape)  # a dynamic (-1) dimension runs as 1
        if t.dtype.startswith("float"):
            arrays.append(rng.standard_normal(shape).astype(t.dtype))
        elif t.dtype == "bool":
            arrays.append(rng.integers(0, 2, shape).astype(bool))
        else:
            arrays.append(rng.integers(-8, 8, shape).astype(t.dtype))
    return arrays


def _lce_call(
    config: KernelConfig, model: bytes, threads: int, inputs: list[np.ndarray]
) -> Callable[[], Any]:
    interpreter = lce_interpreter(model, threads=threads, config=config)
    return lambda: interpreter.predict(inputs)


def _tflite_call(
    config: KernelConfig, model: bytes, threads: int, inputs: list[np.ndarray]
) -> Callable[[], Any]:
    interpreter = tflite_interpreter(model, threads=threads, use_xnnpack=config.use_xnnpack)
    for detail, array in zip(interpreter.get_input_details(), inputs, strict=True):
        interpreter.set_tensor(detail["index"], array)
    return interpreter.invoke


def make_call(
    config: KernelConfig, model: bytes, *, threads: int, inputs: list[np.ndarray]
) -> Callable[[], Any]:
    """A zero-argument function running one inference with ``config``."""
    factory = _lce_call if config.runtime == "lce" else _tflite_call
    try:
        call = factory(config, model, threads, inputs)
        call()  # surfaces op-resolution and shape errors before any timing
    except BenchError:
        raise
    except InterpreterError as err:
        raise BenchError(str(err)) from err
    except Exception as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise BenchError(f"{config.name} cannot run this model: {first}") from err
    return call


def time_calls(call: Callable[[], Any], *, runs: int, warmup: int) -> list[float]:
    """Milliseconds of each of ``runs`` calls, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1e3)
    return times


def time_alternating(
    calls: dict[str, Callable[[], Any]], *, rounds: int, repeat: int = 10
) -> dict[str, list[float]]:
    """Milliseconds per call of each of ``calls``, one figure per round: every round
    runs each call ``repeat`` times, the calls in turn, so slow drift of the machine
    (load, frequency) reaches all of them alike (an A/B in one process)."""
    times: dict[str, list[float]] = {k: [] for k in calls}
    for _ in range(rounds):
        for k, call in calls.items():
            start = time.perf_counter()
            for _ in range(repeat):
                call()
            times[k].append((time.perf_counter() - start) / repeat * 1e3)
    return times


def summarize(
    times_ms: list[float], *, model: str, config: KernelConfig, threads: int
) -> BenchResult:
    p10, p50, p90 = np.percentile(times_ms, [10, 50, 90])
    return BenchResult(
        model=model,
        config=config.name,
        runtime=config.runtime,
        threads=threads,
        median_ms=float(p50),
        p10_ms=float(p10),
        p90_ms=float(p90),
        mean_ms=float(np.mean(times_ms)),
        times_ms=[float(t) for t in times_ms],
        timed="predict(): input copy + invoke + output copy"
        if config.runtime == "lce"
        else "invoke()",
    )


def load_model_bytes(model: bytes | str | os.PathLike) -> tuple[bytes, str]:
    """Bytes and a label (the file name) for a path or for bytes given directly."""
    if isinstance(model, bytes | bytearray | memoryview):
        return bytes(model), "model"
    path = Path(model)
    if not path.is_file():
        raise BenchError(f"{path} does not exist; pass a .tflite file written by `pbgan convert`")
    return path.read_bytes(), path.name


def bench_local(
    model: bytes | str | os.PathLike,
    *,
    threads: int = 1,
    runs: int = 50,
    warmup: int = 5,
    configs: Iterable[str | KernelConfig] | None = None,
    seed: int = 0,
    label: str | None = None,
) -> list[BenchResult]:
    """Time ``model`` with each configuration (default: :func:`default_configs`)."""
    if threads < 1 or runs < 1 or warmup < 0:
        raise BenchError("threads and runs must be >= 1 and warmup >= 0")
    data, name = load_model_bytes(model)
    info = read_flatbuffer(data)
    inputs = random_inputs(info, seed=seed)
    results = []
    for config in resolve_configs(configs, info):
        call = make_call(config, data, threads=threads, inputs=inputs)
        times = time_calls(call, runs=runs, warmup=warmup)
        del call  # free this interpreter before the next one is built
        results.append(summarize(times, model=label or name, config=config, threads=threads))
    return results


def measure_peak_rss(
    model_path: str | os.PathLike,
    *,
    config: str = "lce-default",
    threads: int = 1,
    runs: int = 5,
    timeout: float = 300.0,
) -> dict[str, Any]:
    """Peak resident memory of loading and running the model, in a fresh process.

    The child (``pbgan.runtime._rss_probe``) imports numpy and the interpreter module of
    ``config`` (LCE's wrapper alone; for ``tflite-*`` all of TensorFlow) and reads the
    model file, then resets the kernel's peak-RSS counter (``/proc/self/clear_refs`` = 5)
    and records ``VmRSS`` as the baseline, so the harness's own Python copy of the file
    does not count. It then builds the interpreter, runs ``runs`` inferences and reads
    ``VmHWM``. ``peak_delta_bytes = VmHWM - baseline``: the interpreter's copy of the
    model, its arena and kernel scratch, thread stacks, and the pages of the runtime's
    code the run touched. Where ``/proc/self/status`` splits them (Linux),
    ``anon_delta_bytes`` is the anonymous growth after the runs (what the model holds:
    its copy, arena, kernel buffers) and ``file_delta_bytes`` the file-backed growth (the
    runtime library's code, the same for every model). Where the counter cannot be reset
    (not Linux, or no permission) the child reports the growth of ``ru_maxrss`` instead,
    which misses memory that stays below the import-time peak; ``method`` says which was
    used.
    """
    path = Path(model_path)
    if not path.is_file():
        raise BenchError(f"{path} does not exist; pass a .tflite file written by `pbgan convert`")
    if config not in CONFIGS:
        raise BenchError(f"unknown config {config!r}; choose from {', '.join(CONFIGS)}")
    request = {"model": str(path.resolve()), "config": config, "threads": threads, "runs": runs}
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pbgan.runtime._rss_probe", json.dumps(request)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"memory probe timed out after {timeout:.0f} s; raise timeout") from None
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchError(f"memory probe failed for {path.name} with {config}: {last}")
    return json.loads(lines[-1])
