"""The reproduction's figures (paper Figs 5, 6, 8-10 and 12), drawn from run records.

Fig. 2 is drawn by :func:`pbgan.reproduce.redundancy.binarization_experiment`. Every
figure is a plain matplotlib Figure saved by :func:`pbgan.plots.save_figure`, so the
user's pyplot backend is never touched.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pbgan.paper import TABLE3_SWD
from pbgan.plots import image_grid, new_figure, save_figure
from pbgan.reproduce.plan import SINGLE_LAYER, ReproduceConfig
from pbgan.reproduce.records import main_swd, runs_for
from pbgan.reproduce.redundancy import FIG2, paper_single_layer_dors, single_layer_dors
from pbgan.settings import SETTINGS

import numpy as np

__all__ = [
    "FIGURES",
    "make_figures",
    "plot_g_loss",
    "plot_samples",
    "plot_swd_vs_dor",
    "plot_swd_vs_resolution",
]

FIGURES = {
    "fig2": FIG2,
    "fig5": "fig5_samples.png",
    "fig6": "fig6_swd_vs_dor.png",
    "fig8_10": "fig8_10_g_loss.png",
    "fig12": "fig12_swd_vs_resolution.png",
}


def _colour(setting: str) -> str:
    """One colour per setting in every figure (matplotlib's cycle, in Table 2 order)."""
    return f"C{list(SETTINGS).index(setting) % 10}"


def _by_setting(runs: list[dict]) -> list[dict]:
    """Runs in Table 2 order of their setting, then by scheme."""
    order = list(SETTINGS)
    return sorted(runs, key=lambda r: (order.index(r["setting"]), r["scheme"]))


def plot_swd_vs_dor(
    swd: dict[str, dict[str, float]], dors: dict[str, int], floor: float, path: Path
) -> Path:
    """Paper Fig. 6: SWD of the single-layer settings B-E against the binarized layer's DoR."""
    fig, ax = new_figure(1, 1, figsize=(6.5, 4))
    for scheme, values in sorted(swd.items()):
        points = sorted((dors[s], values[s], s) for s in SINGLE_LAYER if s in values and s in dors)
        if points:
            (line,) = ax.plot([p[0] for p in points], [p[1] for p in points], "o-", label=scheme)
            for x, y, s in points:
                ax.annotate(s, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
            if "A" in values:
                ax.axhline(values["A"], color=line.get_color(), ls=":", lw=1, label=f"{scheme} A")
    paper_dors = paper_single_layer_dors()
    paper = [(paper_dors[s], TABLE3_SWD[s], s) for s in SINGLE_LAYER]
    ax.plot([p[0] for p in paper], [p[1] for p in paper], "s--", color="0.5", label="paper")
    for x, y, s in paper:
        ax.annotate(s, (x, y), textcoords="offset points", xytext=(4, -10), fontsize=8, color="0.4")
    ax.axhline(floor, color="k", ls="--", lw=1, label="noise floor (here)")
    ax.set_xscale("symlog", linthresh=16)
    ax.set_yscale("log")
    ax.set_xlabel("DoR of the binarized layer")
    ax.set_ylabel("average SWD x1e3")
    ax.set_title("SWD vs degree of redundancy (settings B-E)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return save_figure(fig, path)


def plot_swd_vs_resolution(runs: list[dict], floors: dict[int, float], path: Path) -> Path:
    """Paper Fig. 12: average SWD against resolution, one line per setting, per scheme."""
    schemes = sorted({s for r in runs for s in r["schemes"]})
    fig, axes = new_figure(1, len(schemes), figsize=(5.5 * len(schemes), 4), squeeze=False)
    for ax, scheme in zip(axes[0], schemes, strict=True):
        mine = _by_setting(runs_for(runs, scheme))
        for setting in dict.fromkeys(r["setting"] for r in mine):
            points = sorted(
                (r["resolution"], r["eval"]["swd_x1e3"]["avg"])
                for r in mine
                if r["setting"] == setting and r["eval"]
            )
            if points:
                ax.plot(*zip(*points, strict=True), "o-", color=_colour(setting), label=setting)
        sizes = sorted(floors)
        ax.plot(sizes, [floors[s] for s in sizes], "kx--", lw=1, label="noise floor")
        ax.set_xscale("log", base=2)
        ax.set_xticks(sizes, [str(s) for s in sizes])
        ax.set_xlabel("resolution")
        ax.set_ylabel("average SWD x1e3")
        ax.set_title(f"SWD vs resolution ({scheme})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return save_figure(fig, path)


def plot_g_loss(runs: list[dict], path: Path) -> Path:
    """Paper Figs 8-10: generator loss per epoch, one line per setting, per scheme."""
    from matplotlib.ticker import MaxNLocator

    main = [r for r in runs if r["main"]]
    schemes = sorted({s for r in main for s in r["schemes"]})
    fig, axes = new_figure(1, len(schemes), figsize=(5.5 * len(schemes), 3.5), squeeze=False)
    for ax, scheme in zip(axes[0], schemes, strict=True):
        for r in (r for r in _by_setting(runs_for(main, scheme)) if r["history"]):
            epochs = [h["epoch"] for h in r["history"]]
            losses = [h["g_loss"] for h in r["history"]]
            ax.plot(epochs, losses, "o-", ms=3, color=_colour(r["setting"]), label=r["setting"])
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel("generator loss")
        ax.set_title(f"G loss per setting ({scheme})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return save_figure(fig, path)


def _read_png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def plot_samples(rows: Sequence[tuple[str, Path]], path: Path) -> Path:
    """Paper Fig. 5: one labelled row of samples per setting (same latents in every row)."""
    rows = [(label, _read_png(p)) for label, p in rows if p.is_file()]
    if not rows:
        rows = [("no samples", image_grid(np.full((1, 8, 8, 3), 255, np.uint8)))]
    width = max(img.shape[1] for _, img in rows)
    height = 0.9 + len(rows) * rows[0][1].shape[0] / 40
    fig, axes = new_figure(len(rows), 1, figsize=(width / 40, height), squeeze=False)
    for ax, (label, img) in zip(axes[:, 0], rows, strict=True):
        ax.imshow(img)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
        for spine in ax.spines.values():
            spine.set_visible(False)
    fig.suptitle("samples per setting (same latents in every row)", fontsize=10)
    return save_figure(fig, path)


def make_figures(
    out: Path, runs: list[dict], floors: dict[int, dict], tables: dict, config: ReproduceConfig
) -> dict[str, str]:
    """Figs 5, 6, 8-10 and 12 into ``out``; returns :data:`FIGURES` (Fig. 2 included)."""
    main_res = config.resolution
    swd = main_swd(runs)
    dors = single_layer_dors(tables["chosen"]["layers"])
    floor = floors[main_res]["noise_floor_x1e3"]["avg"]
    plot_swd_vs_dor(swd, dors, floor, out / FIGURES["fig6"])
    plot_swd_vs_resolution(
        runs,
        {r: f["noise_floor_x1e3"]["avg"] for r, f in floors.items()},
        out / FIGURES["fig12"],
    )
    plot_g_loss(runs, out / FIGURES["fig8_10"])
    sample_rows = [("real", out / f"real_samples_r{main_res}.png")] + [
        (f"{'/'.join(r['schemes'])} {r['setting']}", out / r["dir"] / "eval_samples.png")
        for r in _by_setting([r for r in runs if r["main"]])
    ]
    plot_samples(sample_rows, out / FIGURES["fig5"])
    return dict(FIGURES)
