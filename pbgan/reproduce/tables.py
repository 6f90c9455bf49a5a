"""The report's tables (paper Tables 1, 3 and 4, Fig. 12's numbers, the runs), each a
Markdown string built from ``report.json``'s content only.

Every number over seeds is written as ``mean ± SD (n seeds: s0 v0, s1 v1, ...)``
(:func:`pbgan.reproduce.stats.fmt_spread`): the mean, the sample SD, how many seeds and
each seed's value. A setting x scheme with no finished run says *not run*
(:data:`NOT_RUN`); :func:`coverage_table` gives the seeds of each.
"""

from __future__ import annotations

from typing import Any

from pbgan.markdown import md_table
from pbgan.paper import TABLE1_DOR, TABLE3_SWD, TABLE4_F_INFERENCE_SPEEDUP, TABLE4_F_MEMORY_RATIO
from pbgan.reproduce.plan import deploys
from pbgan.reproduce.records import by_setting, spread
from pbgan.reproduce.stats import MIN_SEEDS, fmt_spread, seeds_label
from pbgan.runs import LOSS_CURVES
from pbgan.settings import SCHEMES, get_setting

__all__ = [
    "NOT_RUN",
    "binarization_table",
    "coverage_table",
    "deploy_label",
    "few_seeds",
    "missing_lines",
    "resolution_table",
    "runs_table",
    "table1",
    "table3",
    "table4",
]


NOT_RUN = "not run"


def _fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def deploy_label(scheme: str) -> str:
    """``xnor (binary ops)`` or ``bwn (float ops)``: how the scheme's generators deploy."""
    return f"{scheme} ({'binary' if deploys(scheme) else 'float'} ops)"


def table1(tables: dict) -> str:
    chosen = tables["chosen"]
    full = {r["layer"]: r for r in tables["full_width_dcgan64"]["layers"]}
    label = f"{chosen['architecture']}, width {chosen['width']:g}"
    header = [
        "layer",
        f"input h x w x c ({label})",
        f"DoR ({label})",
        "plan",
        "DoR (full-width dcgan64)",
        "paper Table 1",
    ]
    rows = []
    for r in chosen["layers"]:
        f = full.get(r["layer"])
        rows.append(
            [
                r["layer"],
                f"{r['h_in']} x {r['w_in']} x {r['c_in']}",
                r["dor"],
                "binarize" if r["binarize"] else "keep float",
                f["dor"] if f else "—",
                TABLE1_DOR.get(r["layer"], "— (not in the paper)"),
            ]
        )
    plans = md_table(
        ["setting", f"binarized layers ({label})", "binary discriminator"],
        [
            [s, ", ".join(layers) or "none", "yes" if get_setting(s).binary_discriminator else "no"]
            for s, layers in tables["plans"].items()
        ],
    )
    return "\n\n".join([md_table(header, rows), plans])


def table3(summary: dict) -> str:
    runs = summary["runs"]
    schemes = list(summary["config"]["schemes"])
    header = ["setting", "paper SWD"]
    for s in schemes:
        header += [f"{deploy_label(s)} SWD x1e3", f"{s} MS-SSIM"]
    groups = {s: by_setting(runs, s) for s in schemes}
    rows = []
    for setting in summary["config"]["settings"]:
        row = [setting, TABLE3_SWD.get(setting, "—")]
        for scheme in schemes:
            group = groups[scheme].get(setting, [])
            none = NOT_RUN if not group else "not evaluated"
            row += [
                fmt_spread(spread(group, "swd_x1e3"), 1, none),
                fmt_spread(spread(group, "ms_ssim_generated"), 3, none),
            ]
        rows.append(row)
    floor = summary["noise_floor"][str(summary["config"]["resolution"])]
    nf = floor["noise_floor_x1e3"]
    rows.append(
        ["real vs real (noise floor)", "—"]
        + [_fmt(nf["avg"]), _fmt(floor["ms_ssim_real"], 3)] * len(schemes)
    )
    labels = ", ".join(deploy_label(s) for s in schemes)
    notes = [
        "Mean ± sample SD over seeds, then the number of seeds and each seed's value "
        f"(s<seed>); *{NOT_RUN}*: no finished run of that setting x scheme. Average SWD x1e3 "
        f"over the pyramid levels {', '.join(nf['levels'])} "
        f"({summary['config']['eval_n']} generated vs real images; lower is better); MS-SSIM "
        "is the mean over random pairs of generated samples (lower is more diverse; compare "
        "with the real row). Paper: CelebA 64x64, full-width DCGAN, bwn weights, one run. "
        f"Schemes: {labels}. Per-level values are in report.json and `swd_per_level.png`.",
    ]
    for r in runs:
        if r["main"] and len(r["schemes"]) > 1 and r["seed"] == min(x["seed"] for x in runs):
            notes.append(
                f"Setting {r['setting']} binarizes nothing, so one run per seed "
                f"({r['dir']}, ...) serves every scheme."
            )
    if nf.get("note"):
        notes.append(f"Note: {nf['note']}.")
    return "\n\n".join([md_table(header, rows), *notes])


