"""``pbgan demo``: imports nothing heavy, so ``pbgan --help`` stays instant."""

from __future__ import annotations

from pathlib import Path

from pbgan.cli_errors import one_line_errors

import click

__all__ = ["demo"]


@click.command("demo")
@click.option("--out", default="runs/demo", show_default=True, type=click.Path(file_okay=False))
@click.option(
    "--steps",
    default=1800,
    show_default=True,
    type=click.IntRange(1),
    help="Training steps per model (rounded up to whole epochs of --steps-per-epoch).",
)
@click.option("--steps-per-epoch", default=150, show_default=True, type=click.IntRange(1))
@click.option("--width", default=0.25, show_default=True, type=click.FloatRange(0, min_open=True))
@click.option("--eval-n", default=2048, show_default=True, type=click.IntRange(4))
@click.option("--bench-runs", default=50, show_default=True, type=click.IntRange(1))
@click.option("--seed", default=0, show_default=True)
@click.option(
    "--full-width/--no-full-width",
    default=True,
    show_default=True,
    help="Also convert and time dcgan64 at full width from random weights.",
)
@one_line_errors(ValueError, RuntimeError)
def demo(out: str, **options) -> None:
    """Train a float and a deployable generator on the built-in faces; one page on both.

    Trains dcgan32 (width 0.25) in setting A (float), then the deployable generator
    (xnor auto, started from A's weights, distilled from A, its weights averaged with
    decay 0.995), converts both to LCE
    flatbuffers, scores the flatbuffers (SWD, MS-SSIM), times them, and writes
    OUT/REPORT.md, OUT/report.png and OUT/report.json. Finished work is reused.
    """
    from pbgan.demo.page import write_page
    from pbgan.demo.run import DemoConfig, run_demo

    import tensorflow as tf

    # larq's quantized variables trip an AutoGraph notice on every run; it is harmless.
    tf.get_logger().setLevel("ERROR")
    record = run_demo(DemoConfig(out=Path(out), **options))
    paths = write_page(record, Path(out))
    click.echo(f"wrote {paths['markdown']} and {paths['png']}")
