"""``pbgan reproduce``: tables, figures and inferences, resumable, at toy scale."""

import json
import math
import shlex

import pbgan  # noqa: F401
from pbgan.cli import main
from pbgan.reproduce import (
    FIGURES,
    ReproduceConfig,
    RunSpec,
    inferences,
    plan_runs,
)

import pytest
from click.testing import CliRunner

SETTINGS = ["A", "B", "E", "auto"]
TOY = [
    "--epochs", "1",
    "--steps-per-epoch", "2",
    "--batch-size", "8",
    "--width", "0.0625",
    "--arch", "dcgan32",
    "--schemes", "xnor",
    "--settings", ",".join(SETTINGS),
    "--eval-n", "32",
    "--resolutions", "32",
    "--bench-runs", "2",
]  # fmt: skip


def _reproduce(*args):
    return CliRunner().invoke(main, ["reproduce", *map(str, args)])


@pytest.fixture(scope="module")
def reproduction(tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce") / "out"
    result = _reproduce(*TOY, "--out", out)
    assert result.exit_code == 0, result.output
    return out, result


def _histories(out):
    return {p.parent.name: p.read_text() for p in sorted((out / "runs").glob("*/history.csv"))}


@pytest.mark.slow
def test_reproduce_writes_every_table_figure_and_number_it_promises(reproduction):
    out, result = reproduction
    summary = json.loads((out / "report.json").read_text())
    for name in FIGURES.values():
        assert (out / name).stat().st_size > 0, name
    assert set(summary["files"]["figures"].values()) == set(FIGURES.values())
    runs = summary["runs"]
    assert [r["name"] for r in runs] == [f"xnor_{s}" for s in SETTINGS]
    for r in runs:
        run_dir = out / r["dir"]
        assert (run_dir / "loss_curves.png").exists() and (run_dir / "eval.json").exists()
        assert r["epochs_done"] == 1 and r["stopped"] is None
        assert math.isfinite(r["eval"]["swd_x1e3"]["avg"])
        assert r["deploy"]["size_bytes"] == (run_dir / "generator.tflite").stat().st_size
        assert r["deploy"]["median_ms"] > 0
    floor = summary["noise_floor"]["32"]
    assert floor["noise_floor_x1e3"]["avg"] > 0 and 0 < floor["ms_ssim_real"] < 1
    assert {e["id"] for e in summary["inferences"]} >= {"E_worse_than_BCD", "H_better_than_F"}
    assert summary["machine"]["cpu_count"] >= 1 and summary["wall_seconds"] > 0

    report = (out / "REPORT.md").read_text()
    for heading in ("## Table 1", "## Table 3", "## Table 4", "## Figure 2", "## Figure 12"):
        assert heading in report, heading
    assert "## Which of the paper's inferences hold here" in report
    assert summary["command"] in report and "--settings A,B,E,auto" in report
    assert "| A | 44 |" in report and "| E | 449 |" in report  # paper Table 3 beside ours
    assert "| deconv4 | 16 x 16 x 8 | -248 | keep float | -896 | -896 |" in report
    assert "1/25.81" in report and "1.96x" in report
    assert "real vs real (noise floor)" in report
    for name in FIGURES.values():
        assert f"]({name})" in report, name
    assert "runs/xnor_B/loss_curves.png" in report
    assert "[4/4] xnor_auto (dcgan32)" in result.stderr  # progress on stderr


@pytest.mark.slow
def test_rerun_reuses_finished_runs_without_retraining(reproduction):
    out, first = reproduction
    histories = _histories(out)
    evals = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/eval.json")}
    benches = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/bench.json")}
    result = _reproduce(*TOY, "--out", out)
    assert result.exit_code == 0, result.output
    assert _histories(out) == histories  # no epoch trained again
    assert {p: p.stat().st_mtime_ns for p in evals} == evals
    assert {p: p.stat().st_mtime_ns for p in benches} == benches
    assert result.stderr.count("evaluation reused") == len(SETTINGS)
    assert "epoch 1/1" not in result.stderr
    summary = json.loads((out / "report.json").read_text())
    assert [r["epochs_done"] for r in summary["runs"]] == [1] * len(SETTINGS)


@pytest.mark.slow
def test_a_folder_trained_with_other_options_is_refused_before_any_work(reproduction):
    out, _ = reproduction
    result = _reproduce(*TOY, "--seed", "7", "--out", out)
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert "trained with --seed 0, not 7" in line and "new --out" in line


def test_main_runs_come_first_and_extra_resolutions_get_their_own_runs():
    config = ReproduceConfig(schemes=("xnor",), settings=("A", "F"), resolutions=(32, 64))
    config.validate()
    assert [s.name for s in plan_runs(config)] == [
        "xnor_A",
        "xnor_F",
        "xnor_A_dcgan32",
        "xnor_F_dcgan32",
    ]
    assert RunSpec("bwn", "H", "dcgan128", main=False).resolution == 128


def test_a_setting_that_binarizes_nothing_is_trained_once_for_every_scheme():
    config = ReproduceConfig(schemes=("bwn", "xnor"), settings=("A", "F"), resolutions=(64,))
    specs = {s.name: s for s in plan_runs(config)}
    assert list(specs) == ["bwn_F", "xnor_A", "xnor_F"]
    assert specs["xnor_A"].schemes == ("bwn", "xnor") and specs["bwn_F"].schemes == ("bwn",)


def test_command_line_in_the_report_parses_back_to_the_same_options():
    from pbgan.metrics.cli import reproduce

    config = ReproduceConfig(
        out="my dir", width=0.0625, architecture="dcgan32", settings=("A", "auto"), eval_n=64
    )
    argv = shlex.split(config.command())
    assert argv[:2] == ["pbgan", "reproduce"]
    params = reproduce.make_context("reproduce", argv[2:]).params
    assert params["out"] == "my dir" and params["width"] == 0.0625
    assert params["settings"] == "A,auto" and params["eval_n"] == 64
    assert params["architecture"] == "dcgan32" and params["steps_per_epoch"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--settings", "A,Z"], "unknown setting 'Z'"),
        (["--schemes", "xnor,ternary"], "unknown scheme 'ternary'"),
        (["--resolutions", "48"], "48 is not one of"),
        (["--resolutions", "big"], "give sizes such as 32,64"),
    ],
)
def test_bad_lists_are_one_line_errors(tmp_path, args, message):
    result = _reproduce(*args, "--out", tmp_path / "out")
    assert result.exit_code == 2, result.output
    (line,) = result.output.strip().splitlines()
    assert message in line
    assert not (tmp_path / "out").exists()  # refused before anything is written