def _deploy_cells(group: list[dict], base: list[dict]) -> list[str]:
    """ops, size (vs A), median ms, speedup vs A of one setting under one scheme."""
    done = [r["deploy"] for r in group if r.get("deploy") and "error" not in r["deploy"]]
    failed = [r["deploy"]["error"] for r in group if r.get("deploy") and "error" in r["deploy"]]
    if not done:
        reason = f"failed: {failed[0]}" if failed else ("not timed" if group else NOT_RUN)
        return [reason, "—", "—", "—"]
    bconv = done[0]["ops"].get("LceBconv2d", 0)
    ops = f"{bconv} LceBconv2d" if bconv else "float only"
    size, latency = spread(group, "size_bytes"), spread(group, "median_ms")
    base_size, base_ms = spread(base, "size_bytes"), spread(base, "median_ms")
    size_cell = f"{size.mean / 1e3:.1f} kB"
    if base_size:
        size_cell += f" (1/{base_size.mean / size.mean:.2f})"
    speedup = f"{base_ms.mean / latency.mean:.2f}x" if base_ms else "—"
    if failed:
        ops += f"; {len(failed)} seed(s) failed: {failed[0]}"
    return [ops, size_cell, fmt_spread(latency, 3), speedup]


def table4(summary: dict) -> str:
    runs = [r for r in summary["runs"] if r["main"]]
    schemes = list(summary["config"]["schemes"])
    header = ["setting"]
    for s in schemes:
        kind = "binary" if deploys(s) else "float"
        header += [f"{s} ops (deploys {kind})", f"{s} flatbuffer (vs A)", f"{s} median ms"]
        header.append(f"{s} speedup vs A")
    groups = {s: by_setting(runs, s) for s in schemes}
    rows = []
    for setting in summary["config"]["settings"]:
        row: list[Any] = [setting]
        for s in schemes:
            row += _deploy_cells(groups[s].get(setting, []), groups[s].get("A", []))
        rows.append(row)
    here = []
    for s in schemes:
        f, a = groups[s].get("F", []), groups[s].get("A", [])
        f_ms, a_ms = spread(f, "median_ms"), spread(a, "median_ms")
        f_size, a_size = spread(f, "size_bytes"), spread(a, "size_bytes")
        if f_ms and a_ms and f_size and a_size:
            here.append(
                f"{deploy_label(s)}: memory {a_size.mean / f_size.mean:.2f}x smaller (paper "
                f"{TABLE4_F_MEMORY_RATIO}x), inference {a_ms.mean / f_ms.mean:.2f}x faster "
                f"(paper {TABLE4_F_INFERENCE_SPEEDUP}x); F {seeds_label(f_size.n)}, A "
                f"{seeds_label(a_size.n)}"
            )
        else:
            here.append(f"{deploy_label(s)}: F or A {NOT_RUN} or not timed")
    binary = "/".join(s for s in SCHEMES if deploys(s))
    quote = (
        "F's memory ratio (A's flatbuffer size / F's) and speedup here beside the paper's "
        f"Table 4 (setting F vs A, full-width 64x64 DCGAN: memory 1/{TABLE4_F_MEMORY_RATIO}, "
        f"inference {TABLE4_F_INFERENCE_SPEEDUP}x faster): {'; '.join(here)}. "
        f"Only the {binary} columns deploy as binary ops (LceBconv2d, bit-packed weights); "
        "the other schemes' binarized layers convert to float operators holding ±alpha "
        f"weights, so their size and latency stay those of a float model. Latency: the "
        f"median of {summary['config']['bench_runs']} timed runs (1 thread) with the "
        "fastest interpreter configuration of each model on this machine, mean ± SD over "
        "seeds; size is the whole flatbuffer; ratios are of the means."
    )
    return "\n\n".join([md_table(header, rows), quote])


