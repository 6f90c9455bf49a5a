"""Latency and memory of dcgan64 A, F and auto (xnor, random init, batch 1), side by side.

    python benchmarks/bench_generator.py [--threads 1,2] [--runs 100] [--out benchmarks/results/generator]

Converts the three generators with every check of `pbgan convert`, then runs
`pbgan bench` on them in one process: each binary model with every LCE kernel option,
the float model A as the baseline with every float runtime available (LCE's
interpreter with and without XNNPACK, TensorFlow Lite's own with and without it),
the fastest of which is the baseline. Peak RSS is measured in fresh processes.
Writes report.md / report.json / report.png under --out.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import pbgan  # noqa: F401  (selects Keras 2 before TensorFlow loads)
from pbgan.cli import main as pbgan_main
from pbgan.convert import convert_generator, write_conversion
from pbgan.models import build_generator

SETTINGS = ("A", "F", "auto")


def convert_all(directory: Path, *, resolution: int = 64, width: float = 1.0) -> dict[str, Path]:
    paths = {}
    for setting in SETTINGS:
        gen = build_generator(resolution=resolution, width=width, setting=setting, scheme="xnor")
        result = convert_generator(gen, setting=setting, source=f"dcgan{resolution} random init")
        paths[setting] = write_conversion(result, directory / f"{setting}.tflite")[0]
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--out", default="benchmarks/results/generator")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        paths = convert_all(Path(tmp))
        bench_args = ["bench", str(paths["F"]), str(paths["auto"]), "--baseline", str(paths["A"])]
        bench_args += ["--threads", args.threads, "--runs", str(args.runs), "--report", args.out]
        return pbgan_main(bench_args, standalone_mode=False) or 0


if __name__ == "__main__":
    sys.exit(main())
