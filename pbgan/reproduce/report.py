"""``REPORT.md``, built only from the summary that ``report.json`` holds.

:func:`render_report` reads nothing but its argument, so a report can be rebuilt (or
tested) from a saved or constructed ``report.json``.
"""

from __future__ import annotations

from typing import Any

from pbgan.machine import machine_line
from pbgan.markdown import md_table
from pbgan.paper import TABLE1_DOR, TABLE3_SWD, TABLE4_F_INFERENCE_SPEEDUP, TABLE4_F_MEMORY_RATIO
from pbgan.reproduce.plan import deploys
from pbgan.reproduce.records import deployed_runs
from pbgan.reproduce.rules import WITHIN_NOISE
from pbgan.runs import LOSS_CURVES
from pbgan.settings import SCHEMES, get_setting

__all__ = ["render_report"]


def _fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _deployed_schemes() -> str:
    return "/".join(s for s in SCHEMES if deploys(s))


def _table1(tables: dict) -> str:
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


def _table3(summary: dict) -> str:
    runs = [r for r in summary["runs"] if r["main"]]
    schemes = list(summary["config"]["schemes"])
    header = ["setting", "paper SWD"]
    for s in schemes:
        header += [f"{s} SWD", f"{s} MS-SSIM"]
    by = {(scheme, r["setting"]): r for r in runs for scheme in r["schemes"]}
    rows = []
    for setting in summary["config"]["settings"]:
        row = [setting, TABLE3_SWD.get(setting, "—")]
        for scheme in schemes:
            ev = (by.get((scheme, setting)) or {}).get("eval")
            row += [
                _fmt(ev["swd_x1e3"]["avg"]) if ev else "—",
                _fmt(ev["ms_ssim_generated"], 3) if ev else "—",
            ]
        rows.append(row)
    floor = summary["noise_floor"][str(summary["config"]["resolution"])]
    nf = floor["noise_floor_x1e3"]
    rows.append(
        ["real vs real (noise floor)", "—"]
        + [_fmt(nf["avg"]), _fmt(floor["ms_ssim_real"], 3)] * len(schemes)
    )
    notes = [
        f"Average SWD x1e3 over the pyramid levels {', '.join(nf['levels'])} "
        f"({summary['config']['eval_n']} generated vs real images; lower is better); MS-SSIM "
        "is the mean over random pairs of generated samples (lower is more diverse; compare "
        "with the real row). Paper: CelebA 64x64, full-width DCGAN, bwn weights. Per-level "
        "values are in report.json.",
    ]
    for r in runs:
        if len(r["schemes"]) > 1:
            notes.append(
                f"Setting {r['setting']} binarizes nothing, so one run ({r['dir']}) serves "
                "every scheme."
            )
    if nf.get("note"):
        notes.append(f"Note: {nf['note']}.")
    return "\n\n".join([md_table(header, rows), *notes])


def _table4(summary: dict) -> str:
    runs = deployed_runs(summary["runs"])
    if not runs:
        names = _deployed_schemes()
        return f"No {names} runs in this reproduction (pass --schemes {names} to deploy)."
    base = next((r["deploy"] for r in runs if r["setting"] == "A" and r["deploy"]), None)
    if base is not None and "error" in base:
        base = None
    header = [
        "setting",
        "LceBconv2d ops",
        "flatbuffer",
        "size vs A",
        "binary / float weights",
        "best config (1 thread)",
        "median ms",
        "speedup vs A",
    ]
    rows = []
    for r in runs:
        d = r["deploy"]
        if not d:
            rows.append([r["setting"], "—", "—", "—", "—", "not trained", "—", "—"])
            continue
        if "error" in d:
            rows.append([r["setting"], "—", "—", "—", "—", f"failed: {d['error']}", "—", "—"])
            continue
        size_ratio = f"1/{base['size_bytes'] / d['size_bytes']:.2f}" if base else "—"
        speedup = f"{base['median_ms'] / d['median_ms']:.2f}x" if base else "—"
        rows.append(
            [
                r["setting"],
                d["ops"].get("LceBconv2d", 0),
                f"{d['size_bytes'] / 1e3:.1f} kB",
                size_ratio,
                f"{d['binary_constant_bytes'] / 1e3:.1f} / {d['float_constant_bytes'] / 1e3:.1f} kB",
                d["best_config"],
                f"{d['median_ms']:.3f}",
                speedup,
            ]
        )
    f = next((r["deploy"] for r in runs if r["setting"] == "F" and r["deploy"]), None)
    here = "F was not run"
    if f and base and "error" not in f:
        here = (
            f"here F: size 1/{base['size_bytes'] / f['size_bytes']:.2f}, inference "
            f"{base['median_ms'] / f['median_ms']:.2f}x"
        )
    quote = (
        f"Paper Table 4 (setting F vs A, full-width DCGAN): memory 1/{TABLE4_F_MEMORY_RATIO}, "
        f"inference {TABLE4_F_INFERENCE_SPEEDUP}x faster; {here}. Latency is the median of "
        f"{summary['config']['bench_runs']} timed runs with the fastest interpreter "
        "configuration of each model on this machine (the float baseline A takes the fastest "
        "float runtime); size is the whole flatbuffer."
    )
    return "\n\n".join([md_table(header, rows), quote])


def _inference_lines(entries: list[dict]) -> str:
    lines = []
    for e in entries:
        paper = e["paper"]
        if paper["verdict"] == "not measured":
            paper_text = "the paper's Table 3 has no value for it"
        else:
            paper_text = f"on the paper's numbers: {paper['verdict']} ({paper['detail']})"
        lines.append(f"- **{e['claim']}** — {paper_text}.")
        for scheme, m in e["measured"].items():
            lines.append(f"  - {scheme}: **{m['verdict']}** ({m['detail']}).")
    return "\n".join(lines)


