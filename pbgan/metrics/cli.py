"""``pbgan evaluate`` and ``pbgan reproduce``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# pbgan.cli imports this module while registering commands: taking these from
# pbgan.cli_errors keeps the import free of that cycle.
from pbgan.cli_errors import UsageFailure, one_line_errors
from pbgan.cli_options import arch_option, eval_size_option, training_options
from pbgan.metrics.evaluate import evaluate_source, format_evaluation, progress

import click

__all__ = ["evaluate", "reproduce"]


@click.command("evaluate")
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "--data",
    help="synthetic, a CelebA folder or zip, or an image folder. Default: a run's training data.",
)
@eval_size_option("-n", "n")
@click.option("--seed", default=0, show_default=True, help="Latents, real order, SWD draws.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the JSON here."
)
@one_line_errors(ValueError, OSError)
def evaluate(
    source: Path, data: str | None, n: int, seed: int, as_json: bool, out: Path | None
) -> None:
    """SWD (x1e3) and MS-SSIM diversity of a generator against real images.

    SOURCE is a run directory, a generator .keras or a converted .tflite (run by LCE's
    interpreter one latent at a time, as deployed). Beside the SWD per pyramid level and
    its average, the real-vs-real noise floor and the real set's diversity are reported.
    """
    from pbgan.io import atomic_write_json

    result = evaluate_source(source, data=data, n=n, seed=seed)
    if out is not None:
        atomic_write_json(out, result)
        progress(f"evaluate: wrote {out}")
    click.echo(json.dumps(result, indent=2) if as_json else format_evaluation(result))


def _csv(text: str, option: str) -> list[str]:
    items = [p.strip() for p in text.split(",") if p.strip()]
    if not items:
        raise UsageFailure(f"{option} {text!r}: give a comma-separated list")
    return list(dict.fromkeys(items))


@click.command("reproduce")
@training_options
@arch_option(help="Architecture of the main runs (Tables 3 and 4, Figs 5, 6, 8-10).")
@click.option("--schemes", default="bwn,xnor", show_default=True, help="Comma-separated.")
@click.option(
    "--settings",
    default="A,B,C,D,E,F,G,H,auto",
    show_default=True,
    help="Comma-separated settings (paper Table 2, plus auto).",
)
@eval_size_option("--eval-n")
@click.option("--resolutions", default="32,64", show_default=True, help="Resolutions of Fig. 12.")
@click.option(
    "--bench-runs",
    default=50,
    show_default=True,
    type=click.IntRange(1),
    help="Timed runs per interpreter configuration (xnor runs, 1 thread).",
)
@click.option("--seed", default=0, show_default=True, help="Training and evaluation seed.")
@click.option(
    "--out",
    default="reproduction",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Output folder; rerunning with it reuses finished work.",
)
@one_line_errors(ValueError, OSError)
def reproduce(schemes: str, settings: str, resolutions: str, out: str, **options: Any) -> None:
    """Reproduce the paper's tables and figures: train, evaluate, convert, bench, report.

    Every setting is trained with every scheme at --arch (and at each of --resolutions
    for Fig. 12), evaluated by SWD and MS-SSIM, xnor runs are converted and timed here,
    and OUT/REPORT.md, OUT/report.json and PNG figures are written. Rerunning the same
    command skips finished training, evaluation and benchmarks.
    """
    from pbgan.reproduce import ReproduceConfig, run_reproduction

    try:
        res = [int(r) for r in _csv(resolutions, "--resolutions")]
    except ValueError:
        raise UsageFailure(f"--resolutions {resolutions!r}: give sizes such as 32,64") from None
    config = ReproduceConfig(
        schemes=tuple(_csv(schemes, "--schemes")),
        settings=tuple(_csv(settings, "--settings")),
        resolutions=tuple(res),
        out=out,
        **options,
    )
    summary = run_reproduction(config)
    click.echo(
        f"wrote {summary['files']['report']} and {summary['files']['json']} "
        f"({len(summary['runs'])} runs, {summary['wall_seconds']:.0f} s)"
    )
