"""The reproduction's figures (paper Figs 5, 6, 8-10 and 12, and SWD per level), drawn
from the run records of ``report.json``: every point is a mean over seeds with its
standard deviation, every seed's value is drawn too (a dot, or a thin line for the
losses), each setting is labelled with its number of seeds, and every figure carries the
caption of :func:`pbgan.reproduce.records.model_caption`.

Fig. 2 is drawn by :func:`pbgan.reproduce.redundancy.binarization_experiment`. Every
figure is a plain matplotlib Figure saved by :func:`pbgan.plots.save_figure`, so the
user's pyplot backend is never touched.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pbgan.paper import TABLE3_SWD
from pbgan.plots import new_figure, save_figure
from pbgan.reproduce.plan import SINGLE_LAYER
from pbgan.reproduce.records import by_setting, model_caption, quality, spread
from pbgan.reproduce.redundancy import FIG2, paper_single_layer_dors, single_layer_dors
from pbgan.reproduce.stats import Spread, aggregate, seeds_label
from pbgan.reproduce.summaries import EVAL_SAMPLES
from pbgan.settings import SETTINGS

import numpy as np

__all__ = [
    "FIGURES",
    "make_figures",
    "plot_losses",
    "plot_samples",
    "plot_swd_levels",
    "plot_swd_vs_dor",
    "plot_swd_vs_resolution",
]

FIGURES = {
    "fig2": FIG2,
    "fig5": "fig5_samples.png",
    "fig6": "fig6_swd_vs_dor.png",
    "fig8_10": "fig8_10_losses.png",
    "swd_levels": "swd_per_level.png",
    "fig12": "fig12_swd_vs_resolution.png",
}


def _colour(setting: str) -> str:
    """One colour per setting in every figure (matplotlib's cycle, in Table 2 order)."""
    return f"C{list(SETTINGS).index(setting) % 10}"


def _caption(fig, text: str) -> None:
    if text:
        wrapped = "\n".join(textwrap.wrap(text, 150))
        fig.text(0.0, 0.0, wrapped, ha="left", va="top", fontsize=7, color="0.3")


def _schemes(runs: list[dict]) -> list[str]:
    return sorted({s for r in runs for s in r["schemes"]})


def _errorbar(ax, xs: Sequence[float], spreads: Sequence[Spread], **kw) -> None:
    """Means with ±SD bars, and every seed's value as a small dot."""
    means = [s.mean for s in spreads]
    ax.errorbar(xs, means, yerr=[s.sd or 0.0 for s in spreads], capsize=3, **kw)
    for x, s in zip(xs, spreads, strict=True):
        ax.plot([x] * s.n, s.values, ".", color=kw.get("color", "k"), alpha=0.35, ms=4)


def plot_swd_vs_dor(
    swd: dict[str, dict[str, Spread]], dors: dict[str, int], floor: float, path: Path, caption=""
) -> Path:
    """Paper Fig. 6: SWD of the single-layer settings B-E against the binarized layer's DoR."""
    fig, ax = new_figure(1, 1, figsize=(6.5, 4))
    for i, (scheme, values) in enumerate(sorted(swd.items())):
        points = sorted((dors[s], s) for s in SINGLE_LAYER if s in values and s in dors)
        colour = f"C{i}"
        if points:
            xs, names = [p[0] for p in points], [p[1] for p in points]
            _errorbar(ax, xs, [values[s] for s in names], fmt="o-", color=colour, label=scheme)
            for x, s in points:
                label = f"{s} (n={values[s].n})"
                ax.annotate(label, (x, values[s].mean), textcoords="offset points", xytext=(4, 4))
        if "A" in values:
            a = values["A"]
            ax.axhline(a.mean, color=colour, ls=":", lw=1, label=f"{scheme} A (mean ± SD)")
            ax.axhspan(a.mean - (a.sd or 0), a.mean + (a.sd or 0), color=colour, alpha=0.1)
    paper_dors = paper_single_layer_dors()
    paper = [(paper_dors[s], TABLE3_SWD[s], s) for s in SINGLE_LAYER]
    ax.plot([p[0] for p in paper], [p[1] for p in paper], "s--", color="0.5", label="paper")
    for x, y, s in paper:
        ax.annotate(s, (x, y), textcoords="offset points", xytext=(4, -10), fontsize=8, color="0.4")
    ax.axhline(floor, color="k", ls="--", lw=1, label="noise floor (here)")
    ax.set_xscale("symlog", linthresh=16)
    ax.set_yscale("log")
    ax.set_xlabel("DoR of the binarized layer")
    ax.set_ylabel("average SWD x1e3 (mean ± SD over seeds)")
    ax.set_title("SWD vs degree of redundancy (settings B-E)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    _caption(fig, caption)
    return save_figure(fig, path)


def plot_swd_vs_resolution(runs: list[dict], floors: dict[int, float], path: Path, caption=""):
    """Paper Fig. 12: average SWD against resolution, one line per setting, per scheme."""
    schemes = _schemes(runs) or ["none"]  # nothing run yet: empty axes
    fig, axes = new_figure(1, len(schemes), figsize=(5.5 * len(schemes), 4), squeeze=False)
    archs = list(dict.fromkeys(r["architecture"] for r in runs))
    for ax, scheme in zip(axes[0], schemes, strict=True):
        lines: dict[str, list[tuple[int, Spread]]] = {}
        for arch in archs:
            for setting, group in by_setting(runs, scheme, arch).items():
                if (s := spread(group, "swd_x1e3")) is not None:
                    lines.setdefault(setting, []).append((group[0]["resolution"], s))
        for setting in sorted(lines, key=list(SETTINGS).index):
            points = sorted(lines[setting], key=lambda p: p[0])
            xs, spreads = [p[0] for p in points], [p[1] for p in points]
            n = "/".join(str(x) for x in dict.fromkeys(s.n for s in spreads))
            label = f"{setting} (n={n})"
            _errorbar(ax, xs, spreads, fmt="o-", color=_colour(setting), label=label)
        sizes = sorted(floors)
        ax.plot(sizes, [floors[s] for s in sizes], "kx--", lw=1, label="noise floor")
        ax.set_xscale("log", base=2)
        ax.set_xticks(sizes, [str(s) for s in sizes])
        ax.set_xlabel("resolution")
        ax.set_ylabel("average SWD x1e3 (mean ± SD)")
        ax.set_title(f"SWD vs resolution ({scheme})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    _caption(fig, caption)
    return save_figure(fig, path)


def _loss_band(group: list[dict], key: str) -> tuple[list[int], np.ndarray, np.ndarray]:
    """Epochs, mean and SD over the seeds that reached each epoch."""
    per_epoch: dict[int, dict[int, float]] = {}
    for r in group:
        for h in r["history"]:
            if key in h:
                per_epoch.setdefault(int(h["epoch"]), {})[r["seed"]] = float(h[key])
    epochs = sorted(per_epoch)
    spreads = [aggregate(per_epoch[e]) for e in epochs]
    return epochs, np.array([s.mean for s in spreads]), np.array([s.sd or 0.0 for s in spreads])


def plot_losses(runs: list[dict], path: Path, caption: str = "") -> Path:
    """Paper Figs 8-10: D and G loss per epoch, mean over seeds with a ±SD band, and each
    seed's curve as a thin line."""
    from matplotlib.ticker import MaxNLocator

    main = [r for r in runs if r["main"]]
    schemes = _schemes(main) or ["none"]
    fig, axes = new_figure(
        2, len(schemes), figsize=(5.5 * len(schemes), 6.5), squeeze=False, sharex=True
    )
    for col, scheme in enumerate(schemes):
        for row, (key, label) in enumerate((("d_loss", "discriminator"), ("g_loss", "generator"))):
            ax = axes[row, col]
            for setting, group in by_setting(main, scheme).items():
                epochs, mean, sd = _loss_band(group, key)
                if not epochs:
                    continue
                colour = _colour(setting)
                ax.errorbar(
                    epochs,
                    mean,
                    yerr=sd,
                    fmt="o-",
                    ms=3,
                    capsize=2,
                    color=colour,
                    label=f"{setting} ({seeds_label(len(group))})",
                )
                ax.fill_between(epochs, mean - sd, mean + sd, color=colour, alpha=0.15, lw=0)
                for r in group:
                    h = [(int(x["epoch"]), float(x[key])) for x in r["history"] if key in x]
                    if h:
                        ax.plot(*zip(*h, strict=True), "-", color=colour, lw=0.6, alpha=0.4)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylabel(f"{label} loss")
            ax.set_title(f"{label} loss per setting ({scheme}), mean ± SD over seeds", fontsize=9)
            ax.grid(alpha=0.3)
            if ax.get_legend_handles_labels()[0]:  # no legend on an empty axis (nothing run)
                ax.legend(fontsize=7)
        axes[-1, col].set_xlabel("epoch")
    _caption(fig, caption)
    return save_figure(fig, path)


def plot_swd_levels(runs: list[dict], path: Path, caption: str = "") -> Path:
    """SWD per pyramid level per setting (mean ± SD over seeds, each seed a dot)."""
    main = [r for r in runs if r["main"] and r.get("eval")]
    schemes = _schemes(main) or ["none"]
    fig, axes = new_figure(len(schemes), 1, figsize=(9, 3.2 * len(schemes)), squeeze=False)
    for ax, scheme in zip(axes[:, 0], schemes, strict=True):
        groups = by_setting(main, scheme)
        levels = list(
            dict.fromkeys(
                k for g in groups.values() for r in g for k in r["eval"]["swd_x1e3"]["levels"]
            )
        )
        width = 0.8 / max(len(levels), 1)
        for j, level in enumerate(levels):
            xs, spreads = [], []
            for i, group in enumerate(groups.values()):
                values = {r["seed"]: r["eval"]["swd_x1e3"]["levels"].get(level) for r in group}
                values = {k: v for k, v in values.items() if v is not None}
                if values:
                    xs.append(i + (j - (len(levels) - 1) / 2) * width)
                    spreads.append(aggregate(values))
            ax.bar(
                xs, [s.mean for s in spreads], width, color=f"C{j}", alpha=0.6, label=f"{level}px"
            )
            _errorbar(ax, xs, spreads, fmt="none", color="k")
        ticks = [f"{s} ({seeds_label(len(g))})" for s, g in groups.items()]
        ax.set_xticks(range(len(groups)), ticks)
        ax.set_ylabel("SWD x1e3 (mean ± SD)")
        ax.set_title(f"SWD per pyramid level per setting ({scheme})", fontsize=9)
        ax.grid(alpha=0.3, axis="y")
        if levels:
            ax.legend(title="level (dots: seeds)", fontsize=7)
    _caption(fig, caption)
    return save_figure(fig, path)


def _read_png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def plot_samples(
    rows: Sequence[tuple[str, Sequence[tuple[str, Path]]]], path: Path, caption: str = ""
) -> Path:
    """Paper Fig. 5: one labelled row per setting, one column per seed (same latents)."""
    cells = [(label, [(col, _read_png(p)) for col, p in row if p.is_file()]) for label, row in rows]
    cells = [(label, row) for label, row in cells if row] or [
        ("no samples", [("", np.full((8, 8, 3), 255, np.uint8))])
    ]
    columns = list(dict.fromkeys(col for _, row in cells for col, _ in row))
    height = max(img.shape[0] for _, row in cells for _, img in row)
    width = max(img.shape[1] for _, row in cells for _, img in row)
    fig, axes = new_figure(
        len(cells),
        len(columns),
        figsize=(len(columns) * width / 40, 1.2 + len(cells) * height / 40),
        squeeze=False,
    )
    for r, (label, row) in enumerate(cells):
        images = dict(row)
        for c, col in enumerate(columns):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            # An empty cell still shows a blank image, so every row keeps its height.
            ax.imshow(images.get(col, np.full((height, width, 3), 255, np.uint8)))
            if r == 0:
                ax.set_title(col, fontsize=9)
            if c == 0:
                ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle("samples per setting and seed (same latents in every cell)", fontsize=10)
    _caption(fig, caption)
    return save_figure(fig, path)


def _sample_rows(out: Path, runs: list[dict], resolution: int) -> list:
    main = [r for r in runs if r["main"]]
    first = f"seed {min((r['seed'] for r in main), default=0)}"  # real images: first column
    rows: list = [("real", [(first, out / f"real_samples_r{resolution}.png")])]
    shared = set()
    for scheme in _schemes(main):
        for setting, group in by_setting(main, scheme).items():
            key = tuple(r["name"] for r in group)
            if key in shared:  # a shared run (A) gets one row for every scheme it serves
                continue
            shared.add(key)
            label = f"{'/'.join(group[0]['schemes'])} {setting}\n{seeds_label(len(group))}"
            rows.append(
                (label, [(f"seed {r['seed']}", out / r["dir"] / EVAL_SAMPLES) for r in group])
            )
    return rows


def make_figures(out: Path, summary: dict[str, Any]) -> dict[str, str]:
    """Figs 5, 6, 8-10, 12 and SWD per level into ``out`` from ``report.json``'s content
    (and the runs' sample grids); returns :data:`FIGURES` (Fig. 2 included)."""
    runs, config, machine = summary["runs"], summary["config"], summary["machine"]
    main_res = config["resolution"]
    floors = {int(r): f["noise_floor_x1e3"]["avg"] for r, f in summary["noise_floor"].items()}
    caption = model_caption(config, machine)
    swd = {scheme: {s: m["swd"] for s, m in per.items()} for scheme, per in quality(runs).items()}
    dors = single_layer_dors(summary["tables"]["chosen"]["layers"])
    plot_swd_vs_dor(swd, dors, floors[main_res], out / FIGURES["fig6"], caption)
    archs = ", ".join(dict.fromkeys(r["architecture"] for r in runs)) or config["architecture"]
    plot_swd_vs_resolution(
        runs, floors, out / FIGURES["fig12"], model_caption(config, machine, architecture=archs)
    )
    plot_losses(runs, out / FIGURES["fig8_10"], caption)
    plot_swd_levels(runs, out / FIGURES["swd_levels"], caption)
    plot_samples(_sample_rows(out, runs, main_res), out / FIGURES["fig5"], caption)
    return dict(FIGURES)
