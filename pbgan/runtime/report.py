"""Latency and memory of several models against a float baseline: table, JSON, chart.

Ratios are "times better than the baseline", so > 1 is a win:

* ``speedup``        baseline latency / model latency, where the baseline latency is the
                     fastest configuration of the baseline model at the same thread count
                     on the same machine (``where``);
* ``size_ratio``     baseline flatbuffer bytes / model flatbuffer bytes;
* ``weight_ratio``   baseline weight bytes / model weight bytes (binary + float);
* ``arena_ratio``    baseline activation-arena estimate / model estimate;
* ``rss_ratio``      baseline peak-RSS growth / model peak-RSS growth (each of the best
                     configuration, when measured);
* ``anon_ratio``     the same for the anonymous part of the RSS growth (the model's copy,
                     arena and kernel buffers, without the runtime's code pages).
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pbgan.io import atomic_write_json, atomic_write_text
from pbgan.machine import machine_info, machine_line
from pbgan.markdown import md_table, text_table
from pbgan.plots import new_figure, save_figure
from pbgan.tflite_graph import format_bytes

__all__ = [
    "ModelBench",
    "flag_thread_losses",
    "format_table",
    "recommendation_lines",
    "recommended_threads",
    "summarize",
    "thread_notes",
    "write_report",
    "write_report_or_fallback",
]

_KIB = 1024


@dataclasses.dataclass
class ModelBench:
    """One model timed with one configuration and thread count somewhere."""

    model: str
    config: str
    threads: int
    median_ms: float
    p10_ms: float | None = None
    p90_ms: float | None = None
    where: str = "local"
    size_bytes: int = 0
    binary_weight_bytes: int = 0
    float_weight_bytes: int = 0
    arena_bytes: int = 0
    peak_rss_bytes: int | None = None
    anon_rss_bytes: int | None = None  # of which anonymous: the model's, not the code's
    latency_kind: str = "median"  # remote rows carry the tool's average

    @property
    def weight_bytes(self) -> int:
        return self.binary_weight_bytes + self.float_weight_bytes


def _ratio(base: float | None, value: float | None) -> float | None:
    if base is None or value is None or value <= 0:
        return None
    return base / value


def _fastest(rows: Sequence[ModelBench]) -> ModelBench | None:
    return min(rows, key=lambda r: r.median_ms) if rows else None


def _with_rss(rows: Sequence[ModelBench]) -> ModelBench | None:
    measured = [r for r in rows if r.peak_rss_bytes is not None]
    return _fastest(measured)


def summarize(
    results: Sequence[ModelBench], baseline_name: str | None, *, stack: bool = True
) -> dict[str, Any]:
    """Rows with ratios, and the best row per (machine, model, threads).

    ``machine`` describes this machine (where ``local`` rows ran), with the thread
    counts used; remote rows name their device in ``where``.
    """
    groups: dict[tuple[str, str, int], list[ModelBench]] = {}
    for r in results:
        groups.setdefault((r.where, r.model, r.threads), []).append(r)

    def reference(where: str, threads: int) -> tuple[ModelBench | None, ModelBench | None]:
        rows = groups.get((where, baseline_name, threads), []) if baseline_name else []
        return _fastest(rows), _with_rss(rows)

    def row_dict(r: ModelBench, *, best: bool) -> dict[str, Any]:
        base, base_rss = reference(r.where, r.threads)
        own_rss = r.peak_rss_bytes
        return {
            **dataclasses.asdict(r),
            "weight_bytes": r.weight_bytes,
            "is_best": best,
            "is_baseline": r.model == baseline_name,
            "baseline_config": base.config if base else None,
            "baseline_ms": base.median_ms if base else None,
            "speedup": _ratio(base.median_ms, r.median_ms) if base else None,
            "size_ratio": _ratio(base.size_bytes, r.size_bytes) if base else None,
            "weight_ratio": _ratio(base.weight_bytes, r.weight_bytes) if base else None,
            "arena_ratio": _ratio(base.arena_bytes, r.arena_bytes) if base else None,
            "rss_ratio": _ratio(base_rss.peak_rss_bytes, own_rss) if base_rss else None,
            "anon_ratio": _ratio(base_rss.anon_rss_bytes, r.anon_rss_bytes) if base_rss else None,
        }

    winners = {key: _fastest(rows) for key, rows in groups.items()}
    rows = [row_dict(r, best=r is winners[(r.where, r.model, r.threads)]) for r in results]
    best = [row_dict(w, best=True) for w in winners.values() if w is not None]
    flag_thread_losses(rows, same=("where", "model", "config"))
    flag_thread_losses(best, same=("where", "model"))
    return {
        "baseline": baseline_name,
        "machine": machine_info(threads=sorted({r.threads for r in results}), stack=stack),
        "rows": rows,
        "best": best,
        "recommended_threads": recommended_threads(best),
        "notes": thread_notes(best),
    }


def flag_thread_losses(rows: Sequence[dict[str, Any]], *, same: Sequence[str]) -> None:
    """Mark each row that is slower than a row with fewer threads and equal ``same`` keys.

    Sets ``slower_than_threads`` (the fewer-thread count that wins, the fastest of them)
    and ``thread_note`` ("2 threads slower than 1: use 1"), both ``None`` on rows that
    do not lose: more threads must never look like an improvement they are not.
    """
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in same), []).append(row)
    for group in groups.values():
        for row in group:
            fewer = [r for r in group if r["threads"] < row["threads"]]
            winner = min(fewer, key=lambda r: r["median_ms"]) if fewer else None
            loses = winner is not None and row["median_ms"] > winner["median_ms"]
            row["slower_than_threads"] = winner["threads"] if loses else None
            row["thread_note"] = (
                f"{row['threads']} threads slower than {winner['threads']}: use {winner['threads']}"
                if loses
                else None
            )


def recommended_threads(best: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per model and machine: the thread count (and configuration) with the lowest latency.

    Ties go to fewer threads: a second thread that buys nothing costs a core.
    """
    by_model: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in best:
        by_model.setdefault((row["where"], row["model"]), []).append(row)
    return [
        {
            "where": where,
            "model": model,
            "threads": pick["threads"],
            "config": pick["config"],
            "median_ms": pick["median_ms"],
            "tried_threads": sorted(r["threads"] for r in rows),
        }
        for (where, model), rows in by_model.items()
        for pick in [min(rows, key=lambda r: (r["median_ms"], r["threads"]))]
    ]