def _binarization_table(rows: list[dict]) -> str:
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


def _resolution_table(summary: dict) -> str:
    sizes = sorted(int(s) for s in summary["noise_floor"])
    header = ["scheme", "setting"] + [f"{s}x{s}" for s in sizes]
    cells: dict[tuple[str, str], dict[int, str]] = {}
    for r in summary["runs"]:
        if r["eval"]:
            for scheme in r["schemes"]:
                cells.setdefault((scheme, r["setting"]), {})[r["resolution"]] = _fmt(
                    r["eval"]["swd_x1e3"]["avg"]
                )
    order = summary["config"]["settings"]
    rows = [
        [sc, st] + [v.get(s, "—") for s in sizes]
        for (sc, st), v in sorted(cells.items(), key=lambda kv: (kv[0][0], order.index(kv[0][1])))
    ]
    rows.append(
        ["real", "noise floor"]
        + [_fmt(summary["noise_floor"][str(s)]["noise_floor_x1e3"]["avg"]) for s in sizes]
    )
    return md_table(header, rows)


def _runs_table(summary: dict) -> str:
    rows = [
        [
            r["name"],
            r["architecture"],
            "/".join(r["schemes"]),
            r["setting"],
            r["epochs_done"],
            f"{r['train_seconds']:.0f}",
            r["stopped"] or "—",
            f"[loss curves]({r['dir']}/{LOSS_CURVES})",
        ]
        for r in summary["runs"]
    ]
    return md_table(
        ["run", "arch", "scheme", "setting", "epochs", "train s", "stopped", "plots"], rows
    )


def _machine(m: dict[str, Any]) -> str:
    # machine_line leaves pbgan's own version out; a report names the code that made it.
    version = (m.get("versions") or {}).get("pbgan", "?")
    return f"Machine: {machine_line(m)}; pbgan {version}."


def render_report(summary: dict[str, Any]) -> str:
    """REPORT.md from the summary that report.json holds."""
    c = summary["config"]
    steps = c["steps_per_epoch"] or "one pass over the data"
    figs = summary["files"]["figures"]
    return "\n".join(
        [
            "# PBGAN reproduction report",
            "",
            f"Command: `{summary['command']}`",
            "",
            _machine(summary["machine"]),
            "",
            f"Wall time: {summary['wall_seconds']:.0f} s for this invocation (finished work "
            f"from earlier invocations is reused); the training recorded in the runs' "
            f"histories took {summary['train_seconds']:.0f} s in total.",
            "",
            f"Scale: {c['architecture']} at width {c['width']:g}, epochs {c['epochs']} x "
            f"steps {steps} x batch {c['batch_size']}, data {c['data']}, evaluation on "
            f"{c['eval_n']} images per set, seed {c['seed']}. The paper trains the "
            "full-width 64x64 DCGAN on CelebA: numbers at a smaller scale test the direction "
            "of its findings, not their size.",
            "",
            "## Table 1 — Degree of redundancy per layer",
            "",
            "DoR = c_in - h_in x w_in (from `pbgan.analysis.analyze`); the projection is a "
            "deconvolution from a 1 x 1 x z input. Layers with DoR >= 0 are binarized by the "
            "plan (setting auto).",
            "",
            _table1(summary["tables"]),
            "",
            "## Table 3 — Quality: average SWD x1e3",
            "",
            _table3(summary),
            "",
            f"## Table 4 — Deployment of the {_deployed_schemes()} generators",
            "",
            _table4(summary),
            "",
            "## Which of the paper's inferences hold here",
            "",
            f"Computed from Table 3 by fixed rules ({c['architecture']} runs; noise floor "
            f"{_fmt(summary['noise_floor'][str(c['resolution'])]['noise_floor_x1e3']['avg'])}); "
            "the same rules applied to the paper's values are shown beside each claim. "
            f"*{WITHIN_NOISE}*: the two values differ by less than the real-vs-real noise "
            "floor, so the order cannot be told at this evaluation size.",
            "",
            _inference_lines(summary["inferences"]),
            "",
            "## Figure 2 — Binarization error vs DoR",
            "",
            f"![binarization error vs DoR]({figs['fig2']})",
            "",
            "Exhaustive search over binary weights of a stride = kernel deconvolution "
            "(`pbgan.metrics.binarization_error`): relative output error of the best "
            "alpha x sign pattern per input and shared by all inputs, and of XNOR-Net's "
            "sign(W).",
            "",
            _binarization_table(summary["binarization_error"]),
            "",
            "## Figure 5 — Samples per setting",
            "",
            f"![samples per setting]({figs['fig5']})",
            "",
            "## Figure 6 — SWD vs DoR of the binarized layer (settings B-E)",
            "",
            f"![SWD vs DoR]({figs['fig6']})",
            "",
            "## Figure 12 — SWD vs resolution",
            "",
            f"![SWD vs resolution]({figs['fig12']})",
            "",
            "SWD levels differ with resolution (a 32x32 image has levels 32 and 16 only), so "
            "values compare settings within a resolution more than across resolutions.",
            "",
            _resolution_table(summary),
            "",
            "## Figures 8-10 — Generator loss per setting",
            "",
            f"![generator loss]({figs['fig8_10']})",
            "",
            "## Runs",
            "",
            _runs_table(summary),
            "",
        ]
    )
