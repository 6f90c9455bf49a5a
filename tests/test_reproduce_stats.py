"""Aggregation over seeds and the verdict rule, on constructed numbers (pure Python)."""

import math

from pbgan.reproduce import SEEDS, aggregate, inferences, pooled_sd
from pbgan.reproduce.rules import deployable_gap
from pbgan.reproduce.stats import fmt_spread

import numpy as np
import pytest

# --------------------------------------------------------------------------------------
# Aggregation and the verdict rule, on constructed numbers.
# --------------------------------------------------------------------------------------


def test_aggregate_is_the_mean_and_sample_sd_by_seed():
    s = aggregate({2: 4.0, 0: 1.0, 1: 2.0, 3: 5.0})
    assert s.seeds == (0, 1, 2, 3) and s.values == (1.0, 2.0, 4.0, 5.0)
    assert s.mean == 3.0 and s.sd == pytest.approx(math.sqrt(10 / 3))  # ddof = 1
    assert aggregate([7.0]).sd is None and fmt_spread(aggregate({4: 7.0})) == "7.0 (1 seed: s4)"
    assert fmt_spread(aggregate([1.0, 3.0])) == "2.0 ± 1.4 (2 seeds: s0 1.0, s1 3.0)"
    assert fmt_spread(None) == "—" and fmt_spread(None, missing="not run") == "not run"


def test_pooled_sd_weights_each_variance_by_its_degrees_of_freedom():
    a, b = aggregate([1.0, 2.0, 3.0]), aggregate([10.0, 14.0, 18.0, 22.0, 26.0])
    expected = math.sqrt((2 * 1.0**2 + 4 * b.sd**2) / 6)
    assert pooled_sd(a, b) == pytest.approx(expected)
    assert pooled_sd(aggregate([1.0]), aggregate([2.0])) is None


def test_a_difference_inside_the_spread_is_not_decided():
    a, b = aggregate([50.0, 60.0, 70.0]), aggregate([55.0, 65.0, 75.0])  # s_p = 10
    assert SEEDS.exceeds(b, a) is None and SEEDS.exceeds(a, b) is None
    c = aggregate([75.0, 85.0, 95.0])  # difference 25 > 2 s_p = 20
    assert SEEDS.exceeds(c, a) is True and SEEDS.exceeds(a, c) is False
    assert SEEDS.exceeds(aggregate([90.0, 100.0, 110.0]), a, margin=20.0) is None


def test_fewer_than_three_seeds_never_decide():
    low, high = aggregate([1.0, 1.0]), aggregate([1000.0, 1000.0])
    assert SEEDS.exceeds(high, low) is None
    assert SEEDS.exceeds(aggregate([1000.0] * 3), aggregate([1.0] * 2)) is None
    assert SEEDS.exceeds(aggregate([1000.0] * 3), aggregate([1.0] * 3)) is True


DORS = {"B": 60, "C": 16, "D": -48, "E": -248}
PAPER_DORS = {"B": 1008, "C": 448, "D": 0, "E": -896}


def _m(swd, ssim=0.2, n=3, sd=1.0, ssim_sd=0.001):
    """A setting measured over ``n`` seeds, spread symmetrically around the means."""
    offsets = np.linspace(-1, 1, n) if n > 1 else np.zeros(1)
    return {
        "swd": aggregate([swd + sd * o for o in offsets]),
        "ms_ssim": aggregate([ssim + ssim_sd * o for o in offsets]),
    }


def _verdicts(metrics):
    return {e["id"]: e["measured"]["xnor"] for e in inferences({"xnor": metrics}, DORS, PAPER_DORS)}


def test_verdicts_follow_the_measured_numbers_when_three_seeds_decide():
    good = _verdicts(
        {"A": _m(50), "B": _m(52), "D": _m(70), "E": _m(300), "F": _m(72), "H": _m(40),
         "auto": _m(60)}
    )  # fmt: skip
    bad = _verdicts(
        {"A": _m(50), "B": _m(90), "D": _m(70), "E": _m(60), "F": _m(140), "H": _m(150)}
    )
    for rule in ("E_worse_than_BCD", "F_close_to_D", "H_better_than_F", "dor_nonnegative_cheap"):
        assert (good[rule]["verdict"], bad[rule]["verdict"]) == ("holds", "does not hold"), rule
    assert good["auto_vs_F"]["verdict"] == "measured"
    assert good["auto_vs_F"]["detail"].startswith("auto better: SWD auto 60.0 ± 1.0 (n=3)")
    assert good["G_worse_than_BCD"] == {
        "verdict": "not measured",
        "detail": "needs G and one of B, C, D",
    }