def binarization_table(rows: list[dict]) -> str:
    return md_table(
        [
            "c",
            "h x w",
            "DoR",
            "min error (per input)",
            "shared error (all inputs)",
            "sign(W) error",
        ],
        [
            [
                r["c"],
                f"{r['h']}x{r['w']}",
                r["dor"],
                f"{r['min_error']:.3f}",
                f"{r['shared_error']:.3f}",
                f"{r['sign_error']:.3f}",
            ]
            for r in rows
        ],
    )


def resolution_table(summary: dict) -> str:
    sizes = sorted(int(s) for s in summary["noise_floor"])
    header = ["scheme", "setting"] + [f"{s}x{s}" for s in sizes]
    runs = summary["runs"]
    rows = []
    for scheme in summary["config"]["schemes"]:
        cells: dict[str, dict[int, str]] = {}
        for arch in dict.fromkeys(r["architecture"] for r in runs):
            for setting, group in by_setting(runs, scheme, arch).items():
                s = spread(group, "swd_x1e3")
                if s is not None:
                    cells.setdefault(setting, {})[group[0]["resolution"]] = fmt_spread(s, 1)
        order = summary["config"]["settings"]
        for setting in sorted(cells, key=order.index):
            rows.append([scheme, setting] + [cells[setting].get(s, "—") for s in sizes])
    rows.append(
        ["real", "noise floor"]
        + [_fmt(summary["noise_floor"][str(s)]["noise_floor_x1e3"]["avg"]) for s in sizes]
    )
    return md_table(header, rows)


def _eval_cell(r: dict) -> str:
    ev = r.get("eval")
    return f"{ev['swd_x1e3']['avg']:.1f} / {ev['ms_ssim_generated']:.3f}" if ev else "—"


def _deploy_cell(r: dict) -> str:
    d = r.get("deploy")
    if not d:
        return "—"
    return (
        f"failed: {d['error']}" if "error" in d else f"{d['best_config']} {d['median_ms']:.3f} ms"
    )


def runs_table(summary: dict) -> str:
    rows = [
        [
            r["name"],
            r["architecture"],
            "/".join(r["schemes"]),
            r["setting"],
            r["seed"],
            r["epochs_done"],
            f"{r['train_seconds']:.0f}",
            r["stopped"] or "—",
            _eval_cell(r),
            _deploy_cell(r),
            f"[loss curves]({r['dir']}/{LOSS_CURVES})" if r.get("loss_curves") else "—",
        ]
        for r in summary["runs"]
    ]
    header = ["run", "arch", "scheme", "setting", "seed", "epochs", "train s", "stopped"]
    header += ["SWD / MS-SSIM", "best config, median", "plots"]
    return md_table(header, rows)


def _main_groups(summary: dict) -> dict[str, dict[str, list[dict]]]:
    return {s: by_setting(summary["runs"], s) for s in summary["config"]["schemes"]}


def coverage_table(summary: dict) -> str:
    """Seeds of each setting x scheme at the main architecture, or *not run*."""
    schemes = list(summary["config"]["schemes"])
    groups = _main_groups(summary)
    rows = []
    for setting in summary["config"]["settings"]:
        row = [setting]
        for scheme in schemes:
            seeds = [r["seed"] for r in groups[scheme].get(setting, [])]
            row.append(
                f"{seeds_label(len(seeds))} ({', '.join(f's{n}' for n in seeds)})"
                if seeds
                else NOT_RUN
            )
        rows.append(row)
    return md_table(["setting", *(deploy_label(s) for s in schemes)], rows)


def few_seeds(summary: dict) -> list[str]:
    """``bwn C (1 seed)``: each setting x scheme run on fewer than MIN_SEEDS seeds."""
    out = []
    for scheme, group in _main_groups(summary).items():
        for setting, runs in group.items():
            if len(runs) < MIN_SEEDS:
                out.append(f"{scheme} {setting} ({seeds_label(len(runs))})")
    return out


def missing_lines(summary: dict) -> list[str]:
    """``- xnor B (dcgan32): seeds 0, 1, 2 not trained``: the planned runs left out."""
    grouped: dict[tuple[str, str, str, str], list[int]] = {}
    for m in summary.get("missing", []):
        key = ("/".join(m["schemes"]), m["setting"], m["architecture"], m["reason"])
        grouped.setdefault(key, []).append(m["seed"])
    return [
        f"- {schemes} {setting} ({arch}): seed{'s' if len(seeds) > 1 else ''} "
        f"{', '.join(map(str, sorted(seeds)))} {reason}"
        for (schemes, setting, arch, reason), seeds in grouped.items()
    ]
