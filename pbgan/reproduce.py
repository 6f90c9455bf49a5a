"""Reproduce the paper's tables and figures at any scale (``pbgan reproduce``).

For every scheme and setting a GAN is trained at the main architecture (and at each
extra resolution for Fig. 12), evaluated by SWD and MS-SSIM against real images, and,
for the deployable ``xnor`` scheme, converted to an LCE flatbuffer and timed here. The
output folder then holds::

    runs/<scheme>_<setting>/           main runs (Tables 3 and 4, Figs 5, 6, 8-10)
    runs/<scheme>_<setting>_<arch>/    extra resolutions (Fig. 12)
        ...                            what `pbgan train` writes (history, loss_curves.png)
        eval.json, eval_samples.png    SWD x1e3, MS-SSIM, the first generated samples
        generator.tflite, .json        xnor main runs: the conversion and its manifest
        bench.json                     xnor main runs: local latency, every configuration
    noise_floor_r<res>.json            real-vs-real SWD and real MS-SSIM per resolution
    real_samples_r<res>.png            the first real images of the evaluation set
    binarization_error.json            the Fig. 2 experiment
    fig*.png                           the figures
    REPORT.md, report.json             the report and every number in it

Every stage is cached: training resumes (``pbgan.train.run.train``), and evaluation,
noise floor, conversion and benchmark results are JSON files keyed by what produced
them (data, ``n``, seed, epochs trained, bench runs), so rerunning the same command only
redoes what is missing or stale. A run whose training stopped on a non-finite loss is
resumed from its last good epoch on the next invocation.

The report's "which of the paper's inferences hold here" section is computed from the
measured numbers by the rules in :func:`inferences` and the same rules are applied to the
paper's own Table 3 values, so a reader sees both what is claimed and what was measured.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shlex
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pbgan
from pbgan.io import atomic_write_json, atomic_write_text
from pbgan.metrics.evaluate import (
    generated_quality,
    load_generator,
    load_real_sets,
    noise_floor,
    progress,
)
from pbgan.models import ARCHITECTURES
from pbgan.plots import image_grid, save_figure, save_grid
from pbgan.settings import PAPER_SWD, SETTINGS, get_setting

import numpy as np
import tensorflow as tf

__all__ = [
    "CLOSE",
    "PAPER_F_MEMORY_RATIO",
    "PAPER_F_SPEEDUP",
    "PAPER_TABLE1",
    "ReproduceConfig",
    "ReproduceError",
    "Rule",
    "RunSpec",
    "dor_tables",
    "inferences",
    "plan_runs",
    "render_report",
    "run_reproduction",
]

# Paper Table 1: DoR of the four deconvolutions of the full-width 64x64 DCGAN.
PAPER_TABLE1 = {"deconv1": 1008, "deconv2": 448, "deconv3": 0, "deconv4": -896}
# Paper Table 4, setting F against the float model.
PAPER_F_MEMORY_RATIO = 25.81
PAPER_F_SPEEDUP = 1.96
# "Close" in the inference rules: within 20% of the reference, or within the noise floor
# (a difference below the real-vs-real SWD is not resolved by the measurement).
CLOSE = 0.2
SAMPLES_PER_ROW = 8
SINGLE_LAYER = ("B", "C", "D", "E")
SCHEMES = ("bwn", "xnor")


class ReproduceError(ValueError):
    """A reproduction that cannot start or continue; the message names the fix."""


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
    schemes: tuple[str, ...] = SCHEMES
    settings: tuple[str, ...] = ("A", "B", "C", "D", "E", "F", "G", "H", "auto")
    eval_n: int = 16384
    resolutions: tuple[int, ...] = (32, 64)
    bench_runs: int = 50
    seed: int = 0

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
                raise ReproduceError(f"unknown scheme {scheme!r} in --schemes: use bwn and/or xnor")
        sizes = sorted(ARCHITECTURES.values())
        for r in self.resolutions:
            if r not in sizes:
                raise ReproduceError(
                    f"--resolutions: {r} is not one of {', '.join(map(str, sizes))}"
                )
        if not self.schemes or not self.settings:
            raise ReproduceError("--schemes and --settings need at least one entry each")
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
            "--seed",
            str(self.seed),
            "--out",
            str(self.out),
        ]
        return shlex.join(parts)


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One training run of the reproduction."""

    scheme: str
    setting: str
    architecture: str
    main: bool  # at --arch: in Tables 3 and 4; otherwise only in Fig. 12
    # Every scheme this run stands for: a setting that binarizes nothing builds the same
    # model whatever the scheme, so it is trained once and reported under each.
    schemes: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        base = f"{self.scheme}_{self.setting}"
        return base if self.main else f"{base}_{self.architecture}"

    @property
    def resolution(self) -> int:
        return ARCHITECTURES[self.architecture]


def _binarizes_nothing(setting: str) -> bool:
    s = get_setting(setting)
    return s.deconvs == frozenset() and not s.binary_discriminator


def plan_runs(config: ReproduceConfig) -> list[RunSpec]:
    """Every run, grouped by architecture (main first) so that real images load once.

    A setting that binarizes nothing (A) is one run per architecture, under ``xnor``
    when it is requested (so that Table 4 has its float baseline), for every scheme.
    """
    shared = "xnor" if "xnor" in config.schemes else config.schemes[0]
    specs = []
    for arch in config.architectures():
        for scheme in config.schemes:
            for setting in config.settings:
                schemes = (scheme,)
                if _binarizes_nothing(setting):
                    if scheme != shared:
                        continue
                    schemes = tuple(config.schemes)
                specs.append(RunSpec(scheme, setting, arch, arch == config.architecture, schemes))
    return specs


