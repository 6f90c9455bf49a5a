"""``pbgan reproduce``: seeds, reuse of summaries, verdicts by a fixed rule, at toy scale."""

import json
import math
import shlex
import subprocess
import sys

import pbgan  # noqa: F401
from pbgan.cli import main
from pbgan.plots import save_grid
from pbgan.reproduce import (
    FIGURES,
    SEEDS,
    ReproduceConfig,
    RunSpec,
    aggregate,
    export_reproduction,
    inferences,
    plan_runs,
    pooled_sd,
    render_report,
    run_reproduction,
)
from pbgan.reproduce.stats import fmt_spread
from pbgan.runs import write_history

import numpy as np
import pytest
from click.testing import CliRunner

TOY = [
    "--epochs", "1",
    "--steps-per-epoch", "2",
    "--batch-size", "8",
    "--width", "0.0625",
    "--arch", "dcgan32",
    "--schemes", "bwn,xnor",
    "--settings", "B",
    "--eval-n", "32",
    "--resolutions", "32",
    "--bench-runs", "2",
    "--seeds", "0,1",
    "--jobs", "2",
]  # fmt: skip
RUN_NAMES = ["bwn_B_s0", "xnor_B_s0", "bwn_B_s1", "xnor_B_s1"]


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
def test_two_seeds_two_schemes_side_by_side_end_to_end(reproduction):
    out, result = reproduction
    summary = json.loads((out / "report.json").read_text())
    for name in FIGURES.values():
        assert (out / name).stat().st_size > 0, name
    runs = summary["runs"]
    assert [r["name"] for r in runs] == RUN_NAMES
    for r in runs:
        run_dir = out / r["dir"]
        assert r["dir"] == f"runs/{r['name']}"
        assert json.loads((run_dir / "config.json").read_text())["seed"] == r["seed"]
        assert r["epochs_done"] == 1 and math.isfinite(r["eval"]["swd_x1e3"]["avg"])
        assert r["deploy"]["size_bytes"] == (run_dir / "generator.tflite").stat().st_size
    by = {r["name"]: r for r in runs}
    # Table 3: mean ± SD over the two seeds, and each seed's value, for both schemes.
    report = (out / "REPORT.md").read_text()
    swd = aggregate({s: by[f"bwn_B_s{s}"]["eval"]["swd_x1e3"]["avg"] for s in (0, 1)})
    ssim = aggregate({s: by[f"bwn_B_s{s}"]["eval"]["ms_ssim_generated"] for s in (0, 1)})
    assert f"| B | 38 | {fmt_spread(swd, 1)} | {fmt_spread(ssim, 3)} |" in report
    # Table 4 covers both schemes: xnor B runs deconv1 as a binary op, bwn B in float.
    assert by["xnor_B_s0"]["deploy"]["ops"]["LceBconv2d"] == 1
    assert by["bwn_B_s1"]["deploy"]["ops"].get("LceBconv2d", 0) == 0
    (b_row,) = [line for line in report.splitlines() if line.startswith("| B | float only |")]
    assert "| 1 LceBconv2d |" in b_row
    assert "With 2 seed(s) no order can be decided" in report
    assert "Model: dcgan32, width 0.0625; settings B; schemes bwn, xnor" in report
    assert "seeds 0, 1" in report and summary["command"] in report
    assert "--seeds 0,1 --jobs 2" in summary["command"]
    assert "2 training processes on cores" in result.stderr


