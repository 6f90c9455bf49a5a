"""Training recipes: what ``pbgan train`` runs for one command.

* ``plain``: one stage, the paper's training (GAN losses only). The default for a float
  generator (setting A) and for schemes that deploy in float (bwn).
* ``deployable``: the default for a generator that deploys as binary ops (xnor, any
  setting that binarizes a layer). Two stages: a float teacher (setting A, same
  architecture, data, steps and seed) in ``RUN/teacher/``, then the binary student
  that starts from the teacher's weights, distils from it and averages its own weights
  (``--init-from``, ``--teacher``, ``--ema 0.995``). Measured on dcgan32 w0.25, 1,800
  steps, 5 seeds: SWD 56.0 +- 5.3 against the float A's 67.2 +- 14.8, where the plain
  xnor auto scores 109.8 +- 10.9 (docs/results/levers_dcgan32_w025/).

A ``--teacher`` or ``--init-from`` given on the command line replaces the first stage;
``--ema`` given explicitly replaces the averaging decay. Rerunning the command resumes
whichever stage was interrupted. Pure Python: no TensorFlow at import.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING

from pbgan.settings import get_scheme, get_setting

if TYPE_CHECKING:
    from pbgan.train.run import TrainConfig

__all__ = [
    "DEPLOYABLE_EMA",
    "RECIPES",
    "TEACHER_DIR",
    "Stage",
    "default_recipe",
    "plan_stages",
    "student_options",
]

RECIPES = ("deployable", "plain")
DEPLOYABLE_EMA = 0.995
TEACHER_DIR = "teacher"


@dataclasses.dataclass(frozen=True)
class Stage:
    """One training run of a recipe: what it is, its configuration, where it goes."""

    label: str
    config: TrainConfig
    run_dir: Path


def default_recipe(setting: str, scheme: str) -> str:
    """``deployable`` when the generator binarizes a layer and deploys as binary ops."""
    binarizes = get_setting(setting).deconvs != frozenset()  # None: auto decides (it does)
    return "deployable" if binarizes and get_scheme(scheme).deploys_binary else "plain"


def student_options(teacher: str, ema: float | None = None) -> dict:
    """Training options of a binary student of the float run ``teacher``: start from its
    weights, distil from it, average its own weights (``ema``; None: the recipe's)."""
    return {
        "teacher": teacher,
        "init_from": teacher,
        "ema": DEPLOYABLE_EMA if ema is None else ema,
    }


def plan_stages(
    config: TrainConfig, run_dir: str | os.PathLike, recipe: str | None, ema: float | None
) -> list[Stage]:
    """The runs ``recipe`` trains for ``config`` (``None``: :func:`default_recipe`);
    ``ema`` is the ``--ema`` given on the command line (``None``: the recipe's)."""
    run_dir = Path(run_dir)
    recipe = recipe or default_recipe(config.setting, config.scheme)
    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r}: choose {' or '.join(RECIPES)}")
    if recipe == "plain":
        return [Stage("", dataclasses.replace(config, ema=ema or 0.0), run_dir)]
    stages = []
    teacher = config.teacher or config.init_from
    if teacher is None:
        teacher_dir = run_dir / TEACHER_DIR
        float_config = dataclasses.replace(
            config,
            setting="A",
            init_from=None,
            teacher=None,
            teacher_sign_z=False,
            shortcut=False,
            ema=0.0,
        )
        stages.append(Stage("stage 1/2, float teacher (setting A)", float_config, teacher_dir))
        teacher = str(teacher_dir)
    student = dataclasses.replace(
        config,
        **{
            **student_options(teacher, ema),
            "teacher": config.teacher or teacher,
            "init_from": config.init_from or teacher,
        },
    )
    label = f"stage {len(stages) + 1}/{len(stages) + 1}, binary student"
    stages.append(Stage(label if stages else "", student, run_dir))
    return stages
