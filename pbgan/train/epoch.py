"""The end of an epoch as one commit, and putting a run directory right on resume.

At the end of epoch N the run writes, each atomically: the sample grid, ``generator.keras``,
the epoch record (``epochs/epoch_NNN.json``: the history row and the SHA-256 of the
``generator.keras`` just written), ``history.csv`` and the loss curves, and only then the
checkpoint. The checkpoint is the commit point: a kill anywhere before it leaves epoch
N's artefacts beside checkpoint N-1, and the next run retrains epoch N.

On resume :func:`repair` makes the directory agree with the checkpoint it restored (epoch
K): rows, records and samples beyond K are dropped, the history is rebuilt from the
records, and the sample and ``generator.keras`` of epoch K are written again from the
restored weights when missing or not the ones recorded for K. :func:`restore_newest`
falls back to the older checkpoint when the newest cannot be read.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from pbgan.io import atomic_write_json
from pbgan.plots import plot_loss_curves, save_grid
from pbgan.runs import (
    CHECKPOINTS,
    EPOCHS,
    GENERATOR,
    HISTORY,
    HISTORY_KEYS,
    LOSS_CURVES,
    SAMPLES,
    RunError,
    epoch_record_path,
    read_history,
    sample_path,
    save_model_atomic,
    write_history,
)

import numpy as np
import tensorflow as tf

__all__ = ["EpochEnd", "remove_partial_writes", "repair", "restore_newest"]

log = logging.getLogger("pbgan.train")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_record(run_dir: Path, epoch: int) -> dict[str, Any] | None:
    try:
        record = json.loads(epoch_record_path(run_dir, epoch).read_text())
    except (OSError, ValueError):
        return None  # absent, or torn by something other than our atomic write
    return record if isinstance(record, dict) and record.get("epoch") == epoch else None


def _numbered(folder: Path, pattern: str) -> dict[int, Path]:
    """``{N: path}`` of the files ``*_NNN.ext`` in ``folder``."""
    found = {}
    for path in folder.glob(pattern) if folder.is_dir() else ():
        try:
            found[int(path.stem.rsplit("_", 1)[1])] = path
        except (IndexError, ValueError):
            continue
    return found


def _as_written(rows: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """Rows as ``history.csv`` spells them (so nan equals nan, and 6 digits are enough)."""
    return [tuple(f"{row.get(k, 0):.6g}" for k in HISTORY_KEYS) for row in rows]


def _export(model: tf.keras.Model, z_fixed: np.ndarray, run_dir: Path, epoch: int) -> str:
    """Sample grid and ``generator.keras`` of ``epoch``; the SHA-256 of the latter."""
    images = model.predict(z_fixed, batch_size=len(z_fixed), verbose=0)
    save_grid(images, sample_path(run_dir, epoch))
    save_model_atomic(model, run_dir / GENERATOR)
    return _sha256(run_dir / GENERATOR)


def _write_record(run_dir: Path, epoch: int, row: dict[str, Any], generator_sha256: str) -> None:
    record = {"epoch": epoch, "history": row, "generator_sha256": generator_sha256}
    atomic_write_json(epoch_record_path(run_dir, epoch), record)


def remove_partial_writes(run_dir: Path) -> list[Path]:
    """Delete what an interrupted atomic write left: checkpoint ``*_temp`` folders, temp files."""
    leftovers = [*(run_dir / CHECKPOINTS).glob("ckpt-*_temp*"), *run_dir.glob(".generator.*")]
    for folder in (run_dir, run_dir / SAMPLES, run_dir / EPOCHS):
        leftovers += folder.glob(".*.tmp")
    for path in leftovers:
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    return leftovers


def restore_newest(checkpoint: tf.train.Checkpoint, manager, run_dir: Path) -> str | None:
    """Restore the newest readable checkpoint; its path, or None for a fresh run.

    A newest checkpoint torn by a kill or a full disk is skipped with one warning line
    (the manager keeps two); if none can be read, a :class:`RunError` names the fix.
    """
    failures = []
    for path in reversed(manager.checkpoints):
        try:
            checkpoint.restore(path).assert_existing_objects_matched()
        except (AssertionError, ValueError, IndexError, tf.errors.OpError) as err:
            failures.append((path, err))
            continue
        for bad, err in failures:
            print(
                f"warning: checkpoint {bad} cannot be read ({type(err).__name__}); resuming "
                f"from the older {Path(path).name} and training the epochs after it again",
                file=sys.stderr,
                flush=True,
            )
        return path
    if not failures:
        return None
    if all(isinstance(err, (AssertionError, ValueError)) for _, err in failures):
        raise RunError(
            f"checkpoint in {run_dir} does not match this model "
            f"({type(failures[0][1]).__name__}): pass a new --out"
        ) from failures[0][1]
    raise RunError(
        f"no checkpoint in {run_dir / CHECKPOINTS} can be read "
        f"({type(failures[0][1]).__name__}): delete that folder to train from scratch, or "
        "pass a new --out"
    ) from failures[0][1]


def repair(
    run_dir: Path,
    epoch: int,
    model: tf.keras.Model,
    z_fixed: np.ndarray,
    *,
    force: bool = False,
) -> list[dict[str, Any]]:
    """Make ``run_dir`` agree with its checkpoint of ``epoch``; the history up to it.

    ``model`` holds the restored weights of the exported generator (the averaged one with
    ``--ema``). ``force`` rewrites its sample and ``generator.keras`` even when they look
    right: every worker of a multi-worker run must take the same (collective) steps.
    """
    remove_partial_writes(run_dir)
    beyond = [
        path
        for folder, pattern in (
            (run_dir / EPOCHS, "epoch_*.json"),
            (run_dir / SAMPLES, "epoch_*.png"),
        )
        for n, path in _numbered(folder, pattern).items()
        if n > epoch  # written by an epoch that never committed
    ]
    for path in beyond:
        path.unlink()
    records = {n: _read_record(run_dir, n) for n in range(1, epoch + 1)}
    rows = {int(r["epoch"]): r for r in read_history(run_dir / HISTORY) if r["epoch"] <= epoch}
    rows.update({n: rec["history"] for n, rec in records.items() if rec})
    history = [rows[n] for n in sorted(rows)]
    if not history:
        for name in (HISTORY, LOSS_CURVES):
            (run_dir / name).unlink(missing_ok=True)
    elif _as_written(history) != _as_written(read_history(run_dir / HISTORY)):
        write_history(run_dir / HISTORY, history)
        plot_loss_curves(history, run_dir / LOSS_CURVES, title=run_dir.name)
    if epoch == 0:
        (run_dir / GENERATOR).unlink(missing_ok=True)  # from an epoch that never committed
        return history
    record = records[epoch]
    generator = run_dir / GENERATOR
    stale = (
        record is None
        or not generator.is_file()
        or _sha256(generator) != record["generator_sha256"]
    )
    if force or stale or not sample_path(run_dir, epoch).is_file():
        log.info("rewriting the sample and generator.keras of epoch %d from its checkpoint", epoch)
        digest = _export(model, z_fixed, run_dir, epoch)
        if rows.get(epoch) is not None:
            _write_record(run_dir, epoch, rows[epoch], digest)
    return history


def _failure(err: Exception, run_dir: Path, done: int) -> str:
    """One line for a write that failed at the end of epoch ``done``."""
    full = getattr(err, "errno", None) == errno.ENOSPC or "No space left" in str(err)
    then = f"rerun the same command (it trains epoch {done} again)"
    if full:
        return (
            f"no space left on the device saving epoch {done} in {run_dir}: free space and {then}"
        )
    reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
    return f"could not save epoch {done} in {run_dir} ({reason}): fix that and {then}"


class EpochEnd(tf.keras.callbacks.Callback):
    """Sample, generator export, record, history, plot, then the checkpoint (the commit)."""

    def __init__(self, run_dir: Path, gan, manager, epoch_var, z_fixed, guard, history, source):
        super().__init__()
        self.source = source
        self.run_dir, self.gan, self.manager = run_dir, gan, manager
        self.epoch_var, self.z_fixed, self.guard, self.history = epoch_var, z_fixed, guard, history
        self._start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if self.guard.reason is not None:
            return  # never overwrite the last good checkpoint with a diverged state
        done = epoch + 1
        try:
            self._commit(done, logs or {})
        except (OSError, tf.errors.OpError) as err:
            remove_partial_writes(self.run_dir)
            raise RunError(_failure(err, self.run_dir, done)) from err

    def _commit(self, done: int, logs: dict) -> None:
        # With weight averaging on, the averaged generator is the one a user gets.
        exported = self.gan.ema if self.gan.ema is not None else self.gan.generator
        digest = _export(exported, self.z_fixed, self.run_dir, done)
        row = {k: float(logs.get(k, float("nan"))) for k in HISTORY_KEYS[1:-2]}
        row.update(
            epoch=done,
            seconds=time.perf_counter() - self._start,
            skipped_images=self.source.skipped,
        )
        _write_record(self.run_dir, done, row, digest)
        self.history[:] = [r for r in self.history if r["epoch"] < done] + [row]
        write_history(self.run_dir / HISTORY, self.history)
        plot_loss_curves(self.history, self.run_dir / LOSS_CURVES, title=self.run_dir.name)
        self.epoch_var.assign(done)
        self.manager.save(checkpoint_number=done)  # the commit point
