"""``pbgan evaluate``."""

from __future__ import annotations

import json
from pathlib import Path

# pbgan.cli imports this module while registering commands: taking these from
# pbgan.cli_errors keeps the import free of that cycle.
from pbgan.cli_errors import one_line_errors
from pbgan.cli_options import eval_size_option
from pbgan.metrics.evaluate import evaluate_source, format_evaluation, progress

import click

__all__ = ["evaluate"]


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