def _runs_for(runs: list[dict], scheme: str) -> list[dict]:
    """The runs reported under ``scheme`` (shared runs included)."""
    return [r for r in runs if scheme in r["schemes"]]


# --------------------------------------------------------------------------------------
# Caches: a JSON file holding the key that produced it.
# --------------------------------------------------------------------------------------


def _cached(path: Path, key: dict) -> dict | None:
    if not path.is_file():
        return None
    try:
        saved = json.loads(path.read_text())
    except ValueError:
        return None  # a damaged cache is recomputed, never trusted
    return saved if saved.get("key") == key else None


def _store(path: Path, key: dict, value: dict) -> dict:
    record = {"key": key, **value}
    atomic_write_json(path, record)
    return record


# --------------------------------------------------------------------------------------
# Table 1 and the Fig. 2 experiment.
# --------------------------------------------------------------------------------------


def _analyze(resolution: int, width: float) -> list[dict]:
    import warnings

    from pbgan.analysis import analyze
    from pbgan.models import build_generator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_generator(resolution=resolution, width=width, setting="A")
    rows = [r.to_dict() for r in analyze(model)]
    tf.keras.backend.clear_session()
    return rows


def dor_tables(config: ReproduceConfig) -> dict[str, Any]:
    """DoR per layer of the chosen generator and of the full-width dcgan64 (paper's)."""
    chosen = _analyze(config.resolution, config.width)
    full = _analyze(64, 1.0)
    dors = [r["dor"] for r in chosen]
    plans = {}
    for name in config.settings:
        plan = get_setting(name).plan(dors, warn=False)
        plans[name] = [r["layer"] for r, b in zip(chosen, plan, strict=True) if b]
    return {
        "chosen": {"architecture": config.architecture, "width": config.width, "layers": chosen},
        "full_width_dcgan64": {"architecture": "dcgan64", "width": 1.0, "layers": full},
        "plans": plans,
    }


def _binarization_experiment(out: Path, report: Callable[[str], None]) -> list[dict]:
    from pbgan.metrics.binarization_error import (
        plot_binarization_error,
        run_binarization_experiment,
    )

    path = out / "binarization_error.json"
    png = out / "fig2_binarization_error.png"
    key = {"grid": "default", "seed": 0}
    cached = _cached(path, key)
    if cached is None:
        report("reproduce: Fig. 2 binarization-error experiment")
        cached = _store(path, key, {"rows": run_binarization_experiment(seed=0)})
    if not png.exists():
        # The plotting helper writes in place; render beside the target, then rename, so
        # an interrupted run never leaves half a PNG.
        fd, tmp = tempfile.mkstemp(prefix=".fig2.", suffix=".png", dir=out)
        os.close(fd)
        try:
            plot_binarization_error(cached["rows"], tmp)
            os.replace(tmp, png)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return cached["rows"]


# --------------------------------------------------------------------------------------
# One run: train, evaluate, convert and bench.
# --------------------------------------------------------------------------------------


class _EpochLine(tf.keras.callbacks.Callback):
    """One stderr line per finished epoch (training itself runs with verbose=0)."""

    def __init__(self, report: Callable[[str], None], tag: str, epochs: int):
        super().__init__()
        self.report, self.tag, self.epochs = report, tag, epochs
        self._start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        losses = " ".join(f"{k} {logs.get(k, float('nan')):.3f}" for k in ("d_loss", "g_loss"))
        seconds = time.perf_counter() - self._start
        self.report(f"{self.tag}: epoch {epoch + 1}/{self.epochs} {losses} ({seconds:.1f} s)")


def _check_existing_run(spec: RunSpec, run_dir: Path, config: ReproduceConfig) -> None:
    """Refuse to mix data, width, batch size or seed inside one reproduction folder.

    Checked for every run before anything is trained, so a wrong option fails at once
    rather than after hours of earlier runs.
    """
    from pbgan.runs import load_run_config

    if not (run_dir / "config.json").is_file():
        return
    saved = load_run_config(run_dir)
    expected = {
        "architecture": (spec.architecture, "--arch"),
        "width": (config.width, "--width"),
        "data": (config.data, "--data"),
        "batch_size": (config.batch_size, "--batch-size"),
        "seed": (config.seed, "--seed"),
    }
    for key, (ours, flag) in expected.items():
        if saved.get(key) != ours:
            raise ReproduceError(
                f"{run_dir} was trained with {flag} {saved.get(key)}, not {ours}: pass "
                f"{flag} {saved.get(key)} to continue it, or a new --out"
            )


def _train(spec: RunSpec, config: ReproduceConfig, run_dir: Path, tag: str, report) -> dict:
    from pbgan.train.run import TrainConfig, train

    train_config = TrainConfig(
        setting=spec.setting,
        scheme=spec.scheme,
        architecture=spec.architecture,
        width=config.width,
        data=config.data,
        batch_size=config.batch_size,
        epochs=config.epochs,
        steps_per_epoch=config.steps_per_epoch,
        seed=config.seed,
    )
    report(f"{tag}: train to epoch {config.epochs} (finished epochs are reused)")
    result = train(
        train_config, run_dir, verbose=0, extra_callbacks=[_EpochLine(report, tag, config.epochs)]
    )
    if result.stopped:
        report(f"{tag}: training stopped: {result.stopped}")
    return {
        "epochs_done": result.epochs_done,
        "stopped": result.stopped,
        "train_seconds": float(sum(r.get("seconds", 0.0) for r in result.history)),
        "history": [
            {k: r[k] for k in ("epoch", "d_loss", "g_loss") if k in r} for r in result.history
        ],
    }


