"""Package namespaces that import a name's module only when the name is first used.

``pbgan --help`` must answer at once, so a package's ``__init__`` never imports its
TensorFlow-heavy modules; it maps each public name to the submodule that defines it::

    __getattr__ = lazy_exports(__name__, {"make_dataset": "pipeline", ...})
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` (PEP 562) importing ``package.homes[name]`` on first use."""

    def __getattr__(name: str) -> Any:
        if name in homes:
            return getattr(importlib.import_module(f"{package}.{homes[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