def thread_notes(best: Sequence[dict[str, Any]]) -> list[str]:
    """Where more threads made a model slower than fewer did, or where no fewer-thread row
    exists to tell: never reported silently."""
    notes = []
    by_model: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in best:
        by_model.setdefault((row["where"], row["model"]), []).append(row)
    for (where, model), rows in by_model.items():
        rows = sorted(rows, key=lambda r: r["threads"])
        if rows[0]["threads"] > 1:
            notes.append(
                f"{model} [{where}] was timed only at {', '.join(str(r['threads']) for r in rows)} "
                f"threads: nothing shows whether fewer would be faster; add --threads "
                f"1,{rows[0]['threads']}"
            )
        for i, row in enumerate(rows[1:], 1):
            fastest_fewer = min(rows[:i], key=lambda r: r["median_ms"])
            if row["median_ms"] > fastest_fewer["median_ms"]:
                notes.append(
                    f"{model} [{where}] is slower at {row['threads']} threads "
                    f"({row['median_ms']:.4g} ms) than at {fastest_fewer['threads']} "
                    f"({fastest_fewer['median_ms']:.4g} ms, "
                    f"{row['median_ms'] / fastest_fewer['median_ms'] - 1:+.1%}): run it with "
                    f"{fastest_fewer['threads']}"
                )
    return notes


def recommendation_lines(summary: dict[str, Any]) -> list[str]:
    """One line per model measured at more than one thread count: the count to use."""
    return [
        f"{r['model']} [{r['where']}]: {r['threads']} thread(s), {r['config']} "
        f"{r['median_ms']:.4g} ms (tried {', '.join(map(str, r['tried_threads']))})"
        for r in summary.get("recommended_threads", [])
        if len(r["tried_threads"]) > 1
    ]


