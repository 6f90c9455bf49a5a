"""What a reproduction runs: its options (:class:`ReproduceConfig`) and its runs
(:func:`plan_runs`). Pure Python: reading a plan never loads TensorFlow.
"""

from __future__ import annotations

import dataclasses
import os
import shlex

from pbgan.settings import ARCHITECTURES, SCHEMES, SETTINGS, get_scheme, get_setting
from pbgan.train.recipe import RECIPES, default_recipe, student_options

__all__ = [
    "DEFAULT_SCHEMES",
    "EVAL_SEED",
    "DEFAULT_SETTINGS",
    "SINGLE_LAYER",
    "ReproduceConfig",
    "ReproduceError",
    "RunSpec",
    "binarizes_nothing",
    "deploys",
    "plan_runs",
    "student",
    "student_options",
]

# Every registered scheme (sorted, so the paper's bwn comes first) and setting.
DEFAULT_SCHEMES: tuple[str, ...] = tuple(sorted(SCHEMES))
DEFAULT_SETTINGS: tuple[str, ...] = tuple(SETTINGS)
# The settings that binarize exactly one deconvolution (B-E): the points of Fig. 6.
SINGLE_LAYER: tuple[str, ...] = tuple(
    s.name for s in SETTINGS.values() if s.deconvs is not None and len(s.deconvs) == 1
)


# Every run is evaluated with this seed: the same real images, the same latents and the
# same SWD projections, so runs differ by their training seed only (and the rows of
# Fig. 5 show identical inputs).
EVAL_SEED = 0


class ReproduceError(ValueError):
    """A reproduction that cannot start or continue; the message names the fix."""


def deploys(scheme: str) -> bool:
    """Whether ``scheme`` deploys as binary LCE ops (xnor); every main run is converted and
    timed, but only these are expected to run as ``LceBconv2d``."""
    return get_scheme(scheme).deploys_binary


