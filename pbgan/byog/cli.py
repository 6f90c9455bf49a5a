"""``pbgan binarize`` and ``pbgan distill``: bring your own generator."""

from __future__ import annotations

from pbgan.cli_errors import UsageFailure, one_line_errors
from pbgan.cli_options import scheme_option, setting_option

import click


@click.command("binarize")
@click.argument("source", type=click.Path())
@click.option(
    "-o", "--output", "out", required=True, type=click.Path(dir_okay=False), help="student.keras"
)
@setting_option(
    default="auto",
    show_default=True,
    help="Which layers: auto binarizes every layer with DoR >= 0.",
)
@scheme_option()
@click.option(
    "--layers",
    multiple=True,
    help="Binarize exactly these layers (names from `pbgan analyze`; comma-separated or "
    "repeated) instead of --setting.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@one_line_errors(ValueError)
def binarize(
    source: str, out: str, setting: str, scheme: str, layers: tuple[str, ...], as_json: bool
) -> None:
    """Binarize SOURCE (.keras, .h5 or a SavedModel folder) into OUT (a .keras file).

    Every Conv2DTranspose the plan binarizes becomes its phase form (binary
    QuantConv2D phase convolutions, which LCE runs as LceBconv2d), a bias-free Dense
    projection the project's binary Projection; their float weights start the binary
    ones. Every other layer is kept with its weights. Then `pbgan distill`.
    """
    import json

    from pbgan.analysis import load_keras_model
    from pbgan.byog.binarize import binarize_model
    from pbgan.io import check_writable
    from pbgan.runs import save_model_atomic

    if not out.endswith(".keras"):
        raise UsageFailure(f"-o {out}: the student is saved as a .keras file; end it in .keras")
    check_writable(out, "-o", file=True)
    names = [n.strip() for item in layers for n in item.split(",") if n.strip()] or None
    student, report = binarize_model(load_keras_model(source), setting, scheme, names)
    save_model_atomic(student, out)
    click.echo(json.dumps(report.to_dict(), indent=2) if as_json else report.format())
    if not as_json:
        click.echo(f"wrote {out}; next: pbgan distill {source} {out} --out RUN")


@click.command("distill")
@click.argument("teacher", type=click.Path(exists=True))
@click.argument("student", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "run_dir", required=True, type=click.Path(), help="Run directory.")
@click.option("--steps", default=1000, show_default=True, type=click.IntRange(1))
@click.option("--steps-per-epoch", default=100, show_default=True, type=click.IntRange(1))
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1))
@click.option("--lr", "learning_rate", default=2e-4, show_default=True, type=float)
@click.option("--beta1", "beta_1", default=0.5, show_default=True, type=float)
@click.option("--seed", default=0, show_default=True)
@click.option(
    "--feature-weight",
    default=0.0,
    show_default=True,
    type=float,
    help="Weight of L1 between feature maps after each upsampling stage.",
)
@click.option(
    "--adversarial",
    is_flag=True,
    help="Add a GAN loss against a small discriminator that sees teacher samples as real.",
)
@click.option("--adversarial-weight", default=0.1, show_default=True, type=float)
@one_line_errors(ValueError)
def distill(
    teacher: str,
    student: str,
    run_dir: str,
    adversarial: bool,
    adversarial_weight: float,
    **options,
) -> None:
    """Train STUDENT (from `pbgan binarize`) to draw what TEACHER draws, from latents alone.

    TEACHER is the float generator (a saved model or a `pbgan train` run). Loss: mean
    |S(z) - T(z)| (+ feature and adversarial terms). The run directory is read by
    `pbgan convert RUN`, `pbgan sample RUN` and `pbgan evaluate RUN`; run the same
    command again to resume.
    """
    from pbgan.byog.distill import DistillConfig
    from pbgan.byog.distill import distill as run

    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # larq's AutoGraph notice on quantized variables
    config = DistillConfig(
        teacher, student, adversarial_weight=adversarial_weight if adversarial else 0.0, **options
    )
    result = run(config, run_dir)
    last = result.history[-1] if result.history else None
    summary = f"; last epoch distill {last['distill']:.4f}" if last else ""
    click.echo(f"{run_dir}: {result.epochs_done} epochs done{summary}")
