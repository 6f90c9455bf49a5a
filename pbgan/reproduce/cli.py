"""``pbgan reproduce``: a thin layer over :func:`pbgan.reproduce.runner.run_reproduction`.

``pbgan.cli`` imports this module to register the command, so it imports nothing heavy:
the runner (TensorFlow) is imported when the command runs.
"""

from __future__ import annotations

from typing import Any

# Taken from pbgan.cli_errors, not pbgan.cli, which imports this module.
from pbgan.cli_errors import UsageFailure, one_line_errors
from pbgan.cli_options import arch_option, eval_size_option, training_options
from pbgan.reproduce.plan import DEFAULT_SCHEMES, DEFAULT_SETTINGS, ReproduceConfig

import click

__all__ = ["reproduce"]


def _csv(text: str, option: str) -> list[str]:
    items = [p.strip() for p in text.split(",") if p.strip()]
    if not items:
        raise UsageFailure(f"{option} {text!r}: give a comma-separated list")
    return list(dict.fromkeys(items))


@click.command("reproduce")
@training_options
@arch_option(help="Architecture of the main runs (Tables 3 and 4, Figs 5, 6, 8-10).")
@click.option(
    "--schemes", default=",".join(DEFAULT_SCHEMES), show_default=True, help="Comma-separated."
)
@click.option(
    "--settings",
    default=",".join(DEFAULT_SETTINGS),
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
    from pbgan.reproduce.runner import run_reproduction

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
