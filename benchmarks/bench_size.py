"""Model size of dcgan64 A, F and auto (xnor scheme, random init), in one run.

    python benchmarks/bench_size.py [--out benchmarks/results/size.json]

Every conversion goes through the same checks as `pbgan convert` (binary ops exactly
where the plan binarizes, parity with Keras). Ratios are against setting A.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pbgan  # noqa: F401  (selects Keras 2 before TensorFlow loads)
from pbgan.convert import convert_generator
from pbgan.io import atomic_write_json
from pbgan.machine import machine_info
from pbgan.markdown import md_table
from pbgan.models import build_generator
from pbgan.tflite_graph import format_bytes

SETTINGS = ("A", "F", "auto")


def measure(resolution: int = 64, width: float = 1.0) -> list[dict]:
    rows = []
    for setting in SETTINGS:
        gen = build_generator(resolution=resolution, width=width, setting=setting, scheme="xnor")
        m = convert_generator(gen, setting=setting, source="random init").manifest
        rows.append(
            {
                "setting": setting,
                "size_bytes": m["size_bytes"],
                "binary_constant_bytes": m["binary_constant_bytes"],
                "float_constant_bytes": m["float_constant_bytes"],
                "lce_bconv2d": m["ops"].get("LceBconv2d", 0),
                "parity_max_abs_err": m["parity_max_abs_err"],
            }
        )
    base = rows[0]["size_bytes"]
    for row in rows:
        row["smaller_than_A"] = base / row["size_bytes"]
    return rows


def markdown(rows: list[dict]) -> str:
    header = [
        "setting",
        "flatbuffer",
        "binary weights",
        "float weights",
        "LceBconv2d",
        "A / setting",
    ]
    return md_table(
        header,
        [
            [
                r["setting"],
                format_bytes(r["size_bytes"]),
                format_bytes(r["binary_constant_bytes"]),
                format_bytes(r["float_constant_bytes"]),
                r["lce_bconv2d"],
                f"{r['smaller_than_A']:.2f}x",
            ]
            for r in rows
        ],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/size.json")
    args = parser.parse_args(argv)
    rows = measure()
    table = markdown(rows)
    print(table)
    atomic_write_json(Path(args.out), {"machine": machine_info(), "rows": rows})
    Path(args.out).with_suffix(".md").write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
