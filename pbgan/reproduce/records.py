"""Questions asked of the run records that ``report.json`` holds (one dict per run).

The figures, the inferences and the report read the same records through these, so a
shared run (a setting that binarizes nothing) counts under every scheme it stands for.
"""

from __future__ import annotations

from pbgan.reproduce.plan import deploys

__all__ = ["deployed_runs", "main_swd", "runs_for"]


def runs_for(runs: list[dict], scheme: str) -> list[dict]:
    """The runs reported under ``scheme`` (shared runs included)."""
    return [r for r in runs if scheme in r["schemes"]]


def deployed_runs(runs: list[dict]) -> list[dict]:
    """The main runs reported under a scheme that is converted and timed (Table 4)."""
    return [r for r in runs if r["main"] and any(deploys(s) for s in r["schemes"])]


def main_swd(runs: list[dict]) -> dict[str, dict[str, float]]:
    """Average SWD x1e3 of the evaluated main runs: scheme -> setting -> value."""
    swd: dict[str, dict[str, float]] = {}
    for r in runs:
        if r["main"] and r["eval"]:
            for scheme in r["schemes"]:
                swd.setdefault(scheme, {})[r["setting"]] = r["eval"]["swd_x1e3"]["avg"]
    return swd
