"""The demo's one page: ``REPORT.md``, ``report.json`` and ``report.png``, built only from
the record :func:`pbgan.demo.run.run_demo` returns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pbgan.io import atomic_write_json, atomic_write_text
from pbgan.machine import machine_line
from pbgan.markdown import md_table
from pbgan.tflite_graph import format_bytes

__all__ = ["caption", "render", "write_page"]


def caption(m: dict[str, Any]) -> str:
    """Which model a figure shows: architecture, width, setting, scheme, steps, seed."""
    scheme = "float" if m["setting"] == "A" else m["scheme"]
    return (
        f"{m['architecture']} width {m['width']:g}, setting {m['setting']} ({scheme}), "
        f"{m['steps']} steps, seed {m['seed']}"
    )


def _best(bench: dict[str, Any], label: str) -> dict[str, Any] | None:
    return next((r for r in bench["best"] if r["model"] == label), None)


def _ms(row: dict[str, Any] | None) -> str:
    if row is None:
        return "—"
    return f"{row['median_ms']:.3g} ({row['p10_ms']:.3g}-{row['p90_ms']:.3g})"


def _x(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}x"


def _speed_rows(bench: dict[str, Any], names: dict[str, str]) -> list[list[Any]]:
    rows = []
    for name, label in names.items():
        r = _best(bench, label)
        rows.append(
            [
                name,
                format_bytes(r["size_bytes"]) if r else "—",
                _x(r and r["size_ratio"]),
                _ms(r),
                r["config"] if r else "—",
                _x(r and r["speedup"], 2),
                format_bytes(r["peak_rss_bytes"]) if r and r["peak_rss_bytes"] else "—",
                format_bytes(r["anon_rss_bytes"]) if r and r.get("anon_rss_bytes") else "—",
                format_bytes(r["arena_bytes"]) if r else "—",
            ]
        )
    return rows


_SPEED_HEADER = [
    "model",
    "flatbuffer",
    "A / model",
    "latency ms, 1 thread (p10-p90)",
    "kernel",
    "speed-up",
    "peak RSS",
    "of which the model's",
    "arena est.",
]


def render(record: dict[str, Any]) -> str:
    """REPORT.md from the record alone."""
    models = record["models"]
    a = models["A"]
    floor = a["quality"]["noise_floor_x1e3"]
    real_ms = a["quality"]["ms_ssim"]["real"]
    n = a["quality"]["n"]
    quality_rows = []
    for name, m in models.items():
        q = m["quality"]
        levels = ", ".join(f"{k}: {v:.1f}" for k, v in q["swd_x1e3"]["levels"].items())
        quality_rows.append(
            [
                name,
                caption(m),
                m["recipe"],
                m["ops"].get("LceBconv2d", 0),
                f"**{q['swd_x1e3']['avg']:.1f}** ({levels})",
                f"{q['ms_ssim']['generated']:.3f}",
                f"`{m['tflite']}`",
            ]
        )
    labels = {name: m["tflite"] for name, m in models.items()}
    parts = [
        "# pbgan demo: a float and a deployable generator, trained here",
        "",
        f"Measured on {machine_line(record['machine'])}.",
        "",
        "![samples of both models](report.png)",
        "",
        "## The two trained models",
        "",
        "Quality, size, speed and memory below are of the **same two files**, the converted "
        "LCE flatbuffers (the deployed models, run by LCE's interpreter one latent at a "
        f"time). SWD x1e3 on {n} generated vs {n} real built-in faces (Laplacian levels "
        f"and average; lower is better); noise floor (real vs real) {floor['avg']:.1f}. "
        f"MS-SSIM between random pairs: lower is more diverse; real images {real_ms:.3f}.",
        "",
        md_table(
            [
                "model",
                "architecture",
                "recipe",
                "LceBconv2d",
                "SWD avg (levels)",
                "MS-SSIM",
                "file",
            ],
            quality_rows,
        ),
        "",
        md_table(_SPEED_HEADER, _speed_rows(record["bench"], labels)),
        "",
    ]
    full = record.get("full_width")
    if full:
        parts += [
            f"At this size ({a['architecture']}, width {a['width']:g}) the layers are small, "
            "so binary layers save less than at full width: the section below shows the "
            "same two settings at dcgan64 full width.",
            "",
        ]
        parts += [
            "## Full width, random weights (speed and size only, not trained)",
            "",
            "dcgan64 at full width (the paper's DCGAN), setting A (float) and auto (xnor), "
            "random initial weights: the converted graphs are what a trained model of "
            "that size would run, but nothing here says anything about its quality.",
            "",
            md_table(_SPEED_HEADER, _speed_rows(full["bench"], full["paths"])),
            "",
        ]
    parts += [
        "Latency: median of the timed runs at 1 thread, the fastest kernel configuration of "
        "each model; the float baseline A is timed with every float runtime available "
        "(LCE and TensorFlow Lite, with and without XNNPACK) and the fastest counts. "
        "Peak RSS: growth of a fresh process's peak resident set while loading and "
        "running the model; of which the model's: its anonymous part (the interpreter's "
        "copy of the model, arena and kernel buffers; the rest is the runtime library's "
        "code, the same for both). Arena: the activation-memory lower bound read from "
        "the graph.",
        "",
    ]
    return "\n".join(parts)


def _figure(record: dict[str, Any], path: Path) -> Path:
    from pbgan.plots import new_figure, save_figure

    from PIL import Image

    models = record["models"]
    fig, axes = new_figure(1, len(models), figsize=(5.2 * len(models), 5.6))
    for ax, (name, m) in zip(axes, models.items(), strict=True):
        ax.imshow(Image.open(m["samples_png"]))
        q = m["quality"]
        ax.set_title(
            f"{name}: {caption(m)}\n{m['recipe']}\nSWD {q['swd_x1e3']['avg']:.1f}, "
            f"MS-SSIM {q['ms_ssim']['generated']:.3f}, {format_bytes(m['size_bytes'])}",
            fontsize=8,
        )
        ax.axis("off")
    fig.tight_layout()
    return save_figure(fig, path)


def write_page(record: dict[str, Any], out: Path) -> dict[str, Path]:
    """Write ``REPORT.md``, ``report.json`` and ``report.png`` into ``out``."""
    paths = {"markdown": out / "REPORT.md", "json": out / "report.json", "png": out / "report.png"}
    atomic_write_json(paths["json"], record)
    _figure(record, paths["png"])
    atomic_write_text(paths["markdown"], render(record))
    return paths
