"""``pbgan distill`` and the whole bring-your-own-generator path on three families.

Each family: binarize -> distill (a step) -> ``pbgan convert RUN`` with no --setting ->
as many ``LceBconv2d`` as the plan's phase convolutions, parity, and a local bench.
"""

from __future__ import annotations

import json

from pbgan.byog.binarize import binarize_model
from pbgan.byog.distill import DistillConfig, distill
from pbgan.cli import main
from pbgan.runs import read_history
from pbgan.runtime.local import bench_local
from pbgan.tflite_graph import read_flatbuffer

import numpy as np
import pytest
from byog_families import FAMILIES, pytorch_dcgan, tf_tutorial
from click.testing import CliRunner

FAST = dict(steps=1, steps_per_epoch=1, batch_size=4, samples=2)


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _save_pair(tmp_path, build):
    teacher = build()
    student, report = binarize_model(teacher)
    teacher.save(tmp_path / "teacher.keras")
    student.save(tmp_path / "student.keras")
    return report


@pytest.mark.parametrize("family", FAMILIES)
def test_binarize_distill_convert_bench_on_a_users_generator(family, tmp_path):
    report = _save_pair(tmp_path, FAMILIES[family])
    run = tmp_path / "run"
    distill(DistillConfig(tmp_path / "teacher.keras", tmp_path / "student.keras", **FAST), run)

    result = _run("convert", run, "-o", tmp_path / "student.tflite")  # no --setting
    assert result.exit_code == 0, result.output
    flatbuffer = (tmp_path / "student.tflite").read_bytes()
    ops = read_flatbuffer(flatbuffer).op_counts
    assert report.expected_bconvs > 0
    assert ops.get("LceBconv2d", 0) == report.expected_bconvs
    manifest = json.loads((tmp_path / "student.json").read_text())
    assert manifest["parity_mismatch_fraction"] <= 1e-3  # convert refuses worse anyway
    binary = [layer["layer"] for layer in manifest["layers"] if layer["binarized"]]
    assert binary == report.replaced

    results = bench_local(flatbuffer, runs=2, warmup=1, configs=["lce-indirect-bgemm"])
    assert results and results[0].median_ms > 0


def test_distill_writes_a_run_that_sample_reads_and_resumes(tmp_path):
    _save_pair(tmp_path, tf_tutorial)
    run = tmp_path / "run"
    config = dict(teacher=tmp_path / "teacher.keras", student=tmp_path / "student.keras")
    options = ["--batch-size", 4, "--steps-per-epoch", 1, "--feature-weight", 1, "--adversarial"]
    result = _run("distill", *config.values(), "--out", run, "--steps", 2, *options)
    assert result.exit_code == 0, result.output
    assert "epoch 2/2" in result.output and "feature" in result.output
    for name in ("config.json", "generator.keras", "history.csv", "loss_curves.png"):
        assert (run / name).is_file(), name
    assert sorted(p.name for p in (run / "samples").iterdir()) == [
        "epoch_001.png",
        "epoch_002.png",
    ]
    history = read_history(run / "history.csv")
    assert [row["epoch"] for row in history] == [1, 2]
    assert all(row["feature"] > 0 and row["d_loss"] > 0 for row in history)

    result = _run("distill", *config.values(), "--out", run, "--steps", 3, *options)
    assert result.exit_code == 0, result.output
    assert "epoch 3/3" in result.output and "epoch 1/" not in result.output
    assert [row["epoch"] for row in read_history(run / "history.csv")] == [1, 2, 3]

    result = _run("sample", run, "-n", 2, "-o", tmp_path / "grid.png")
    assert result.exit_code == 0 and (tmp_path / "grid.png").is_file()

    result = _run("distill", *config.values(), "--out", run, "--steps", 3, "--batch-size", 8)
    assert result.exit_code == 2 and "--batch-size 4" in result.output


def test_distillation_moves_the_student_toward_the_teacher(tmp_path):
    _save_pair(tmp_path, pytorch_dcgan)
    result = distill(
        DistillConfig(
            tmp_path / "teacher.keras",
            tmp_path / "student.keras",
            steps=40,
            steps_per_epoch=20,
            batch_size=16,
            learning_rate=1e-3,
        ),
        tmp_path / "run",
        verbose=False,
    )
    first, last = result.history[0]["distill"], result.history[-1]["distill"]
    assert np.isfinite(last) and last < first


def test_a_student_of_another_teacher_is_refused(tmp_path):
    _save_pair(tmp_path, tf_tutorial)
    pytorch_dcgan().save(tmp_path / "other.keras")
    result = _run(
        "distill", tmp_path / "other.keras", tmp_path / "student.keras", "--out", tmp_path / "r"
    )
    assert result.exit_code == 2 and "pass the student binarized from it" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_convert_without_setting_takes_a_float_user_generator_as_float(tmp_path):
    tf_tutorial().save(tmp_path / "gen.keras")
    result = _run("convert", tmp_path / "gen.keras", "-o", tmp_path / "float.tflite")
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "float.json").read_text())
    assert "LceBconv2d" not in manifest["ops"] and manifest["setting"] == "A"
    # a setting naming a fourth deconvolution is refused in one line, not with a traceback
    result = _run("convert", tmp_path / "gen.keras", "--setting", "E", "-o", tmp_path / "e.tflite")
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert "has only 3" in result.output
    # a built-in architecture has no binary layers to detect: it still needs --setting
    result = _run("convert", "--model", "dcgan32", "--init", "random", "-o", tmp_path / "m.tflite")
    assert result.exit_code == 2 and "--model needs --setting" in result.output
