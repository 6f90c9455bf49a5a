"""Training-step time of settings A, F, H and auto on this machine, interleaved.

    python benchmarks/bench_train_step.py [--arch dcgan32] [--width 0.25] [--batch 64]
        [--rounds 10] [--steps 5] [--scheme bwn] [--threads 2]

Every setting's GAN is built and warmed up first (tracing, first-touch allocation);
then ``--rounds`` rounds each time ``--steps`` ``train_on_batch`` calls of every
setting in turn (A, F, H, auto, A, F, ...), on one fixed batch, so that a change of
load on a shared machine reaches every setting alike. Reported per setting: the
fastest round (per step), the median and the spread (p10-p90 of the rounds); ratios
are A / setting on the fastest rounds (> 1 means faster than A). TensorFlow's intra-op
and inter-op thread pools are set to ``--threads`` (default: the usable cores) before
anything runs, and the JSON records the value TensorFlow reports back.

larq trains binarized layers by *simulating* them: the latent float weights are kept,
``sign`` is applied on every forward pass and the straight-through gradient on every
backward pass, and the convolution itself is still a float convolution. So on a
CPU or GPU a binarized layer costs a little *more* than a float one in training; the
paper's 1.32x training speed-up for F assumes binary arithmetic in training too, and
cannot appear here.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import pbgan  # noqa: F401  (selects Keras 2 before TensorFlow loads)
from pbgan.io import atomic_write_json
from pbgan.machine import busy_cores, load_average, machine_info
from pbgan.markdown import md_table
from pbgan.models import build_discriminator, build_generator
from pbgan.settings import ARCHITECTURES, NegativeDoRWarning, get_setting
from pbgan.train.gan import GAN

import numpy as np
import tensorflow as tf

SETTINGS = ("A", "F", "H", "auto")


def build_gan(setting: str, *, scheme: str, architecture: str, width: float, jit: bool) -> GAN:
    s = get_setting(setting)
    resolution = ARCHITECTURES[architecture]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NegativeDoRWarning)
        gen = build_generator(resolution=resolution, width=width, setting=s, scheme=scheme)
    disc = build_discriminator(resolution=resolution, width=width, binary=s.binary_discriminator)
    gan = GAN(gen, disc)
    gan.compile(
        g_optimizer=tf.keras.optimizers.Adam(2e-4, beta_1=0.5),
        d_optimizer=tf.keras.optimizers.Adam(2e-4, beta_1=0.5),
        jit_compile=jit,
    )
    return gan


def interleaved_times(
    gans: dict[str, GAN], real: tf.Tensor, *, rounds: int, steps: int, warmup: int
) -> dict[str, list[float]]:
    """Seconds per step of each GAN, one value per round; rounds visit every GAN in turn."""
    for gan in gans.values():
        for _ in range(warmup):
            gan.train_on_batch(real)
    times: dict[str, list[float]] = {name: [] for name in gans}
    for r in range(rounds):
        for name, gan in gans.items():
            start = time.perf_counter()
            for _ in range(steps):
                gan.train_on_batch(real)
            times[name].append((time.perf_counter() - start) / steps)
        print(f"round {r + 1}/{rounds}", file=sys.stderr, flush=True)
    return times


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="dcgan32", choices=list(ARCHITECTURES))
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--steps", type=int, default=5, help="Steps timed per round.")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--scheme", default="bwn", choices=["bwn", "xnor"])
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--jit", action="store_true", help="XLA-compile the train step")
    parser.add_argument("--out", default="benchmarks/results/train_step.json")
    args = parser.parse_args(argv)
    load_before, busy = load_average(), busy_cores()

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    kw = dict(scheme=args.scheme, architecture=args.arch, width=args.width, jit=args.jit)
    gans = {setting: build_gan(setting, **kw) for setting in SETTINGS}
    size = ARCHITECTURES[args.arch]
    real = tf.constant(
        np.random.default_rng(0).uniform(-1, 1, (args.batch, size, size, 3)).astype("float32")
    )
    times = interleaved_times(gans, real, rounds=args.rounds, steps=args.steps, warmup=args.warmup)
    rows = []
    for setting, ts in times.items():
        p10, p90 = np.percentile(ts, [10, 90])
        rows.append(
            {
                "setting": setting,
                "min_s": min(ts),
                "median_s": statistics.median(ts),
                "p10_s": float(p10),
                "p90_s": float(p90),
                "round_s": ts,
            }
        )
    base = rows[0]["min_s"]
    for r in rows:
        r["speedup_vs_A"] = base / r["min_s"]
    cells = [
        [
            r["setting"],
            _ms(r["min_s"]),
            _ms(r["median_s"]),
            f"{_ms(r['p10_s'])} - {_ms(r['p90_s'])}",
            f"{r['speedup_vs_A']:.2f}x",
        ]
        for r in rows
    ]
    print("\n" + md_table(["setting", "fastest", "median", "p10 - p90", "A / setting"], cells))
    threads = {
        "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
    }
    atomic_write_json(
        Path(args.out),
        {
            "machine": machine_info(threads=threads["intra_op"]),
            "threads": threads,
            "load_average": {"before": load_before, "after": load_average(), "busy": busy},
            "args": vars(args),
            "order": "interleaved: each round times every setting in turn",
            "rows": rows,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