@dataclasses.dataclass
class ReproduceConfig:
    """Options of ``pbgan reproduce`` (see its ``--help``)."""

    out: str | os.PathLike = "reproduction"
    data: str = "synthetic"
    epochs: int = 5
    steps_per_epoch: int | None = None
    batch_size: int = 64
    width: float = 1.0
    architecture: str = "dcgan64"
    schemes: tuple[str, ...] = DEFAULT_SCHEMES
    settings: tuple[str, ...] = DEFAULT_SETTINGS
    eval_n: int = 16384
    resolutions: tuple[int, ...] = (32, 64)
    bench_runs: int = 50
    seeds: tuple[int, ...] = (0,)
    jobs: int = 1  # training processes side by side, one core each
    # deployable: the runs that deploy as binary ops train as `pbgan train` trains them by
    # default (students of the same seed's float A, see pbgan.train.recipe); plain: the
    # paper's training for every run.
    recipe: str = "deployable"

    @property
    def resolution(self) -> int:
        return ARCHITECTURES[self.architecture]

    def validate(self) -> None:
        """Normalise names and refuse unknown ones, before anything is trained."""
        if self.architecture not in ARCHITECTURES:
            raise ReproduceError(
                f"unknown --arch {self.architecture}: choose one of {', '.join(ARCHITECTURES)}"
            )
        self.settings = tuple(dict.fromkeys(get_setting(s).name for s in self.settings))
        for scheme in self.schemes:
            if scheme not in SCHEMES:
                raise ReproduceError(
                    f"unknown scheme {scheme!r} in --schemes: use {' and/or '.join(DEFAULT_SCHEMES)}"
                )
        sizes = sorted(ARCHITECTURES.values())
        for r in self.resolutions:
            if r not in sizes:
                raise ReproduceError(
                    f"--resolutions: {r} is not one of {', '.join(map(str, sizes))}"
                )
        self.seeds = tuple(dict.fromkeys(int(s) for s in self.seeds))
        if not self.seeds or min(self.seeds) < 0:
            raise ReproduceError("--seeds needs at least one seed, each >= 0 (e.g. 0,1,2)")
        if self.jobs < 1:
            raise ReproduceError(f"--jobs {self.jobs}: run at least one training process")
        if not self.schemes or not self.settings:
            raise ReproduceError("--schemes and --settings need at least one entry each")
        if self.recipe not in RECIPES:
            raise ReproduceError(f"unknown --recipe {self.recipe}: choose {' or '.join(RECIPES)}")
        students = [
            f"{scheme} {setting}"
            for scheme in self.schemes
            for setting in self.settings
            if student(setting, scheme, self.recipe)
        ]
        if students and "A" not in self.settings:
            raise ReproduceError(
                f"--recipe deployable trains {', '.join(students)} from the float A run of "
                "the same seed: add A to --settings, or pass --recipe plain"
            )
        if self.eval_n < 2 or self.epochs < 1 or self.bench_runs < 1 or self.batch_size < 1:
            raise ReproduceError(
                "--eval-n must be >= 2 and --epochs, --bench-runs, --batch-size >= 1"
            )

    def architectures(self) -> list[str]:
        """The main architecture first, then one per extra resolution of Fig. 12."""
        by_size = {size: name for name, size in ARCHITECTURES.items()}
        extra = sorted(set(self.resolutions) - {self.resolution})
        return [self.architecture] + [by_size[r] for r in extra]

    def command(self) -> str:
        """The command line that reproduces this report, every option explicit."""
        parts = ["pbgan", "reproduce", "--data", str(self.data), "--epochs", str(self.epochs)]
        if self.steps_per_epoch:
            parts += ["--steps-per-epoch", str(self.steps_per_epoch)]
        parts += [
            "--batch-size",
            str(self.batch_size),
            "--width",
            str(self.width),
            "--arch",
            self.architecture,
            "--schemes",
            ",".join(self.schemes),
            "--settings",
            ",".join(self.settings),
            "--eval-n",
            str(self.eval_n),
            "--resolutions",
            ",".join(map(str, self.resolutions)),
            "--bench-runs",
            str(self.bench_runs),
            "--seeds",
            ",".join(map(str, self.seeds)),
            "--jobs",
            str(self.jobs),
            "--recipe",
            self.recipe,
            "--out",
            str(self.out),
        ]
        return shlex.join(parts)


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One training run of the reproduction: a scheme, a setting, an architecture, a seed."""

    scheme: str
    setting: str
    architecture: str
    main: bool  # at --arch: in Tables 3 and 4; otherwise only in Fig. 12
    # Every scheme this run stands for: a setting that binarizes nothing builds the same
    # model whatever the scheme, so it is trained once and reported under each.
    schemes: tuple[str, ...] = ()
    seed: int = 0
    # The run this one distils from and starts from (the float A of its architecture and
    # seed) when it trains with the deployable recipe; None: trained plain.
    teacher: str | None = None

    @property
    def legacy_name(self) -> str:
        """The name before seeds were part of it (the seed is in its config.json)."""
        base = f"{self.scheme}_{self.setting}"
        return base if self.main else f"{base}_{self.architecture}"

    @property
    def name(self) -> str:
        """``<scheme>_<setting>_s<seed>``, with ``_<arch>`` before the seed off --arch."""
        return f"{self.legacy_name}_s{self.seed}"

    @property
    def resolution(self) -> int:
        return ARCHITECTURES[self.architecture]


def binarizes_nothing(setting: str) -> bool:
    """A float generator beside a float discriminator (A): the scheme changes nothing."""
    s = get_setting(setting)
    return s.deconvs == frozenset() and not s.binary_discriminator


def student(setting: str, scheme: str, recipe: str) -> bool:
    """Whether ``setting`` under ``scheme`` trains as a student of the float A (the
    deployable recipe, for generators that binarize a layer and deploy as binary ops)."""
    return recipe == "deployable" and default_recipe(setting, scheme) == "deployable"


def plan_runs(config: ReproduceConfig) -> list[RunSpec]:
    """Every run, grouped by architecture (main first) so that real images load once, and
    within it seed by seed, so that a reproduction stopped part-way has whole seeds.

    A setting that binarizes nothing (A) is one run per architecture and seed, under the
    first deployed scheme when one is requested, for every scheme; with the deployable
    recipe it is the teacher of that architecture and seed's binary-deploying runs.
    """
    shared = next((s for s in config.schemes if deploys(s)), config.schemes[0])
    everyone = tuple(config.schemes)
    specs = []
    for arch in config.architectures():
        for seed in config.seeds:
            for scheme in config.schemes:
                for setting in config.settings:
                    schemes = (scheme,)
                    if binarizes_nothing(setting):
                        if scheme != shared:
                            continue
                        schemes = tuple(config.schemes)
                    main = arch == config.architecture
                    teacher = None
                    if student(setting, scheme, config.recipe):
                        teacher = RunSpec(shared, "A", arch, main, everyone, seed).name
                    specs.append(RunSpec(scheme, setting, arch, main, schemes, seed, teacher))
    return specs
