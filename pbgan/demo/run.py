"""Train, convert, score and time the demo's two models; every finished step is reused."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pbgan.io import cached, store
from pbgan.settings import ARCHITECTURES

__all__ = ["DemoConfig", "Model", "run_demo"]

Report = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclasses.dataclass
class DemoConfig:
    """What the demo trains and how it measures (see ``pbgan demo --help``)."""

    out: Path = Path("runs/demo")
    architecture: str = "dcgan32"
    width: float = 0.25
    steps: int = 1800
    steps_per_epoch: int = 150
    batch_size: int = 64
    seed: int = 0
    eval_n: int = 2048
    bench_runs: int = 50
    samples: int = 32
    full_width: bool = True  # also convert and time the full-width dcgan64 (random weights)

    @property
    def epochs(self) -> int:
        return max(1, -(-self.steps // self.steps_per_epoch))


@dataclasses.dataclass(frozen=True)
class Model:
    """One of the demo's trained models and the recipe that made it."""

    name: str
    setting: str
    scheme: str
    recipe: str
    levers: tuple[tuple[str, Any], ...] = ()  # TrainConfig fields beyond the setting


def models(config: DemoConfig) -> list[Model]:
    """The float baseline, then the deployable generator trained from it."""
    teacher = str(config.out / "A")
    return [
        Model("A", "A", "xnor", "float (setting A)"),
        Model(
            "auto",
            "auto",
            "xnor",
            "xnor auto: A's weights to start, distilled from A, weights averaged (0.995)",
            (("init_from", teacher), ("teacher", teacher), ("ema", 0.995)),
        ),
    ]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _train(model: Model, config: DemoConfig, report: Report) -> dict[str, Any]:
    from pbgan.train.run import TrainConfig, train

    run_dir = config.out / model.name
    train_config = TrainConfig(
        setting=model.setting,
        scheme=model.scheme,
        architecture=config.architecture,
        width=config.width,
        batch_size=config.batch_size,
        epochs=config.epochs,
        steps_per_epoch=config.steps_per_epoch,
        seed=config.seed,
        **dict(model.levers),
    )
    report(
        f"demo: train {model.name} ({model.recipe}), {config.epochs * config.steps_per_epoch} steps"
    )
    result = train(train_config, run_dir)
    if result.stopped:
        raise RuntimeError(f"training {model.name} stopped: {result.stopped}")
    return {"run": str(run_dir), "epochs": result.epochs_done, "history": result.history}


def _convert(source: Any, setting: str, path: Path, key: dict, report: Report) -> dict[str, Any]:
    """Convert (with every check of ``pbgan convert``) unless ``path`` was made from ``key``."""
    from pbgan.convert import convert_generator, write_conversion

    manifest_path = path.with_suffix(".json")
    if path.is_file() and manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("demo_key") == key:
            return manifest
    report(f"demo: convert {path.name}")
    result = convert_generator(source(), setting=setting, source=str(key.get("source", "")))
    result.manifest["demo_key"] = key
    write_conversion(result, path)
    return result.manifest


def _evaluate(tflite: Path, config: DemoConfig, report: Report) -> dict[str, Any]:
    from pbgan.metrics.evaluate import evaluate_source

    out = tflite.with_suffix(".eval.json")
    key = {"sha256": _sha256(tflite), "n": config.eval_n, "seed": config.seed}
    record = cached(out, key)
    if record is not None:
        return record
    report(f"demo: score {tflite.name} as deployed ({config.eval_n} images, SWD and MS-SSIM)")
    return store(
        out, key, evaluate_source(tflite, data="synthetic", n=config.eval_n, seed=config.seed)
    )


def _samples(tflite: Path, config: DemoConfig) -> Path:
    from pbgan.metrics.evaluate import load_generator
    from pbgan.plots import save_grid

    png = tflite.with_suffix(".samples.png")
    images = load_generator(tflite).generate(config.samples, config.seed)
    return save_grid(images, png, cols=8)


