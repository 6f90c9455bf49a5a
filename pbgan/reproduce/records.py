"""Questions asked of the run records that ``report.json`` holds (one dict per run and
seed), and the caption that names the model every table and figure was measured on.

The figures, the inferences and the report read the same records through these, so a
shared run (a setting that binarizes nothing) counts under every scheme it stands for,
and every number over seeds is a :class:`~pbgan.reproduce.stats.Spread`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pbgan.reproduce.stats import Spread, aggregate
from pbgan.settings import SETTINGS

__all__ = [
    "METRICS",
    "aggregate_runs",
    "by_setting",
    "model_caption",
    "quality",
    "runs_for",
    "spread",
]


def _swd(r: dict) -> float | None:
    return r["eval"]["swd_x1e3"]["avg"] if r.get("eval") else None


def _ms_ssim(r: dict) -> float | None:
    return r["eval"]["ms_ssim_generated"] if r.get("eval") else None


def _deployed(key: str) -> Callable[[dict], float | None]:
    def get(r: dict) -> float | None:
        d = r.get("deploy")
        return d[key] if d and "error" not in d else None

    return get


# What is aggregated over seeds, by name: run record -> value (None: not measured).
METRICS: dict[str, Callable[[dict], float | None]] = {
    "swd_x1e3": _swd,
    "ms_ssim_generated": _ms_ssim,
    "median_ms": _deployed("median_ms"),
    "size_bytes": _deployed("size_bytes"),
}


def runs_for(runs: list[dict], scheme: str) -> list[dict]:
    """The runs reported under ``scheme`` (shared runs included)."""
    return [r for r in runs if scheme in r["schemes"]]


def spread(runs: list[dict], metric: str | Callable[[dict], float | None]) -> Spread | None:
    """``metric`` over the runs' seeds (runs without it left out); ``None`` if none has it."""
    get = METRICS[metric] if isinstance(metric, str) else metric
    values = {r["seed"]: v for r in runs if (v := get(r)) is not None}
    return aggregate(values) if values else None


def by_setting(runs: list[dict], scheme: str, architecture: str | None = None) -> dict:
    """setting -> its runs (one per seed, by seed) under ``scheme``, in Table 2 order.

    ``architecture=None``: the main runs.
    """
    order = list(SETTINGS)
    groups: dict[str, list[dict]] = {}
    for r in runs_for(runs, scheme):
        if r["main"] if architecture is None else r["architecture"] == architecture:
            groups.setdefault(r["setting"], []).append(r)
    return {s: sorted(groups[s], key=lambda r: r["seed"]) for s in sorted(groups, key=order.index)}


def quality(runs: list[dict]) -> dict[str, dict[str, dict[str, Spread | None]]]:
    """scheme -> setting -> ``{"swd": Spread, "ms_ssim": Spread}`` over the main runs."""
    schemes = sorted({s for r in runs for s in r["schemes"]})
    out: dict[str, dict[str, dict[str, Spread | None]]] = {}
    for scheme in schemes:
        for setting, group in by_setting(runs, scheme).items():
            swd = spread(group, "swd_x1e3")
            if swd is not None:
                out.setdefault(scheme, {})[setting] = {
                    "swd": swd,
                    "ms_ssim": spread(group, "ms_ssim_generated"),
                }
    return out


def _levels(group: list[dict]) -> dict[str, dict]:
    names = dict.fromkeys(
        k for r in group if r.get("eval") for k in r["eval"]["swd_x1e3"]["levels"]
    )
    return {
        level: s.to_dict()
        for level in names
        if (s := spread(group, lambda r, k=level: _level(r, k))) is not None
    }


def _level(r: dict, level: str) -> float | None:
    return r["eval"]["swd_x1e3"]["levels"].get(level) if r.get("eval") else None


def aggregate_runs(runs: list[dict]) -> list[dict[str, Any]]:
    """Mean, SD and each seed's value of every metric, per scheme, setting, architecture."""
    rows = []
    for scheme in sorted({s for r in runs for s in r["schemes"]}):
        for arch in dict.fromkeys(r["architecture"] for r in runs):
            for setting, group in by_setting(runs, scheme, arch).items():
                row: dict[str, Any] = {
                    "scheme": scheme,
                    "setting": setting,
                    "architecture": arch,
                    "main": group[0]["main"],
                    "seeds": [r["seed"] for r in group],
                    "swd_x1e3_levels": _levels(group),
                }
                for name in METRICS:
                    s = spread(group, name)
                    row[name] = None if s is None else s.to_dict()
                rows.append(row)
    return rows


def _steps(c: dict) -> str:
    steps = c.get("steps_per_epoch") or "a pass over the data"
    epochs = f"{c['epochs']} epoch{'s' if c['epochs'] != 1 else ''}"
    return f"{epochs} x {steps} steps x batch {c['batch_size']}"


def model_caption(
    config: dict[str, Any],
    machine: dict[str, Any] | None,
    *,
    architecture: str | None = None,
    settings: list[str] | None = None,
    schemes: list[str] | None = None,
) -> str:
    """``Model: dcgan32, width 0.25; settings A, B; schemes bwn, xnor; 12 epochs x 150
    steps x batch 64 on synthetic; seeds 0, 1, 2; <machine>`` (from report.json's config)."""
    seeds = config.get("seeds", [config.get("seed", 0)])
    parts = [
        f"{architecture or config['architecture']}, width {config['width']:g}",
        "settings " + ", ".join(settings or config["settings"]),
        "schemes " + ", ".join(schemes or config["schemes"]),
        f"{_steps(config)} on {config['data']}",
        "seeds " + ", ".join(map(str, seeds)),
    ]
    if config.get("recipe", "plain") == "deployable":
        parts.append("binary-deploying runs trained as students of the same seed's A")
    if machine:
        parts.append(f"{machine.get('cpu', 'unknown CPU')}, {machine.get('cores')} cores")
    return "Model: " + "; ".join(parts)
