"""``REPORT.md``, built only from the summary that ``report.json`` holds.

:func:`render_report` reads nothing but its argument, so a report can be rebuilt (or
tested) from a saved or constructed ``report.json``. Every table and figure is preceded
by the caption of :func:`pbgan.reproduce.records.model_caption` (architecture, width,
settings, schemes, steps, seeds, machine).
"""

from __future__ import annotations

from typing import Any

from pbgan.machine import machine_line
from pbgan.reproduce.plan import deploys
from pbgan.reproduce.records import model_caption, quality
from pbgan.reproduce.rules import DISAGREE, NOT_DECIDED, deployable_gap
from pbgan.reproduce.stats import MIN_SEEDS, VERDICT_RULE
from pbgan.reproduce.tables import (
    NOT_RUN,
    binarization_table,
    coverage_table,
    deploy_label,
    few_seeds,
    missing_lines,
    resolution_table,
    runs_table,
    table1,
    table3,
    table4,
)

__all__ = ["render_report"]


def _inference_lines(entries: list[dict]) -> str:
    lines = []
    for e in entries:
        paper = e["paper"]
        if paper["verdict"] == "not measured":
            paper_text = "the paper's Table 3 has no value for it"
        else:
            paper_text = (
                f"on the paper's single values (no spread, no MS-SSIM): {paper['verdict']} "
                f"({paper['detail']})"
            )
        lines.append(f"- **{e['claim']}** — {paper_text}.")
        for scheme, m in e["measured"].items():
            lines.append(f"  - {scheme}: **{m['verdict']}** ({m['detail']}).")
    return "\n".join(lines)


def _machine(m: dict[str, Any]) -> str:
    # machine_line leaves pbgan's own version out; a report names the code that made it.
    version = (m.get("versions") or {}).get("pbgan", "?")
    return f"Machine: {machine_line(m)}; pbgan {version}."


def _seeds(c: dict) -> list[int]:
    return list(c.get("seeds", [c.get("seed", 0)]))


def _coverage(summary: dict[str, Any]) -> list[str]:
    """What the report stands on: the seeds of each setting x scheme, what is missing."""
    lines = [
        "## Seeds per setting and scheme",
        "",
        f"Finished runs found at {summary['config']['architecture']} (every table and "
        f"figure below is over these). *{NOT_RUN}*: no finished run of that setting x scheme; "
        "it is left out of every aggregate and verdict.",
        "",
        coverage_table(summary),
    ]
    missing = missing_lines(summary)
    if missing:
        lines += [
            "",
            "Asked for by the command but not in this folder, so neither evaluated nor "
            "converted here (not trained, or not trained to the last epoch):",
            "",
            *missing,
        ]
    few = few_seeds(summary)
    if few:
        lines += [
            "",
            f"Fewer than {MIN_SEEDS} seeds: {', '.join(few)}. Their numbers are shown with "
            f"their seed count; no verdict is decided on them (*{NOT_DECIDED}*).",
        ]
    return lines


def _gap(summary: dict[str, Any]) -> list[str]:
    """The deployable gap, in plain words: xnor auto against the float A."""
    schemes = [s for s in summary["config"]["schemes"] if deploys(s)]
    entries = deployable_gap(quality(summary["runs"]), schemes)
    lines = [
        "## The deployable gap — auto vs A",
        "",
        "The generator that deploys as binary ops is `auto` under "
        f"{', '.join(deploy_label(s) for s in schemes) or 'a binary scheme (none run)'}; "
        "A is the float generator. Mean ± SD over seeds, each seed's value, and the verdict "
        "rule below.",
        "",
    ]
    if summary["config"].get("recipe", "plain") == "deployable":
        lines[-1:-1] = [
            "",
            "Every run that deploys as binary ops is trained with the deployable recipe, as "
            "`pbgan train` trains it by default: it starts from the float A run of the same "
            "seed, distils from it and averages its weights (EMA 0.995); A is trained plain.",
        ]
    else:
        lines[-1:-1] = ["", "Every run is trained plain (the paper's training, `--recipe plain`)."]
    for e in entries:
        lines.append(f"- **{e['scheme']} auto vs A**: {e['text']}.")
    return lines


def _generators(summary: dict[str, Any]) -> list[str]:
    kept = summary["files"].get("generators", [])
    if not kept:
        return [
            "No generator file is kept in this folder: the runs' summaries hold their "
            "configuration, losses, evaluation and samples, not their weights."
        ]
    listed = ", ".join(f"`{p}`" for p in kept)
    return [
        f"Generator files kept in this folder: {listed} (Keras, the first finished seed of "
        "each; `pbgan convert <file> --setting <setting> -o model.tflite` converts one). "
        "Every other run is here as its summary only (`summaries/`, no checkpoints)."
    ]


