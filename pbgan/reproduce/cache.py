"""Caching of finished work: a JSON file holding the key that produced it.

A result is reused only when its key (data, ``n``, seed, epochs trained, bench runs...)
equals the one asked for, so rerunning a reproduction redoes what is missing or stale.
"""

from __future__ import annotations

import json
from pathlib import Path

from pbgan.io import atomic_write_json

__all__ = ["cached", "store"]


def cached(path: Path, key: dict) -> dict | None:
    """The record at ``path`` if it was stored under ``key``, else ``None``."""
    if not path.is_file():
        return None
    try:
        saved = json.loads(path.read_text())
    except ValueError:
        return None  # a damaged cache is recomputed, never trusted
    return saved if saved.get("key") == key else None


def store(path: Path, key: dict, value: dict) -> dict:
    """Write ``value`` under ``key`` atomically; returns the record as :func:`cached` reads it."""
    record = {"key": key, **value}
    atomic_write_json(path, record)
    return record
