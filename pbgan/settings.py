"""Binarization settings: the paper's A-H (Table 2) and our ``auto``.

A generator has a projection (layer 0, ``z -> h x w x c``, a deconvolution from a
1x1 input) followed by deconvolutions numbered 1..n from the input side, as in the
paper (n = 4 for every DCGAN this package builds). A setting names which of them are
binarized and whether the discriminator is binarized too:

====  ===================  ====================
name  generator layers     discriminator
====  ===================  ====================
A     none                 float
B     1                    float
C     2                    float
D     3                    float
E     4                    float
F     1, 2, 3              float
G     1, 2, 3, 4           float
H     1, 2, 3              binary weights
auto  every layer with     binary weights
      DoR >= 0, projection
      included
====  ===================  ====================

Settings are registered by name, so a CLI flag, ``config.json`` and a checkpoint all
name the same object.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence

__all__ = [
    "SETTINGS",
    "NegativeDoRWarning",
    "Setting",
    "get_setting",
    "setting_names",
]

# Paper Table 3, average SWD x1e3 on CelebA 64x64 (G has no entry in the first version).
PAPER_SWD = {"A": 44, "B": 38, "C": 45, "D": 67, "E": 449, "F": 67, "H": 34}


class NegativeDoRWarning(UserWarning):
    """A plan binarizes a layer whose degree of redundancy is negative."""


@dataclasses.dataclass(frozen=True)
class Setting:
    """Which layers of a generator are binarized.

    ``deconvs`` holds paper layer numbers (1-based deconvolutions); ``None`` means
    "every layer whose DoR is >= 0" (``auto``), which also covers the projection.
    """

    name: str
    deconvs: frozenset[int] | None
    binary_discriminator: bool
    description: str

    @property
    def is_auto(self) -> bool:
        return self.deconvs is None

    def plan(self, dors: Sequence[int], *, warn: bool = True) -> list[bool]:
        """Binarize-or-not for each layer, given the DoR of ``[projection, deconv1, ...]``.

        ``dors[0]`` is the projection's DoR (``None`` if the generator has none).
        A fixed setting that binarizes a layer with DoR < 0 is allowed (the paper
        studies E and G) but emits a :class:`NegativeDoRWarning`.
        """
        if self.deconvs is None:
            return [d is not None and d >= 0 for d in dors]
        n_deconv = len(dors) - 1
        missing = sorted(i for i in self.deconvs if i > n_deconv)
        if missing:
            raise ValueError(
                f"setting {self.name} binarizes deconvolution(s) {missing} but the generator "
                f"has only {n_deconv}; pick another --setting or use auto"
            )
        plan = [False] + [i in self.deconvs for i in range(1, n_deconv + 1)]
        if warn:
            for i, (binarize, dor) in enumerate(zip(plan, dors, strict=True)):
                if binarize and dor is not None and dor < 0:
                    warnings.warn(
                        f"setting {self.name} binarizes deconv{i} whose degree of redundancy "
                        f"is {dor} < 0: expect a large quality loss (paper Table 3: E "
                        f"{PAPER_SWD['E']} vs A {PAPER_SWD['A']} SWD x1e3)",
                        NegativeDoRWarning,
                        stacklevel=2,
                    )
        return plan


def _fixed(name: str, layers: Sequence[int], binary_d: bool, description: str) -> Setting:
    return Setting(name, frozenset(layers), binary_d, description)


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in (
        _fixed("A", [], False, "float baseline"),
        _fixed("B", [1], False, "binarize deconv1"),
        _fixed("C", [2], False, "binarize deconv2"),
        _fixed("D", [3], False, "binarize deconv3"),
        _fixed("E", [4], False, "binarize deconv4 (the output layer)"),
        _fixed("F", [1, 2, 3], False, "binarize deconv1-3"),
        _fixed("G", [1, 2, 3, 4], False, "binarize every deconvolution"),
        _fixed("H", [1, 2, 3], True, "F plus a binary-weight discriminator"),
        Setting(
            "auto",
            None,
            True,
            "every layer with DoR >= 0 (projection included) plus a binary-weight discriminator",
        ),
    )
}


def setting_names() -> list[str]:
    return list(SETTINGS)


def get_setting(name: str | Setting) -> Setting:
    """Look a setting up by name (case-insensitive for A-H)."""
    if isinstance(name, Setting):
        return name
    key = name.upper() if len(name) == 1 else name.lower()
    if key not in SETTINGS:
        raise ValueError(f"unknown setting {name!r}: choose one of {', '.join(SETTINGS)}")
    return SETTINGS[key]
