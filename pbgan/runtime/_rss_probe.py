"""Child process of :func:`pbgan.runtime.local.measure_peak_rss`; prints one JSON line.

Usage: ``python -m pbgan.runtime._rss_probe '{"model": ..., "config": ..., "threads": 1,
"runs": 5}'``. Kept apart so the child imports only what the measured runtime needs.
"""

from __future__ import annotations

import gc
import json
import re
import resource
import sys
from pathlib import Path
from typing import Any

from pbgan import interpreters
from pbgan import tflite_graph as flatbuffer
from pbgan.runtime import local

_PAGE_COUNTERS = ("VmRSS", "VmHWM", "RssAnon", "RssFile")


def _status_kib() -> dict[str, int] | None:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    found = {k: re.search(rf"^{k}:\s+(\d+) kB", text, re.MULTILINE) for k in _PAGE_COUNTERS}
    if not all(found.values()):
        return None
    return {k: int(m.group(1)) for k, m in found.items()}


def _reset_peak() -> bool:
    """Make VmHWM equal the current RSS (Linux >= 4.0); False where not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    status = _status_kib()
    return status is not None and status["VmHWM"] <= status["VmRSS"]


def _maxrss_bytes() -> int:
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _load_runtime(config: interpreters.KernelConfig) -> None:
    """Import everything the configuration needs before the baseline is taken."""
    flatbuffer.tflite_schema()
    if config.runtime == "lce":
        interpreters.lce_wrapper()
    else:
        import pbgan  # noqa: F401  (selects Keras 2 before TensorFlow loads)

        from tensorflow.lite.python.interpreter import Interpreter  # noqa: F401


def probe(request: dict[str, Any]) -> dict[str, Any]:
    config = interpreters.CONFIGS[request["config"]]
    threads, runs = int(request["threads"]), int(request["runs"])
    _load_runtime(config)
    # The harness's own Python copy of the file is read before the baseline, so it does
    # not count: a device runtime loads the model once (lce_benchmark_model maps it).
    data = Path(request["model"]).read_bytes()
    info = flatbuffer.read_flatbuffer(data)
    gc.collect()

    exact = _reset_peak()
    before = _status_kib() if exact else None
    baseline = before["VmRSS"] * 1024 if before else _maxrss_bytes()

    call = local.make_call(config, data, threads=threads, inputs=local.random_inputs(info))
    for _ in range(runs):
        call()

    after = _status_kib() if exact else None
    peak = after["VmHWM"] * 1024 if after else _maxrss_bytes()
    split = {}
    if before and after:
        # Anonymous pages: the interpreter's model copy, arena, kernel buffers (what the
        # model costs). File pages: the runtime library's code as it gets touched (the
        # same for every model, shared between processes).
        split = {
            "anon_delta_bytes": max(0, after["RssAnon"] - before["RssAnon"]) * 1024,
            "file_delta_bytes": max(0, after["RssFile"] - before["RssFile"]) * 1024,
        }
    return {
        "config": config.name,
        "threads": threads,
        "runs": runs,
        "baseline_rss_bytes": baseline,
        "peak_rss_bytes": peak,
        "peak_delta_bytes": max(0, peak - baseline),
        **split,
        "method": "VmHWM after clear_refs reset minus VmRSS"
        if exact
        else "ru_maxrss growth (lower bound)",
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m pbgan.runtime._rss_probe JSON_REQUEST", file=sys.stderr)
        return 2
    print(json.dumps(probe(json.loads(argv[0]))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
