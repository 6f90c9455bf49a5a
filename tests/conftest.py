"""Shared fixtures. Importing pbgan first selects Keras 2 for every test module."""

from __future__ import annotations

import warnings
from pathlib import Path

import pbgan  # noqa: F401

import pytest

# Tiny and fast: 32x32, width 1/16, batches of 8. At this width auto binarizes the
# projection, deconv1 and deconv2 (DoR 99, 60, 16, -48, -248).
TINY = dict(architecture="dcgan32", width=1 / 16, batch_size=8, samples=4)
TINY_RUN = {**TINY, "epochs": 1, "steps_per_epoch": 2}


def every_setting_and_scheme(*, fast: set[tuple[str, str]]) -> list:
    """``(setting, scheme)`` params over both registries; pairs not in ``fast`` are slow."""
    from pbgan.settings import SCHEMES, SETTINGS

    return [
        pytest.param(
            setting,
            scheme,
            id=f"{setting}-{scheme}",
            marks=() if (setting, scheme) in fast else pytest.mark.slow,
        )
        for setting in SETTINGS
        for scheme in SCHEMES
    ]


@pytest.fixture(autouse=True)
def _clear_keras_session():
    yield
    import tensorflow as tf

    tf.keras.backend.clear_session()


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


class TrainedRuns:
    """One finished :data:`TINY_RUN` training per ``(setting, scheme)``, shared by the session.

    Training is the slow part of the suite; tests that only read a finished run (its
    artefacts, ``pbgan evaluate``, ``pbgan convert``, a refused resume) share one here.
    The runs are read-only: every lookup checks that no file was written or touched since
    training, so a test that writes into one fails instead of changing its neighbours'.
    Tests that resume, interrupt or poison a run train their own.
    """

    def __init__(self, tmp_path_factory: pytest.TempPathFactory):
        self._tmp = tmp_path_factory
        self._runs: dict[tuple[str, str], tuple[Path, object, dict]] = {}

    def __call__(self, setting: str, scheme: str = "xnor"):
        """``(run directory, TrainResult)`` of a finished run of ``setting`` and ``scheme``."""
        from pbgan.settings import NegativeDoRWarning
        from pbgan.train.run import TrainConfig, train

        key = (setting, scheme)
        if key not in self._runs:
            path = self._tmp.mktemp(f"run-{setting}-{scheme}") / "run"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NegativeDoRWarning)
                config = TrainConfig(setting=setting, scheme=scheme, **TINY_RUN)
                result = train(config, path, verbose=0)
            self._runs[key] = (path, result, _snapshot(path))
        path, result, snapshot = self._runs[key]
        changed = _snapshot(path) != snapshot
        assert not changed, f"a test wrote into the shared run {path}: copy it first"
        return path, result


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> TrainedRuns:
    return TrainedRuns(tmp_path_factory)
