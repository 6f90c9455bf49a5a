"""Atomic file writes (a reader sees the old file or the new one, never half of one), and
JSON records kept under the key that produced them (:func:`cached`, :func:`store`)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = [
    "UnwritableError",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "cached",
    "check_writable",
    "honour_umask",
    "store",
]


def honour_umask(path: str | os.PathLike) -> None:
    """Give a file the mode ``open()`` would have (0o666 less the umask).

    ``tempfile.mkstemp`` creates files 0o600, and the rename would carry that over to an
    artefact other users or a web server are meant to read.
    """
    umask = os.umask(0)  # the only way to read it; set it straight back
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, fsync it, then rename it over."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        honour_umask(tmp)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def cached(path: str | os.PathLike, key: dict) -> dict | None:
    """The record at ``path`` if :func:`store` wrote it under ``key``, else ``None``.

    Finished work (an evaluation, a benchmark) is reused only when the key that produced
    it (data, ``n``, seed, epochs trained, ...) equals the one asked for; a damaged file
    is recomputed, never trusted.
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        saved = json.loads(path.read_text())
    except ValueError:
        return None
    return saved if isinstance(saved, dict) and saved.get("key") == key else None


def store(path: str | os.PathLike, key: dict, value: dict) -> dict:
    """Write ``value`` under ``key`` atomically; returns the record as :func:`cached` reads it."""
    record = {"key": key, **value}
    atomic_write_json(path, record)
    return record


class UnwritableError(ValueError):
    """An output path that cannot be created or written; the message names the fix."""


def check_writable(path: str | os.PathLike, option: str, *, file: bool = False) -> Path:
    """Refuse, before minutes of work, an output that could not be written at the end.

    ``path`` (a folder to create or write into; with ``file``, a file to write in its
    folder) need not exist yet: the nearest existing folder on its way must then be one
    this process may write (``os.access`` also sees a read-only file system). ``option``
    names the flag in the message, e.g. ``--report``.
    """
    path = Path(path)
    full = Path(os.path.abspath(os.path.expanduser(path)))
    existing = full.parent if file else full
    while not existing.exists():  # the nearest folder that exists is where mkdir writes
        existing = existing.parent
    if not existing.is_dir():
        under = "" if existing == full else " (the path lies under it)"
        raise UnwritableError(
            f"{option} {path}: {existing} is a file, not a folder{under}: pass another {option}"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UnwritableError(
            f"{option} {path}: {existing} is not writable (read-only): pass a path in a "
            f"writable folder, or chmod u+w {existing}"
        )
    return path
