"""The run directory of ``pbgan train``: its layout, and the one reader of a run.

A run directory holds::

    config.json            what was trained (setting, scheme, architecture, data, seed, versions)
    checkpoints/           generator, discriminator, both optimizers and the epoch counter
    generator.keras        the generator after the last finished epoch (for convert/sample)
    samples/epoch_NNN.png  grids from one fixed latent batch
    history.csv            losses per finished epoch
    epochs/epoch_NNN.json  one epoch's history row and the digest of its generator.keras
    loss_curves.png        generator and discriminator loss per epoch
    logs/                  TensorBoard
    .lock                  held (flock) by the process training the run; holds its pid

The end of an epoch writes the sample, generator.keras, the epoch record and history,
and only then the checkpoint: the checkpoint is the commit point, and a resume puts right
whatever a kill left ahead of it (:mod:`pbgan.train.epoch`).

Training writes it (:mod:`pbgan.train`); everything downstream (convert, evaluate,
reproduce, sample) reads it through this module only. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pbgan.io import atomic_write_text, honour_umask

__all__ = [
    "CHECKPOINTS",
    "CONFIG",
    "EPOCHS",
    "GENERATOR",
    "HISTORY",
    "HISTORY_KEYS",
    "IDENTITY_KEYS",
    "LOCK",
    "LOSS_CURVES",
    "SAMPLES",
    "TUNABLE_KEYS",
    "RunError",
    "check_identity",
    "check_writable",
    "epoch_record_path",
    "in_force",
    "load_run_config",
    "lock_run",
    "read_history",
    "resumed_config",
    "run_generator",
    "sample_path",
    "save_model_atomic",
    "write_history",
]

CONFIG = "config.json"
CHECKPOINTS = "checkpoints"
GENERATOR = "generator.keras"
SAMPLES = "samples"
HISTORY = "history.csv"
EPOCHS = "epochs"
LOSS_CURVES = "loss_curves.png"
LOCK = ".lock"

# What makes a checkpoint belong to a run: resuming with any of these changed would
# restore weights into a different model.
IDENTITY_KEYS = ("setting", "scheme", "architecture", "width", "z_dim", "shortcut")
# Identity keys added after runs were first written: what an older config.json meant.
_IDENTITY_DEFAULTS = {"shortcut": False}
# What a resume may not change either: the checkpoint would fit, but the run would no
# longer be one experiment.
_FIXED_KEYS = ("data", "batch_size")
# What a resume may change. config.json keeps the value the run started with and lists
# each change in "changes": {"epoch": the first epoch trained with it, "key", "old", "new"}.
TUNABLE_KEYS = ("learning_rate", "beta_1")
# The `pbgan train` flag of a config key where it is not the key with dashes.
_FLAGS = {"architecture": "--arch", "learning_rate": "--lr", "beta_1": "--beta1"}
HISTORY_KEYS = (
    "epoch",
    "d_loss",
    "g_loss",
    "d_real",
    "d_fake",
    "distill",  # nan unless the run distils from a teacher
    "seconds",
    "skipped_images",
)


class RunError(ValueError):
    """A run cannot start, continue or be read; the message names the fix."""


def sample_path(run_dir: str | os.PathLike, epoch: int) -> Path:
    """The sample grid written after ``epoch`` (1-based)."""
    return Path(run_dir) / SAMPLES / f"epoch_{epoch:03d}.png"


def epoch_record_path(run_dir: str | os.PathLike, epoch: int) -> Path:
    """The record of epoch ``epoch`` (1-based): its history row and generator digest."""
    return Path(run_dir) / EPOCHS / f"epoch_{epoch:03d}.json"


def check_writable(run_dir: str | os.PathLike) -> None:
    """Refuse an ``--out`` that is a file or cannot be written, before anything is written."""
    from pbgan.io import UnwritableError
    from pbgan.io import check_writable as check

    try:
        check(run_dir, "--out")
    except UnwritableError as err:
        raise RunError(str(err)) from None


def load_run_config(run_dir: str | os.PathLike) -> dict[str, Any]:
    """A run's ``config.json``; a one-line error when the folder is not a run."""
    path = Path(run_dir) / CONFIG
    if not path.exists():
        raise RunError(
            f"{run_dir} is not a training run (no config.json): pass --out of `pbgan train`"
        )
    return json.loads(path.read_text())


