"""``pbgan evaluate``."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

# pbgan.cli imports this module while registering commands: taking these from
# pbgan.cli_errors keeps the import free of that cycle.
from pbgan.cli_errors import UsageFailure, one_line_errors
from pbgan.cli_options import eval_size_option
from pbgan.io import check_writable
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
    if out is not None:
        check_writable(out, "--out", file=True)  # before minutes of evaluation, not after them
    result = evaluate_source(source, data=data, n=n, seed=seed)
    click.echo(json.dumps(result, indent=2) if as_json else format_evaluation(result))
    if out is not None:
        _write_or_fallback(out, result)


def _write_or_fallback(out: Path, result: dict) -> None:
    """Write the JSON to ``out``, or, when that fails (full disk, folder made read-only
    meanwhile), to a temporary file named in the one-line error: the result is kept."""
    from pbgan.io import atomic_write_json

    try:
        atomic_write_json(out, result)
    except OSError as err:
        fd, fallback = tempfile.mkstemp(prefix="pbgan-evaluate-", suffix=".json")
        os.close(fd)
        atomic_write_json(fallback, result)
        raise UsageFailure(
            f"cannot write {out} ({err.strerror or type(err).__name__}); the result was "
            f"written to {fallback} instead: copy it from there"
        ) from err
    progress(f"evaluate: wrote {out}")
