"""Per-operator latency of dcgan64 A and auto at 1 and 2 threads: where a second thread wins or loses.

    python benchmarks/profile_threads.py [--threads 1,2] [--runs 40] [--repeats 3]
        [--flatbuffers DIR] [--out benchmarks/results/threads]

The models: dcgan64 generator at full width (1.0), xnor scheme, random weights (seed of
``build_generator``), batch 1; setting A (float) timed with ``lce-default`` (its fastest
runtime in ``benchmarks/bench_generator.py``), setting ``auto`` with
``lce-indirect-bgemm`` (likewise). ``--flatbuffers DIR`` reuses ``DIR/A.tflite`` and
``DIR/auto.tflite`` instead of converting again.

LCE's Python interpreter has no op profiler and no ``lce_benchmark_model`` is built for
this machine, so each operator is cut into a flatbuffer of its own
(:mod:`pbgan.runtime.profile`) and timed with the same interpreter and kernels as the
whole graph. Two figures per operator and thread count, each the lowest over
``--repeats`` (thread counts alternate inside a repeat, so background load hits them
alike):

* wall: median milliseconds of ``predict()`` (one input and one output copy included);
* CPU: process CPU milliseconds per call, every thread summed. A thread pool that spins
  while it waits shows up here, and other processes' load inflates it far less than
  it inflates wall time.

An isolated operator finds the thread pool as its own previous call left it; inside the
graph, as the operators before it left it. So every float weighted operator (the ones
that use the pool) is also timed in context: the graph through it minus the graph
through the operator before it.

Writes ``threads.json`` and ``threads.md`` under ``--out``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from pbgan.io import atomic_write_json, atomic_write_text
from pbgan.machine import busy_cores, load_average, load_sentence, machine_info, machine_line
from pbgan.markdown import md_table
from pbgan.runtime.profile import profile_ops, sub_model, summarize_by_type, time_graph

RESOLUTION, WIDTH, SCHEME = 64, 1.0, "xnor"
# Each setting with its fastest interpreter configuration on this machine kind.
CONFIGS = {"A": "lce-default", "auto": "lce-indirect-bgemm"}
# Float operators with weights: the ones that use TFLite's thread pool.
FLOAT_WEIGHTED = ("TRANSPOSE_CONV", "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def convert(directory: Path) -> dict[str, Path]:
    import pbgan  # noqa: F401  (selects Keras 2 before TensorFlow loads)
    from pbgan.convert import convert_generator, write_conversion
    from pbgan.models import build_generator

    paths = {}
    for setting in CONFIGS:
        gen = build_generator(resolution=RESOLUTION, width=WIDTH, setting=setting, scheme=SCHEME)
        result = convert_generator(gen, setting=setting, source="dcgan64 random init")
        paths[setting] = write_conversion(result, directory / f"{setting}.tflite")[0]
    return paths


def profile(path: Path, setting: str, args: argparse.Namespace) -> dict[str, Any]:
    data = path.read_bytes()
    threads = args.threads
    options = {"threads": threads, "runs": args.runs, "warmup": args.warmup}
    options["repeats"] = args.repeats
    print(f"profiling {setting} ({CONFIGS[setting]}) ...", file=sys.stderr, flush=True)
    whole, ops = profile_ops(data, config=CONFIGS[setting], **options)
    # Each float weighted operator timed in context: the graph up to and including it,
    # minus the graph up to the operator before it. Alone, an operator finds the thread
    # pool as its previous call left it; inside the graph, after the operators before it.
    prefixes: dict[int, tuple[dict, dict]] = {}

    def prefix(last: int) -> tuple[dict, dict]:
        if last not in prefixes:
            prefixes[last] = time_graph(
                sub_model(data, 0, last), config=CONFIGS[setting], **options
            )
        return prefixes[last]

    in_context = []
    for op in ops:
        if op.op not in FLOAT_WEIGHTED or op.index < 1:
            continue
        (wall_t, cpu_t), (wall_b, cpu_b) = prefix(op.index), prefix(op.index - 1)
        in_context.append(
            {
                "index": op.index,
                "op": op.op,
                "ms": {str(n): wall_t[n] - wall_b[n] for n in threads},
                "cpu_ms": {str(n): cpu_t[n] - cpu_b[n] for n in threads},
                "alone_ms": {str(n): op.ms[n] for n in threads},
            }
        )
    return {
        "model": {
            "architecture": f"dcgan{RESOLUTION}",
            "width": WIDTH,
            "setting": setting,
            "scheme": SCHEME,
            "weights": "random init",
            "batch": 1,
        },
        "config": CONFIGS[setting],
        "whole": whole.to_dict(),
        "ops": [o.to_dict() for o in ops],
        "sum_of_ops": {
            "ms": {str(n): sum(o.ms[n] for o in ops) for n in threads},
            "cpu_ms": {str(n): sum(o.cpu_ms[n] for o in ops) for n in threads},
        },
        "by_type_cpu_ms": {
            k: {str(n): v for n, v in row.items()}
            for k, row in summarize_by_type(ops, key="cpu_ms").items()
        },
        "float_ops_in_context": in_context,
    }


def _n(value: float) -> str:
    return f"{value:.3f}"


def markdown(results: list[dict[str, Any]], machine: dict[str, Any], load: dict) -> str:
    threads = [int(n) for n in results[0]["whole"]["ms"]]
    lo, hi = str(threads[0]), str(threads[-1])
    parts = [
        "# Per-operator latency at " + " and ".join(map(str, threads)) + " threads",
        "",
        f"Machine: {machine_line(machine)}. {load_sentence(**load)} "
        "Load inflates wall times far more than CPU times.",
        "",
        "Wall: median ms of `predict()`; CPU: process CPU ms per call, all threads. Each is the "
        "lowest over the repeats. Operators are timed one at a time (`pbgan.runtime.profile`).",
    ]
    for r in results:
        m = r["model"]
        head = ["#", "op", "output"]
        head += [f"wall {n}t" for n in threads] + [f"CPU {n}t" for n in threads]
        head += [f"CPU {hi}t / {lo}t"]
        rows = []
        for o in [r["whole"], *r["ops"]]:
            rows.append(
                [
                    "all" if o["index"] < 0 else o["index"],
                    o["op"],
                    "x".join(map(str, o["output_shape"])),
                    *(_n(o["ms"][str(n)]) for n in threads),
                    *(_n(o["cpu_ms"][str(n)]) for n in threads),
                    f"{o['cpu_ms'][hi] / max(o['cpu_ms'][lo], 1e-9):.2f}",
                ]
            )
        s = r["sum_of_ops"]
        rows.append(
            ["sum", "of the operators", "", *(_n(s["ms"][str(n)]) for n in threads)]
            + [_n(s["cpu_ms"][str(n)]) for n in threads]
            + [""]
        )
        parts += [
            "",
            f"## {m['architecture']}, width {m['width']}, setting {m['setting']}, "
            f"{m['scheme']} scheme, {m['weights']}, batch {m['batch']}: `{r['config']}`",
            "",
            md_table(head, rows),
            "",
            "CPU ms per operator type: "
            + "; ".join(
                f"{k} " + " → ".join(_n(v[str(n)]) for n in threads)
                for k, v in r["by_type_cpu_ms"].items()
            ),
        ]
        if r["float_ops_in_context"]:
            parts += [
                "",
                "Float weighted operators in context (the graph through the operator minus "
                "the graph through the one before it; alone = the operator timed by itself):",
                "",
                md_table(
                    [
                        "#",
                        "op",
                        *(f"wall {n}t" for n in threads),
                        *(f"CPU {n}t" for n in threads),
                        *(f"alone {n}t" for n in threads),
                    ],  # fmt: skip
                    [
                        [c["index"], c["op"]]
                        + [
                            _n(c[key][str(n)])
                            for key in ("ms", "cpu_ms", "alone_ms")
                            for n in threads
                        ]
                        for c in r["float_ops_in_context"]
                    ],
                ),
            ]
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--flatbuffers", type=Path, help="folder with A.tflite and auto.tflite")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/threads"))
    args = parser.parse_args(argv)
    args.threads = sorted({int(t) for t in args.threads.split(",")})
    load = {"before": load_average(), "busy": busy_cores()}
    with tempfile.TemporaryDirectory() as tmp:
        if args.flatbuffers:
            paths = {s: args.flatbuffers / f"{s}.tflite" for s in CONFIGS}
        else:
            paths = convert(Path(tmp))
        results = [profile(paths[s], s, args) for s in CONFIGS]
    load["after"] = load_average()
    machine = machine_info(threads=args.threads, stack=False)
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(
        args.out / "threads.json", {"machine": machine, "load_average": load, "models": results}
    )
    atomic_write_text(args.out / "threads.md", markdown(results, machine, load))
    print(f"wrote {args.out / 'threads.json'} and {args.out / 'threads.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
