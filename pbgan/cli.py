"""The ``pbgan`` command: a thin layer over functions a notebook user can call.

Heavy modules (TensorFlow, larq, LCE) are imported inside each command, so
``pbgan --help`` answers at once.
"""

from __future__ import annotations

import importlib
import json
import sys

import pbgan
from pbgan.cli_errors import OneLineGroup, UsageFailure, one_line_errors  # noqa: F401

import click


@click.group(cls=OneLineGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(pbgan.__version__, prog_name="pbgan")
def main() -> None:
    """Partial binarization of deconvolution-based GAN generators.

    analyze -> train -> convert -> bench / evaluate.
    """


def _generator_from_source(source: str, *, width: float, z_dim: int):
    """A built-in architecture name (random init, float) or a saved Keras model path."""
    from pbgan.analysis import load_keras_model
    from pbgan.models import build_generator
    from pbgan.settings import ARCHITECTURES

    if source in ARCHITECTURES:
        return build_generator(resolution=ARCHITECTURES[source], width=width, z_dim=z_dim)
    return load_keras_model(source)


@main.command()
@click.argument("model", default="dcgan64")
@click.option(
    "--width",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Width multiplier (built-ins).",
)
@click.option(
    "--z-dim",
    default=100,
    show_default=True,
    type=click.IntRange(1),
    help="Latent size (built-ins).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@one_line_errors(ValueError)
def analyze(model: str, width: float, z_dim: int, as_json: bool) -> None:
    """Degree of redundancy of every deconvolution in MODEL, and the plan.

    MODEL is a built-in architecture (dcgan32, dcgan64, dcgan128) or a saved Keras
    model (.keras, .h5 or a SavedModel folder). DoR = c_in - h_in * w_in; layers with
    DoR >= 0 are binarized, the others stay float.
    """
    from pbgan.analysis import analyze, format_table

    rows = analyze(_generator_from_source(model, width=width, z_dim=z_dim))
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in rows], indent=2))
    else:
        click.echo(format_table(rows))
        kept = [r.layer for r in rows if not r.binarize]
        click.echo(
            f"\nplan: binarize {sum(r.binarize for r in rows)} of {len(rows)} layers"
            + (f"; keep {', '.join(kept)} in floating point" if kept else "")
        )


def _register_optional_commands() -> None:
    """Commands that live beside the modules they drive."""
    for module, names in (
        ("pbgan.runtime.cli", ("bench", "inspect")),
        ("pbgan.train.cli", ("train", "sample", "export")),
        ("pbgan.convert.cli", ("convert",)),
        ("pbgan.metrics.cli", ("evaluate",)),
        ("pbgan.reproduce.cli", ("reproduce",)),
        ("pbgan.demo.cli", ("demo",)),
        ("pbgan.byog.cli", ("binarize", "distill")),
        ("pbgan.android", ("android_assets_command",)),
    ):
        mod = importlib.import_module(module)
        for name in names:
            main.add_command(getattr(mod, name))


_register_optional_commands()

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
