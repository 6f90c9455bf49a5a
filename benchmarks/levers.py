"""What each lever for a deployable (xnor auto) generator is worth, against float A.

    python benchmarks/levers.py run --variants xnor,init_distill_ema --seeds 0,1 --core 0
    python benchmarks/levers.py summarize --runs runs/levers --out docs/results/levers_dcgan32_w025

The recipe is the reproduction's: dcgan32 at width 0.25 on the built-in faces, 12
epochs of 150 steps (1,800), batch 64; each run scored by `pbgan evaluate` on 2,048
generated vs 2,048 real images with the run's seed. ``run`` trains and scores the
variants for each seed (finished runs are reused; a teacher A of the same seed is
trained first when a lever needs one), pinned to one core so two invocations can share
a 2-core machine. ``summarize`` copies each run's small summary (config, history,
evaluation, last sample grid; never checkpoints) into the results folder and writes
README-ready tables (mean +- SD over seeds, each seed's value), a JSON and a picture of
every variant's seed-0 samples; runs whose summary is already there are read from it,
so seeds can be added over several sessions.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

RECIPE = [
    "--arch", "dcgan32", "--width", "0.25", "--epochs", "12", "--steps-per-epoch", "150",
    "--batch-size", "64", "--recipe", "plain",  # every lever explicit
]  # fmt: skip
EVAL_N = 2048
# name: (setting, scheme, lever flags; {V} is the run of variant V with the same seed,
# e.g. {A} the float teacher)
VARIANTS: dict[str, tuple[str, str, list[str]]] = {
    "A": ("A", "xnor", []),
    "A_ema": ("A", "xnor", ["--ema", "0.995"]),
    "xnor": ("auto", "xnor", []),
    "init": ("auto", "xnor", ["--init-from", "{A}"]),
    "distill": ("auto", "xnor", ["--teacher", "{A}"]),
    "ema": ("auto", "xnor", ["--ema", "0.995"]),
    "shortcut": ("auto", "xnor", ["--shortcut"]),
    "init_distill": ("auto", "xnor", ["--init-from", "{A}", "--teacher", "{A}"]),
    "init_distill_signz": (
        "auto", "xnor", ["--init-from", "{A}", "--teacher", "{A}", "--teacher-sign-z"],
    ),
    "init_distill_ema": ("auto", "xnor", ["--init-from", "{A}", "--teacher", "{A}", "--ema", "0.995"]),
    "init_distill_signz_ema": (
        "auto", "xnor",
        ["--init-from", "{A}", "--teacher", "{A}", "--teacher-sign-z", "--ema", "0.995"],
    ),
    "init_distill_shortcut": (
        "auto", "xnor", ["--init-from", "{A}", "--teacher", "{A}", "--shortcut"],
    ),
    "F_init_distill_ema": (
        "F", "xnor", ["--init-from", "{A}", "--teacher", "{A}", "--ema", "0.995"],
    ),
    "ema_teacher": (
        "auto", "xnor", ["--init-from", "{A_ema}", "--teacher", "{A_ema}", "--ema", "0.995"],
    ),
    "init_distill_shortcut_ema": (
        "auto", "xnor", ["--init-from", "{A}", "--teacher", "{A}", "--shortcut", "--ema", "0.995"],
    ),
}  # fmt: skip
SUMMARY_FILES = ("config.json", "history.csv", "eval.json")
BENCH_RUNS = 30


def _pbgan() -> list[str]:
    return [sys.executable, "-m", "pbgan.cli"]


def _pin(core: int | None) -> None:
    if core is not None:
        os.sched_setaffinity(0, {core})


def run_variant(name: str, seed: int, root: Path, core: int | None) -> Path:
    """Train and score one variant for one seed (reused when finished)."""
    setting, scheme, levers = VARIANTS[name]
    flags = []
    for flag in levers:
        if flag.startswith("{") and flag.endswith("}"):
            flag = str(run_variant(flag[1:-1], seed, root, core))
        flags.append(flag)
    out = root / f"{name}_seed{seed}"
    if (out / "eval.json").is_file():  # trained and scored (e.g. a teacher from reproduce)
        return out
    train = _pbgan() + ["train", "--setting", setting, "--scheme", scheme, *RECIPE]
    train += ["--seed", str(seed), "--out", str(out), *flags]
    subprocess.run(train, check=True, preexec_fn=lambda: _pin(core))
    if not (out / "eval.json").is_file():
        evaluate = _pbgan() + ["evaluate", str(out), "--data", "synthetic", "-n", str(EVAL_N)]
        evaluate += ["--seed", str(seed), "--out", str(out / "eval.json")]
        subprocess.run(evaluate, check=True, preexec_fn=lambda: _pin(core))
    return out


def _score(run: Path) -> dict:
    """SWD and MS-SSIM from `pbgan evaluate --out` or a reproduction's eval.json."""
    data = json.loads((run / "eval.json").read_text())
    ms = data["ms_ssim"]["generated"] if "ms_ssim" in data else data["ms_ssim_generated"]
    return {"swd": data["swd_x1e3"]["avg"], "levels": data["swd_x1e3"]["levels"], "ms_ssim": ms}


