"""Aggregation over seeds, and the one rule that decides an order from it.

A metric of one setting over its seeds is a :class:`Spread`: each seed's value, their
mean and their sample standard deviation (``ddof = 1``). Two spreads are compared by
:class:`Evidence`; :data:`SEEDS` is the rule every verdict of the report uses::

    s_p = sqrt(((n1 - 1) s1^2 + (n2 - 1) s2^2) / (n1 + n2 - 2))      pooled SD
    d   = mean1 - mean2 - margin
    decided "above" when d > 2 s_p, "below" when d < -2 s_p, and only when n1, n2 >= 3

Anything else is "not decided at this evidence". :data:`POINT` is the same comparison
on single values (no spread, no minimum), used for the paper's own numbers, which are
one run each. Pure Python: no NumPy, no TensorFlow.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "MIN_SEEDS",
    "POINT",
    "SEEDS",
    "SPREADS",
    "VERDICT_RULE",
    "Evidence",
    "Spread",
    "aggregate",
    "fmt_spread",
    "pooled_sd",
    "seeds_label",
]

MIN_SEEDS = 3
SPREADS = 2.0

VERDICT_RULE = (
    f"An order between two settings is stated only when each has at least {MIN_SEEDS} "
    f"seeds and the difference of their means exceeds {SPREADS:g} pooled standard "
    "deviations, s_p = sqrt(((n1 - 1) s1² + (n2 - 1) s2²) / (n1 + n2 - 2)) with s the "
    "sample SD over seeds; otherwise the verdict is *not decided at this evidence*. "
    f"'Within X% of' holds when the difference stays inside the margin by more than "
    f"{SPREADS:g} s_p and fails when it leaves the margin by more than {SPREADS:g} s_p. "
    "(The pooled-SD rule, not Welch's t-test, is the one used.)"
)


@dataclasses.dataclass(frozen=True)
class Spread:
    """One metric over seeds: ``values[i]`` was measured with ``seeds[i]``."""

    seeds: tuple[int, ...]
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.seeds) != len(self.values) or not self.values:
            raise ValueError("a Spread needs one value per seed, and at least one")

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return math.fsum(self.values) / self.n

    @property
    def sd(self) -> float | None:
        """Sample standard deviation (``ddof = 1``); ``None`` for a single value."""
        if self.n < 2:
            return None
        m = self.mean
        return math.sqrt(math.fsum((v - m) ** 2 for v in self.values) / (self.n - 1))

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "mean": self.mean,
            "sd": self.sd,
            "seeds": list(self.seeds),
            "values": list(self.values),
        }


def aggregate(values: Mapping[int, float] | Sequence[float]) -> Spread:
    """A :class:`Spread` from ``{seed: value}`` (or a list, seeds 0, 1, ...), by seed."""
    pairs = sorted(values.items()) if isinstance(values, Mapping) else list(enumerate(values))
    return Spread(tuple(int(s) for s, _ in pairs), tuple(float(v) for _, v in pairs))


def pooled_sd(a: Spread, b: Spread) -> float | None:
    """The pooled standard deviation of two spreads; ``None`` with no degree of freedom."""
    dof = a.n + b.n - 2
    if dof <= 0:
        return None
    sum_sq = (a.n - 1) * (a.sd or 0.0) ** 2 + (b.n - 1) * (b.sd or 0.0) ** 2
    return math.sqrt(sum_sq / dof)


@dataclasses.dataclass(frozen=True)
class Evidence:
    """When a difference of means counts as an order (see the module docstring)."""

    min_seeds: int = MIN_SEEDS
    spreads: float = SPREADS

    def band(self, a: Spread, b: Spread) -> float:
        return self.spreads * (pooled_sd(a, b) or 0.0)

    def exceeds(self, a: Spread, b: Spread, margin: float = 0.0) -> bool | None:
        """Is ``mean(a) - mean(b)`` above ``margin``? ``True``/``False`` when decided,
        ``None`` when too few seeds or the difference lies inside the band."""
        if a.n < self.min_seeds or b.n < self.min_seeds:
            return None
        d = a.mean - b.mean - margin
        band = self.band(a, b)
        if d > band:
            return True
        if d < -band:
            return False
        return None

    def explain(self, a: Spread, b: Spread, margin: float = 0.0) -> str:
        """Why :meth:`exceeds` said what it said, in a few words."""
        if a.n < self.min_seeds or b.n < self.min_seeds:
            return f"seeds {a.n} and {b.n}, fewer than {self.min_seeds}"
        d = a.mean - b.mean
        shown = f"difference {d:+.3g}" + (f" vs margin {margin:+.3g}" if margin else "")
        if not self.spreads:
            return shown
        return f"{shown}, {self.spreads:g} s_p = {self.band(a, b):.3g}"


SEEDS = Evidence()
POINT = Evidence(min_seeds=1, spreads=0.0)


def seeds_label(n: int) -> str:
    """``1 seed``, ``3 seeds``: how many values a number stands on."""
    return f"{n} seed{'' if n == 1 else 's'}"


def fmt_spread(s: Spread | None, digits: int = 1, missing: str = "—") -> str:
    """``50.0 ± 1.2 (3 seeds: s0 49.1, s1 50.2, s2 50.8)``; ``7.0 (1 seed: s4)``;
    ``missing`` when there is no value. The count is in every cell, so a setting measured
    on fewer seeds than the others is visible where its number is read."""
    if s is None:
        return missing
    if s.n == 1:
        return f"{s.mean:.{digits}f} (1 seed: s{s.seeds[0]})"
    each = ", ".join(f"s{seed} {v:.{digits}f}" for seed, v in zip(s.seeds, s.values, strict=True))
    sd = "" if s.sd is None else f" ± {s.sd:.{digits}f}"
    return f"{s.mean:.{digits}f}{sd} ({seeds_label(s.n)}: {each})"
