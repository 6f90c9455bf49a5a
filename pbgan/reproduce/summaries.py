"""A run's summary: the few small files from which a finished run is reused and
aggregated again, without its checkpoints.

A summary is, from a run directory (:mod:`pbgan.runs`) and the reproduction's stages::

    config.json, history.csv, loss_curves.png   what was trained, losses per epoch
    samples/epoch_NNN.png                       the last epoch's sample grid
    eval.json, eval_samples.png                 SWD x1e3 and MS-SSIM, the Fig. 5 row
    generator.json, bench.json                  main runs: conversion manifest, latency

Checkpoints, ``generator.keras``, ``generator.tflite`` and TensorBoard logs stay behind
(megabytes per run); only the generators a reader needs to run the result themselves are
copied, once, to ``generators/`` (:func:`export_generators`). A reproduction folder finds a run, in this order, in

* ``runs/<name>``: a training run (resumable; ``runs/`` is ignored by git),
* ``runs/<scheme>_<setting>[_<arch>]``: a folder made before seeds were in the names,
  when its ``config.json`` records the seed asked for,
* ``summaries/<name>``: an exported summary (:func:`export_summaries`), e.g. committed
  beside a report,

and uses the first that has trained ``--epochs`` epochs. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pbgan.reproduce.plan import RunSpec, binarizes_nothing
from pbgan.runs import (
    CONFIG,
    GENERATOR,
    HISTORY,
    LOSS_CURVES,
    load_run_config,
    read_history,
    sample_path,
)

__all__ = [
    "BENCH",
    "EVAL",
    "EVAL_SAMPLES",
    "GENERATORS",
    "MANIFEST",
    "RUNS",
    "SUMMARIES",
    "TFLITE",
    "TOP_LEVEL",
    "copy_top_level",
    "export_generators",
    "export_summaries",
    "generator_file",
    "kept_generators",
    "last_epoch",
    "locate",
    "read_progress",
    "summary_files",
    "training_dir",
]

RUNS = "runs"
SUMMARIES = "summaries"
EVAL = "eval.json"
EVAL_SAMPLES = "eval_samples.png"
TFLITE = "generator.tflite"
MANIFEST = "generator.json"  # written beside generator.tflite by pbgan.convert
BENCH = "bench.json"
GENERATORS = "generators"  # the few generator.keras files kept beside a report
# The reproduction's own measurements the report is built from (figures are redrawn).
TOP_LEVEL = ("noise_floor_r*.json", "real_samples_r*.png", "binarization_error.json")


def last_epoch(run_dir: Path) -> int:
    """The last finished epoch recorded in ``history.csv`` (0: none, or no run)."""
    return max((int(r["epoch"]) for r in read_history(run_dir / HISTORY)), default=0)


def _seed(run_dir: Path) -> int | None:
    if not (run_dir / CONFIG).is_file():
        return None
    seed = load_run_config(run_dir).get("seed")
    return None if seed is None else int(seed)


def _candidates(out: Path, spec: RunSpec) -> list[Path]:
    return [
        out / RUNS / spec.name,
        out / RUNS / spec.legacy_name,
        out / SUMMARIES / spec.name,
    ]


def locate(out: Path, spec: RunSpec, epochs: int) -> Path:
    """Where ``spec``'s run is: the first candidate (module docstring) with ``epochs``
    finished epochs, else the first one found, else ``runs/<name>`` (not there yet)."""
    found = [d for d in _candidates(out, spec) if _seed(d) == spec.seed]
    finished = [d for d in found if last_epoch(d) >= epochs]
    return (finished or found or [out / RUNS / spec.name])[0]


def training_dir(out: Path, spec: RunSpec, located: Path) -> Path:
    """Where to train ``spec`` further: a summary is never written into."""
    return located if located.parent.name == RUNS else out / RUNS / spec.name


def read_progress(run_dir: Path) -> dict[str, Any]:
    """Epochs done, training seconds and losses per epoch, from ``history.csv``."""
    history = read_history(run_dir / HISTORY)
    return {
        "epochs_done": max((int(r["epoch"]) for r in history), default=0),
        "train_seconds": float(sum(r.get("seconds", 0.0) for r in history)),
        "history": [{k: r[k] for k in ("epoch", "d_loss", "g_loss") if k in r} for r in history],
    }


def summary_files(run_dir: Path) -> list[Path]:
    """The files of ``run_dir`` that make its summary (those that exist)."""
    names = [CONFIG, HISTORY, LOSS_CURVES, EVAL, EVAL_SAMPLES, MANIFEST, BENCH]
    epoch = last_epoch(run_dir)
    paths = [run_dir / n for n in names]
    if epoch:
        paths.append(sample_path(run_dir, epoch))
    return [p for p in paths if p.is_file()]


def _copy(src: Path, dest: Path) -> None:
    if src.resolve() == dest.resolve():
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dest)


def copy_top_level(out: Path, dest: Path) -> list[Path]:
    """The reproduction-level measurements of ``out`` (:data:`TOP_LEVEL`) into ``dest``."""
    copied = []
    for pattern in TOP_LEVEL:
        for src in sorted(out.glob(pattern)):
            _copy(src, dest / src.name)
            copied.append(dest / src.name)
    return copied


def export_summaries(out: Path, dest: Path, runs: Iterable[tuple[str, str]]) -> list[Path]:
    """Copy each run's summary to ``dest/summaries/<name>/`` and the measurements of
    ``out`` to ``dest``; ``runs`` holds ``(name, folder relative to out)`` pairs.

    A run found under its pre-seed name is exported under its seeded name. Returns the
    summary folders written.
    """
    out, dest = Path(out), Path(dest)
    written = []
    for name, folder in runs:
        src = out / folder
        target = dest / SUMMARIES / name
        for path in summary_files(src):
            _copy(path, target / path.relative_to(src))
        written.append(target)
    copy_top_level(out, dest)
    return written


def generator_file(spec: RunSpec) -> str:
    """``generators/A_seed0.keras`` for a run shared by every scheme, else
    ``generators/<scheme>_<setting>_seed<seed>.keras``."""
    who = spec.setting if binarizes_nothing(spec.setting) else f"{spec.scheme}_{spec.setting}"
    return f"{GENERATORS}/{who}_seed{spec.seed}.keras"


def export_generators(out: Path, dest: Path, runs: Iterable[tuple[RunSpec, str]]) -> list[str]:
    """Copy ``generator.keras`` of each ``(spec, folder relative to out)`` that has one to
    ``dest/`` :func:`generator_file`; returns the paths written, relative to ``dest``."""
    out, dest = Path(out), Path(dest)
    written = []
    for spec, folder in runs:
        src = out / folder / GENERATOR
        if src.is_file():
            _copy(src, dest / generator_file(spec))
            written.append(generator_file(spec))
    return written


def kept_generators(folder: Path) -> list[str]:
    """The generator files kept in ``folder/generators/``, relative to ``folder``."""
    return sorted(
        p.relative_to(folder).as_posix() for p in Path(folder).glob(f"{GENERATORS}/*.keras")
    )