def deploy(run: Path, out: Path) -> dict:
    """Convert the run's own generator (every check of `pbgan convert`) and time it."""
    from pbgan.analysis import load_keras_model
    from pbgan.convert import convert_generator
    from pbgan.io import atomic_write_json
    from pbgan.runtime.local import bench_local, best

    config = json.loads((run / "config.json").read_text())
    result = convert_generator(
        load_keras_model(run / "generator.keras"), setting=config["setting"], source=str(run)
    )
    winner = best(bench_local(result.flatbuffer, threads=1, runs=BENCH_RUNS))
    record = {
        "size_bytes": result.manifest["size_bytes"],
        "ops": result.manifest["ops"],
        "parity_max_abs_err": result.manifest["parity_max_abs_err"],
        "median_ms": winner.median_ms,
        "p10_ms": winner.p10_ms,
        "p90_ms": winner.p90_ms,
        "config": winner.config,
        "threads": 1,
    }
    atomic_write_json(out, record)
    return record


def collect(sources: list[Path], out: Path) -> dict[str, dict[int, dict]]:
    """Copy each finished run's summary into ``out/runs`` and read every summary there."""
    runs_dir = out / "summaries"
    for source in sources:
        for run in sorted(p for p in source.glob("*_seed*") if (p / "eval.json").is_file()):
            dest = runs_dir / run.name
            dest.mkdir(parents=True, exist_ok=True)
            for name in SUMMARY_FILES:
                shutil.copy2(run / name, dest / name)
            samples = sorted((run / "samples").glob("epoch_*.png"))
            if samples:
                shutil.copy2(samples[-1], dest / "last_sample.png")
            if not (dest / "deploy.json").is_file() and (run / "generator.keras").is_file():
                deploy(run, dest / "deploy.json")
    results: dict[str, dict[int, dict]] = {}
    for run in sorted(runs_dir.glob("*_seed*")):
        variant, seed = run.name.rsplit("_seed", 1)
        config = json.loads((run / "config.json").read_text())
        entry = _score(run)
        entry["steps"] = config["epochs"] * config["steps_per_epoch"]
        if (run / "deploy.json").is_file():
            entry["deploy"] = json.loads((run / "deploy.json").read_text())
        results.setdefault(variant, {})[int(seed)] = entry
    return results


def _mean_sd(values: list[float], digits: int = 1) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f} (1 seed)"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def _versus(seeds: dict[int, dict], reference: dict[int, dict]) -> str:
    """Mean SWD against ``reference``'s on the seeds both have: "+5% (3)"."""
    paired = [s for s in seeds if s in reference]
    if not paired:
        return "—"
    base = statistics.mean(reference[s]["swd"] for s in paired)
    mine = statistics.mean(seeds[s]["swd"] for s in paired)
    return f"{100 * (mine / base - 1):+.0f}% ({len(paired)})"