@pytest.mark.slow
def test_rerun_reuses_finished_runs_without_retraining(reproduction):
    out, _ = reproduction
    histories = _histories(out)
    cached = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/*.json")}
    result = _reproduce(*TOY, "--out", out)
    assert result.exit_code == 0, result.output
    assert _histories(out) == histories  # no epoch trained again
    assert {p: p.stat().st_mtime_ns for p in cached} == cached
    assert "4 of 4 runs already trained, 0 to train" in result.stderr
    assert result.stderr.count("evaluation reused") == 4


@pytest.mark.slow
def test_summaries_alone_reproduce_the_report_without_checkpoints(reproduction, tmp_path):
    out, _ = reproduction
    dest = tmp_path / "committed"
    result = _reproduce(*TOY, "--out", out, "--summaries-to", dest)
    assert result.exit_code == 0, result.output
    kept = {p.name for p in (dest / "summaries").rglob("*") if p.is_file()}
    assert {"config.json", "history.csv", "eval.json", "epoch_001.png", "bench.json"} <= kept
    assert not kept & {"generator.keras", "generator.tflite", "checkpoint"}
    original = json.loads((out / "report.json").read_text())
    again = json.loads((dest / "report.json").read_text())
    assert [r["dir"] for r in again["runs"]] == [f"summaries/{n}" for n in RUN_NAMES]
    assert [r["eval"] for r in again["runs"]] == [r["eval"] for r in original["runs"]]
    assert again["aggregates"] == original["aggregates"]


@pytest.mark.slow
def test_a_folder_trained_with_other_options_is_refused_before_any_work(reproduction):
    out, _ = reproduction
    result = _reproduce(*TOY, "--batch-size", "4", "--out", out)
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert "trained with --batch-size 8, not 4" in line and "new --out" in line


# --------------------------------------------------------------------------------------
# Aggregation and the verdict rule, on constructed numbers.
# --------------------------------------------------------------------------------------


def test_aggregate_is_the_mean_and_sample_sd_by_seed():
    s = aggregate({2: 4.0, 0: 1.0, 1: 2.0, 3: 5.0})
    assert s.seeds == (0, 1, 2, 3) and s.values == (1.0, 2.0, 4.0, 5.0)
    assert s.mean == 3.0 and s.sd == pytest.approx(math.sqrt(10 / 3))  # ddof = 1
    assert aggregate([7.0]).sd is None and fmt_spread(aggregate({4: 7.0})) == "7.0 (s4)"
    assert fmt_spread(aggregate([1.0, 3.0])) == "2.0 ± 1.4 (s0 1.0, s1 3.0)"


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


# --------------------------------------------------------------------------------------
# Plans, names and the command line.
# --------------------------------------------------------------------------------------


def test_every_seed_is_a_run_named_by_its_seed_main_runs_first():
    config = ReproduceConfig(
        schemes=("xnor",), settings=("A", "F"), resolutions=(32, 64), seeds=(0, 2)
    )
    config.validate()
    expected = [f"xnor_{s}{a}_s{n}" for a in ("", "_dcgan32") for n in (0, 2) for s in "AF"]
    assert [s.name for s in plan_runs(config)] == expected
    assert expected[:3] == ["xnor_A_s0", "xnor_F_s0", "xnor_A_s2"]  # whole seeds first
    spec = RunSpec("bwn", "H", "dcgan128", main=False, seed=3)
    assert spec.resolution == 128 and spec.legacy_name == "bwn_H_dcgan128"


def test_a_setting_that_binarizes_nothing_is_trained_once_per_seed_for_every_scheme():
    config = ReproduceConfig(schemes=("bwn", "xnor"), settings=("A", "F"), resolutions=(64,))
    specs = {s.name: s for s in plan_runs(config)}
    assert list(specs) == ["bwn_F_s0", "xnor_A_s0", "xnor_F_s0"]
    assert specs["xnor_A_s0"].schemes == ("bwn", "xnor") and specs["bwn_F_s0"].schemes == ("bwn",)


def test_command_line_in_the_report_parses_back_to_the_same_options():
    from pbgan.reproduce.cli import reproduce

    config = ReproduceConfig(
        out="my dir", width=0.0625, architecture="dcgan32", settings=("A", "auto"), eval_n=64,
        seeds=(0, 1, 2), jobs=2,
    )  # fmt: skip
    argv = shlex.split(config.command())
    assert argv[:2] == ["pbgan", "reproduce"]
    params = reproduce.make_context("reproduce", argv[2:]).params
    assert params["out"] == "my dir" and params["width"] == 0.0625
    assert params["settings"] == "A,auto" and params["eval_n"] == 64
    assert params["seeds"] == "0,1,2" and params["jobs"] == 2 and params["seed"] is None


def test_seed_is_a_synonym_for_one_seed(monkeypatch, tmp_path):
    import pbgan.reproduce.runner as runner

    seen = []

    def fake(config, train):
        seen.append(config)
        return {"files": {"report": "R", "json": "J"}, "runs": [], "wall_seconds": 0}

    monkeypatch.setattr(runner, "run_reproduction", fake)
    for args in (["--seed", "3"], ["--seeds", "3"], ["--seeds", "2,0,2"], []):
        assert _reproduce(*args, "--out", tmp_path).exit_code == 0
    assert [c.seeds for c in seen] == [(3,), (3,), (2, 0), (0,)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--settings", "A,Z"], "unknown setting 'Z'"),
        (["--schemes", "xnor,ternary"], "unknown scheme 'ternary'"),
        (["--resolutions", "48"], "48 is not one of"),
        (["--resolutions", "big"], "give sizes such as 32,64"),
        (["--seeds", "0,x"], "give seeds such as 0,1,2"),
        (["--seeds", "0,1", "--seed", "2"], "pass --seeds or --seed, not both"),
    ],
)
def test_bad_lists_are_one_line_errors(tmp_path, args, message):
    result = _reproduce(*args, "--out", tmp_path / "out")
    assert result.exit_code == 2, result.output
    (line,) = result.output.strip().splitlines()
    assert message in line
    assert not (tmp_path / "out").exists()  # refused before anything is written


def test_the_command_module_loads_without_tensorflow():
    # pbgan.cli imports it to register the command: `pbgan --help` must stay fast.
    code = "import sys, pbgan.reproduce.cli; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------------------
# Reuse of summaries without checkpoints: a constructed reproduction folder.
# --------------------------------------------------------------------------------------

EVAL_KEY = {"data": "synthetic", "n": 32, "seed": 0}


def _write(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))


def _fake_run(folder, *, seed, swd, ssim, median_ms):
    """What `pbgan reproduce --summaries-to` keeps of a main xnor A run, trained 1 epoch."""
    config = {"setting": "A", "scheme": "xnor", "architecture": "dcgan32", "width": 0.0625}
    _write(folder / "config.json", {**config, "data": "synthetic", "batch_size": 8, "seed": seed})
    write_history(folder / "history.csv", [{"epoch": 1, "d_loss": 1.0, "g_loss": 2.0 + seed}])
    levels = {"32": swd - 1, "16": swd + 1}
    _write(
        folder / "eval.json",
        {"key": {**EVAL_KEY, "epoch": 1}, "swd_x1e3": {"levels": levels, "avg": swd},
         "ms_ssim_generated": ssim},
    )  # fmt: skip
    (folder / "samples").mkdir()
    for name in ("eval_samples.png", "samples/epoch_001.png"):
        save_grid(np.full((8, 32, 32, 3), 40 * seed, np.uint8), folder / name, cols=8)
    _write(
        folder / "generator.json",
        {"epoch": 1, "size_bytes": 9000, "binary_constant_bytes": 0, "ops": {},
         "float_constant_bytes": 8000, "parity_max_abs_err": 0.0, "deploys_binary": False},
    )  # fmt: skip
    best = {"config": "xnnpack", "median_ms": median_ms, "p10_ms": 0.1, "p90_ms": 0.9}
    _write(
        folder / "bench.json",
        {"key": {"epoch": 1, "runs": 2, "threads": 1}, "best": best, "results": [best]},
    )


def _folder_of_summaries(out):
    """A pre-seed training folder (runs/xnor_A, seed 0, with its checkpoints) and a
    committed summary of seed 1, plus the reproduction's own cached measurements."""
    _fake_run(out / "runs" / "xnor_A", seed=0, swd=50.0, ssim=0.25, median_ms=0.5)
    (out / "runs" / "xnor_A" / "checkpoints").mkdir()
    (out / "runs" / "xnor_A" / "checkpoints" / "ckpt-1.index").write_bytes(b"big")
    _fake_run(out / "summaries" / "xnor_A_s1", seed=1, swd=70.0, ssim=0.35, median_ms=0.7)
    floor = {"levels": {"32": 5.0, "16": 6.0}, "avg": 5.5, "n": 32, "note": None}
    _write(out / "noise_floor_r32.json", {"key": EVAL_KEY, "noise_floor_x1e3": floor,
                                          "ms_ssim_real": 0.125})  # fmt: skip
    row = {"c": 4, "h": 2, "w": 2, "dor": 0, "min_error": 0.1, "shared_error": 0.2,
           "sign_error": 0.3}  # fmt: skip
    _write(out / "binarization_error.json", {"key": {"grid": "default", "seed": 0}, "rows": [row]})
    (out / FIGURES["fig2"]).write_bytes(b"png")
    save_grid(np.zeros((8, 32, 32, 3), np.uint8), out / "real_samples_r32.png", cols=8)


def _snapshot(folder):
    return {p: p.stat().st_mtime_ns for p in sorted(folder.rglob("*")) if p.is_file()}


def test_runs_found_as_summaries_are_aggregated_without_checkpoints(tmp_path, monkeypatch):
    import pbgan.reproduce.stages as stages

    def no_training(*args, **kwargs):
        raise AssertionError("a finished summary was trained again")

    monkeypatch.setattr(stages, "train_run", no_training)
    out = tmp_path / "out"
    _folder_of_summaries(out)
    before = _snapshot(out / "summaries")
    config = ReproduceConfig(
        out=out, epochs=1, steps_per_epoch=2, batch_size=8, width=0.0625, architecture="dcgan32",
        schemes=("xnor",), settings=("A",), eval_n=32, resolutions=(32,), bench_runs=2,
        seeds=(0, 1),
    )  # fmt: skip
    lines = []
    summary = run_reproduction(config, report=lines.append)
    assert "reproduce: 2 of 2 runs already trained, 0 to train (1 at a time)" in lines
    assert [r["dir"] for r in summary["runs"]] == ["runs/xnor_A", "summaries/xnor_A_s1"]
    assert _snapshot(out / "summaries") == before  # a summary is read, never written
    (row,) = summary["aggregates"]
    assert row["swd_x1e3"]["mean"] == 60.0 and row["swd_x1e3"]["sd"] == pytest.approx(14.142, 1e-4)
    assert row["swd_x1e3_levels"]["32"]["values"] == [49.0, 69.0]
    report = (out / "REPORT.md").read_text()
    assert "| A | 44 | 60.0 ± 14.1 (s0 50.0, s1 70.0) | 0.300 ± 0.071 (s0 0.250, s1 0.350) |" in (
        report
    )
    assert "0.600 ± 0.141 (s0 0.500, s1 0.700)" in report  # Table 4 latency over seeds

    dest = tmp_path / "committed"
    again = export_reproduction(config, dest, report=lines.append)
    assert [r["dir"] for r in again["runs"]] == ["summaries/xnor_A_s0", "summaries/xnor_A_s1"]
    assert again["aggregates"] == summary["aggregates"]
    exported = {p.relative_to(dest / "summaries").as_posix() for p in _snapshot(dest / "summaries")}
    assert "xnor_A_s0/samples/epoch_001.png" in exported and "xnor_A_s0/bench.json" in exported
    assert not [p for p in exported if "checkpoints" in p]


# --------------------------------------------------------------------------------------
# REPORT.md from a constructed report.json: every number is distinct, so a value in the
# wrong column, from the wrong run or the wrong seed fails.
# --------------------------------------------------------------------------------------


def _run(scheme, setting, seed, *, swd=None, ssim=None, deploy=None, schemes=None):
    name = f"{scheme}_{setting}_s{seed}"
    quality = {"swd_x1e3": {"avg": swd, "levels": {"32": swd}}, "ms_ssim_generated": ssim}
    return {
        "name": name, "scheme": scheme, "schemes": schemes or [scheme], "setting": setting,
        "architecture": "dcgan32", "resolution": 32, "main": True, "seed": seed,
        "dir": f"runs/{name}", "epochs_done": 3, "stopped": None, "train_seconds": 12.0,
        "history": [{"epoch": 1, "d_loss": 1.0, "g_loss": 2.0}],
        "eval": None if swd is None else quality, "deploy": deploy,
    }  # fmt: skip


def _deploy(size_bytes, median_ms, bconv=0):
    return {
        "size_bytes": size_bytes, "binary_constant_bytes": 1500, "float_constant_bytes": 2500,
        "ops": {"LceBconv2d": bconv} if bconv else {}, "median_ms": median_ms,
        "best_config": "xnnpack" if not bconv else "lce-indirect-bgemm",
    }  # fmt: skip


def _layer(name, kind, h, c, dor):
    return {"layer": name, "kind": kind, "h_in": h, "w_in": h, "c_in": c, "dor": dor,
            "binarize": dor >= 0}  # fmt: skip


def _summary(runs, *, schemes=("bwn", "xnor"), settings=("A", "D", "E", "F")):
    chosen = [
        _layer("projection", "projection", 1, 100, 99),
        _layer("deconv1", "deconv", 2, 64, 60),
        _layer("deconv4", "deconv", 16, 8, -248),
    ]
    full = [_layer("deconv1", "deconv", 4, 1024, 1000), _layer("deconv4", "deconv", 32, 128, -900)]
    floor = {"noise_floor_x1e3": {"avg": 7.25, "levels": ["32", "16"]}, "ms_ssim_real": 0.125}
    return {
        "command": "pbgan reproduce --arch dcgan32",
        "config": {
            "architecture": "dcgan32", "width": 0.0625, "epochs": 3, "steps_per_epoch": 2,
            "batch_size": 8, "data": "synthetic", "eval_n": 32, "seeds": [0, 1],
            "bench_runs": 5, "resolution": 32, "schemes": list(schemes),
            "settings": list(settings),
        },
        "machine": {"cpu": "Test CPU", "cores": 2, "os": "Linux", "python": "3.11.7",
                    "versions": {"pbgan": "0.1.0", "tensorflow": "2.16.1"}},
        "wall_seconds": 3.0, "train_seconds": 36.0,
        "tables": {
            "chosen": {"architecture": "dcgan32", "width": 0.0625, "layers": chosen},
            "full_width_dcgan64": {"architecture": "dcgan64", "width": 1.0, "layers": full},
            "plans": {"A": [], "F": ["deconv1"]},
        },
        "noise_floor": {"32": floor}, "runs": runs, "inferences": [],
        "binarization_error": [], "files": {"figures": dict(FIGURES)},
    }  # fmt: skip


def _section(report, heading):
    """The text under ``heading`` up to the next ``## `` heading."""
    return report.split(heading, 1)[1].split("\n## ", 1)[0]


def test_every_table_and_figure_names_its_model_and_the_machine():
    report = render_report(_summary([_run("xnor", "A", 0, swd=50.0, ssim=0.2)]))
    line = "Machine: Test CPU, 2 cores, Linux, Python 3.11.7, tensorflow 2.16.1; pbgan 0.1.0."
    assert line in report.splitlines()
    caption = (
        "*Model: dcgan32, width 0.0625; settings A, D, E, F; schemes bwn, xnor; 3 epochs x 2 "
        "steps x batch 8 on synthetic; seeds 0, 1; Test CPU, 2 cores.*"
    )
    for heading in ("## Table 3", "## Table 4", "## Which", "## Figure 5", "## Figure 6",
                    "## SWD per", "## Figure 12", "## Figures 8-10", "## Runs"):  # fmt: skip
        assert caption in _section(report, heading), heading
    assert "*Model: dcgan32, width 0.0625 (DoR" in _section(report, "## Table 1")


def test_table3_gives_mean_sd_and_each_seed_for_both_schemes():
    shared = ["bwn", "xnor"]
    runs = [
        _run("xnor", "A", 0, swd=50.04, ssim=0.2101, schemes=shared),
        _run("xnor", "A", 1, swd=52.0, ssim=0.2301, schemes=shared),
        _run("bwn", "E", 0, swd=310.06, ssim=0.3334),
        _run("bwn", "E", 1, swd=320.06, ssim=0.3434),
        _run("xnor", "E", 0, swd=420.44, ssim=0.4441),
        _run("bwn", "F", 1, swd=66.66, ssim=0.2555),
    ]
    lines = render_report(_summary(runs)).splitlines()
    header = "| setting | paper SWD | bwn SWD x1e3 | bwn MS-SSIM | xnor SWD x1e3 | xnor MS-SSIM |"
    assert header in lines
    a = "51.0 ± 1.4 (s0 50.0, s1 52.0) | 0.220 ± 0.014 (s0 0.210, s1 0.230)"
    assert f"| A | 44 | {a} | {a} |" in lines  # one run per seed serves both schemes
    assert "| D | 67 | — | — | — | — |" in lines  # not run
    e = "| E | 449 | 315.1 ± 7.1 (s0 310.1, s1 320.1) | 0.338 ± 0.007 (s0 0.333, s1 0.343) |"
    assert f"{e} 420.4 (s0) | 0.444 (s0) |" in lines
    assert "| F | 67 | 66.7 (s1) | 0.256 (s1) | — | — |" in lines
    assert "| real vs real (noise floor) | — | 7.2 | 0.125 | 7.2 | 0.125 |" in lines


def test_table1_keeps_the_computed_and_the_paper_dor_in_their_own_columns():
    lines = render_report(_summary([])).splitlines()
    assert "| projection | 1 x 1 x 100 | 99 | binarize | — | — (not in the paper) |" in lines
    assert "| deconv1 | 2 x 2 x 64 | 60 | binarize | 1000 | 1008 |" in lines
    assert "| deconv4 | 16 x 16 x 8 | -248 | keep float | -900 | -896 |" in lines
    assert "| F | deconv1 | no |" in lines and "| A | none | no |" in lines


def test_table4_covers_both_schemes_against_setting_a_over_seeds():
    shared = ["bwn", "xnor"]
    runs = [
        _run("xnor", "A", 0, swd=50.0, ssim=0.2, deploy=_deploy(100_000, 2.0), schemes=shared),
        _run("xnor", "A", 1, swd=51.0, ssim=0.2, deploy=_deploy(100_000, 2.2), schemes=shared),
        _run("bwn", "F", 0, swd=60.0, ssim=0.2, deploy=_deploy(100_000, 2.1)),
        _run("bwn", "F", 1, swd=61.0, ssim=0.2, deploy=_deploy(100_000, 2.1)),
        _run("xnor", "F", 0, swd=70.0, ssim=0.2, deploy=_deploy(25_000, 0.5, bconv=3)),
        _run("xnor", "F", 1, swd=71.0, ssim=0.2, deploy=_deploy(25_000, 0.7, bconv=3)),
        _run("xnor", "E", 0, swd=90.0, ssim=0.2, deploy={"error": "boom"}),
    ]
    table4 = _section(render_report(_summary(runs)), "## Table 4")
    lines = table4.splitlines()
    (header,) = [line for line in lines if line.startswith("| setting |")]
    assert header.startswith("| setting | bwn ops (deploys float) | bwn flatbuffer (vs A) |")
    assert "| xnor ops (deploys binary) | xnor flatbuffer (vs A) |" in header
    bwn_f = "| F | float only | 100.0 kB (1/1.00) | 2.100 ± 0.000 (s0 2.100, s1 2.100) | 1.00x |"
    xnor_f = " 3 LceBconv2d | 25.0 kB (1/4.00) | 0.600 ± 0.141 (s0 0.500, s1 0.700) | 3.50x |"
    assert bwn_f + xnor_f in lines
    assert "| E | not trained | — | — | — | failed: boom | — | — | — |" in lines
    assert "here bwn F: size 1/1.00, inference 1.00x; here xnor F: size 1/4.00, inference" in table4
    assert "Only the xnor columns deploy as binary ops" in table4
