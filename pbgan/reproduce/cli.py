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
from pbgan.train.recipe import RECIPES

import click

__all__ = ["reproduce"]


def _csv(text: str, option: str) -> list[str]:
    items = [p.strip() for p in text.split(",") if p.strip()]
    if not items:
        raise UsageFailure(f"{option} {text!r}: give a comma-separated list")
    return list(dict.fromkeys(items))


def _ints(text: str, option: str, example: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in _csv(text, option))
    except ValueError:
        raise UsageFailure(f"{option} {text!r}: give {example}") from None


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
    help="Timed runs per interpreter configuration (main runs, 1 thread).",
)
@click.option(
    "--seeds",
    help="Comma-separated training seeds; every setting x scheme x seed is a run, and "
    "tables and figures show mean ± SD over them.  [default: 0]",
)
@click.option("--seed", type=click.IntRange(0), help="One training seed (same as --seeds N).")
@click.option(
    "--jobs",
    default=1,
    show_default=True,
    type=click.IntRange(1),
    help="Training processes side by side, each pinned to its own core.",
)
@click.option(
    "--recipe",
    type=click.Choice(RECIPES),
    default="deployable",
    show_default=True,
    help="deployable: runs that deploy as binary ops (xnor) train as `pbgan train` "
    "trains them, as students of the same seed's float A (start from its weights, "
    "distil, average with EMA 0.995); plain: the paper's training for every run.",
)
@click.option(
    "--out",
    default="reproduction",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Output folder; rerunning with it reuses finished runs and their summaries.",
)
@click.option(
    "--summaries-to",
    type=click.Path(file_okay=False),
    help="Also copy each finished run's small summary (no checkpoints) to DIR/summaries/ "
    "and the first seed's A and xnor auto generators to DIR/generators/, and rebuild the "
    "report in DIR from them alone; --out DIR later reuses them.",
)
@click.option(
    "--no-train",
    is_flag=True,
    help="Train nothing: report on the finished runs and summaries OUT already holds "
    "(runs missing or part-way are listed, not evaluated).",
)
@one_line_errors(ValueError, OSError)
def reproduce(
    schemes: str,
    settings: str,
    resolutions: str,
    seeds: str | None,
    seed: int | None,
    out: str,
    summaries_to: str | None,
    no_train: bool,
    **options: Any,
) -> None:
    """Reproduce the paper's tables and figures: train, evaluate, convert, bench, report.

    Every setting is trained with every scheme and seed at --arch (and at each of
    --resolutions for Fig. 12), evaluated by SWD and MS-SSIM, converted and timed here,
    and OUT/REPORT.md, OUT/report.json and PNG figures are written. Rerunning the same
    command skips finished training, evaluation and benchmarks; runs whose summary is
    in OUT/summaries/ (see --summaries-to) are reused without their checkpoints.
    """
    from pbgan.reproduce.runner import export_reproduction, run_reproduction

    import tensorflow as tf

    # larq's quantized variables trip an AutoGraph notice on every run; it is harmless.
    tf.get_logger().setLevel("ERROR")
    if seeds is not None and seed is not None:
        raise UsageFailure("pass --seeds or --seed, not both (--seed N is --seeds N)")
    config = ReproduceConfig(
        schemes=tuple(_csv(schemes, "--schemes")),
        settings=tuple(_csv(settings, "--settings")),
        resolutions=_ints(resolutions, "--resolutions", "sizes such as 32,64"),
        seeds=(seed,)
        if seed is not None
        else _ints(seeds or "0", "--seeds", "seeds such as 0,1,2"),
        out=out,
        **options,
    )
    summary = run_reproduction(config, train=not no_train)
    click.echo(
        f"wrote {summary['files']['report']} and {summary['files']['json']} "
        f"({len(summary['runs'])} runs, {summary['wall_seconds']:.0f} s)"
    )
    if summaries_to:
        exported = export_reproduction(config, summaries_to)
        click.echo(f"wrote run summaries and {exported['files']['report']}")
