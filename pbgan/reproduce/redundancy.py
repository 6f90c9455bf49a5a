"""Degree of redundancy: Table 1 (DoR per layer, and each setting's plan) and the
Fig. 2 binarization-error experiment, measured once per reproduction folder.

TensorFlow is imported inside the functions that build a generator.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pbgan.io import cached, store
from pbgan.paper import TABLE1_DOR
from pbgan.reproduce.plan import SINGLE_LAYER, ReproduceConfig
from pbgan.settings import get_setting

__all__ = [
    "FIG2",
    "binarization_experiment",
    "dor_tables",
    "paper_single_layer_dors",
    "single_layer_dors",
]

FIG2 = "fig2_binarization_error.png"


def _analyze(resolution: int, width: float) -> list[dict]:
    import warnings

    from pbgan.analysis import analyze
    from pbgan.models import build_generator

    import tensorflow as tf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_generator(resolution=resolution, width=width, setting="A")
    rows = [r.to_dict() for r in analyze(model)]
    tf.keras.backend.clear_session()
    return rows


def dor_tables(config: ReproduceConfig) -> dict[str, Any]:
    """DoR per layer of the chosen generator and of the full-width dcgan64 (paper's)."""
    chosen = _analyze(config.resolution, config.width)
    full = _analyze(64, 1.0)
    dors = [r["dor"] for r in chosen]
    plans = {}
    for name in config.settings:
        plan = get_setting(name).plan(dors, warn=False)
        plans[name] = [r["layer"] for r, b in zip(chosen, plan, strict=True) if b]
    return {
        "chosen": {"architecture": config.architecture, "width": config.width, "layers": chosen},
        "full_width_dcgan64": {"architecture": "dcgan64", "width": 1.0, "layers": full},
        "plans": plans,
    }


def single_layer_dors(layers: list[dict]) -> dict[str, int]:
    """DoR of the deconvolution each of B-E binarizes (paper layer numbers 1-4)."""
    deconvs = [r for r in layers if r["kind"] == "deconv"]
    out = {}
    for name in SINGLE_LAYER:
        (index,) = get_setting(name).deconvs
        if index <= len(deconvs):
            out[name] = deconvs[index - 1]["dor"]
    return out


def paper_single_layer_dors() -> dict[str, int]:
    """The same for the paper's generator, from its Table 1."""
    out = {}
    for name in SINGLE_LAYER:
        (index,) = get_setting(name).deconvs
        out[name] = TABLE1_DOR[f"deconv{index}"]
    return out


def binarization_experiment(out: Path, report: Callable[[str], None]) -> list[dict]:
    """The Fig. 2 rows (cached in ``binarization_error.json``) and their figure."""
    from pbgan.metrics.binarization_error import (
        plot_binarization_error,
        run_binarization_experiment,
    )

    path = out / "binarization_error.json"
    png = out / FIG2
    key = {"grid": "default", "seed": 0}
    record = cached(path, key)
    if record is None:
        report("reproduce: Fig. 2 binarization-error experiment")
        record = store(path, key, {"rows": run_binarization_experiment(seed=0)})
    if not png.exists():
        plot_binarization_error(record["rows"], png)
    return record["rows"]
