"""Wall time of ``pbgan --help`` and every subcommand's ``--help``, as a user starts them.

    python benchmarks/bench_cli_help.py [--runs 10] [--out benchmarks/results/cli_help.json]

Each command is started as a fresh process (the installed ``pbgan`` script next to this
Python), so interpreter start-up and imports count, as they do for a user. The target
is under 1 s: building the command list must not import TensorFlow. Records the
minimum, median and maximum of ``--runs`` starts per command, and the machine.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from pbgan.io import atomic_write_json
from pbgan.machine import machine_info
from pbgan.markdown import md_table

COMMANDS = (
    "",
    "analyze",
    "train",
    "convert",
    "bench",
    "evaluate",
    "reproduce",
    "inspect",
    "demo",
    "android-assets",
)


def pbgan_script() -> str:
    beside = Path(sys.executable).with_name("pbgan")
    return str(beside) if beside.exists() else (shutil.which("pbgan") or "pbgan")


def time_help(command: str, runs: int) -> list[float]:
    argv = [pbgan_script(), *([command] if command else []), "--help"]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--out", default="benchmarks/results/cli_help.json")
    args = parser.parse_args(argv)
    rows = []
    for command in COMMANDS:
        times = time_help(command, args.runs)
        rows.append(
            {
                "command": f"pbgan {command} --help".replace("  ", " "),
                "min_s": min(times),
                "median_s": statistics.median(times),
                "max_s": max(times),
            }
        )
    table = md_table(
        ["command", "min s", "median s", "max s"],
        [
            [r["command"], f"{r['min_s']:.3f}", f"{r['median_s']:.3f}", f"{r['max_s']:.3f}"]
            for r in rows
        ],
    )
    print(table)
    atomic_write_json(
        Path(args.out), {"machine": machine_info(stack=False), "runs": args.runs, "rows": rows}
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