class _LazyReals:
    """Real images of one resolution, read only when some result is not cached."""

    def __init__(self, config: ReproduceConfig, resolution: int, report) -> None:
        self.config, self.resolution, self.report = config, resolution, report
        self._sets = None

    def get(self):
        if self._sets is None:
            c = self.config
            self.report(
                f"reproduce: reading {2 * c.eval_n} real {self.resolution}x{self.resolution} "
                f"images from {c.data}"
            )
            self._sets = load_real_sets(c.data, c.eval_n, self.resolution, c.seed)
        return self._sets


def _eval_key(config: ReproduceConfig) -> dict:
    return {"data": str(config.data), "n": config.eval_n, "seed": config.seed}


def _noise_floor(out: Path, config: ReproduceConfig, reals: _LazyReals, report) -> dict:
    res = reals.resolution
    path = out / f"noise_floor_r{res}.json"
    cached = _cached(path, _eval_key(config))
    if cached is not None:
        return cached
    sets = reals.get()
    report(f"reproduce: noise floor at {res}x{res} (real vs real SWD, real MS-SSIM)")
    save_grid(sets.first[:SAMPLES_PER_ROW], out / f"real_samples_r{res}.png", cols=SAMPLES_PER_ROW)
    return _store(path, _eval_key(config), noise_floor(sets, config.seed))


def _evaluate(run_dir: Path, config: ReproduceConfig, epochs: int, reals: _LazyReals, tag, report):
    key = {**_eval_key(config), "epoch": epochs}
    cached = _cached(run_dir / "eval.json", key)
    if cached is not None:
        report(f"{tag}: evaluation reused")
        return cached
    gen = load_generator(run_dir)
    sets = reals.get()
    report(f"{tag}: evaluate ({len(sets.first)} generated vs real)")
    fake = gen.generate(len(sets.first), config.seed)
    # The first latents are the same for every run, so the rows of Fig. 5 compare settings
    # on identical inputs.
    save_grid(fake[:SAMPLES_PER_ROW], run_dir / "eval_samples.png", cols=SAMPLES_PER_ROW)
    return _store(run_dir / "eval.json", key, generated_quality(fake, sets.first, config.seed))


def _convert(spec: RunSpec, run_dir: Path, epochs: int, tag, report) -> dict:
    from pbgan.analysis import load_keras_model
    from pbgan.convert import convert_generator, write_conversion

    tflite = run_dir / "generator.tflite"
    manifest_path = tflite.with_suffix(".json")
    if tflite.is_file() and manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("epoch") == epochs:
            return manifest
    report(f"{tag}: convert to an LCE flatbuffer")
    result = convert_generator(
        load_keras_model(run_dir / "generator.keras"),
        setting=spec.setting,
        scheme=spec.scheme,
        source=str(run_dir),
        # The reproduction studies E and G on purpose (paper Table 3).
        allow_negative_dor=True,
    )
    result.manifest["epoch"] = epochs  # what the cache is keyed on
    write_conversion(result, tflite)
    return result.manifest


def _bench(run_dir: Path, config: ReproduceConfig, epochs: int, tag, report) -> dict:
    from pbgan.runtime.local import bench_local, best

    key = {"epoch": epochs, "runs": config.bench_runs, "threads": 1}
    cached = _cached(run_dir / "bench.json", key)
    if cached is not None:
        report(f"{tag}: conversion and benchmark reused")
        return cached
    report(f"{tag}: bench ({config.bench_runs} runs, 1 thread, every interpreter configuration)")
    results = bench_local(
        run_dir / "generator.tflite", threads=1, runs=config.bench_runs, label=run_dir.name
    )
    winner = best(results)
    return _store(
        run_dir / "bench.json",
        key,
        {"best": winner.to_dict(), "results": [r.to_dict() for r in results]},
    )


def _deploy(spec: RunSpec, run_dir: Path, config: ReproduceConfig, epochs: int, tag, report):
    """Conversion and latency of an xnor main run; a failure is recorded, not fatal."""
    from pbgan.runtime.local import BenchError
    from pbgan.tflite_graph import FlatbufferError

    try:
        manifest = _convert(spec, run_dir, epochs, tag, report)
        bench = _bench(run_dir, config, epochs, tag, report)
    except (ValueError, BenchError, FlatbufferError) as err:
        message = (str(err).strip().splitlines() or [type(err).__name__])[0]
        report(f"{tag}: deployment failed: {message}")
        return {"error": message}
    winner = bench["best"]
    return {
        "size_bytes": manifest["size_bytes"],
        "binary_constant_bytes": manifest["binary_constant_bytes"],
        "float_constant_bytes": manifest["float_constant_bytes"],
        "ops": manifest["ops"],
        "parity_max_abs_err": manifest["parity_max_abs_err"],
        "best_config": winner["config"],
        "median_ms": winner["median_ms"],
        "p10_ms": winner["p10_ms"],
        "p90_ms": winner["p90_ms"],
        "all_configs": {r["config"]: r["median_ms"] for r in bench["results"]},
    }


def _do_run(spec: RunSpec, config: ReproduceConfig, out: Path, reals, tag, report) -> dict:
    run_dir = out / "runs" / spec.name
    record: dict[str, Any] = {
        "name": spec.name,
        "scheme": spec.scheme,
        "schemes": list(spec.schemes or (spec.scheme,)),
        "setting": spec.setting,
        "architecture": spec.architecture,
        "resolution": spec.resolution,
        "main": spec.main,
        "dir": f"runs/{spec.name}",
    }
    record.update(_train(spec, config, run_dir, tag, report))
    epochs = record["epochs_done"]
    record["eval"] = record["deploy"] = None
    if epochs < 1 or not (run_dir / "generator.keras").is_file():
        report(f"{tag}: no finished epoch, nothing to evaluate")
        return record
    record["eval"] = _evaluate(run_dir, config, epochs, reals, tag, report)
    if spec.main and spec.scheme == "xnor":
        record["deploy"] = _deploy(spec, run_dir, config, epochs, tag, report)
    return record


