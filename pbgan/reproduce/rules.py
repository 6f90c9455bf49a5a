"""The paper's inferences as rules on numbers (:data:`RULES`, :func:`inferences`).

Each rule judges one claim of the paper on average SWD values per setting. The same
rules run on the measured values and on the paper's own Table 3, so a reader sees both
what is claimed and what was measured. A difference smaller than the measured noise
floor (the real-vs-real SWD) is not resolved by the measurement: an order claimed from
it is reported as :data:`WITHIN_NOISE`, not as holding or failing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from pbgan.paper import G_VS_A_SWD_RATIO, TABLE3_SWD
from pbgan.reproduce.plan import SINGLE_LAYER

__all__ = ["CLOSE", "RULES", "WITHIN_NOISE", "Rule", "inferences"]

# "Close" in the inference rules: within 20% of the reference, or within the noise floor
# (a difference below the real-vs-real SWD is not resolved by the measurement).
CLOSE = 0.2
WITHIN_NOISE = "within noise"

Values = dict[str, float]
Dors = dict[str, int]
Outcome = tuple[bool | str, str] | None


def _noise_note(diff: float, floor: float) -> str:
    if abs(diff) >= floor:
        return ""
    return f" (the difference {abs(diff):.1f} is within the noise floor {floor:.1f})"


def _ordered(holds: bool, diff: float, floor: float) -> bool | str:
    """A claim that one setting is better than another cannot be judged from a
    difference smaller than the noise floor of the measurement."""
    return WITHIN_NOISE if abs(diff) < floor else holds


def _named(setting: str, value: float, dors: Dors) -> str:
    """``"E (DoR -248) 462.3"``: a setting, its layer's DoR when it has one, its SWD."""
    dor = f" (DoR {dors[setting]})" if setting in dors else ""
    return f"{setting}{dor} {value:.1f}"


def _worse_than_single(target: str) -> Callable[[Values, Dors, float], Outcome]:
    def rule(v: Values, dors: Dors, floor: float) -> Outcome:
        others = [s for s in ("B", "C", "D") if s in v]
        if target not in v or not others:
            return None
        worst = max(others, key=v.get)
        listed = ", ".join(_named(s, v[s], dors) for s in others)
        detail = (
            f"{_named(target, v[target], dors)} vs {listed}; "
            f"{target} / {worst} = {v[target] / v[worst]:.2f}"
        )
        diff = v[target] - v[worst]
        return _ordered(diff > 0, diff, floor), detail + _noise_note(diff, floor)

    return rule


def _f_close_to_d(v: Values, dors: Dors, floor: float) -> Outcome:
    if "F" not in v or "D" not in v:
        return None
    diff = v["F"] - v["D"]
    holds = abs(diff) <= max(CLOSE * v["D"], floor)
    return holds, f"F {v['F']:.1f} vs {_named('D', v['D'], dors)} ({100 * diff / v['D']:+.0f}%)"


def _h_better_than_f(v: Values, dors: Dors, floor: float) -> Outcome:
    if "H" not in v or "F" not in v:
        return None
    diff = v["H"] - v["F"]
    detail = f"H {v['H']:.1f} vs F {v['F']:.1f}" + _noise_note(diff, floor)
    return _ordered(diff < 0, diff, floor), detail


def _auto_vs_f(v: Values, dors: Dors, floor: float) -> Outcome:
    if "auto" not in v or "F" not in v:
        return None
    diff = v["auto"] - v["F"]
    word = "lower (better)" if diff < 0 else "higher (worse)"
    detail = f"auto {v['auto']:.1f} vs F {v['F']:.1f}: {100 * abs(diff) / v['F']:.0f}% {word}"
    # Not a claim of the paper (auto is ours): reported as a measurement, no verdict.
    return "measured", detail + _noise_note(diff, floor)


