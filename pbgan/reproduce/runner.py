"""Everything: plan the runs, run each stage, draw the figures, write the report.

:func:`run_reproduction` is what ``pbgan reproduce`` calls. Progress messages go to
``report`` (one line each); a progress bar over the runs is drawn on stderr when it is
a terminal, and the messages are written above it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pbgan.io import atomic_write_json, atomic_write_text
from pbgan.machine import machine_info
from pbgan.metrics.evaluate import progress
from pbgan.paper import TABLE1_DOR, TABLE3_SWD, TABLE4_F_INFERENCE_SPEEDUP, TABLE4_F_MEMORY_RATIO
from pbgan.reproduce.figures import make_figures
from pbgan.reproduce.plan import ReproduceConfig, plan_runs
from pbgan.reproduce.records import main_swd
from pbgan.reproduce.redundancy import (
    binarization_experiment,
    dor_tables,
    paper_single_layer_dors,
    single_layer_dors,
)
from pbgan.reproduce.report import render_report
from pbgan.reproduce.rules import inferences
from pbgan.reproduce.stages import RealImages, check_existing_run, measure_noise_floor, run_one
from pbgan.settings import ARCHITECTURES

import tensorflow as tf
from tqdm import tqdm

__all__ = ["run_reproduction"]


@contextlib.contextmanager
def _run_bar(total: int, report: Callable[[str], None]) -> Iterator[tuple[tqdm, Callable]]:
    """A bar over the runs, and a ``report`` that clears the bar while it writes a line."""
    # disable=None (tqdm's default is False): no bar when stderr is a file or a pipe, so
    # logs hold the report lines only.
    bar = tqdm(total=total, desc="reproduce", unit="run", file=sys.stderr, disable=None)
    with bar:

        def above_bar(message: str) -> None:
            with tqdm.external_write_mode(file=sys.stderr):
                report(message)

        yield bar, above_bar


def run_reproduction(
    config: ReproduceConfig, report: Callable[[str], None] = progress
) -> dict[str, Any]:
    """Train, evaluate, convert, bench and write the report; returns report.json's content."""
    start = time.perf_counter()
    config.validate()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    specs = plan_runs(config)
    for spec in specs:
        check_existing_run(spec, out / "runs" / spec.name, config)
    report(f"reproduce: {len(specs)} runs into {out}")
    tables = dor_tables(config)
    binarization = binarization_experiment(out, report)
    runs: list[dict] = []
    floors: dict[int, dict] = {}
    with _run_bar(len(specs), report) as (bar, say):
        for arch in config.architectures():
            reals = RealImages(config, ARCHITECTURES[arch], say)
            floors[reals.resolution] = measure_noise_floor(out, config, reals, say)
            for spec in (s for s in specs if s.architecture == arch):
                tag = f"[{len(runs) + 1}/{len(specs)}] {spec.name} ({spec.architecture})"
                runs.append(run_one(spec, config, out, reals, tag, say))
                tf.keras.backend.clear_session()  # one run's graphs must not pile up
                bar.update()
            del reals
    report("reproduce: figures and report")
    figures = make_figures(out, runs, floors, tables, config)
    main_floor = floors[config.resolution]["noise_floor_x1e3"]["avg"]
    summary = {
        "command": config.command(),
        "config": {
            **dataclasses.asdict(config),
            "out": str(config.out),
            "resolution": config.resolution,
        },
        "machine": machine_info(),
        "wall_seconds": 0.0,
        "train_seconds": float(sum(r["train_seconds"] for r in runs)),
        "paper": {
            "swd_x1e3": TABLE3_SWD,
            "table1_dor": TABLE1_DOR,
            "f_memory_ratio": TABLE4_F_MEMORY_RATIO,
            "f_speedup": TABLE4_F_INFERENCE_SPEEDUP,
        },
        "tables": tables,
        "noise_floor": {str(r): f for r, f in floors.items()},
        "runs": runs,
        "inferences": inferences(
            main_swd(runs),
            single_layer_dors(tables["chosen"]["layers"]),
            main_floor,
            paper_single_layer_dors(),
        ),
        "binarization_error": binarization,
        "files": {
            "report": str(out / "REPORT.md"),
            "json": str(out / "report.json"),
            "figures": figures,
        },
    }
    summary["wall_seconds"] = round(time.perf_counter() - start, 1)
    atomic_write_json(out / "report.json", summary)
    atomic_write_text(out / "REPORT.md", render_report(summary))
    report(f"reproduce: wrote {out / 'REPORT.md'} in {summary['wall_seconds']:.0f} s")
    return summary
