"""One-line command errors shared by every ``pbgan`` subcommand module."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

import click

__all__ = ["UsageFailure", "one_line_errors"]


class UsageFailure(click.ClickException):
    """A one-line error naming the fix; exit code 2 like click's usage errors."""

    exit_code = 2


def one_line_errors(*kinds: type[Exception]) -> Callable:
    """Turn the listed exception types into :class:`UsageFailure` (exit 2, first line)."""

    def decorate(fn: Callable) -> Callable:
        @wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except kinds as err:
                lines = str(err).strip().splitlines() or [type(err).__name__]
                raise UsageFailure(lines[0]) from err

        return wrapper

    return decorate
