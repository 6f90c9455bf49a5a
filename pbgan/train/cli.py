"""``pbgan train``, ``pbgan sample`` and ``pbgan export``."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from pbgan.cli_errors import UsageFailure, one_line_errors
from pbgan.cli_options import arch_option, scheme_option, setting_option, training_options

import click


@click.command("train")
@setting_option(default="F", show_default=True)
@scheme_option()
@arch_option()
@click.option("--z-dim", default=100, show_default=True, type=click.IntRange(1))
@training_options
@click.option(
    "--out", "run_dir", required=True, type=click.Path(), help="Run directory (a folder)."
)
@click.option("--lr", "learning_rate", default=2e-4, show_default=True)
@click.option("--beta1", "beta_1", default=0.5, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option(
    "--strategy",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "default", "mirrored", "multiworker"]),
)
@click.option(
    "--init-from",
    type=click.Path(exists=True),
    help="Start the generator from a trained float run's weights (binary levers).",
)
@click.option(
    "--teacher",
    type=click.Path(exists=True),
    help="Distil from a trained float run: add --distill-weight x mean |G(z) - T(z)|.",
)
@click.option("--distill-weight", default=10.0, show_default=True, type=float)
@click.option(
    "--teacher-sign-z",
    is_flag=True,
    help="Feed the teacher sign(z), what a binary projection sees, instead of z.",
)
@click.option(
    "--shortcut",
    is_flag=True,
    help="Real-valued shortcuts around binary deconvolutions (Bi-Real style; xnor).",
)
@click.option(
    "--ema",
    default=None,
    type=float,
    help="Average the generator's weights with this decay (0 turns it off). Default: "
    "0.995 in the deployable recipe, off in the plain one.",
)
@click.option(
    "--recipe",
    type=click.Choice(["deployable", "plain"]),
    help="deployable (the default for a binarizing setting with an xnor scheme): train a "
    "float teacher A in OUT/teacher, then the binary generator starting from it, "
    "distilling from it, with --ema 0.995. plain (the default otherwise): one stage, "
    "the paper's training.",
)
@click.option(
    "--jit/--no-jit",
    "jit_compile",
    default=False,
    show_default=True,
    help="XLA-compile the train step.",
)
@one_line_errors(ValueError)
def train(run_dir: str, recipe: str | None, ema: float | None, **options) -> None:
    """Train a partially binarized GAN; running it again resumes the run.

    A generator that deploys as binary ops (xnor, a setting that binarizes) is trained
    with the deployable recipe by default: see --recipe.
    """
    from pbgan.runs import check_identity, check_writable
    from pbgan.train.recipe import plan_stages
    from pbgan.train.run import TrainConfig, train

    import tensorflow as tf

    # larq's quantized variables trip an AutoGraph notice on every run; it is harmless.
    tf.get_logger().setLevel("ERROR")
    stages = plan_stages(TrainConfig(**options), run_dir, recipe, ema)
    for stage in stages:  # refuse a later stage before an earlier one trains
        stage.config.validate()
        check_writable(stage.run_dir)
        check_identity(stage.run_dir, dataclasses.asdict(stage.config))
    for stage in stages:
        if stage.label:
            click.echo(f"{run_dir}: {stage.label} in {stage.run_dir}")
        result = train(stage.config, stage.run_dir)
        if result.stopped:
            raise click.ClickException(
                f"training stopped: {result.stopped}; the last good checkpoint (epoch "
                f"{result.epochs_done}) in {stage.run_dir} is intact: lower --lr and resume"
            )
        last = result.history[-1] if result.history else None
        summary = (
            f"; last epoch d_loss {last['d_loss']:.3f} g_loss {last['g_loss']:.3f}" if last else ""
        )
        click.echo(f"{stage.run_dir}: {result.epochs_done} epochs done{summary}")


def _load_generator(run: str):
    from pbgan.analysis import load_keras_model
    from pbgan.runs import run_generator

    return load_keras_model(run_generator(run)[0])


@click.command("sample")
@click.argument("run", type=click.Path(exists=True))
@click.option("-n", "count", default=64, show_default=True, type=click.IntRange(1))
@click.option(
    "-o", "--output", default="grid.png", show_default=True, type=click.Path(dir_okay=False)
)
@click.option("--seed", default=0, show_default=True)
@one_line_errors(ValueError)
def sample(run: str, count: int, output: str, seed: int) -> None:
    """Write a grid of COUNT samples from a run (or a generator .keras file)."""
    from pbgan.plots import save_grid

    import numpy as np

    gen = _load_generator(run)
    z = np.random.default_rng(seed).normal(size=(count, gen.input_shape[-1])).astype("float32")
    save_grid(gen.predict(z, verbose=0), output)
    click.echo(f"wrote {output}")


@click.command("export")
@click.argument("run", type=click.Path(exists=True, file_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
@one_line_errors(ValueError)
def export(run: str, output: str) -> None:
    """Save the generator of RUN alone (a .keras file for `pbgan convert`)."""
    from pbgan.runs import save_model_atomic

    if not output.endswith(".keras"):
        raise UsageFailure("the output must end in .keras")
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    save_model_atomic(_load_generator(run), Path(output))
    click.echo(f"wrote {output}")
