"""The stages of one run: train, evaluate, and for a main run convert and bench.

Each stage reuses finished work: training resumes from its checkpoint
(``pbgan.train.run.train``), and the evaluation, noise floor, conversion and benchmark
are cached by :func:`pbgan.io.cached` under what produced them. A run found as a
summary (:mod:`pbgan.reproduce.summaries`) is read, never trained or written into. A run
whose training stopped on a non-finite loss is resumed from its last good epoch next time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pbgan.io import cached, store
from pbgan.metrics.evaluate import (
    RealSets,
    generated_quality,
    load_generator,
    load_real_sets,
    noise_floor,
)
from pbgan.plots import save_grid
from pbgan.reproduce.plan import (
    EVAL_SEED,
    ReproduceConfig,
    ReproduceError,
    RunSpec,
    student_options,
)
from pbgan.reproduce.summaries import (
    BENCH,
    EVAL,
    EVAL_SAMPLES,
    MANIFEST,
    TFLITE,
    read_progress,
)
from pbgan.runs import CONFIG, GENERATOR, LOSS_CURVES, load_run_config

import tensorflow as tf

__all__ = [
    "SAMPLES_PER_ROW",
    "RealImages",
    "check_existing_run",
    "finish_run",
    "measure_noise_floor",
    "train_run",
]

Report = Callable[[str], None]

SAMPLES_PER_ROW = 8


class _EpochLine(tf.keras.callbacks.Callback):
    """One stderr line per finished epoch (training itself runs with verbose=0)."""

    def __init__(self, report: Report, tag: str, epochs: int):
        super().__init__()
        self.report, self.tag, self.epochs = report, tag, epochs
        self._start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        losses = " ".join(f"{k} {logs.get(k, float('nan')):.3f}" for k in ("d_loss", "g_loss"))
        seconds = time.perf_counter() - self._start
        self.report(f"{self.tag}: epoch {epoch + 1}/{self.epochs} {losses} ({seconds:.1f} s)")


def check_existing_run(spec: RunSpec, run_dir: Path, config: ReproduceConfig) -> None:
    """Refuse to mix data, width, batch size or model inside one reproduction folder.

    Checked for every run (training run or summary) before anything is trained, so a
    wrong option fails at once rather than after hours of earlier runs.
    """
    if not (run_dir / CONFIG).is_file():
        return
    saved = load_run_config(run_dir)
    expected = {
        "architecture": (spec.architecture, "--arch"),
        "width": (config.width, "--width"),
        "data": (config.data, "--data"),
        "batch_size": (config.batch_size, "--batch-size"),
        "setting": (spec.setting, "--settings"),
        "scheme": (spec.scheme, "--schemes"),
        "seed": (spec.seed, "--seeds"),
    }
    for key, (ours, flag) in expected.items():
        if saved.get(key) != ours:
            raise ReproduceError(
                f"{run_dir} was trained with {flag} {saved.get(key)}, not {ours}: pass "
                f"{flag} {saved.get(key)} to continue it, or a new --out"
            )
    trained_as = "deployable" if saved.get("teacher") else "plain"
    if (spec.teacher is not None) != (trained_as == "deployable"):
        raise ReproduceError(
            f"{run_dir} was trained with --recipe {trained_as}, not {config.recipe}: pass "
            f"--recipe {trained_as} to continue it, or a new --out"
        )


def train_run(
    spec: RunSpec,
    config: ReproduceConfig,
    run_dir: Path,
    tag: str,
    report: Report,
    teacher_dir: str | None = None,
) -> dict[str, Any]:
    """Train (or resume) one run to ``config.epochs``; ``{"epochs_done", "stopped"}``.

    ``teacher_dir``: the finished run of ``spec.teacher`` (a student's float A)."""
    from pbgan.train.run import TrainConfig, train

    if (spec.teacher is None) != (teacher_dir is None):
        raise ReproduceError(f"{spec.name}: a student needs its teacher's run, and only it")

    train_config = TrainConfig(
        setting=spec.setting,
        scheme=spec.scheme,
        architecture=spec.architecture,
        width=config.width,
        data=config.data,
        batch_size=config.batch_size,
        epochs=config.epochs,
        steps_per_epoch=config.steps_per_epoch,
        seed=spec.seed,
        **(student_options(teacher_dir) if teacher_dir else {}),
    )
    report(f"{tag}: train to epoch {config.epochs} (finished epochs are reused)")
    result = train(
        train_config, run_dir, verbose=0, extra_callbacks=[_EpochLine(report, tag, config.epochs)]
    )
    if result.stopped:
        report(f"{tag}: training stopped: {result.stopped}")
    return {"epochs_done": result.epochs_done, "stopped": result.stopped}


class RealImages:
    """Real images of one resolution, read only when some result is not cached."""

    def __init__(self, config: ReproduceConfig, resolution: int, report: Report) -> None:
        self.config, self.resolution, self.report = config, resolution, report
        self._sets: RealSets | None = None

    def get(self) -> RealSets:
        if self._sets is None:
            c = self.config
            self.report(
                f"reproduce: reading {2 * c.eval_n} real {self.resolution}x{self.resolution} "
                f"images from {c.data}"
            )
            self._sets = load_real_sets(c.data, c.eval_n, self.resolution, EVAL_SEED)
        return self._sets


def _eval_key(config: ReproduceConfig) -> dict:
    return {"data": str(config.data), "n": config.eval_n, "seed": EVAL_SEED}


def measure_noise_floor(
    out: Path, config: ReproduceConfig, reals: RealImages, report: Report
) -> dict[str, Any]:
    """Real-vs-real SWD and real MS-SSIM at ``reals.resolution`` (``noise_floor_r<res>.json``)."""
    res = reals.resolution
    path = out / f"noise_floor_r{res}.json"
    record = cached(path, _eval_key(config))
    if record is not None:
        return record
    sets = reals.get()
    report(f"reproduce: noise floor at {res}x{res} (real vs real SWD, real MS-SSIM)")
    save_grid(sets.first[:SAMPLES_PER_ROW], out / f"real_samples_r{res}.png", cols=SAMPLES_PER_ROW)
    return store(path, _eval_key(config), noise_floor(sets, EVAL_SEED))


def _evaluate(
    run_dir: Path, config: ReproduceConfig, epochs: int, reals: RealImages, tag, report: Report
) -> dict | None:
    key = {**_eval_key(config), "epoch": epochs}
    record = cached(run_dir / EVAL, key)
    if record is not None:
        report(f"{tag}: evaluation reused")
        return record
    if not (run_dir / GENERATOR).is_file():
        report(
            f"{tag}: {run_dir} is a summary without an evaluation at epoch {epochs}: "
            "not evaluated (train it again into runs/ to evaluate it)"
        )
        return None
    gen = load_generator(run_dir)
    sets = reals.get()
    report(f"{tag}: evaluate ({len(sets.first)} generated vs real)")
    fake = gen.generate(len(sets.first), EVAL_SEED)
    # The first latents are the same for every run, so the rows of Fig. 5 compare settings
    # and seeds on identical inputs.
    save_grid(fake[:SAMPLES_PER_ROW], run_dir / EVAL_SAMPLES, cols=SAMPLES_PER_ROW)
    return store(run_dir / EVAL, key, generated_quality(fake, sets.first, EVAL_SEED))


def _convert(spec: RunSpec, run_dir: Path, epochs: int, tag, report: Report) -> dict:
    from pbgan.analysis import load_keras_model
    from pbgan.convert import convert_generator, write_conversion

    report(f"{tag}: convert to an LCE flatbuffer")
    result = convert_generator(
        load_keras_model(run_dir / GENERATOR),
        setting=spec.setting,
        scheme=spec.scheme,
        source=str(run_dir),
        # The reproduction studies E and G on purpose (paper Table 3).
        allow_negative_dor=True,
    )
    result.manifest["epoch"] = epochs  # what the cache is keyed on
    write_conversion(result, run_dir / TFLITE)
    return result.manifest


def _manifest_at(run_dir: Path, epochs: int) -> dict | None:
    path = run_dir / MANIFEST
    if not path.is_file():
        return None
    manifest = json.loads(path.read_text())
    return manifest if manifest.get("epoch") == epochs else None


def _bench(run_dir: Path, config: ReproduceConfig, key: dict, tag, report: Report) -> dict:
    from pbgan.runtime.local import bench_local, best

    report(f"{tag}: bench ({config.bench_runs} runs, 1 thread, every interpreter configuration)")
    results = bench_local(run_dir / TFLITE, threads=1, runs=config.bench_runs, label=run_dir.name)
    winner = best(results)
    return store(
        run_dir / BENCH,
        key,
        {"best": winner.to_dict(), "results": [r.to_dict() for r in results]},
    )


def _deploy_record(manifest: dict, bench: dict) -> dict:
    winner = bench["best"]
    return {
        "deploys_binary": manifest.get("deploys_binary"),
        "size_bytes": manifest["size_bytes"],
        "binary_constant_bytes": manifest["binary_constant_bytes"],
        "float_constant_bytes": manifest["float_constant_bytes"],
        "ops": manifest["ops"],
        "parity_max_abs_err": manifest["parity_max_abs_err"],
        "best_config": winner["config"],
        "median_ms": winner["median_ms"],
        "p10_ms": winner["p10_ms"],
        "p90_ms": winner["p90_ms"],
        "all_configs": {r["config"]: r["median_ms"] for r in bench["results"]},
    }


def _deploy(spec: RunSpec, run_dir: Path, config: ReproduceConfig, epochs: int, tag, report):
    """Conversion and latency of a main run; a failure is recorded, not fatal."""
    from pbgan.runtime.local import BenchError
    from pbgan.tflite_graph import FlatbufferError

    key = {"epoch": epochs, "runs": config.bench_runs, "threads": 1}
    manifest = _manifest_at(run_dir, epochs)
    bench = cached(run_dir / BENCH, key)
    if manifest is not None and bench is not None:
        report(f"{tag}: conversion and benchmark reused")
        return _deploy_record(manifest, bench)
    if not (run_dir / GENERATOR).is_file():
        report(f"{tag}: {run_dir} is a summary without a benchmark at epoch {epochs}: not timed")
        return None
    try:
        if manifest is None or not (run_dir / TFLITE).is_file():
            manifest = _convert(spec, run_dir, epochs, tag, report)
            bench = None  # a new flatbuffer is timed again
        if bench is None:
            bench = _bench(run_dir, config, key, tag, report)
    except (ValueError, BenchError, FlatbufferError) as err:
        message = (str(err).strip().splitlines() or [type(err).__name__])[0]
        report(f"{tag}: deployment failed: {message}")
        return {"error": message}
    return _deploy_record(manifest, bench)


def finish_run(
    spec: RunSpec,
    config: ReproduceConfig,
    out: Path,
    run_dir: Path,
    reals: RealImages,
    tag: str,
    report: Report,
    *,
    stopped: str | None = None,
) -> dict[str, Any]:
    """Evaluate (and for a main run convert and bench) a trained run; its ``report.json``
    record. ``stopped`` is why training stopped early in this invocation, if it did."""
    record: dict[str, Any] = {
        "name": spec.name,
        "scheme": spec.scheme,
        "schemes": list(spec.schemes or (spec.scheme,)),
        "setting": spec.setting,
        "architecture": spec.architecture,
        "resolution": spec.resolution,
        "main": spec.main,
        "seed": spec.seed,
        "dir": run_dir.relative_to(out).as_posix(),
        # The runs table links the curves only when they are there (a summary may lack them).
        "loss_curves": (run_dir / LOSS_CURVES).is_file(),
        **read_progress(run_dir),
        "stopped": stopped,
        "eval": None,
        "deploy": None,
    }
    epochs = record["epochs_done"]
    if epochs < 1:
        report(f"{tag}: no finished epoch, nothing to evaluate")
        return record
    record["eval"] = _evaluate(run_dir, config, epochs, reals, tag, report)
    if spec.main:
        record["deploy"] = _deploy(spec, run_dir, config, epochs, tag, report)
    return record