def table(results: dict[str, dict[int, dict]]) -> str:
    from pbgan.markdown import md_table
    from pbgan.tflite_graph import format_bytes

    rows = []
    order = [v for v in VARIANTS if v in results] + sorted(set(results) - set(VARIANTS))
    for variant in order:
        seeds = results[variant]
        swd = [r["swd"] for r in seeds.values()]
        ms = [r["ms_ssim"] for r in seeds.values()]
        # Against A on the same seeds: training seeds move SWD by more than any lever.
        vs_a, vs_a_ema = (_versus(seeds, results.get(ref, {})) for ref in ("A", "A_ema"))
        setting, scheme, levers = VARIANTS.get(variant, ("?", "?", []))
        per_seed = ", ".join(f"s{s}: {r['swd']:.1f}" for s, r in sorted(seeds.items()))
        deployed = [r["deploy"] for r in seeds.values() if "deploy" in r]
        size = format_bytes(statistics.mean(d["size_bytes"] for d in deployed)) if deployed else "—"
        ms_1t = f"{statistics.mean(d['median_ms'] for d in deployed):.3f}" if deployed else "—"
        bconv = deployed[0]["ops"].get("LceBconv2d", 0) if deployed else "—"
        rows.append(
            [
                variant,
                f"{setting} ({'float' if setting == 'A' else scheme})",
                " ".join(levers).replace("{A}", "A").replace("{A_ema}", "A_ema") or "—",
                len(seeds),
                _mean_sd(swd),
                vs_a,
                vs_a_ema,
                _mean_sd(ms, 3),
                bconv,
                size,
                ms_1t,
                per_seed,
            ]
        )
    header = ["variant", "setting", "levers", "seeds", "SWD x1e3", "vs A, same seeds (n)"]
    header += ["vs A_ema, same seeds (n)"]
    header += ["MS-SSIM", "LceBconv2d", "flatbuffer", "ms, 1 thread", "per seed (SWD)"]
    return md_table(header, rows)


def pareto_figure(results: dict[str, dict[int, dict]], path: Path) -> None:
    """Quality against latency of the trained models themselves; marker area ~ size."""
    from pbgan.plots import new_figure, save_figure

    fig, ax = new_figure(figsize=(7, 4.5))
    for variant, seeds in results.items():
        deployed = [r for r in seeds.values() if "deploy" in r]
        if not deployed:
            continue
        swd = statistics.mean(r["swd"] for r in deployed)
        ms = statistics.mean(r["deploy"]["median_ms"] for r in deployed)
        size = statistics.mean(r["deploy"]["size_bytes"] for r in deployed)
        ax.scatter(ms, swd, s=20 + size / 2**12, alpha=0.6)
        ax.annotate(f"{variant} ({len(deployed)})", (ms, swd), fontsize=7)
    ax.set_xlabel("latency, ms (1 thread, fastest kernel)")
    ax.set_ylabel("SWD x1e3 (mean over seeds; lower is better)")
    ax.set_title(
        "dcgan32 w0.25, 1,800 steps: quality vs speed of the same converted models\n"
        "(marker area ~ flatbuffer size; (n) = seeds)",
        fontsize=9,
    )
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path)


def samples_figure(results: dict[str, dict[int, dict]], runs_dir: Path, path: Path) -> None:
    from pbgan.plots import new_figure, save_figure

    from PIL import Image

    shown = [v for v in VARIANTS if v in results and (runs_dir / f"{v}_seed0").is_dir()]
    fig, axes = new_figure(1, len(shown), figsize=(3.2 * len(shown), 3.6), squeeze=False)
    for ax, variant in zip(axes[0], shown, strict=True):
        ax.imshow(Image.open(runs_dir / f"{variant}_seed0" / "last_sample.png"))
        ax.set_title(f"{variant}\nSWD {results[variant][0]['swd']:.1f} (seed 0)", fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    run.add_argument("--variants", required=True)
    run.add_argument("--seeds", default="0")
    run.add_argument("--core", type=int)
    run.add_argument("--runs", default="runs/levers")
    summarize = sub.add_parser("summarize")
    summarize.add_argument("--runs", action="append", default=[])
    summarize.add_argument("--out", default="docs/results/levers_dcgan32_w025")
    args = parser.parse_args(argv)
    if args.command == "run":
        for seed in (int(s) for s in args.seeds.split(",")):
            for variant in args.variants.split(","):
                run_variant(variant, seed, Path(args.runs), args.core)
        return 0
    from pbgan.io import atomic_write_json, atomic_write_text
    from pbgan.machine import machine_info

    out = Path(args.out)
    results = collect([Path(r) for r in args.runs], out)
    atomic_write_json(
        out / "results.json",
        {"recipe": RECIPE, "eval_n": EVAL_N, "machine": machine_info(), "results": results},
    )
    atomic_write_text(out / "table.md", table(results) + "\n")
    samples_figure(results, out / "summaries", out / "samples.png")
    pareto_figure(results, out / "pareto.png")
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
