"""One-line command errors shared by every ``pbgan`` subcommand module."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

import click

__all__ = ["OneLineGroup", "UsageFailure", "one_line_errors"]


class UsageFailure(click.ClickException):
    """A one-line error naming the fix; exit code 2 like click's usage errors."""

    exit_code = 2


class OneLineGroup(click.Group):
    """A command group whose subcommands' usage errors (a bad option value, a missing
    argument, an unknown command) print one line, naming where the help is, instead of
    click's usage block."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.UsageError as err:
            where = err.ctx.command_path if err.ctx is not None else ctx.command_path
            raise UsageFailure(f"{err.format_message()} (see `{where} --help`)") from err


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
