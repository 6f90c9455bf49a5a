"""Training-step time of settings A, F, H and auto on this machine, in one process.

    python benchmarks/bench_train_step.py [--width 1.0] [--batch 64] [--steps 10] [--scheme bwn]

Each setting builds its GAN, runs warm-up steps (tracing, first-touch allocation),
then times ``--steps`` ``train_on_batch`` calls on one fixed real batch. The figure is
the median step time; ratios are A / setting (> 1 means faster than A).

larq trains binarized layers by *simulating* them: the latent float weights are kept,
``sign`` is applied on every forward pass and the straight-through gradient on every
backward pass, and the convolution itself is still a float convolution. So on a
CPU or GPU a binarized layer costs a little *more* than a float one in training; the
paper's 1.32x training speed-up for F assumes binary arithmetic in training too.
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
from pbgan.machine import machine_info
from pbgan.markdown import md_table
from pbgan.models import build_discriminator, build_generator
from pbgan.settings import NegativeDoRWarning, get_setting
from pbgan.train.gan import GAN

import numpy as np
import tensorflow as tf

SETTINGS = ("A", "F", "H", "auto")


def step_times(
    setting: str, *, scheme: str, width: float, batch: int, steps: int, warmup: int, jit: bool
):
    s = get_setting(setting)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NegativeDoRWarning)
        gen = build_generator(width=width, setting=s, scheme=scheme)
    disc = build_discriminator(width=width, binary=s.binary_discriminator)
    gan = GAN(gen, disc)
    gan.compile(
        g_optimizer=tf.keras.optimizers.Adam(2e-4, beta_1=0.5),
        d_optimizer=tf.keras.optimizers.Adam(2e-4, beta_1=0.5),
        jit_compile=jit,
    )
    real = tf.constant(
        np.random.default_rng(0).uniform(-1, 1, (batch, 64, 64, 3)).astype("float32")
    )
    for _ in range(warmup):
        gan.train_on_batch(real)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        gan.train_on_batch(real)
        times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--scheme", default="bwn", choices=["bwn", "xnor"])
    parser.add_argument("--jit", action="store_true", help="XLA-compile the train step")
    parser.add_argument("--out", default="benchmarks/results/train_step.json")
    args = parser.parse_args(argv)

    rows = []
    for setting in SETTINGS:
        times = step_times(
            setting,
            scheme=args.scheme,
            width=args.width,
            batch=args.batch,
            steps=args.steps,
            warmup=args.warmup,
            jit=args.jit,
        )
        rows.append({"setting": setting, "median_s": statistics.median(times), "times_s": times})
        print(f"{setting:>5}: median {rows[-1]['median_s'] * 1e3:.0f} ms/step", flush=True)
    base = rows[0]["median_s"]
    for r in rows:
        r["speedup_vs_A"] = base / r["median_s"]
    cells = [
        [r["setting"], f"{r['median_s'] * 1e3:.0f} ms", f"{r['speedup_vs_A']:.2f}x"] for r in rows
    ]
    print("\n" + md_table(["setting", "median step", "A / setting"], cells))
    atomic_write_json(
        Path(args.out),
        {
            # 0 means "TensorFlow's default", which is every core of the machine.
            "machine": machine_info(
                threads=tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count()
            ),
            "args": vars(args),
            "rows": rows,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