def _nonnegative_dor_cheap(v: Values, dors: Dors, floor: float) -> Outcome:
    """Every single-layer setting whose layer has DoR >= 0 stays close to A."""
    cheap = [s for s in SINGLE_LAYER if s in v and s in dors and dors[s] >= 0]
    if "A" not in v or not cheap:
        return None
    limit = max((1 + CLOSE) * v["A"], v["A"] + floor)
    listed = ", ".join(_named(s, v[s], dors) for s in cheap)
    return all(v[s] <= limit for s in cheap), f"A {v['A']:.1f}, limit {limit:.1f}; {listed}"


@dataclasses.dataclass(frozen=True)
class Rule:
    """A claim of the paper and the test that judges it on SWD values.

    ``test(values, dors, floor)`` returns ``None`` when a needed setting is missing, else
    ``(holds, detail)`` (``holds`` may be the string ``"measured"`` for a comparison
    that is not a claim, or :data:`WITHIN_NOISE` for an order the noise floor hides).
    """

    id: str
    claim: str
    needs: str
    test: Callable[[Values, Dors, float], Outcome]


RULES: tuple[Rule, ...] = (
    Rule(
        "dor_nonnegative_cheap",
        f"Binarizing one layer with DoR >= 0 costs little: each such single-layer setting "
        f"stays within {CLOSE:.0%} of A (or within the noise floor)",
        "A and a single-layer setting (B-E) whose layer has DoR >= 0",
        _nonnegative_dor_cheap,
    ),
    Rule(
        "E_worse_than_BCD",
        "Binarizing the output layer (E, DoR < 0) is worse than binarizing any one of "
        "deconv1-3 (B-D)",
        "E and one of B, C, D",
        _worse_than_single("E"),
    ),
    Rule(
        "G_worse_than_BCD",
        "Binarizing every deconvolution (G) is worse than binarizing any one of deconv1-3 "
        f"(B-D); the paper's later version reports G {G_VS_A_SWD_RATIO}x worse than A",
        "G and one of B, C, D",
        _worse_than_single("G"),
    ),
    Rule(
        "F_close_to_D",
        f"With deconv1-3 binarized (F) the layer with the least DoR (deconv3, D) is the "
        f"bottleneck: F is within {CLOSE:.0%} of D (or within the noise floor)",
        "F and D",
        _f_close_to_d,
    ),
    Rule(
        "H_better_than_F",
        "A binary-weight discriminator beside F's generator (H) balances the competition: "
        "H is better than F",
        "H and F",
        _h_better_than_f,
    ),
    Rule(
        "auto_vs_F",
        "auto (every DoR >= 0 layer, projection included, binary discriminator) against F",
        "auto and F",
        _auto_vs_f,
    ),
)


def _judge(rule: Rule, values: Values, dors: Dors, floor: float) -> dict[str, str]:
    outcome = rule.test(values, dors, floor)
    if outcome is None:
        return {"verdict": "not measured", "detail": f"needs {rule.needs}"}
    status, detail = outcome
    verdict = status if isinstance(status, str) else ("holds" if status else "does not hold")
    return {"verdict": verdict, "detail": detail}


def inferences(
    swd: dict[str, dict[str, float]],
    dors: dict[str, int],
    floor: float,
    paper_dors: dict[str, int],
) -> list[dict[str, Any]]:
    """Each rule of :data:`RULES` on the measured SWD per scheme and on the paper's values.

    ``swd`` maps scheme -> setting -> average SWD x1e3; ``dors`` maps each single-layer
    setting to the DoR of the layer it binarizes here, ``paper_dors`` in the paper's
    generator; ``floor`` is the measured noise floor (the paper reports none, so its
    values are judged without one).
    """
    paper_values = {k: float(v) for k, v in TABLE3_SWD.items()}
    return [
        {
            "id": rule.id,
            "claim": rule.claim,
            "paper": _judge(rule, paper_values, paper_dors, 0.0),
            "measured": {
                scheme: _judge(rule, values, dors, floor) for scheme, values in swd.items()
            },
        }
        for rule in RULES
    ]
