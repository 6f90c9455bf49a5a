"""The paper's inferences as rules on numbers over seeds (:data:`RULES`, :func:`inferences`).

Each rule judges one claim of the paper from the average SWD *and* the MS-SSIM
diversity of each setting over its seeds (:class:`~pbgan.reproduce.stats.Spread`).
Orders are decided only by :data:`pbgan.reproduce.stats.SEEDS` (at least 3 seeds each,
a difference of means beyond 2 pooled SDs; :data:`~pbgan.reproduce.stats.VERDICT_RULE`).
A verdict is one of

* ``holds`` / ``does not hold``: SWD decides, and MS-SSIM does not contradict it;
* ``SWD and MS-SSIM disagree``: SWD decides one way, MS-SSIM decides that the better-
  scoring setting is the less diverse one (a collapse SWD alone would reward);
* ``not decided at this evidence``: too few seeds, or differences inside the spread;
* ``measured`` (a comparison that is not a claim of the paper) or ``not measured``.

The same rules run on the paper's Table 3 with :data:`~pbgan.reproduce.stats.POINT`
(one value per setting, no spread, no MS-SSIM), so a reader sees what the paper's own
numbers say beside what was measured.

:func:`deployable_gap` states the one comparison a user of the binary model needs: the
generator that deploys as binary ops (xnor ``auto``) against the float one (A), by the
same rule.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from pbgan.paper import G_VS_A_SWD_RATIO, TABLE3_SWD
from pbgan.reproduce.plan import SINGLE_LAYER
from pbgan.reproduce.stats import POINT, SEEDS, Evidence, Spread, aggregate, fmt_spread

__all__ = [
    "CLOSE",
    "DISAGREE",
    "FAILS",
    "HOLDS",
    "MEASURED",
    "NOT_DECIDED",
    "RULES",
    "Rule",
    "deployable_gap",
    "inferences",
]

# "Close" in the inference rules: within 20% of the reference's mean.
CLOSE = 0.2
HOLDS, FAILS = "holds", "does not hold"
NOT_DECIDED = "not decided at this evidence"
DISAGREE = "SWD and MS-SSIM disagree"
MEASURED = "measured"

Metrics = dict[str, dict[str, Spread | None]]  # setting -> {"swd": ..., "ms_ssim": ...}
Dors = dict[str, int]
Outcome = tuple[str, str] | None


def _short(s: Spread, digits: int) -> str:
    sd = "" if s.sd is None else f" ± {s.sd:.{digits}f}"
    return f"{s.mean:.{digits}f}{sd} (n={s.n})"


def _name(setting: str, dors: Dors) -> str:
    return f"{setting} (DoR {dors[setting]})" if setting in dors else setting


def _diversity(m: Metrics, x: str, y: str, ev: Evidence) -> tuple[bool | None, str]:
    """Is x decidedly *less* diverse (higher MS-SSIM) than y? And the words for it."""
    a, b = m[x].get("ms_ssim"), m[y].get("ms_ssim")
    if a is None or b is None:
        return None, "no MS-SSIM"
    worse = ev.exceeds(a, b)
    words = {True: "less diverse", False: "more diverse", None: "diversity not decided"}[worse]
    return worse, f"MS-SSIM {_short(a, 3)} vs {_short(b, 3)} ({ev.explain(a, b)}): {x} {words}"


def _better(m: Metrics, x: str, y: str, dors: Dors, ev: Evidence) -> tuple[str, str]:
    """The claim "x has better quality than y": lower SWD, and not less diverse."""
    sx, sy = m[x]["swd"], m[y]["swd"]
    lower = ev.exceeds(sy, sx)  # True: x decidedly lower SWD
    less_diverse, div = _diversity(m, x, y, ev)
    detail = (
        f"SWD {_name(x, dors)} {_short(sx, 1)} vs {_name(y, dors)} {_short(sy, 1)} "
        f"({ev.explain(sx, sy)}); {div}"
    )
    if lower is None:
        return NOT_DECIDED, detail
    if lower:
        return (DISAGREE if less_diverse else HOLDS), detail
    return (DISAGREE if less_diverse is False else FAILS), detail


def _within(m: Metrics, x: str, y: str, *, two_sided: bool, ev: Evidence, dors: Dors):
    """The claim "x's SWD is within CLOSE of y's" (only "not above" when one-sided)."""
    sx, sy = m[x]["swd"], m[y]["swd"]
    margin = CLOSE * sy.mean
    above = ev.exceeds(sx, sy, margin)
    below = ev.exceeds(sy, sx, margin) if two_sided else False
    less_diverse, div = _diversity(m, x, y, ev)
    detail = (
        f"SWD {_name(x, dors)} {_short(sx, 1)} vs {_name(y, dors)} {_short(sy, 1)}, "
        f"margin {CLOSE:.0%} = {margin:.1f} ({ev.explain(sx, sy, margin)}); {div}"
    )
    if above or below:
        return FAILS, detail
    if above is None or below is None:
        return NOT_DECIDED, detail
    return (DISAGREE if less_diverse else HOLDS), detail


def _all(outcomes: list[tuple[str, str]]) -> tuple[str, str]:
    """A claim about each of several settings: the weakest verdict decides."""
    verdicts = {v for v, _ in outcomes}
    verdict = next((v for v in (FAILS, NOT_DECIDED, DISAGREE) if v in verdicts), HOLDS)
    return verdict, "; ".join(f"[{v}] {d}" for v, d in outcomes)


def _worse_than_single(target: str) -> Callable[[Metrics, Dors, Evidence], Outcome]:
    def rule(m: Metrics, dors: Dors, ev: Evidence) -> Outcome:
        others = [s for s in ("B", "C", "D") if s in m]
        if target not in m or not others:
            return None
        return _all([_better(m, s, target, dors, ev) for s in others])

    return rule


def _f_close_to_d(m: Metrics, dors: Dors, ev: Evidence) -> Outcome:
    if "F" not in m or "D" not in m:
        return None
    return _within(m, "F", "D", two_sided=True, ev=ev, dors=dors)


def _h_better_than_f(m: Metrics, dors: Dors, ev: Evidence) -> Outcome:
    if "H" not in m or "F" not in m:
        return None
    return _better(m, "H", "F", dors, ev)


def _auto_vs_f(m: Metrics, dors: Dors, ev: Evidence) -> Outcome:
    if "auto" not in m or "F" not in m:
        return None
    verdict, detail = _better(m, "auto", "F", dors, ev)
    said = {HOLDS: "auto better", FAILS: "auto worse"}.get(verdict, verdict)
    # Not a claim of the paper (auto is ours): reported as a measurement.
    return MEASURED, f"{said}: {detail}"


def _nonnegative_dor_cheap(m: Metrics, dors: Dors, ev: Evidence) -> Outcome:
    """Every single-layer setting whose layer has DoR >= 0 stays within CLOSE of A."""
    cheap = [s for s in SINGLE_LAYER if s in m and s in dors and dors[s] >= 0]
    if "A" not in m or not cheap:
        return None
    return _all([_within(m, s, "A", two_sided=False, ev=ev, dors=dors) for s in cheap])


@dataclasses.dataclass(frozen=True)
class Rule:
    """A claim of the paper and the test that judges it.

    ``test(metrics, dors, evidence)`` returns ``None`` when a needed setting is missing,
    else ``(verdict, detail)``.
    """

    id: str
    claim: str
    needs: str
    test: Callable[[Metrics, Dors, Evidence], Outcome]


RULES: tuple[Rule, ...] = (
    Rule(
        "dor_nonnegative_cheap",
        f"Binarizing one layer with DoR >= 0 costs little: each such single-layer setting "
        f"has an SWD at most {CLOSE:.0%} above A's, and is not less diverse",
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
        f"bottleneck: F's SWD is within {CLOSE:.0%} of D's",
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


def _judge(rule: Rule, metrics: Metrics, dors: Dors, ev: Evidence) -> dict[str, str]:
    outcome = rule.test(metrics, dors, ev)
    if outcome is None:
        return {"verdict": "not measured", "detail": f"needs {rule.needs}"}
    verdict, detail = outcome
    return {"verdict": verdict, "detail": detail}


def _paper_metrics() -> Metrics:
    return {k: {"swd": aggregate([float(v)]), "ms_ssim": None} for k, v in TABLE3_SWD.items()}


def inferences(quality: dict[str, Metrics], dors: Dors, paper_dors: Dors) -> list[dict[str, Any]]:
    """Each rule of :data:`RULES` on the measured metrics per scheme, and on the paper's.

    ``quality`` maps scheme -> setting -> ``{"swd": Spread, "ms_ssim": Spread}``
    (:func:`pbgan.reproduce.records.quality`); ``dors`` maps each single-layer setting
    to the DoR of the layer it binarizes here, ``paper_dors`` in the paper's generator.
    """
    paper = _paper_metrics()
    return [
        {
            "id": rule.id,
            "claim": rule.claim,
            "paper": _judge(rule, paper, paper_dors, POINT),
            "measured": {
                scheme: _judge(rule, metrics, dors, SEEDS) for scheme, metrics in quality.items()
            },
        }
        for rule in RULES
    ]


def _gap_text(m: Metrics, verdict: str) -> str:
    auto, a = m["auto"], m["A"]
    d = auto["swd"].mean - a["swd"].mean
    parts = [
        f"SWD x1e3 auto {fmt_spread(auto['swd'], 1)} vs A {fmt_spread(a['swd'], 1)}: "
        f"auto - A = {d:+.1f} ({d / a['swd'].mean:+.0%} of A)"
    ]
    if auto.get("ms_ssim") and a.get("ms_ssim"):
        dm = auto["ms_ssim"].mean - a["ms_ssim"].mean
        parts.append(
            f"MS-SSIM auto {fmt_spread(auto['ms_ssim'], 3)} vs A {fmt_spread(a['ms_ssim'], 3)}: "
            f"auto - A = {dm:+.3f} (higher is less diverse)"
        )
    return "; ".join(parts) + f"; by the verdict rule: {verdict}"


def deployable_gap(quality: dict[str, Metrics], schemes: list[str]) -> list[dict[str, Any]]:
    """``auto`` against A under each scheme in ``schemes`` (those that deploy as binary
    ops), mean ± SD of SWD and MS-SSIM over seeds and the rule's verdict.

    Each entry: ``scheme``, ``verdict`` (``auto better than A``, ``auto worse than A``,
    :data:`NOT_DECIDED`, :data:`DISAGREE` or ``not measured``), ``text`` (one plain
    sentence of numbers) and ``detail`` (why the rule said so).
    """
    out = []
    for scheme in schemes:
        m = quality.get(scheme, {})
        lacking = [s for s in ("auto", "A") if s not in m]
        if lacking:
            text = f"not measured: {' and '.join(lacking)} not run under {scheme}"
            out.append({"scheme": scheme, "verdict": "not measured", "text": text, "detail": ""})
            continue
        verdict, detail = _better(m, "auto", "A", {}, SEEDS)
        said = {HOLDS: "auto better than A", FAILS: "auto worse than A"}.get(verdict, verdict)
        out.append(
            {"scheme": scheme, "verdict": said, "text": _gap_text(m, said), "detail": detail}
        )
    return out