# --------------------------------------------------------------------------------------
# The paper's inferences, as rules on measured numbers.
# --------------------------------------------------------------------------------------


WITHIN_NOISE = "within noise"


def _fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _noise_note(diff: float, floor: float) -> str:
    if abs(diff) >= floor:
        return ""
    return f" (the difference {abs(diff):.1f} is within the noise floor {floor:.1f})"


def _ordered(holds: bool, diff: float, floor: float) -> bool | str:
    """A claim that one setting is better than another cannot be judged from a
    difference smaller than the noise floor of the measurement."""
    return WITHIN_NOISE if abs(diff) < floor else holds


def _named(setting: str, value: float, dors: dict[str, int]) -> str:
    """``"E (DoR -248) 462.3"``: a setting, its layer's DoR when it has one, its SWD."""
    dor = f" (DoR {dors[setting]})" if setting in dors else ""
    return f"{setting}{dor} {value:.1f}"


def _worse_than_single(target: str) -> Callable:
    def rule(v: dict[str, float], dors: dict[str, int], floor: float):
        others = [s for s in ("B", "C", "D") if s in v]
        if target not in v or not others:
            return None
        worst = max(others, key=v.get)
        listed = ", ".join(_named(s, v[s], dors) for s in others)
        detail = (
            f"{_named(target, v[target], dors)} vs {listed}; "
            f"{target} / {worst} = {v[target] / v[worst]:.2f}"
        )
        diff = v[target] - v[worst]
        return _ordered(diff > 0, diff, floor), detail + _noise_note(diff, floor)

    return rule


def _f_close_to_d(v, dors, floor):
    if "F" not in v or "D" not in v:
        return None
    diff = v["F"] - v["D"]
    holds = abs(diff) <= max(CLOSE * v["D"], floor)
    return holds, f"F {v['F']:.1f} vs {_named('D', v['D'], dors)} ({100 * diff / v['D']:+.0f}%)"


def _h_better_than_f(v, dors, floor):
    if "H" not in v or "F" not in v:
        return None
    diff = v["H"] - v["F"]
    detail = f"H {v['H']:.1f} vs F {v['F']:.1f}" + _noise_note(diff, floor)
    return _ordered(diff < 0, diff, floor), detail


def _auto_vs_f(v, dors, floor):
    if "auto" not in v or "F" not in v:
        return None
    diff = v["auto"] - v["F"]
    word = "lower (better)" if diff < 0 else "higher (worse)"
    detail = f"auto {v['auto']:.1f} vs F {v['F']:.1f}: {100 * abs(diff) / v['F']:.0f}% {word}"
    # Not a claim of the paper (auto is ours): reported as a measurement, no verdict.
    return "measured", detail + _noise_note(diff, floor)


def _nonnegative_dor_cheap(v, dors, floor):
    """Every single-layer setting whose layer has DoR >= 0 stays close to A."""
    cheap = [s for s in SINGLE_LAYER if s in v and s in dors and dors[s] >= 0]
    if "A" not in v or not cheap:
        return None
    limit = max((1 + CLOSE) * v["A"], v["A"] + floor)
    listed = ", ".join(_named(s, v[s], dors) for s in cheap)
    return all(v[s] <= limit for s in cheap), f"A {v['A']:.1f}, limit {limit:.1f}; {listed}"


@dataclasses.dataclass(frozen=True)
class Rule:
    """A claim of the paper and the test that judges it on SWD values.

    ``test(values, dors, floor)`` returns ``None`` when a needed setting is missing, else
    ``(holds, detail)`` (``holds`` may be the string ``"measured"`` for a comparison
    that is not a claim, or :data:`WITHIN_NOISE` for an order the noise floor hides).
    """

    id: str
    claim: str
    needs: str
    test: Callable


