"""Markdown tables: the one writer every report uses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["md_table", "text_table"]


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub Markdown table; cells are ``str()``-ed, ``None`` becomes an em dash."""
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def text_table(header: Sequence[str], rows: Sequence[Sequence[Any]], *, gap: int = 2) -> str:
    """The same rows as a plain, left-aligned terminal table."""
    body = [[_cell(c) for c in row] for row in rows]
    widths = [max([len(str(h))] + [len(r[i]) for r in body]) for i, h in enumerate(header)]
    fmt = (" " * gap).join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*map(str, header)), *(fmt.format(*r) for r in body)]
    return "\n".join(line.rstrip() for line in lines)


def _cell(value: Any) -> str:
    return "—" if value is None else str(value)
