"""The float tail of xnor auto, A/B/C: interleaved, fused phase by phase, and fused with
every float tail operator after the last bconv; arena estimate and 1/2-thread latency.

    python benchmarks/tail_forms.py [--rounds 30] [--out benchmarks/results/tail_forms.json]

dcgan64 at full width, xnor ``auto``, random init (seed 0), batch 1. The three
flatbuffers hold the same weights: (a) deconv4 after the interleaved phases of deconv3
(``fold_batch_norms`` without ``fuse_tails``), (b) what ``pbgan convert`` writes (the
tail fused phase by phase, operators in the arena order of
:mod:`pbgan.convert.schedule`), (c) the same operators as (b) with the fused tail's
float operators moved after the last ``LceBconv2d`` (one stretch of float work, as in
(a)). Rounds alternate the three (10 inferences each) at 1 thread (``lce-indirect-bgemm``)
and at 2 threads (``lce-indirect-bgemm-xnnpack``, the fastest 2-thread configuration);
prints and writes the fastest and median round per inference.
"""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

import pbgan  # noqa: F401  (selects Keras 2 before TensorFlow loads)
from pbgan.convert import convert_generator
from pbgan.convert.fold import fold_batch_norms
from pbgan.convert.schedule import reorder_operators, schedule_for_memory
from pbgan.interpreters import lce_interpreter
from pbgan.io import atomic_write_json
from pbgan.machine import busy_cores, machine_info
from pbgan.models import build_generator
from pbgan.runtime.local import time_alternating
from pbgan.tflite_graph import read_flatbuffer

import numpy as np
import tensorflow as tf

CONFIGS = {1: "lce-indirect-bgemm", 2: "lce-indirect-bgemm-xnnpack"}


def float_last(data: bytes) -> bytes:
    """``data`` with every operator downstream of the last four bconvs (the fused tail)
    after the last bconv, in their order."""
    info = read_flatbuffer(data)
    produced = {t.index: op.index for op in info.ops for t in op.outputs}
    tail = set([op.index for op in info.ops if op.name == "LceBconv2d"][-4:])
    for op in info.ops:
        if any(produced.get(t.index) in tail for t in op.inputs):
            tail.add(op.index)
    moved = [op.index for op in info.ops if op.index in tail and op.name != "LceBconv2d"]
    return reorder_operators(data, [i for i in range(len(info.ops)) if i not in moved] + moved)


def forms() -> dict[str, bytes]:
    import larq_compute_engine as lce

    tf.keras.utils.set_random_seed(0)
    gen = build_generator(resolution=64, width=1.0, setting="auto", scheme="xnor")
    fused = convert_generator(gen, setting="auto").flatbuffer
    plain = schedule_for_memory(lce.convert_keras_model(fold_batch_norms(gen).model))[0]
    return {"interleaved": plain, "fused": fused, "fused, float last": float_last(fused)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--out", default="benchmarks/results/tail_forms.json")
    args = parser.parse_args()
    busy = busy_cores()
    models = forms()
    z = [np.random.default_rng(0).normal(size=(1, 100)).astype("float32")]
    rows = []
    for threads, config in CONFIGS.items():
        its = {k: lce_interpreter(m, threads=threads, config=config) for k, m in models.items()}
        calls = {k: partial(it.predict, z) for k, it in its.items()}
        for k, v in time_alternating(calls, rounds=args.rounds).items():
            row = {
                "form": k,
                "threads": threads,
                "config": config,
                "fastest_ms": min(v),
                "median_ms": float(np.median(v)),
                "arena_estimate_bytes": read_flatbuffer(models[k]).activation_arena_bytes,
                "size_bytes": len(models[k]),
            }
            rows.append(row)
            print(
                f"{k:<18} {threads} thread(s) {config:<27} fastest {row['fastest_ms']:.2f} ms, "
                f"median {row['median_ms']:.2f} ms, arena {row['arena_estimate_bytes']:,} B"
            )
    report = {
        "model": "dcgan64 width 1.0, xnor auto, random init (seed 0), batch 1",
        "rounds": args.rounds,
        "busy_cores_before": busy,
        "machine": machine_info(threads=list(CONFIGS)),
        "rows": rows,
    }
    atomic_write_json(Path(args.out), report)
    print(f"wrote {args.out} ({busy} cores busy in the second before the run)")


if __name__ == "__main__":
    main()
