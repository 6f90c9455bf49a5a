"""Click options that several ``pbgan`` commands share, declared once."""

from __future__ import annotations

from collections.abc import Callable

from pbgan.settings import DEFAULT_SCHEME, architecture_names, scheme_names, setting_names

import click

__all__ = [
    "arch_option",
    "eval_size_option",
    "scheme_option",
    "setting_option",
    "training_options",
]


def arch_option(help: str | None = None) -> Callable:
    """``--arch`` (stored as ``architecture``): a built-in generator, dcgan64 by default."""
    return click.option(
        "--arch",
        "architecture",
        default="dcgan64",
        show_default=True,
        type=click.Choice(architecture_names()),
        help=help,
    )


def setting_option(**kwargs) -> Callable:
    """``--setting``: one of the registered settings (paper Table 2 plus auto)."""
    return click.option(
        "--setting", type=click.Choice(setting_names(), case_sensitive=False), **kwargs
    )


def scheme_option(*, default: str | None = DEFAULT_SCHEME, help: str | None = None) -> Callable:
    """``--scheme``: one of the registered schemes (pbgan.settings.SCHEMES)."""
    return click.option(
        "--scheme",
        default=default,
        show_default=default is not None,
        type=click.Choice(scheme_names()),
        help=help or "xnor deploys as binary LCE ops; bwn is the paper's binary-weight scheme.",
    )


def eval_size_option(*decls: str) -> Callable:
    """Images per set for SWD and MS-SSIM, 16384 by default as in the paper."""
    return click.option(
        *decls,
        default=16384,
        show_default=True,
        type=click.IntRange(2),
        help="Images per set for SWD and MS-SSIM (the paper uses 16384).",
    )


_TRAINING_OPTIONS = (
    click.option(
        "--data",
        default="synthetic",
        show_default=True,
        help="synthetic (built-in faces), a CelebA folder or zip, or any folder of images.",
    ),
    click.option(
        "--width",
        default=1.0,
        show_default=True,
        type=click.FloatRange(min=0, min_open=True),
        help="Width multiplier (0.25 for quick CPU runs).",
    ),
    click.option("--epochs", default=5, show_default=True, type=click.IntRange(1)),
    click.option(
        "--steps-per-epoch", type=click.IntRange(1), help="Default: one pass over the data."
    ),
    click.option("--batch-size", default=64, show_default=True, type=click.IntRange(1)),
)


def training_options(fn: Callable) -> Callable:
    """``--data --width --epochs --steps-per-epoch --batch-size``: what to train on, how long."""
    for option in reversed(_TRAINING_OPTIONS):
        fn = option(fn)
    return fn
