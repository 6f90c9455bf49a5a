"""``pbgan reproduce``: tables, figures and inferences, resumable, at toy scale."""

import json
import math
import shlex
import subprocess
import sys

import pbgan  # noqa: F401
from pbgan.cli import main
from pbgan.reproduce import (
    FIGURES,
    ReproduceConfig,
    RunSpec,
    inferences,
    plan_runs,
    render_report,
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
    assert summary["machine"]["cores"] >= 1 and summary["wall_seconds"] > 0

    report = (out / "REPORT.md").read_text()
    for heading in ("## Table 1", "## Table 3", "## Table 4", "## Figure 2", "## Figure 12"):
        assert heading in report, heading
    assert "## Which of the paper's inferences hold here" in report
    assert summary["command"] in report and "--settings A,B,E,auto" in report
    # Table 3: the paper's value and this reproduction's numbers on one row.
    evals = {r["setting"]: r["eval"] for r in runs}
    for setting, paper in (("A", 44), ("E", 449)):
        swd, ssim = evals[setting]["swd_x1e3"]["avg"], evals[setting]["ms_ssim_generated"]
        assert f"| {setting} | {paper} | {swd:.1f} | {ssim:.3f} |" in report, setting
    # Table 1: the DoR computed for the full-width dcgan64 is the paper's Table 1.
    full = {r["layer"]: r["dor"] for r in summary["tables"]["full_width_dcgan64"]["layers"]}
    assert [full[f"deconv{i}"] for i in (1, 2, 3, 4)] == [1008, 448, 0, -896]
    assert "| deconv4 | 16 x 16 x 8 | -248 | keep float | -896 | -896 |" in report
    # Table 4: xnor B runs deconv1 as one binary op and its flatbuffer is smaller than A's.
    deploy = {r["setting"]: r["deploy"] for r in runs}
    assert deploy["A"]["ops"].get("LceBconv2d", 0) == 0 and deploy["B"]["ops"]["LceBconv2d"] == 1
    shrink = deploy["A"]["size_bytes"] / deploy["B"]["size_bytes"]
    assert (
        shrink > 1
        and f"| B | 1 | {deploy['B']['size_bytes'] / 1e3:.1f} kB | 1/{shrink:.2f} |" in report
    )
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
    from pbgan.reproduce.cli import reproduce

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


def test_the_command_module_loads_without_tensorflow():
    # pbgan.cli imports it to register the command: `pbgan --help` must stay fast.
    code = "import sys, pbgan.reproduce.cli; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------------------
# REPORT.md from a constructed report.json: every number is distinct, so a value in the
# wrong column or from the wrong run fails.
# --------------------------------------------------------------------------------------


def _run(scheme, setting, *, swd=None, ssim=None, deploy=None, schemes=None):
    return {
        "name": f"{scheme}_{setting}",
        "scheme": scheme,
        "schemes": schemes or [scheme],
        "setting": setting,
        "architecture": "dcgan32",
        "resolution": 32,
        "main": True,
        "dir": f"runs/{scheme}_{setting}",
        "epochs_done": 3,
        "stopped": None,
        "train_seconds": 12.0,
        "history": [{"epoch": 1, "d_loss": 1.0, "g_loss": 2.0}],
        "eval": None if swd is None else {"swd_x1e3": {"avg": swd}, "ms_ssim_generated": ssim},
        "deploy": deploy,
    }


def _deploy(size_bytes, median_ms, bconv=0):
    return {
        "size_bytes": size_bytes,
        "binary_constant_bytes": 1500,
        "float_constant_bytes": 2500,
        "ops": {"LceBconv2d": bconv} if bconv else {},
        "best_config": "xnnpack" if not bconv else "lce-indirect-bgemm",
        "median_ms": median_ms,
    }


def _layer(name, kind, h, c, dor):
    return {
        "layer": name,
        "kind": kind,
        "h_in": h,
        "w_in": h,
        "c_in": c,
        "dor": dor,
        "binarize": dor >= 0,
    }


def _summary(runs, *, schemes=("bwn", "xnor"), settings=("A", "D", "E", "F")):
    chosen = [
        _layer("projection", "projection", 1, 100, 99),
        _layer("deconv1", "deconv", 2, 64, 60),
        _layer("deconv4", "deconv", 16, 8, -248),
    ]
    full = [_layer("deconv1", "deconv", 4, 1024, 1000), _layer("deconv4", "deconv", 32, 128, -900)]
    return {
        "command": "pbgan reproduce --arch dcgan32",
        "config": {
            "architecture": "dcgan32",
            "width": 0.0625,
            "epochs": 3,
            "steps_per_epoch": 2,
            "batch_size": 8,
            "data": "synthetic",
            "eval_n": 32,
            "seed": 0,
            "bench_runs": 5,
            "resolution": 32,
            "schemes": list(schemes),
            "settings": list(settings),
        },
        "machine": {
            "cpu": "Test CPU",
            "cores": 2,
            "os": "Linux",
            "python": "3.11.7",
            "versions": {"pbgan": "0.1.0", "tensorflow": "2.16.1"},
        },  # fmt: skip
        "wall_seconds": 3.0,
        "train_seconds": 36.0,
        "tables": {
            "chosen": {"architecture": "dcgan32", "width": 0.0625, "layers": chosen},
            "full_width_dcgan64": {"architecture": "dcgan64", "width": 1.0, "layers": full},
            "plans": {"A": [], "F": ["deconv1"]},
        },
        "noise_floor": {
            "32": {"noise_floor_x1e3": {"avg": 7.25, "levels": ["32", "16"]}, "ms_ssim_real": 0.125}
        },
        "runs": runs,
        "inferences": [],
        "binarization_error": [],
        "files": {"figures": dict(FIGURES)},
    }


def _section(report, heading):
    """The text under ``heading`` up to the next ``## `` heading."""
    return report.split(heading, 1)[1].split("\n## ", 1)[0]


def test_the_machine_line_names_the_cpu_and_the_stack():
    report = render_report(_summary([]))
    line = "Machine: Test CPU, 2 cores, Linux, Python 3.11.7, tensorflow 2.16.1; pbgan 0.1.0."
    assert line in report.splitlines()


def test_table3_puts_each_schemes_numbers_beside_the_paper_value():
    runs = [
        _run("xnor", "A", swd=50.04, ssim=0.2101, schemes=["bwn", "xnor"]),
        _run("bwn", "E", swd=310.06, ssim=0.3334),
        _run("xnor", "E", swd=420.44, ssim=0.4441),
        _run("bwn", "F", swd=66.66, ssim=0.2555),
    ]
    lines = render_report(_summary(runs)).splitlines()
    assert "| setting | paper SWD | bwn SWD | bwn MS-SSIM | xnor SWD | xnor MS-SSIM |" in lines
    assert "| A | 44 | 50.0 | 0.210 | 50.0 | 0.210 |" in lines  # one run serves both schemes
    assert "| D | 67 | — | — | — | — |" in lines  # not run
    assert "| E | 449 | 310.1 | 0.333 | 420.4 | 0.444 |" in lines
    assert "| F | 67 | 66.7 | 0.256 | — | — |" in lines
    assert "| real vs real (noise floor) | — | 7.2 | 0.125 | 7.2 | 0.125 |" in lines
    assert "Setting A binarizes nothing, so one run (runs/xnor_A) serves every scheme." in lines


def test_table1_keeps_the_computed_and_the_paper_dor_in_their_own_columns():
    lines = render_report(_summary([])).splitlines()
    assert "| projection | 1 x 1 x 100 | 99 | binarize | — | — (not in the paper) |" in lines
    assert "| deconv1 | 2 x 2 x 64 | 60 | binarize | 1000 | 1008 |" in lines
    assert "| deconv4 | 16 x 16 x 8 | -248 | keep float | -900 | -896 |" in lines
    assert "| F | deconv1 | no |" in lines and "| A | none | no |" in lines


A_DEPLOY = _deploy(100_000, 2.0)
F_ROW = "| F | 3 | 25.0 kB | 1/4.00 | 1.5 / 2.5 kB | lce-indirect-bgemm | 0.500 | 4.00x |"


@pytest.mark.parametrize(
    ("a", "f", "f_row", "here"),
    [
        (A_DEPLOY, _deploy(25_000, 0.5, bconv=3), F_ROW, "here F: size 1/4.00, inference 4.00x"),
        (A_DEPLOY, None, "| F | — | — | — | — | not trained | — | — |", "F was not run"),
        (
            {"error": "no interpreter"},
            _deploy(25_000, 0.5, bconv=3),
            "| F | 3 | 25.0 kB | — | 1.5 / 2.5 kB | lce-indirect-bgemm | 0.500 | — |",
            "F was not run",
        ),
    ],
    ids=["both-deployed", "F-missing", "A-failed"],
)
def test_table4_ratios_are_against_setting_a_and_the_paper_is_quoted(a, f, f_row, here):
    runs = [
        _run("xnor", "A", swd=50.0, ssim=0.2, deploy=a, schemes=["bwn", "xnor"]),
        _run("bwn", "F", swd=60.0, ssim=0.2),  # bwn is not deployed: not in Table 4
        _run("xnor", "F", swd=70.0, ssim=0.2, deploy=f),
        _run("xnor", "E", swd=90.0, ssim=0.2, deploy={"error": "boom"}),
    ]
    table4 = _section(render_report(_summary(runs)), "## Table 4")
    lines = table4.splitlines()
    assert [line for line in lines if line.startswith("| F |")] == [f_row]
    assert "| E | — | — | — | — | failed: boom | — | — |" in lines
    assert (
        "Paper Table 4 (setting F vs A, full-width DCGAN): memory 1/25.81, inference 1.96x "
        f"faster; {here}. Latency is the median of 5 timed runs"
    ) in table4


def test_a_reproduction_without_a_deployed_scheme_says_how_to_get_table4():
    report = render_report(_summary([_run("bwn", "F", swd=60.0, ssim=0.2)], schemes=("bwn",)))
    assert "No xnor runs in this reproduction (pass --schemes xnor to deploy)." in report
