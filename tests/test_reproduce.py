"""``pbgan reproduce`` end to end at toy scale (seeds and schemes side by side, reuse,
export), its plans and its command line. The report over constructed folders and records
is in ``test_reproduce_report.py``; aggregation and the verdict rule in
``test_reproduce_stats.py``."""

import json
import math
import shlex
import shutil
import subprocess
import sys
from collections import deque

import pbgan  # noqa: F401
from pbgan.cli import main
from pbgan.reproduce import (
    FIGURES,
    ReproduceConfig,
    ReproduceError,
    RunSpec,
    aggregate,
    plan_runs,
)
from pbgan.reproduce.pool import TrainTask
from pbgan.reproduce.stats import fmt_spread

import pytest
from click.testing import CliRunner

TOY = [
    "--epochs", "1",
    "--steps-per-epoch", "2",
    "--batch-size", "8",
    "--width", "0.0625",
    "--arch", "dcgan32",
    "--schemes", "bwn,xnor",
    "--settings", "A,B",
    "--eval-n", "32",
    "--resolutions", "32",
    "--bench-runs", "2",
    "--seeds", "0,1",
    "--jobs", "2",
]  # fmt: skip
# xnor B deploys as binary ops: a student of the same seed's A (the deployable recipe).
RUN_NAMES = [f"{n}_s{s}" for s in (0, 1) for n in ("bwn_B", "xnor_A", "xnor_B")]


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
    assert by["xnor_B_s0"]["deploy"]["ops"]["LceBconv2d"] == 4  # one per output phase
    assert by["bwn_B_s1"]["deploy"]["ops"].get("LceBconv2d", 0) == 0
    (b_row,) = [line for line in report.splitlines() if line.startswith("| B | float only |")]
    assert "| 4 LceBconv2d |" in b_row
    assert "With 2 seed(s) no order can be decided" in report
    assert "Model: dcgan32, width 0.0625; settings A, B; schemes bwn, xnor" in report
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
    assert "6 of 6 runs already trained, 0 to train" in result.stderr
    assert result.stderr.count("evaluation reused") == 6


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
def test_binary_deploying_runs_are_students_of_the_same_seeds_float_a(reproduction):
    out, _ = reproduction
    for seed in (0, 1):
        student = json.loads((out / f"runs/xnor_B_s{seed}/config.json").read_text())
        teacher = str(out / f"runs/xnor_A_s{seed}")
        assert (student["teacher"], student["init_from"], student["ema"]) == (
            teacher,
            teacher,
            0.995,
        )
        for plain in (f"bwn_B_s{seed}", f"xnor_A_s{seed}"):
            config = json.loads((out / f"runs/{plain}/config.json").read_text())
            assert (config["teacher"], config["init_from"], config["ema"]) == (None, None, 0.0)
    assert "trained as students of the same seed's A" in (out / "REPORT.md").read_text()
    result = _reproduce(*TOY, "--recipe", "plain", "--out", out)
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert "xnor_B_s0 was trained with --recipe deployable, not plain" in line


@pytest.mark.slow
def test_a_student_whose_teacher_is_a_summary_only_is_refused_before_training(
    reproduction, tmp_path
):
    out, _ = reproduction
    dest = tmp_path / "committed"
    assert _reproduce(*TOY, "--out", out, "--summaries-to", dest).exit_code == 0
    shutil.rmtree(dest / "summaries/xnor_B_s1")
    result = _reproduce(*TOY, "--out", dest)
    assert result.exit_code == 2
    line = result.output.strip().splitlines()[-1]  # after the progress lines
    assert (
        line.startswith("Error: ")
        and "xnor_B_s1 learns from xnor_A_s1" in line
        and "summary only" in line
    )
    assert not (dest / "runs").exists()  # refused before anything trained


@pytest.mark.slow
def test_a_folder_trained_with_other_options_is_refused_before_any_work(reproduction):
    out, _ = reproduction
    result = _reproduce(*TOY, "--batch-size", "4", "--out", out)
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert "trained with --batch-size 8, not 4" in line and "new --out" in line


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


