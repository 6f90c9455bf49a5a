"""The project's vocabulary: settings (the paper's A-H and our ``auto``), schemes and
built-in architectures, each declared once here and read by the CLI, configs, docs and
tests. Pure Python: importing it never loads TensorFlow.

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

Settings, schemes and architectures are registered by name, so a CLI flag,
``config.json`` and a checkpoint all name the same object. A new one is one entry in
its registry below.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence

from pbgan.paper import TABLE3_SWD

__all__ = [
    "ARCHITECTURES",
    "DEFAULT_SCHEME",
    "SCHEMES",
    "SETTINGS",
    "NegativeDoRWarning",
    "Scheme",
    "Setting",
    "architecture_names",
    "get_scheme",
    "get_setting",
    "resolve_architecture",
    "scheme_names",
    "setting_names",
]


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
                        f"{TABLE3_SWD['E']} vs A {TABLE3_SWD['A']} SWD x1e3); `pbgan "
                        "convert` will need --allow-negative-dor",
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


@dataclasses.dataclass(frozen=True)
class Scheme:
    """How a binarized layer is binarized.

    ``binary_inputs``: the layer's inputs are binarized too (sign of the batch-norm
    output), not only its weights. ``deploys_binary``: Larq Compute Engine runs the
    layer as ``LceBconv2d`` (bit-packed weights, XNOR-popcount); otherwise the converted
    layer is a float operator.
    """

    name: str
    binary_inputs: bool
    deploys_binary: bool
    description: str


SCHEMES: dict[str, Scheme] = {
    s.name: s
    for s in (
        Scheme(
            "xnor",
            True,
            True,
            "binary weights and binary inputs; deploys as LceBconv2d (the deployable form)",
        ),
        Scheme(
            "bwn",
            False,
            False,
            "the paper's binary weights alpha*sign(W), float activations; deploys in float",
        ),
    )
}
DEFAULT_SCHEME = "xnor"


def scheme_names() -> list[str]:
    return list(SCHEMES)


def get_scheme(name: str | Scheme) -> Scheme:
    """Look a scheme up by name; an unknown one is a one-line error naming the choices."""
    if isinstance(name, Scheme):
        return name
    if name not in SCHEMES:
        raise ValueError(f"unknown scheme {name!r}: choose one of {', '.join(SCHEMES)}")
    return SCHEMES[name]


# Built-in DCGAN generators by name: output resolution (see pbgan.models).
ARCHITECTURES: dict[str, int] = {"dcgan32": 32, "dcgan64": 64, "dcgan128": 128}


def architecture_names() -> list[str]:
    return list(ARCHITECTURES)


def resolve_architecture(name: str) -> int:
    """Resolution of a built-in architecture name such as ``dcgan64``."""
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}: choose one of {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name]