def _bench(paths: dict[str, Path], baseline: str, config: DemoConfig, report: Report) -> dict:
    from pbgan.runtime.compare import local_rows
    from pbgan.runtime.report import summarize
    from pbgan.tflite_graph import read_flatbuffer_file

    report(f"demo: time {', '.join(p.name for p in paths.values())} ({config.bench_runs} runs)")
    order = [baseline] + [n for n in paths if n != baseline]
    plan = [(paths[n], str(paths[n]), read_flatbuffer_file(paths[n]), None) for n in order]
    rows = local_rows(plan, threads=[1], runs=config.bench_runs, warmup=5, memory=True)
    return summarize(rows, str(paths[baseline]))


def _full_width(config: DemoConfig, report: Report) -> dict[str, Any]:
    """dcgan64 at full width from random weights: where binary layers pay off most."""
    from pbgan.models import build_generator

    folder = config.out / "dcgan64_random"
    paths = {}
    for setting in ("A", "auto"):
        path = folder / f"{setting}.tflite"
        key = {"source": "dcgan64 width 1 random init", "setting": setting, "seed": 0}

        def build(setting: str = setting) -> Any:
            import tensorflow as tf

            tf.keras.utils.set_random_seed(0)
            return build_generator(resolution=64, setting=setting, scheme="xnor")

        _convert(build, setting, path, key, report)
        paths[setting] = path
    return {
        "paths": {k: str(v) for k, v in paths.items()},
        "bench": _bench(paths, "A", config, report),
    }


def run_demo(config: DemoConfig, *, report: Report = _stderr) -> dict[str, Any]:
    """Everything the demo page shows, as a JSON-ready dict (also ``OUT/report.json``)."""
    from pbgan.analysis import analyze, format_table, load_keras_model
    from pbgan.models import build_generator
    from pbgan.settings import get_setting

    config.out.mkdir(parents=True, exist_ok=True)
    resolution = ARCHITECTURES[config.architecture]
    plan = analyze(build_generator(resolution=resolution, width=config.width))
    auto_plan = get_setting("auto").plan([r.dor for r in plan])
    report(
        f"demo: the plan of the model it trains ({config.architecture}, width {config.width:g})\n"
        + format_table(plan)
    )
    record: dict[str, Any] = {
        "config": {
            k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(config).items()
        },
        "plan": [r.to_dict() for r in plan],
        "auto_binarizes": [r.layer for r, b in zip(plan, auto_plan, strict=True) if b],
        "models": {},
    }
    paths = {}
    for model in models(config):
        trained = _train(model, config, report)
        gen_file = Path(trained["run"]) / "generator.keras"
        tflite = config.out / f"{model.name}.tflite"
        key = {"source": str(gen_file), "sha256": _sha256(gen_file)}
        manifest = _convert(
            lambda f=gen_file: load_keras_model(f), model.setting, tflite, key, report
        )
        quality = _evaluate(tflite, config, report)
        record["models"][model.name] = {
            **dataclasses.asdict(model),
            "architecture": config.architecture,
            "width": config.width,
            "steps": trained["epochs"] * config.steps_per_epoch,
            "seed": config.seed,
            "run": trained["run"],
            "tflite": str(tflite),
            "tflite_sha256": _sha256(tflite),
            "ops": manifest["ops"],
            "size_bytes": manifest["size_bytes"],
            "parity_max_abs_err": manifest["parity_max_abs_err"],
            "quality": quality,
            "samples_png": str(_samples(tflite, config)),
            "last_losses": trained["history"][-1] if trained["history"] else None,
        }
        paths[model.name] = tflite
    record["bench"] = _bench(paths, "A", config, report)
    if config.full_width:
        record["full_width"] = _full_width(config, report)
    from pbgan.machine import machine_info

    record["machine"] = machine_info(threads=1)
    return record
