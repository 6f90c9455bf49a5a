"""Training recipes (pbgan.train.recipe): the deployable recipe is what `pbgan train`
does for a generator that deploys as binary ops."""

import json

from pbgan.cli import main
from pbgan.train.recipe import DEPLOYABLE_EMA, default_recipe, plan_stages
from pbgan.train.run import TrainConfig

import pytest
from click.testing import CliRunner

TINY_ARGS = ["--arch", "dcgan32", "--width", "0.0625", "--batch-size", "8", "--epochs", "1"]
TINY_ARGS += ["--steps-per-epoch", "2"]


@pytest.mark.parametrize(
    "setting, scheme, recipe",
    [
        ("auto", "xnor", "deployable"),
        ("F", "xnor", "deployable"),
        ("H", "xnor", "deployable"),
        ("A", "xnor", "plain"),  # nothing to binarize
        ("F", "bwn", "plain"),  # deploys in float: the paper's training
        ("auto", "bwn", "plain"),
    ],
)
def test_the_deployable_recipe_is_the_default_only_where_binary_ops_deploy(setting, scheme, recipe):
    assert default_recipe(setting, scheme) == recipe


def test_the_deployable_recipe_trains_a_float_teacher_then_the_student_from_it(tmp_path):
    config = TrainConfig(setting="auto", scheme="xnor", seed=3)
    teacher, student = plan_stages(config, tmp_path / "run", None, None)
    assert teacher.run_dir == tmp_path / "run" / "teacher"
    assert (teacher.config.setting, teacher.config.seed, teacher.config.ema) == ("A", 3, 0.0)
    assert teacher.config.teacher is None and teacher.config.init_from is None
    assert student.run_dir == tmp_path / "run" and student.config.setting == "auto"
    assert student.config.teacher == student.config.init_from == str(teacher.run_dir)
    assert student.config.ema == DEPLOYABLE_EMA


def test_a_given_teacher_replaces_the_first_stage_and_an_explicit_ema_wins(tmp_path):
    config = TrainConfig(setting="F", scheme="xnor", teacher="float_run")
    (stage,) = plan_stages(config, tmp_path, None, 0.0)
    assert stage.config.teacher == stage.config.init_from == "float_run"
    assert stage.config.ema == 0.0 and stage.label == ""
    (plain,) = plan_stages(TrainConfig(setting="F"), tmp_path, "plain", None)
    assert plain.config.ema == 0.0 and plain.config.teacher is None


def test_train_cli_runs_both_stages_by_default_and_resumes_them(tmp_path):
    run = tmp_path / "run"
    args = ["train", *TINY_ARGS, "--setting", "auto", "--out", str(run)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "stage 1/2, float teacher" in result.output
    assert json.loads((run / "teacher" / "config.json").read_text())["setting"] == "A"
    config = json.loads((run / "config.json").read_text())
    assert config["teacher"] == config["init_from"] == str(run / "teacher")
    assert config["ema"] == DEPLOYABLE_EMA
    # The same command again: both stages are finished, nothing is retrained.
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0, again.output
    assert again.output.count("1 epochs done") == 2
    # Another setting into the same folder is refused before anything trains.
    other = CliRunner().invoke(main, args[:-4] + ["--setting", "F", "--out", str(run)])
    assert other.exit_code == 2 and "--setting auto" in other.output