def _fmt(value: float | None, spec: str = ".2f", suffix: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{suffix}"


def _mem(value: int | None) -> str:
    return "-" if value is None else format_bytes(value)


_COLUMNS = (
    "model",
    "where",
    "config",
    "threads",
    "latency ms",
    "p10",
    "p90",
    "speedup",
    "flatbuffer",
    "weights",
    "arena est.",
    "peak RSS",
    "anon RSS",
    "size x",
    "weights x",
    "arena x",
    "RSS x",
    "anon x",
    "threads note",
)


def _cells(row: dict[str, Any]) -> list[str]:
    latency = _fmt(row["median_ms"], ".4g") + ("" if row["latency_kind"] == "median" else " avg")
    return [
        row["model"] + (" (baseline)" if row["is_baseline"] else ""),
        row["where"],
        row["config"] + (" *" if row["is_best"] else ""),
        str(row["threads"]),
        latency,
        _fmt(row["p10_ms"], ".4g"),
        _fmt(row["p90_ms"], ".4g"),
        _fmt(row["speedup"], ".2f", "x"),
        _mem(row["size_bytes"]),
        _mem(row["weight_bytes"]),
        _mem(row["arena_bytes"]),
        _mem(row["peak_rss_bytes"]),
        _mem(row.get("anon_rss_bytes")),
        _fmt(row["size_ratio"], ".1f", "x"),
        _fmt(row["weight_ratio"], ".1f", "x"),
        _fmt(row["arena_ratio"], ".1f", "x"),
        _fmt(row["rss_ratio"], ".1f", "x"),
        _fmt(row.get("anon_ratio"), ".1f", "x"),
        row.get("thread_note") or "",
    ]


def format_table(rows: Sequence[dict[str, Any]], *, markdown: bool = False) -> str:
    """Summary rows as a plain aligned table, or as a Markdown table."""
    body = [_cells(r) for r in rows]
    return (md_table if markdown else text_table)(_COLUMNS, body)


def _where_line(summary: dict[str, Any]) -> str:
    """Where the rows ran: ``machine`` describes this machine, which times only local rows."""
    here = machine_line(summary["machine"])
    devices = sorted({r["where"] for r in summary["rows"]} - {"local"})
    if not devices:
        return f"Machine: {here}."
    named = ", ".join(f"`{d}`" for d in devices)
    if all(r["where"] != "local" for r in summary["rows"]):
        return f"Device: {named} (`lce_benchmark_model`); driven from {here}."
    return f"Machine (local rows): {here}. Device (other rows): {named} (`lce_benchmark_model`)."


def _markdown(summary: dict[str, Any]) -> str:
    base = summary["baseline"]
    parts = [
        "# Latency and memory",
        "",
        _where_line(summary)
        + " Baseline: "
        + (f"`{base}`, its fastest float configuration." if base else "none given."),
        "Ratios are baseline / model (> 1 is better); `*` marks the fastest configuration "
        "of a model at a thread count. Latency is the median of the timed runs (local) or "
        "the tool's average (remote). *threads note* flags a row that is slower than the "
        "same model (and, in the full table, configuration) with fewer threads.",
        "",
        "## Best configuration per model",
        "",
        format_table(summary["best"], markdown=True),
        "",
        *(f"* **Threads:** {note}" for note in summary.get("notes", [])),
        *(f"* **Run with:** {line}" for line in recommendation_lines(summary)),
        "",
        "## Every configuration",
        "",
        format_table(summary["rows"], markdown=True),
        "",
    ]
    return "\n".join(parts)


def _label(row: dict[str, Any]) -> str:
    where = "" if row["where"] == "local" else f"\n{row['where']}"
    return f"{row['model']}\n{row['threads']}t{where}"


def _annotate(ax: Any, bars: Any, ratios: Sequence[float | None], spec: str) -> None:
    for bar, ratio in zip(bars, ratios, strict=True):
        if ratio is not None:
            ax.annotate(
                f"{ratio:{spec}}x",
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=7,
            )


def _chart(summary: dict[str, Any], path: Path) -> Path:
    best = summary["best"]
    labels = [_label(r) for r in best]
    x = list(range(len(best)))
    fig, (left, right) = new_figure(1, 2, figsize=(max(8, 2.2 * len(best) + 4), 4.5))

    bars = left.bar(x, [r["median_ms"] for r in best], color="#4c72b0")
    _annotate(left, bars, [r["speedup"] for r in best], ".2f")
    left.set_title("latency, best configuration (speedup vs baseline)")
    left.set_ylabel("ms")
    left.set_xticks(x, labels, fontsize=8)

    series = [
        ("weights", "weight_bytes", "weight_ratio", "#55a868"),
        ("arena est.", "arena_bytes", "arena_ratio", "#c44e52"),
        ("peak RSS", "peak_rss_bytes", "rss_ratio", "#8172b2"),
    ]
    series = [s for s in series if any(r[s[1]] is not None for r in best)]
    width = 0.8 / len(series)
    for k, (name, key, ratio_key, color) in enumerate(series):
        offsets = [i + (k - (len(series) - 1) / 2) * width for i in x]
        values = [(r[key] or 0) / _KIB for r in best]
        bars = right.bar(offsets, values, width, label=name, color=color)
        _annotate(right, bars, [r[ratio_key] for r in best], ".1f")
    # Weights of a binary model and a process's RSS differ by orders of magnitude.
    right.set_yscale("log")
    right.set_title("memory (times smaller than baseline)")
    right.set_ylabel("KiB (log)")
    right.set_xticks(x, labels, fontsize=8)
    right.legend(fontsize=8)

    fig.tight_layout()
    return save_figure(fig, path)


def write_report(
    results: Sequence[ModelBench], baseline_name: str | None, out_dir: str | Path
) -> dict[str, Path]:
    """Write ``report.md``, ``report.json`` and ``report.png`` into ``out_dir``."""
    if not results:
        raise ValueError("no benchmark results to report; run the benchmark first")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(results, baseline_name)
    paths = {
        "markdown": out / "report.md",
        "json": out / "report.json",
        "png": out / "report.png",
    }
    atomic_write_text(paths["markdown"], _markdown(summary))
    atomic_write_json(paths["json"], summary)
    _chart(summary, paths["png"])
    return paths


def write_report_or_fallback(
    results: Sequence[ModelBench], baseline_name: str | None, out_dir: str | Path
) -> tuple[dict[str, Path], str | None]:
    """:func:`write_report` into ``out_dir``, or into a new temporary folder when that fails.

    Finished timings are never lost to a full disk or a folder made read-only during the
    run. Returns the paths written and, after a fallback, why ``out_dir`` failed.
    """
    try:
        return write_report(results, baseline_name, out_dir), None
    except OSError as err:
        why = f"{err.strerror or type(err).__name__}: {err.filename or out_dir}"
    fallback = Path(tempfile.mkdtemp(prefix="pbgan-bench-report-"))
    return write_report(results, baseline_name, fallback), why