def test_deployable_recipe_makes_binary_deploying_runs_students_of_their_seeds_a():
    config = ReproduceConfig(
        schemes=("bwn", "xnor"), settings=("A", "F", "auto"), resolutions=(32, 64), seeds=(0, 1)
    )
    config.validate()
    teachers = {s.name: s.teacher for s in plan_runs(config)}
    assert teachers["xnor_F_s1"] == "xnor_A_s1" and teachers["xnor_auto_s0"] == "xnor_A_s0"
    assert teachers["xnor_F_dcgan32_s0"] == "xnor_A_dcgan32_s0"  # same architecture too
    assert teachers["bwn_F_s0"] is None and teachers["xnor_A_s0"] is None
    config.recipe = "plain"
    assert not any(s.teacher for s in plan_runs(config))


@pytest.mark.parametrize(
    "settings, recipe, message",
    [
        (("F",), "deployable", "xnor F from the float A run of the same seed: add A"),
        (("A",), "fancy", "unknown --recipe fancy"),
    ],
)
def test_a_recipe_that_cannot_run_is_refused(settings, recipe, message):
    config = ReproduceConfig(schemes=("xnor",), settings=settings, recipe=recipe)
    with pytest.raises(ReproduceError, match=message):
        config.validate()
    ReproduceConfig(schemes=("xnor",), settings=("F",), recipe="plain").validate()


def _task(name, teacher=None):
    scheme, setting, seed = name.split("_")
    spec = RunSpec(scheme, setting, "dcgan32", True, seed=int(seed[1:]), teacher=teacher)
    return TrainTask(spec, ReproduceConfig(), "/nowhere", name)


def test_students_wait_for_their_teacher_and_skip_when_it_failed(monkeypatch):
    from pbgan.reproduce import pool, stages

    tasks = [_task("xnor_F_s0", "xnor_A_s0"), _task("xnor_A_s0"), _task("bwn_F_s0")]
    pending = deque(pool._teachers_first(tasks))
    assert pool._ready(pending, set()).spec.name == "xnor_A_s0"
    assert pool._ready(pending, {"xnor_A_s0"}).spec.name == "bwn_F_s0"
    assert pool._ready(pending, {"xnor_A_s0"}) is None  # its teacher is still training
    assert pool._ready(pending, set()).spec.name == "xnor_F_s0"

    trained = []

    def train_run(spec, *args):
        trained.append(spec.name)
        if spec.setting == "A":
            return {"error": "RunError: boom"}
        return {"epochs_done": 1, "stopped": None}

    monkeypatch.setattr(stages, "train_run", train_run)
    results = pool._in_process(tasks, print, lambda: None)
    assert trained == ["xnor_A_s0", "bwn_F_s0"]  # the student never starts
    assert results["xnor_F_s0"] == {"error": "its float teacher xnor_A_s0 did not train"}


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


DIES_WITH_PARENT = """
import os, sys, time
from pbgan.reproduce.pool import die_with_parent
child = os.fork()
if child == 0:
    die_with_parent()
    time.sleep(60)
    os._exit(0)
print(child, flush=True)
time.sleep(60)
"""


def test_a_training_job_dies_with_the_command_that_started_it():
    """Stopping `pbgan reproduce` (even with kill -9) must not leave jobs training on."""
    import os
    import signal
    import time

    parent = subprocess.Popen(
        [sys.executable, "-c", DIES_WITH_PARENT], stdout=subprocess.PIPE, text=True
    )
    child = int(parent.stdout.readline())
    time.sleep(0.5)  # let the child ask for its signal
    parent.kill()
    parent.wait(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        # A zombie re-parented to a non-reaping init still answers kill(0): check state.
        with open(f"/proc/{child}/stat") as stat:
            if stat.read().split(")")[-1].split()[0] == "Z":
                return
        time.sleep(0.1)
    os.kill(child, signal.SIGKILL)
    pytest.fail("the job outlived the command that started it")
