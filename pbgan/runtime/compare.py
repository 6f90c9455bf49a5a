"""Time several flatbuffers, here or on a device, as rows for a comparison report.

``models`` are ``(path, label, info, configs)`` tuples: ``info`` is the flatbuffer's
:class:`~pbgan.tflite_graph.ModelInfo` (sizes go into every row), ``configs`` the
kernel configurations to time (``None``: every one that can load the graph).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pbgan.runtime.report import ModelBench

__all__ = ["local_rows", "model_sizes", "remote_rows"]

Models = Sequence[tuple[Path, str, Any, list[str] | None]]


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)  # stderr keeps --json output clean


def local_rows(
    models: Models,
    *,
    threads: Sequence[int],
    runs: int,
    warmup: int,
    memory: bool,
) -> list[ModelBench]:
    """Every model with every configuration at every thread count, on this machine.

    ``memory``: also the peak RSS of each model's fastest configuration, measured in a
    fresh process.
    """
    from pbgan.runtime.local import bench_local, best, measure_peak_rss

    rows = []
    for path, label, info, configs in models:
        for n in threads:
            progress(f"timing {label} with {n} thread(s) ...")
            results = bench_local(
                path, threads=n, runs=runs, warmup=warmup, configs=configs, label=label
            )
            probes = {}
            if memory:
                winner = best(results)
                probes[winner.config] = measure_peak_rss(path, config=winner.config, threads=n)
            rows.extend(
                ModelBench(
                    model=label,
                    config=r.config,
                    threads=n,
                    median_ms=r.median_ms,
                    p10_ms=r.p10_ms,
                    p90_ms=r.p90_ms,
                    **model_sizes(info),
                    peak_rss_bytes=probes.get(r.config, {}).get("peak_delta_bytes"),
                    anon_rss_bytes=probes.get(r.config, {}).get("anon_delta_bytes"),
                )
                for r in results
            )
    return rows


def remote_rows(
    runner: Any,
    binary: Path,
    models: Models,
    *,
    threads: Sequence[int],
    runs: int,
    warmup: int,
) -> list[ModelBench]:
    """The same on a device, through ``runner`` (ssh or adb) and ``lce_benchmark_model``."""
    from pbgan.runtime.remote import REMOTE_CONFIGS

    rows = []
    for path, label, info, configs in models:
        for n in threads:
            for config in configs:
                progress(f"timing {label} on {runner.label}: {config}, {n} thread(s) ...")
                r = runner.run_benchmark(
                    path,
                    binary,
                    threads=n,
                    runs=runs,
                    warmup_runs=warmup,
                    extra_flags=REMOTE_CONFIGS[config],
                )
                rows.append(
                    ModelBench(
                        model=label,
                        config=config,
                        threads=n,
                        median_ms=r.avg_ms,
                        where=runner.label,
                        **model_sizes(info),
                        peak_rss_bytes=None
                        if r.peak_mem_mb is None
                        else int(r.peak_mem_mb * 1024 * 1024),
                        latency_kind="avg",
                    )
                )
    return rows


def model_sizes(info: Any) -> dict[str, int]:
    """The flatbuffer's size fields of a :class:`ModelBench` row."""
    return {
        "size_bytes": info.size_bytes,
        "binary_weight_bytes": info.binary_weight_bytes,
        "float_weight_bytes": info.float_weight_bytes,
        "arena_bytes": info.activation_arena_bytes,
    }