def run_generator(source: str | os.PathLike) -> tuple[Path, dict[str, Any]]:
    """``(generator file, run config)`` of a run directory, or ``(source, {})`` otherwise.

    A run directory of ``pbgan train`` holds ``generator.keras`` (rewritten after every
    epoch) and ``config.json``; any other path (a ``.keras``/``.h5`` file, a SavedModel
    folder, a ``.tflite``) is returned as it is, for the caller's loader to judge.
    """
    path = Path(source)
    if not path.is_dir() or (path / "saved_model.pb").exists():
        return path, {}
    gen = path / GENERATOR
    if not gen.is_file():
        raise RunError(
            f"{path} has no generator.keras yet: let `pbgan train` finish an epoch, or pass "
            "a saved generator"
        )
    config = load_run_config(path) if (path / CONFIG).is_file() else {}
    return gen, config


def check_identity(run_dir: str | os.PathLike, config: dict[str, Any]) -> None:
    """Refuse to continue a run with a different model (the checkpoint would not fit)."""
    if not (Path(run_dir) / CONFIG).exists():
        if (Path(run_dir) / CHECKPOINTS / "checkpoint").exists():
            raise RunError(
                f"{run_dir} has checkpoints but no config.json, so what they hold is "
                "unknown: restore its config.json or pass a new --out"
            )
        return
    saved = {**_IDENTITY_DEFAULTS, **load_run_config(run_dir)}
    for key in (*IDENTITY_KEYS, *_FIXED_KEYS):
        ours = config.get(key, _IDENTITY_DEFAULTS.get(key))
        if saved.get(key) != ours and not _same_path(key, saved.get(key), ours):
            flag = _FLAGS.get(key, "--" + key.replace("_", "-"))
            raise RunError(
                f"{run_dir} was trained with {flag} {saved.get(key)}, not {ours}: pass "
                f"{flag} {saved.get(key)} to resume, or a new --out"
            )


@contextlib.contextmanager
def lock_run(run_dir: str | os.PathLike) -> Iterator[None]:
    """Hold the run directory for one training process (an OS lock, released on exit).

    A second process is refused at once instead of training over the first one's
    checkpoints. The lock file stays: deleting it would let a third process lock a new
    file while a second still holds the old one.
    """
    import fcntl

    path = Path(run_dir) / LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            raise RunError(
                f"{run_dir} is being trained by another process (pid {holder}): wait for "
                "it to finish, or pass another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _same_path(key: str, a: Any, b: Any) -> bool:
    """Two spellings of one data folder (``faces`` and ``./faces``) are the same data."""
    if key != "data" or not isinstance(a, str) or not isinstance(b, str):
        return False
    return os.path.realpath(os.path.expanduser(a)) == os.path.realpath(os.path.expanduser(b))


def in_force(config: dict[str, Any], key: str) -> Any:
    """The value of a tunable ``key`` after the changes recorded in ``config``."""
    value = config.get(key)
    for change in config.get("changes", []):
        if change["key"] == key:
            value = change["new"]
    return value


def resumed_config(
    run_dir: str | os.PathLike, config: dict[str, Any], epochs_done: int
) -> dict[str, Any]:
    """The ``config.json`` to write when ``config`` continues a run after ``epochs_done``.

    A tunable value that differs from the one in force is recorded as a change, never
    written over the value the run started with.
    """
    if epochs_done == 0 or not (Path(run_dir) / CONFIG).exists():
        return dict(config)
    saved = load_run_config(run_dir)
    merged = dict(config)
    changes = list(saved.get("changes", []))
    for key in TUNABLE_KEYS:
        if key not in saved:
            continue
        old = in_force(saved, key)
        if config[key] != old:
            changes.append({"epoch": epochs_done + 1, "key": key, "old": old, "new": config[key]})
        merged[key] = saved[key]
    if changes:
        merged["changes"] = changes
    return merged


def read_history(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Rows of ``history.csv`` (``epoch`` as int, the rest as float); [] if absent."""
    path = Path(path)
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return [
            {k: float(v) if k != "epoch" else int(v) for k, v in row.items()}
            for row in csv.DictReader(f)
        ]


def write_history(
    path: str | os.PathLike, rows: list[dict[str, Any]], columns: tuple[str, ...] = HISTORY_KEYS
) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: f"{row.get(k, 0):.6g}" for k in columns})
    atomic_write_text(path, buf.getvalue())


def save_model_atomic(model: Any, path: str | os.PathLike) -> None:
    """``model.save`` to a temporary file beside ``path``, fsync it, then rename it over."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".keras", dir=path.parent)
    os.close(fd)
    try:
        model.save(tmp, overwrite=True)
        honour_umask(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
