"""The whole reproduction: plan the runs, find what is done, train the rest (``jobs``
at a time), evaluate, convert and bench, draw the figures, write the report.

:func:`run_reproduction` is what ``pbgan reproduce`` calls; :func:`export_reproduction`
copies the small summary of every run (``--summaries-to``) and rebuilds the report from
it alone. A planned run that is not in the folder, or has not trained ``--epochs``
epochs, is neither evaluated nor converted: it is listed as missing (``report.json``'s
``missing``) and every table says which setting x scheme was not run, so a report over
a reproduction done in batches shows what it stands on. Progress messages go to
``report`` (one line each); a progress bar over the runs is drawn on stderr when it is
a terminal, and the messages are written above it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pbgan.io import atomic_write_json, atomic_write_text
from pbgan.machine import machine_info
from pbgan.metrics.evaluate import progress
from pbgan.paper import TABLE1_DOR, TABLE3_SWD, TABLE4_F_INFERENCE_SPEEDUP, TABLE4_F_MEMORY_RATIO
from pbgan.reproduce.figures import FIGURES, make_figures
from pbgan.reproduce.plan import (
    EVAL_SEED,
    ReproduceConfig,
    ReproduceError,
    RunSpec,
    binarizes_nothing,
    deploys,
    plan_runs,
)
from pbgan.reproduce.pool import TrainTask, train_all
from pbgan.reproduce.records import aggregate_runs, quality
from pbgan.reproduce.redundancy import (
    binarization_experiment,
    dor_tables,
    paper_single_layer_dors,
    single_layer_dors,
)
from pbgan.reproduce.report import render_report
from pbgan.reproduce.rules import deployable_gap, inferences
from pbgan.reproduce.stages import RealImages, check_existing_run, finish_run, measure_noise_floor
from pbgan.reproduce.summaries import (
    export_generators,
    export_summaries,
    kept_generators,
    last_epoch,
    locate,
    training_dir,
)
from pbgan.runs import GENERATOR
from pbgan.settings import ARCHITECTURES

from tqdm import tqdm

__all__ = ["export_reproduction", "run_reproduction"]

Report = Callable[[str], None]


@contextlib.contextmanager
def _run_bar(total: int, report: Report, desc: str) -> Iterator[tuple[tqdm, Callable]]:
    """A bar over the runs, and a ``report`` that clears the bar while it writes a line."""
    # disable=None (tqdm's default is False): no bar when stderr is a file or a pipe, so
    # logs hold the report lines only.
    bar = tqdm(total=total, desc=desc, unit="run", file=sys.stderr, disable=None)
    with bar:

        def above_bar(message: str) -> None:
            with tqdm.external_write_mode(file=sys.stderr):
                report(message)

        yield bar, above_bar


def _locate_all(out: Path, specs: list[RunSpec], config: ReproduceConfig) -> dict[str, Path]:
    dirs = {s.name: locate(out, s, config.epochs) for s in specs}
    for spec in specs:
        check_existing_run(spec, dirs[spec.name], config)
    return dirs


def _train(out: Path, specs, dirs: dict[str, Path], config: ReproduceConfig, report: Report):
    todo = [s for s in specs if last_epoch(dirs[s.name]) < config.epochs]
    for spec in todo:
        dirs[spec.name] = training_dir(out, spec, dirs[spec.name])
    report(
        f"reproduce: {len(specs) - len(todo)} of {len(specs)} runs already trained, "
        f"{len(todo)} to train ({min(config.jobs, max(len(todo), 1))} at a time)"
    )
    training = {s.name for s in todo}
    for spec in todo:
        if spec.teacher and spec.teacher not in training:
            if not (dirs[spec.teacher] / GENERATOR).is_file():
                raise ReproduceError(
                    f"{spec.name} learns from {spec.teacher}, which {dirs[spec.teacher]} holds "
                    "as a summary only (no generator.keras): pass a new --out to retrain "
                    "both, or --recipe plain"
                )
    tasks = [
        TrainTask(
            s,
            config,
            str(dirs[s.name]),
            f"[{i}/{len(todo)}] {s.name} ({s.architecture})",
            str(dirs[s.teacher]) if s.teacher else None,
        )
        for i, s in enumerate(todo, 1)
    ]
    with _run_bar(len(tasks), report, "train") as (bar, say):
        return train_all(tasks, config.jobs, say, bar.update)


def _missing(spec: RunSpec, run_dir: Path, config: ReproduceConfig, stopped) -> dict | None:
    """Why a planned run is left out of the report (``None``: it is reported).

    A run counts when it trained ``config.epochs`` epochs, or stopped early (non-finite
    loss) in this invocation, which the runs table says; one part-way (being trained
    elsewhere, or interrupted) is not evaluated at an epoch the others are not.
    """
    epochs = last_epoch(run_dir)
    if epochs >= config.epochs or (epochs and stopped):
        return None
    return {
        "name": spec.name,
        "schemes": list(spec.schemes or (spec.scheme,)),
        "setting": spec.setting,
        "architecture": spec.architecture,
        "main": spec.main,
        "seed": spec.seed,
        "reason": f"unfinished ({epochs} of {config.epochs} epochs)" if epochs else "not trained",
    }


def _summary(
    config: ReproduceConfig,
    out: Path,
    runs: list[dict],
    missing: list[dict],
    floors,
    tables,
    binarization,
):
    main_floor = floors[config.resolution]["noise_floor_x1e3"]["avg"]
    return {
        "command": config.command(),
        "config": {
            **dataclasses.asdict(config),
            "out": str(config.out),
            "resolution": config.resolution,
            "eval_seed": EVAL_SEED,
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
        "noise_floor_main_x1e3": main_floor,
        "runs": runs,
        "missing": missing,
        "aggregates": aggregate_runs(runs),
        "inferences": inferences(
            quality(runs), single_layer_dors(tables["chosen"]["layers"]), paper_single_layer_dors()
        ),
        "deployable_gap": deployable_gap(quality(runs), [s for s in config.schemes if deploys(s)]),
        "binarization_error": binarization,
        "files": {
            "report": str(out / "REPORT.md"),
            "json": str(out / "report.json"),
            "figures": dict(FIGURES),
            "generators": kept_generators(out),
        },
    }


def run_reproduction(
    config: ReproduceConfig, report: Report = progress, *, train: bool = True
) -> dict[str, Any]:
    """Train, evaluate, convert, bench and write the report; returns report.json's content.

    Runs found finished in ``config.out`` (training runs or committed summaries, see
    :mod:`pbgan.reproduce.summaries`) are reused as they are. ``train=False`` trains
    nothing: the report covers what the folder holds (how summaries are aggregated).
    """
    start = time.perf_counter()
    config.validate()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    specs = plan_runs(config)
    dirs = _locate_all(out, specs, config)
    report(f"reproduce: {len(specs)} runs ({len(config.seeds)} seeds) in {out}")
    tables = dor_tables(config)
    binarization = binarization_experiment(out, report)
    trained = _train(out, specs, dirs, config, report) if train else {}
    runs: list[dict] = []
    missing: list[dict] = []
    floors: dict[int, dict] = {}
    with _run_bar(len(specs), report, "evaluate") as (bar, say):
        for arch in config.architectures():
            reals = RealImages(config, ARCHITECTURES[arch], say)
            floors[reals.resolution] = measure_noise_floor(out, config, reals, say)
            for spec in (s for s in specs if s.architecture == arch):
                done = len(runs) + len(missing)
                tag = f"[{done + 1}/{len(specs)}] {spec.name} ({spec.architecture})"
                stopped = trained.get(spec.name, {}).get("stopped")
                gap = _missing(spec, dirs[spec.name], config, stopped)
                if gap is None:
                    run_dir = dirs[spec.name]
                    runs.append(
                        finish_run(spec, config, out, run_dir, reals, tag, say, stopped=stopped)
                    )
                else:
                    say(f"{tag}: {gap['reason']}: not evaluated, reported as missing")
                    missing.append(gap)
                bar.update()
            del reals
    if missing:
        report(f"reproduce: {len(missing)} of {len(specs)} planned runs missing from {out}")
    report("reproduce: figures and report")
    summary = _summary(config, out, runs, missing, floors, tables, binarization)
    make_figures(out, summary)
    summary["wall_seconds"] = round(time.perf_counter() - start, 1)
    atomic_write_json(out / "report.json", summary)
    atomic_write_text(out / "REPORT.md", render_report(summary))
    report(f"reproduce: wrote {out / 'REPORT.md'} in {summary['wall_seconds']:.0f} s")
    return summary


# The generators kept beside an exported report: the float reference (a setting that
# binarizes nothing) and ``auto`` under every scheme that deploys as binary ops.
KEPT_SETTINGS = ("auto",)


def _kept(specs: list[RunSpec], finished: set[str]) -> list[RunSpec]:
    """The first finished seed of the main runs whose generator is exported."""
    kept: dict[str, RunSpec] = {}
    for spec in sorted(specs, key=lambda s: s.seed):
        wanted = binarizes_nothing(spec.setting) or (
            spec.setting in KEPT_SETTINGS and deploys(spec.scheme)
        )
        if spec.main and wanted and spec.name in finished:
            kept.setdefault(f"{spec.scheme}_{spec.setting}", spec)
    return list(kept.values())


def export_reproduction(
    config: ReproduceConfig, dest: str | os.PathLike, report: Report = progress
) -> dict[str, Any]:
    """Copy the summary of every finished run of ``config.out`` to
    ``dest/summaries/<run>/`` (no checkpoints or flatbuffers), and the generators of the
    first seed of the float reference (A) and of xnor ``auto`` to ``dest/generators/``
    (``A_seed0.keras``, ``xnor_auto_seed0.keras``); then rebuild the figures and the
    report in ``dest`` from those copies alone; returns ``dest``'s report.json content.

    Runs not trained, or not finished, are not exported: the report lists them as
    missing. ``pbgan reproduce --out DEST`` with more seeds later reuses these summaries
    and trains only what is missing, so a long reproduction can be done in batches.
    """
    config.validate()
    out, dest = Path(config.out), Path(dest)
    specs = plan_runs(config)
    dirs = _locate_all(out, specs, config)
    _locate_all(dest, specs, config)  # what dest holds already was made the same way
    finished = [s for s in specs if last_epoch(dirs[s.name]) >= config.epochs]
    folder = {s.name: dirs[s.name].relative_to(out).as_posix() for s in finished}
    written = export_summaries(out, dest, folder.items())
    kept = export_generators(out, dest, [(s, folder[s.name]) for s in _kept(specs, set(folder))])
    report(
        f"reproduce: {len(written)} of {len(specs)} run summaries and {len(kept)} generators "
        f"({', '.join(kept) or 'none'}) in {dest}; aggregating from them alone"
    )
    return run_reproduction(dataclasses.replace(config, out=dest), report, train=False)
