"""The run directory of ``pbgan train``: its layout, and the one reader of a run.

A run directory holds::

    config.json            what was trained (setting, scheme, architecture, data, seed, versions)
    checkpoints/           generator, discriminator, both optimizers and the epoch counter
    generator.keras        the generator after the last finished epoch (for convert/sample)
    samples/epoch_NNN.png  grids from one fixed latent batch
    history.csv            losses per finished epoch
    loss_curves.png        generator and discriminator loss per epoch
    logs/                  TensorBoard

Training writes it (:mod:`pbgan.train`); everything downstream (convert, evaluate,
reproduce, sample) reads it through this module only. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from pbgan.io import atomic_write_text

__all__ = [
    "CHECKPOINTS",
    "CONFIG",
    "GENERATOR",
    "HISTORY",
    "HISTORY_KEYS",
    "IDENTITY_KEYS",
    "LOSS_CURVES",
    "SAMPLES",
    "RunError",
    "check_identity",
    "load_run_config",
    "read_history",
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
LOSS_CURVES = "loss_curves.png"

# What makes a checkpoint belong to a run: resuming with any of these changed would
# restore weights into a different model.
IDENTITY_KEYS = ("setting", "scheme", "architecture", "width", "z_dim", "shortcut")
# Identity keys added after runs were first written: what an older config.json meant.
_IDENTITY_DEFAULTS = {"shortcut": False}
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
        return
    saved = {**_IDENTITY_DEFAULTS, **load_run_config(run_dir)}
    for key in IDENTITY_KEYS:
        ours = config.get(key, _IDENTITY_DEFAULTS.get(key))
        if saved.get(key) != ours:
            flag = "--" + key.replace("_", "-")
            raise RunError(
                f"{run_dir} was trained with {flag} {saved.get(key)}, not {ours}: pass "
                f"{flag} {saved.get(key)} to resume, or a new --out"
            )


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


def write_history(path: str | os.PathLike, rows: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=HISTORY_KEYS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: f"{row.get(k, 0):.6g}" for k in HISTORY_KEYS})
    atomic_write_text(path, buf.getvalue())


def save_model_atomic(model: Any, path: str | os.PathLike) -> None:
    """``model.save`` to a temporary file beside ``path``, fsync it, then rename it over."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".keras", dir=path.parent)
    os.close(fd)
    try:
        model.save(tmp, overwrite=True)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