DORS = {"B": 60, "C": 16, "D": -48, "E": -248}
PAPER_DORS = {"B": 1008, "C": 448, "D": 0, "E": -896}


def _verdicts(values, floor=1.0):
    return {
        e["id"]: e["measured"]["xnor"]
        for e in inferences({"xnor": values}, DORS, floor, PAPER_DORS)
    }


def test_inferences_follow_the_measured_numbers_not_the_paper():
    good = _verdicts({"A": 50, "B": 52, "D": 70, "E": 300, "F": 72, "H": 40, "auto": 60})
    bad = _verdicts({"A": 50, "B": 90, "D": 70, "E": 60, "F": 140, "H": 150, "auto": 160})
    assert good["E_worse_than_BCD"]["verdict"] == "holds"
    assert bad["E_worse_than_BCD"]["verdict"] == "does not hold"
    assert (good["F_close_to_D"]["verdict"], bad["F_close_to_D"]["verdict"]) == (
        "holds",
        "does not hold",
    )
    assert (good["H_better_than_F"]["verdict"], bad["H_better_than_F"]["verdict"]) == (
        "holds",
        "does not hold",
    )
    # B has DoR 60 >= 0: within 20% of A in one case, not in the other.
    assert good["dor_nonnegative_cheap"]["verdict"] == "holds"
    assert bad["dor_nonnegative_cheap"]["verdict"] == "does not hold"
    assert good["auto_vs_F"] == {
        "verdict": "measured",
        "detail": "auto 60.0 vs F 72.0: 17% lower (better)",
    }
    assert good["G_worse_than_BCD"] == {
        "verdict": "not measured",
        "detail": "needs G and one of B, C, D",
    }


def test_differences_below_the_noise_floor_are_flagged():
    close = _verdicts({"F": 70, "H": 65}, floor=10.0)["H_better_than_F"]
    assert close["verdict"] == "within noise" and "within the noise floor 10.0" in close["detail"]
    apart = _verdicts({"F": 70, "H": 55}, floor=10.0)["H_better_than_F"]
    assert apart["verdict"] == "holds"
    tied = _verdicts({"B": 50, "D": 70, "G": 72}, floor=10.0)["G_worse_than_BCD"]
    assert tied["verdict"] == "within noise"


def test_paper_values_are_judged_by_the_same_rules():
    entries = {e["id"]: e["paper"] for e in inferences({}, DORS, 1.0, PAPER_DORS)}
    assert entries["E_worse_than_BCD"]["verdict"] == "holds"  # 449 vs at most 67
    assert entries["H_better_than_F"]["verdict"] == "holds"  # 34 vs 67
    assert entries["F_close_to_D"]["verdict"] == "holds"  # 67 vs 67
    assert entries["G_worse_than_BCD"]["verdict"] == "not measured"  # no G in Table 3