def test_orders_inside_the_spread_or_with_two_seeds_are_not_decided():
    wide = _verdicts({"F": _m(70, sd=10), "H": _m(60, sd=10)})["H_better_than_F"]
    assert wide["verdict"] == "not decided at this evidence"
    two = _verdicts({"F": _m(70, n=2), "H": _m(10, n=2)})["H_better_than_F"]
    assert two["verdict"] == "not decided at this evidence" and "fewer than 3" in two["detail"]
    tied = _verdicts({"B": _m(50), "D": _m(70), "G": _m(71)})["G_worse_than_BCD"]
    assert tied["verdict"] == "not decided at this evidence"


def test_ms_ssim_enters_the_verdict_next_to_swd():
    collapsed = _verdicts({"F": _m(70, ssim=0.2), "H": _m(40, ssim=0.6)})["H_better_than_F"]
    assert collapsed["verdict"] == "SWD and MS-SSIM disagree"
    assert "H less diverse" in collapsed["detail"]
    diverse = _verdicts({"F": _m(70, ssim=0.6), "H": _m(40, ssim=0.2)})["H_better_than_F"]
    assert diverse["verdict"] == "holds" and "H more diverse" in diverse["detail"]


def test_paper_values_are_judged_by_the_same_rules_on_single_values():
    entries = {e["id"]: e["paper"] for e in inferences({}, DORS, PAPER_DORS)}
    assert entries["E_worse_than_BCD"]["verdict"] == "holds"  # 449 vs at most 67
    assert entries["H_better_than_F"]["verdict"] == "holds"  # 34 vs 67
    assert entries["F_close_to_D"]["verdict"] == "holds"  # 67 vs 67
    assert entries["dor_nonnegative_cheap"]["verdict"] == "does not hold"  # D 67 vs A 44
    assert entries["G_worse_than_BCD"]["verdict"] == "not measured"  # no G in Table 3


def test_a_setting_with_fewer_than_three_seeds_decides_nothing_however_far_apart():
    one = _verdicts({"B": _m(50), "D": _m(52), "E": _m(5000, n=1)})["E_worse_than_BCD"]
    assert one["verdict"] == "not decided at this evidence"
    assert "seeds 3 and 1, fewer than 3" in one["detail"]
    # "Each single-layer setting with DoR >= 0 is cheap": B decides, C (1 seed) cannot,
    # so the claim is not decided; a decided counterexample among 3-seed settings fails it.
    cheap = {"A": _m(50), "B": _m(52), "C": _m(51, n=1)}
    assert _verdicts(cheap)["dor_nonnegative_cheap"]["verdict"] == "not decided at this evidence"
    broken = {**cheap, "B": _m(90)}
    assert _verdicts(broken)["dor_nonnegative_cheap"]["verdict"] == "does not hold"


def _gap(metrics):
    (entry,) = deployable_gap({"xnor": metrics}, ["xnor"])
    return entry


def test_deployable_gap_states_auto_against_a_with_swd_and_ms_ssim_over_seeds():
    worse = _gap({"A": _m(50, ssim=0.25), "auto": _m(80, ssim=0.30, sd=2.0)})
    assert worse["verdict"] == "auto worse than A"
    assert worse["text"].startswith(
        "SWD x1e3 auto 80.0 ± 2.0 (3 seeds: s0 78.0, s1 80.0, s2 82.0) vs A 50.0 ± 1.0 "
        "(3 seeds: s0 49.0, s1 50.0, s2 51.0): auto - A = +30.0 (+60% of A); MS-SSIM auto "
        "0.300 ± 0.001 (3 seeds: s0 0.299, s1 0.300, s2 0.301) vs A 0.250 ± 0.001"
    )
    assert worse["text"].endswith("auto - A = +0.050 (higher is less diverse); by the verdict "
                                  "rule: auto worse than A")  # fmt: skip
    inside = _gap({"A": _m(50, sd=10), "auto": _m(60, sd=10)})  # 10 < 2 s_p = 20
    assert inside["verdict"] == "not decided at this evidence"
    two = _gap({"A": _m(50, n=2), "auto": _m(500, n=2)})
    assert two["verdict"] == "not decided at this evidence"
    assert _gap({"A": _m(50)}) == {
        "scheme": "xnor",
        "verdict": "not measured",
        "text": "not measured: auto not run under xnor",
        "detail": "",
    }