RULES: tuple[Rule, ...] = (
    Rule(
        "dor_nonnegative_cheap",
        f"Binarizing one layer with DoR >= 0 costs little: each such single-layer setting "
        f"stays within {CLOSE:.0%} of A (or within the noise floor)",
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
        "(B-D); the paper's later version reports G 2.83x worse than A",
        "G and one of B, C, D",
        _worse_than_single("G"),
    ),
    Rule(
        "F_close_to_D",
        f"With deconv1-3 binarized (F) the layer with the least DoR (deconv3, D) is the "
        f"bottleneck: F is within {CLOSE:.0%} of D (or within the noise floor)",
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


def _judge(rule: Rule, values: dict[str, float], dors: dict[str, int], floor: float) -> dict:
    outcome = rule.test(values, dors, floor)
    if outcome is None:
        return {"verdict": "not measured", "detail": f"needs {rule.needs}"}
    status, detail = outcome
    verdict = status if isinstance(status, str) else ("holds" if status else "does not hold")
    return {"verdict": verdict, "detail": detail}


def inferences(
    swd: dict[str, dict[str, float]],
    dors: dict[str, int],
    floor: float,
    paper_dors: dict[str, int],
) -> list[dict[str, Any]]:
    """Each rule of :data:`RULES` on the measured SWD per scheme and on the paper's values.

    ``swd`` maps scheme -> setting -> average SWD x1e3; ``dors`` maps each single-layer
    setting to the DoR of the layer it binarizes here, ``paper_dors`` in the paper's
    generator; ``floor`` is the measured noise floor (the paper reports none, so its
    values are judged without one).
    """
    paper_values = {k: float(v) for k, v in PAPER_SWD.items()}
    return [
        {
            "id": rule.id,
            "claim": rule.claim,
            "paper": _judge(rule, paper_values, paper_dors, 0.0),
            "measured": {
                scheme: _judge(rule, values, dors, floor) for scheme, values in swd.items()
            },
        }
        for rule in RULES
    ]


def _single_layer_dors(layers: list[dict]) -> dict[str, int]:
    """DoR of the deconvolution each of B-E binarizes (paper layer numbers 1-4)."""
    deconvs = [r for r in layers if r["kind"] == "deconv"]
    out = {}
    for name in SINGLE_LAYER:
        (index,) = get_setting(name).deconvs
        if index <= len(deconvs):
            out[name] = deconvs[index - 1]["dor"]
    return out


# --------------------------------------------------------------------------------------
# Figures.
# --------------------------------------------------------------------------------------


def _figure(nrows: int, ncols: int, size: tuple[float, float]):
    """A matplotlib figure on the Agg canvas, leaving the global backend alone."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=120)
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _colour(setting: str) -> str:
    """One colour per setting in every figure (matplotlib's cycle, in Table 2 order)."""
    return f"C{list(SETTINGS).index(setting) % 10}"


def _by_setting(runs: list[dict]) -> list[dict]:
    """Runs in Table 2 order of their setting, then by scheme."""
    order = list(SETTINGS)
    return sorted(runs, key=lambda r: (order.index(r["setting"]), r["scheme"]))


def _main_swd(runs: list[dict]) -> dict[str, dict[str, float]]:
    swd: dict[str, dict[str, float]] = {}
    for r in runs:
        if r["main"] and r["eval"]:
            for scheme in r["schemes"]:
                swd.setdefault(scheme, {})[r["setting"]] = r["eval"]["swd_x1e3"]["avg"]
    return swd


def plot_swd_vs_dor(
    swd: dict[str, dict[str, float]], dors: dict[str, int], floor: float, path: Path
) -> Path:
    """Paper Fig. 6: SWD of the single-layer settings B-E against the binarized layer's DoR."""
    fig, axes = _figure(1, 1, (6.5, 4))
    ax = axes[0][0]
    for scheme, values in sorted(swd.items()):
        points = sorted((dors[s], values[s], s) for s in SINGLE_LAYER if s in values and s in dors)
        if points:
            (line,) = ax.plot([p[0] for p in points], [p[1] for p in points], "o-", label=scheme)
            for x, y, s in points:
                ax.annotate(s, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
            if "A" in values:
                ax.axhline(values["A"], color=line.get_color(), ls=":", lw=1, label=f"{scheme} A")
    paper = [(PAPER_TABLE1[f"deconv{i}"], PAPER_SWD[s], s) for i, s in enumerate(SINGLE_LAYER, 1)]
    ax.plot([p[0] for p in paper], [p[1] for p in paper], "s--", color="0.5", label="paper")
    for x, y, s in paper:
        ax.annotate(s, (x, y), textcoords="offset points", xytext=(4, -10), fontsize=8, color="0.4")
    ax.axhline(floor, color="k", ls="--", lw=1, label="noise floor (here)")
    ax.set_xscale("symlog", linthresh=16)
    ax.set_yscale("log")
    ax.set_xlabel("DoR of the binarized layer")
    ax.set_ylabel("average SWD x1e3")
    ax.set_title("SWD vs degree of redundancy (settings B-E)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return save_figure(fig, path)


def plot_swd_vs_resolution(runs: list[dict], floors: dict[int, float], path: Path) -> Path:
    """Paper Fig. 12: average SWD against resolution, one line per setting, per scheme."""
    schemes = sorted({s for r in runs for s in r["schemes"]})
    fig, axes = _figure(1, len(schemes), (5.5 * len(schemes), 4))
    for ax, scheme in zip(axes[0], schemes, strict=True):
        mine = _by_setting(_runs_for(runs, scheme))
        for setting in dict.fromkeys(r["setting"] for r in mine):
            points = sorted(
                (r["resolution"], r["eval"]["swd_x1e3"]["avg"])
                for r in mine
                if r["setting"] == setting and r["eval"]
            )
            if points:
                ax.plot(*zip(*points, strict=True), "o-", color=_colour(setting), label=setting)
        sizes = sorted(floors)
        ax.plot(sizes, [floors[s] for s in sizes], "kx--", lw=1, label="noise floor")
        ax.set_xscale("log", base=2)
        ax.set_xticks(sizes, [str(s) for s in sizes])
        ax.set_xlabel("resolution")
        ax.set_ylabel("average SWD x1e3")
        ax.set_title(f"SWD vs resolution ({scheme})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return save_figure(fig, path)


def plot_g_loss(runs: list[dict], path: Path) -> Path:
    """Paper Figs 8-10: generator loss per epoch, one line per setting, per scheme."""
    from matplotlib.ticker import MaxNLocator

    main = [r for r in runs if r["main"]]
    schemes = sorted({s for r in main for s in r["schemes"]})
    fig, axes = _figure(1, len(schemes), (5.5 * len(schemes), 3.5))
    for ax, scheme in zip(axes[0], schemes, strict=True):
        for r in (r for r in _by_setting(_runs_for(main, scheme)) if r["history"]):
            epochs = [h["epoch"] for h in r["history"]]
            losses = [h["g_loss"] for h in r["history"]]
            ax.plot(epochs, losses, "o-", ms=3, color=_colour(r["setting"]), label=r["setting"])
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel("generator loss")
        ax.set_title(f"G loss per setting ({scheme})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return save_figure(fig, path)


def _read_png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def plot_samples(rows: Sequence[tuple[str, Path]], path: Path) -> Path:
    """Paper Fig. 5: one labelled row of samples per setting (same latents in every row)."""
    rows = [(label, _read_png(p)) for label, p in rows if p.is_file()]
    if not rows:
        rows = [("no samples", image_grid(np.full((1, 8, 8, 3), 255, np.uint8)))]
    width = max(img.shape[1] for _, img in rows)
    fig, axes = _figure(len(rows), 1, (width / 40, 0.9 + len(rows) * rows[0][1].shape[0] / 40))
    for ax, (label, img) in zip(axes[:, 0], rows, strict=True):
        ax.imshow(img)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
        for spine in ax.spines.values():
            spine.set_visible(False)
    fig.suptitle("samples per setting (same latents in every row)", fontsize=10)
    return save_figure(fig, path)


FIGURES = {
    "fig2": "fig2_binarization_error.png",
    "fig5": "fig5_samples.png",
    "fig6": "fig6_swd_vs_dor.png",
    "fig8_10": "fig8_10_g_loss.png",
    "fig12": "fig12_swd_vs_resolution.png",
}


def _make_figures(out: Path, runs: list[dict], floors: dict, tables: dict, config) -> dict:
    main_res = config.resolution
    swd = _main_swd(runs)
    dors = _single_layer_dors(tables["chosen"]["layers"])
    floor = floors[main_res]["noise_floor_x1e3"]["avg"]
    plot_swd_vs_dor(swd, dors, floor, out / FIGURES["fig6"])
    plot_swd_vs_resolution(
        runs,
        {r: f["noise_floor_x1e3"]["avg"] for r, f in floors.items()},
        out / FIGURES["fig12"],
    )
    plot_g_loss(runs, out / FIGURES["fig8_10"])
    sample_rows = [("real", out / f"real_samples_r{main_res}.png")] + [
        (f"{'/'.join(r['schemes'])} {r['setting']}", out / r["dir"] / "eval_samples.png")
        for r in _by_setting([r for r in runs if r["main"]])
    ]
    plot_samples(sample_rows, out / FIGURES["fig5"])
    return dict(FIGURES)


# --------------------------------------------------------------------------------------
# The report.
# --------------------------------------------------------------------------------------


def _md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> dict[str, Any]:
    """Where the numbers were measured."""
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "versions": pbgan.stack_versions(),
    }


def _table1(tables: dict) -> str:
    chosen = tables["chosen"]
    full = {r["layer"]: r for r in tables["full_width_dcgan64"]["layers"]}
    label = f"{chosen['architecture']}, width {chosen['width']:g}"
    header = [
        "layer",
        f"input h x w x c ({label})",
        f"DoR ({label})",
        "plan",
        "DoR (full-width dcgan64)",
        "paper Table 1",
    ]
    rows = []
    for r in chosen["layers"]:
        f = full.get(r["layer"])
        rows.append(
            [
                r["layer"],
                f"{r['h_in']} x {r['w_in']} x {r['c_in']}",
                r["dor"],
                "binarize" if r["binarize"] else "keep float",
                f["dor"] if f else "—",
                PAPER_TABLE1.get(r["layer"], "— (not in the paper)"),
            ]
        )
    plans = _md_table(
        ["setting", f"binarized layers ({label})", "binary discriminator"],
        [
            [s, ", ".join(layers) or "none", "yes" if get_setting(s).binary_discriminator else "no"]
            for s, layers in tables["plans"].items()
        ],
    )
    return "\n\n".join([_md_table(header, rows), plans])


def _table3(summary: dict) -> str:
    runs = [r for r in summary["runs"] if r["main"]]
    schemes = list(summary["config"]["schemes"])
    header = ["setting", "paper SWD"]
    for s in schemes:
        header += [f"{s} SWD", f"{s} MS-SSIM"]
    by = {(scheme, r["setting"]): r for r in runs for scheme in r["schemes"]}
    rows = []
    for setting in summary["config"]["settings"]:
        row = [setting, PAPER_SWD.get(setting, "—")]
        for scheme in schemes:
            ev = (by.get((scheme, setting)) or {}).get("eval")
            row += [
                _fmt(ev["swd_x1e3"]["avg"]) if ev else "—",
                _fmt(ev["ms_ssim_generated"], 3) if ev else "—",
            ]
        rows.append(row)
    floor = summary["noise_floor"][str(summary["config"]["resolution"])]
    nf = floor["noise_floor_x1e3"]
    rows.append(
        ["real vs real (noise floor)", "—"]
        + [_fmt(nf["avg"]), _fmt(floor["ms_ssim_real"], 3)] * len(schemes)
    )
    notes = [
        f"Average SWD x1e3 over the pyramid levels {', '.join(nf['levels'])} "
        f"({summary['config']['eval_n']} generated vs real images; lower is better); MS-SSIM "
        "is the mean over random pairs of generated samples (lower is more diverse; compare "
        "with the real row). Paper: CelebA 64x64, full-width DCGAN, bwn weights. Per-level "
        "values are in report.json.",
    ]
    for r in runs:
        if len(r["schemes"]) > 1:
            notes.append(
                f"Setting {r['setting']} binarizes nothing, so one run ({r['dir']}) serves "
                "every scheme."
            )
    if nf.get("note"):
        notes.append(f"Note: {nf['note']}.")
    return "\n\n".join([_md_table(header, rows), *notes])


def _table4(summary: dict) -> str:
    runs = _runs_for([r for r in summary["runs"] if r["main"]], "xnor")
    if not runs:
        return "No xnor runs in this reproduction (pass --schemes xnor to deploy)."
    base = next((r["deploy"] for r in runs if r["setting"] == "A" and r["deploy"]), None)
    if base is not None and "error" in base:
        base = None
    header = [
        "setting",
        "LceBconv2d ops",
        "flatbuffer",
        "size vs A",
        "binary / float weights",
        "best config (1 thread)",
        "median ms",
        "speedup vs A",
    ]
    rows = []
    for r in runs:
        d = r["deploy"]
        if not d:
            rows.append([r["setting"], "—", "—", "—", "—", "not trained", "—", "—"])
            continue
        if "error" in d:
            rows.append([r["setting"], "—", "—", "—", "—", f"failed: {d['error']}", "—", "—"])
            continue
        size_ratio = f"1/{base['size_bytes'] / d['size_bytes']:.2f}" if base else "—"
        speedup = f"{base['median_ms'] / d['median_ms']:.2f}x" if base else "—"
        rows.append(
            [
                r["setting"],
                d["ops"].get("LceBconv2d", 0),
                f"{d['size_bytes'] / 1e3:.1f} kB",
                size_ratio,
                f"{d['binary_constant_bytes'] / 1e3:.1f} / {d['float_constant_bytes'] / 1e3:.1f} kB",
                d["best_config"],
                f"{d['median_ms']:.3f}",
                speedup,
            ]
        )
    f = next((r["deploy"] for r in runs if r["setting"] == "F" and r["deploy"]), None)
    here = "F was not run"
    if f and base and "error" not in f:
        here = (
            f"here F: size 1/{base['size_bytes'] / f['size_bytes']:.2f}, inference "
            f"{base['median_ms'] / f['median_ms']:.2f}x"
        )
    quote = (
        f"Paper Table 4 (setting F vs A, full-width DCGAN): memory 1/{PAPER_F_MEMORY_RATIO}, "
        f"inference {PAPER_F_SPEEDUP}x faster; {here}. Latency is the median of "
        f"{summary['config']['bench_runs']} timed runs with the fastest interpreter "
        "configuration of each model on this machine (the float baseline A takes the fastest "
        "float runtime); size is the whole flatbuffer."
    )
    return "\n\n".join([_md_table(header, rows), quote])


def _inference_lines(entries: list[dict]) -> str:
    lines = []
    for e in entries:
        paper = e["paper"]
        if paper["verdict"] == "not measured":
            paper_text = "the paper's Table 3 has no value for it"
        else:
            paper_text = f"on the paper's numbers: {paper['verdict']} ({paper['detail']})"
        lines.append(f"- **{e['claim']}** — {paper_text}.")
        for scheme, m in e["measured"].items():
            lines.append(f"  - {scheme}: **{m['verdict']}** ({m['detail']}).")
    return "\n".join(lines)


def _binarization_table(rows: list[dict]) -> str:
    return _md_table(
        [
            "c",
            "h x w",
            "DoR",
            "min error (per input)",
            "shared error (all inputs)",
            "sign(W) error",
        ],
        [
            [
                r["c"],
                f"{r['h']}x{r['w']}",
                r["dor"],
                f"{r['min_error']:.3f}",
                f"{r['shared_error']:.3f}",
                f"{r['sign_error']:.3f}",
            ]
            for r in rows
        ],
    )


def _resolution_table(summary: dict) -> str:
    sizes = sorted(int(s) for s in summary["noise_floor"])
    header = ["scheme", "setting"] + [f"{s}x{s}" for s in sizes]
    cells: dict[tuple[str, str], dict[int, str]] = {}
    for r in summary["runs"]:
        if r["eval"]:
            for scheme in r["schemes"]:
                cells.setdefault((scheme, r["setting"]), {})[r["resolution"]] = _fmt(
                    r["eval"]["swd_x1e3"]["avg"]
                )
    order = summary["config"]["settings"]
    rows = [
        [sc, st] + [v.get(s, "—") for s in sizes]
        for (sc, st), v in sorted(cells.items(), key=lambda kv: (kv[0][0], order.index(kv[0][1])))
    ]
    rows.append(
        ["real", "noise floor"]
        + [_fmt(summary["noise_floor"][str(s)]["noise_floor_x1e3"]["avg"]) for s in sizes]
    )
    return _md_table(header, rows)


def _runs_table(summary: dict) -> str:
    rows = [
        [
            r["name"],
            r["architecture"],
            "/".join(r["schemes"]),
            r["setting"],
            r["epochs_done"],
            f"{r['train_seconds']:.0f}",
            r["stopped"] or "—",
            f"[loss curves]({r['dir']}/loss_curves.png)",
        ]
        for r in summary["runs"]
    ]
    return _md_table(
        ["run", "arch", "scheme", "setting", "epochs", "train s", "stopped", "plots"], rows
    )


def render_report(summary: dict) -> str:
    """REPORT.md from the summary that report.json holds."""
    c, m = summary["config"], summary["machine"]
    steps = c["steps_per_epoch"] or "one pass over the data"
    v = m["versions"]
    figs = summary["files"]["figures"]
    return "\n".join(
        [
            "# PBGAN reproduction report",
            "",
            f"Command: `{summary['command']}`",
            "",
            f"Machine: {m['platform']}, {m['cpu']}, {m['cpu_count']} CPUs; Python {m['python']}, "
            f"TensorFlow {v['tensorflow']}, larq {v['larq']}, LCE {v['larq_compute_engine']}, "
            f"pbgan {v['pbgan']}.",
            "",
            f"Wall time: {summary['wall_seconds']:.0f} s for this invocation (finished work "
            f"from earlier invocations is reused); the training recorded in the runs' "
            f"histories took {summary['train_seconds']:.0f} s in total.",
            "",
            f"Scale: {c['architecture']} at width {c['width']:g}, epochs {c['epochs']} x "
            f"steps {steps} x batch {c['batch_size']}, data {c['data']}, evaluation on "
            f"{c['eval_n']} images per set, seed {c['seed']}. The paper trains the "
            "full-width 64x64 DCGAN on CelebA: numbers at a smaller scale test the direction "
            "of its findings, not their size.",
            "",
            "## Table 1 — Degree of redundancy per layer",
            "",
            "DoR = c_in - h_in x w_in (from `pbgan.analysis.analyze`); the projection is a "
            "deconvolution from a 1 x 1 x z input. Layers with DoR >= 0 are binarized by the "
            "plan (setting auto).",
            "",
            _table1(summary["tables"]),
            "",
            "## Table 3 — Quality: average SWD x1e3",
            "",
            _table3(summary),
            "",
            "## Table 4 — Deployment of the xnor generators",
            "",
            _table4(summary),
            "",
            "## Which of the paper's inferences hold here",
            "",
            f"Computed from Table 3 by fixed rules ({c['architecture']} runs; noise floor "
            f"{_fmt(summary['noise_floor'][str(c['resolution'])]['noise_floor_x1e3']['avg'])}); "
            "the same rules applied to the paper's values are shown beside each claim. "
            f"*{WITHIN_NOISE}*: the two values differ by less than the real-vs-real noise "
            "floor, so the order cannot be told at this evaluation size.",
            "",
            _inference_lines(summary["inferences"]),
            "",
            "## Figure 2 — Binarization error vs DoR",
            "",
            f"![binarization error vs DoR]({figs['fig2']})",
            "",
            "Exhaustive search over binary weights of a stride = kernel deconvolution "
            "(`pbgan.metrics.binarization_error`): relative output error of the best "
            "alpha x sign pattern per input and shared by all inputs, and of XNOR-Net's "
            "sign(W).",
            "",
            _binarization_table(summary["binarization_error"]),
            "",
            "## Figure 5 — Samples per setting",
            "",
            f"![samples per setting]({figs['fig5']})",
            "",
            "## Figure 6 — SWD vs DoR of the binarized layer (settings B-E)",
            "",
            f"![SWD vs DoR]({figs['fig6']})",
            "",
            "## Figure 12 — SWD vs resolution",
            "",
            f"![SWD vs resolution]({figs['fig12']})",
            "",
            "SWD levels differ with resolution (a 32x32 image has levels 32 and 16 only), so "
            "values compare settings within a resolution more than across resolutions.",
            "",
            _resolution_table(summary),
            "",
            "## Figures 8-10 — Generator loss per setting",
            "",
            f"![generator loss]({figs['fig8_10']})",
            "",
            "## Runs",
            "",
            _runs_table(summary),
            "",
        ]
    )


# --------------------------------------------------------------------------------------
# Everything.
# --------------------------------------------------------------------------------------


def run_reproduction(
    config: ReproduceConfig, report: Callable[[str], None] = progress
) -> dict[str, Any]:
    """Train, evaluate, convert, bench and write the report; returns report.json's content."""
    start = time.perf_counter()
    config.validate()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    specs = plan_runs(config)
    for spec in specs:
        _check_existing_run(spec, out / "runs" / spec.name, config)
    report(f"reproduce: {len(specs)} runs into {out}")
    tables = dor_tables(config)
    binarization = _binarization_experiment(out, report)
    runs: list[dict] = []
    floors: dict[int, dict] = {}
    for arch in config.architectures():
        reals = _LazyReals(config, ARCHITECTURES[arch], report)
        floors[reals.resolution] = _noise_floor(out, config, reals, report)
        for spec in (s for s in specs if s.architecture == arch):
            tag = f"[{len(runs) + 1}/{len(specs)}] {spec.name} ({spec.architecture})"
            runs.append(_do_run(spec, config, out, reals, tag, report))
            tf.keras.backend.clear_session()  # one run's graphs must not pile up
        del reals
    report("reproduce: figures and report")
    figures = _make_figures(out, runs, floors, tables, config)
    main_floor = floors[config.resolution]["noise_floor_x1e3"]["avg"]
    paper_dors = dict(zip(SINGLE_LAYER, PAPER_TABLE1.values(), strict=True))
    summary = {
        "command": config.command(),
        "config": {
            **dataclasses.asdict(config),
            "out": str(config.out),
            "resolution": config.resolution,
        },
        "machine": machine(),
        "wall_seconds": 0.0,
        "train_seconds": float(sum(r["train_seconds"] for r in runs)),
        "paper": {
            "swd_x1e3": PAPER_SWD,
            "table1_dor": PAPER_TABLE1,
            "f_memory_ratio": PAPER_F_MEMORY_RATIO,
            "f_speedup": PAPER_F_SPEEDUP,
        },
        "tables": tables,
        "noise_floor": {str(r): f for r, f in floors.items()},
        "runs": runs,
        "inferences": inferences(
            _main_swd(runs), _single_layer_dors(tables["chosen"]["layers"]), main_floor, paper_dors
        ),
        "binarization_error": binarization,
        "files": {
            "report": str(out / "REPORT.md"),
            "json": str(out / "report.json"),
            "figures": figures,
        },
    }
    summary["wall_seconds"] = round(time.perf_counter() - start, 1)
    atomic_write_json(out / "report.json", summary)
    atomic_write_text(out / "REPORT.md", render_report(summary))
    report(f"reproduce: wrote {out / 'REPORT.md'} in {summary['wall_seconds']:.0f} s")
    return summary