def render_report(summary: dict[str, Any]) -> str:
    """REPORT.md from the summary that report.json holds."""
    c = summary["config"]
    steps = c["steps_per_epoch"] or "one pass over the data"
    figs = summary["files"]["figures"]
    seeds = _seeds(c)
    caption = f"*{model_caption(c, summary['machine'])}.*"
    archs = ", ".join(dict.fromkeys(r["architecture"] for r in summary["runs"]))
    caption12 = f"*{model_caption(c, summary['machine'], architecture=archs or None)}.*"
    few = (
        f" With {len(seeds)} seed(s) no order can be decided: every measured verdict is "
        f"*{NOT_DECIDED}*; pass --seeds with at least {MIN_SEEDS} seeds."
        if len(seeds) < MIN_SEEDS
        else f" Settings with fewer than {MIN_SEEDS} seeds here decide nothing (see 'Seeds "
        "per setting and scheme')."
    )
    return "\n".join(
        [
            "# PBGAN reproduction report",
            "",
            f"Command: `{summary['command']}`",
            "",
            _machine(summary["machine"]),
            "",
            f"Wall time: {summary['wall_seconds']:.0f} s for this invocation (finished work "
            f"from earlier invocations and committed summaries is reused); the training "
            f"recorded in the runs' histories took {summary['train_seconds']:.0f} s in total.",
            "",
            f"Scale: {c['architecture']} at width {c['width']:g}, epochs {c['epochs']} x "
            f"steps {steps} x batch {c['batch_size']}, data {c['data']}, evaluation on "
            f"{c['eval_n']} images per set (evaluation seed {c.get('eval_seed', 0)}), "
            f"training seeds {', '.join(map(str, seeds))}. Every setting x scheme x seed is "
            "one run; numbers are mean ± SD over seeds with each seed's value. The paper "
            "trains the full-width 64x64 DCGAN on CelebA: numbers at a smaller scale test "
            "the direction of its findings, not their size.",
            "",
            *_generators(summary),
            "",
            *_coverage(summary),
            "",
            "## Table 1 — Degree of redundancy per layer",
            "",
            f"*Model: {c['architecture']}, width {c['width']:g} (DoR depends on the shapes "
            "only, not on training).*",
            "",
            "DoR = c_in - h_in x w_in (from `pbgan.analysis.analyze`); the projection is a "
            "deconvolution from a 1 x 1 x z input. Layers with DoR >= 0 are binarized by the "
            "plan (setting auto).",
            "",
            table1(summary["tables"]),
            "",
            "## Table 3 — Quality: average SWD x1e3 and MS-SSIM, both schemes",
            "",
            caption,
            "",
            table3(summary),
            "",
            "## Table 4 — Deployment, both schemes",
            "",
            caption,
            "",
            table4(summary),
            "",
            *_gap(summary),
            "",
            "## Which of the paper's inferences hold here",
            "",
            f"Verdict rule (fixed, `pbgan.reproduce.stats`): {VERDICT_RULE} Every quality "
            f"verdict weighs MS-SSIM (diversity) beside SWD: *{DISAGREE}* when SWD decides "
            "one way and MS-SSIM decides that the better-scoring setting is the less "
            f"diverse one.{few} The same rules on the paper's single values compare the "
            "values alone.",
            "",
            caption,
            "",
            _inference_lines(summary["inferences"]),
            "",
            "## Figure 2 — Binarization error vs DoR",
            "",
            f"![binarization error vs DoR]({figs['fig2']})",
            "",
            "*Not a trained model:* exhaustive search over binary weights of a stride = "
            "kernel deconvolution (`pbgan.metrics.binarization_error`): relative output "
            "error of the best alpha x sign pattern per input and shared by all inputs, and "
            "of XNOR-Net's sign(W).",
            "",
            binarization_table(summary["binarization_error"]),
            "",
            "## Figure 5 — Samples per setting, every seed side by side",
            "",
            caption,
            "",
            f"![samples per setting and seed]({figs['fig5']})",
            "",
            "## Figure 6 — SWD vs DoR of the binarized layer (settings B-E)",
            "",
            caption,
            "",
            f"![SWD vs DoR]({figs['fig6']})",
            "",
            "## SWD per pyramid level per setting",
            "",
            caption,
            "",
            f"![SWD per level]({figs['swd_levels']})",
            "",
            "## Figure 12 — SWD vs resolution",
            "",
            caption12,
            "",
            f"![SWD vs resolution]({figs['fig12']})",
            "",
            "SWD levels differ with resolution (a 32x32 image has levels 32 and 16 only), so "
            "values compare settings within a resolution more than across resolutions.",
            "",
            resolution_table(summary),
            "",
            "## Figures 8-10 — Discriminator and generator loss per setting",
            "",
            caption,
            "",
            f"![D and G loss, mean band over seeds]({figs['fig8_10']})",
            "",
            "## Runs",
            "",
            caption12,
            "",
            f"Schemes: {', '.join(deploy_label(s) for s in c['schemes'])}. SWD / MS-SSIM and "
            "latency of each run (each seed).",
            "",
            runs_table(summary),
            "",
        ]
    )
