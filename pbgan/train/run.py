"""A training run: config, resumable checkpoints, samples, history and plots.

A run directory holds::

    config.json            what was trained (setting, scheme, architecture, data, seed, versions)
    checkpoints/           generator, discriminator, both optimizers and the epoch counter
    generator.keras        the generator after the last finished epoch (for convert/sample)
    samples/epoch_NNN.png  grids from one fixed latent batch
    history.csv            losses per finished epoch
    loss_curves.png        generator and discriminator loss per epoch
    logs/                  TensorBoard

Everything is written atomically at the end of an epoch, and only when the epoch's
losses are finite. Running the same command again restores the last checkpoint,
optimizer state and step counter included, and continues with the next epoch.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import math
import os
import sys
import tempfile
import time
from pathlib import Path

from pbgan import stack_versions
from pbgan.io import atomic_write_json, atomic_write_text
from pbgan.models import ARCHITECTURES, build_discriminator, build_generator
from pbgan.plots import plot_loss_curves, save_grid
from pbgan.settings import get_setting
from pbgan.train.gan import GAN

import numpy as np
import tensorflow as tf

__all__ = [
    "IDENTITY_KEYS",
    "RunError",
    "TrainConfig",
    "TrainResult",
    "load_run_config",
    "make_strategy",
    "train",
]

log = logging.getLogger("pbgan.train")

# What makes a checkpoint belong to a run: resuming with any of these changed would
# restore weights into a different model.
IDENTITY_KEYS = ("setting", "scheme", "architecture", "width", "z_dim")
HISTORY_KEYS = ("epoch", "d_loss", "g_loss", "d_real", "d_fake", "seconds", "skipped_images")


class RunError(ValueError):
    """A run cannot start or continue; the message names the fix."""


@dataclasses.dataclass
class TrainConfig:
    setting: str = "F"
    scheme: str = "xnor"
    architecture: str = "dcgan64"
    width: float = 1.0
    z_dim: int = 100
    data: str = "synthetic"
    batch_size: int = 64
    learning_rate: float = 2e-4
    beta_1: float = 0.5
    epochs: int = 5
    steps_per_epoch: int | None = None
    seed: int = 0
    strategy: str = "auto"
    jit_compile: bool = False
    samples: int = 64

    @property
    def resolution(self) -> int:
        return ARCHITECTURES[self.architecture]

    def validate(self) -> None:
        self.setting = get_setting(self.setting).name
        if self.architecture not in ARCHITECTURES:
            raise RunError(
                f"unknown architecture {self.architecture!r}: choose one of {', '.join(ARCHITECTURES)}"
            )
        if self.scheme not in ("bwn", "xnor"):
            raise RunError(f"unknown scheme {self.scheme!r}: choose bwn or xnor")
        if self.batch_size < 1 or self.epochs < 1:
            raise RunError("--batch-size and --epochs must be at least 1")


@dataclasses.dataclass
class TrainResult:
    run_dir: Path
    history: list[dict]
    epochs_done: int
    stopped: str | None  # why training stopped early, if it did
    replicas: int = 1


def make_strategy(name: str) -> tf.distribute.Strategy:
    """``auto``: mirrored over all GPUs when more than one is visible, else the default.

    ``mirrored`` mirrors over every GPU, or every logical CPU when there are no GPUs
    (that is how the tests exercise it). ``multiworker`` reads the cluster from the
    ``TF_CONFIG`` environment variable (see README).
    """
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise RunError("--strategy multiworker needs the TF_CONFIG environment variable set")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise RunError(f"unknown strategy {name!r}: choose auto, default, mirrored or multiworker")


def load_run_config(run_dir: str | os.PathLike) -> dict:
    path = Path(run_dir) / "config.json"
    if not path.exists():
        raise RunError(
            f"{run_dir} is not a training run (no config.json): pass --out of `pbgan train`"
        )
    return json.loads(path.read_text())


def run_generator(source: str | os.PathLike) -> tuple[Path, dict]:
    """``(generator file, run config)`` of a run directory, or ``(source, {})`` otherwise.

    A run directory of ``pbgan train`` holds ``generator.keras`` (rewritten after every
    epoch) and ``config.json``; any other path (a ``.keras``/``.h5`` file, a SavedModel
    folder, a ``.tflite``) is returned as it is, for the caller's loader to judge.
    """
    path = Path(source)
    if not path.is_dir() or (path / "saved_model.pb").exists():
        return path, {}
    gen = path / "generator.keras"
    if not gen.is_file():
        raise RunError(
            f"{path} has no generator.keras yet: let `pbgan train` finish an epoch, or pass "
            "a saved generator"
        )
    config = load_run_config(path) if (path / "config.json").is_file() else {}
    return gen, config


def _check_resume(run_dir: Path, config: TrainConfig) -> None:
    """Refuse to continue a run with a different model (the checkpoint would not fit)."""
    if not (run_dir / "config.json").exists():
        return
    saved = load_run_config(run_dir)
    for key in IDENTITY_KEYS:
        ours = getattr(config, key)
        if saved.get(key) != ours:
            raise RunError(
                f"{run_dir} was trained with --{key.replace('_', '-')} {saved.get(key)}, not "
                f"{ours}: pass --{key.replace('_', '-')} {saved.get(key)} to resume, or a new --out"
            )


def _read_history(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return [
            {k: float(v) if k != "epoch" else int(v) for k, v in row.items()}
            for row in csv.DictReader(f)
        ]


def _write_history(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=HISTORY_KEYS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: f"{row.get(k, 0):.6g}" for k in HISTORY_KEYS})
    atomic_write_text(path, buf.getvalue())


def save_model_atomic(model: tf.keras.Model, path: Path) -> None:
    """``model.save`` to a temporary file beside ``path``, then rename it over."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".keras", dir=path.parent)
    os.close(fd)
    try:
        model.save(tmp, overwrite=True)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class _StopOnNonFinite(tf.keras.callbacks.Callback):
    """Stop at the first batch whose loss is NaN or infinite and say where."""

    def __init__(self):
        super().__init__()
        self.reason: str | None = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        for key in ("d_loss", "g_loss"):
            value = (logs or {}).get(key)
            if value is not None and not math.isfinite(float(value)):
                self.reason = f"{key} became {value} at epoch {self._epoch + 1}, step {batch + 1}"
                self.model.stop_training = True
                return


class _EpochEnd(tf.keras.callbacks.Callback):
    """Checkpoint, samples, generator export, history and plot after each good epoch."""

    def __init__(
        self, run_dir: Path, gan: GAN, manager, epoch_var, z_fixed, guard, history, source
    ):
        super().__init__()
        self.source = source
        self.run_dir, self.gan, self.manager = run_dir, gan, manager
        self.epoch_var, self.z_fixed, self.guard, self.history = epoch_var, z_fixed, guard, history
        self._start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if self.guard.reason is not None:
            return  # never overwrite the last good checkpoint with a diverged state
        logs = logs or {}
        done = epoch + 1
        self.epoch_var.assign(done)
        self.manager.save(checkpoint_number=done)
        images = self.gan.generator.predict(self.z_fixed, batch_size=len(self.z_fixed), verbose=0)
        save_grid(images, self.run_dir / "samples" / f"epoch_{done:03d}.png")
        save_model_atomic(self.gan.generator, self.run_dir / "generator.keras")
        row = {k: float(logs.get(k, float("nan"))) for k in HISTORY_KEYS[1:-2]}
        row.update(
            epoch=done,
            seconds=time.perf_counter() - self._start,
            skipped_images=self.source.skipped,
        )
        self.history[:] = [r for r in self.history if r["epoch"] < done] + [row]
        _write_history(self.run_dir / "history.csv", self.history)
        plot_loss_curves(self.history, self.run_dir / "loss_curves.png", title=self.run_dir.name)


def _steps_per_epoch(config: TrainConfig, num_images: int | None) -> int:
    if config.steps_per_epoch:
        return config.steps_per_epoch
    if num_images is None:
        raise RunError("--steps-per-epoch is needed for this data source")
    steps = num_images // config.batch_size
    if steps < 1:
        raise RunError(
            f"{num_images} images are fewer than one batch of {config.batch_size}: lower --batch-size"
        )
    return steps


def train(
    config: TrainConfig,
    run_dir: str | os.PathLike,
    *,
    verbose: int | None = None,
    extra_callbacks: list | None = None,
) -> TrainResult:
    """Train (or resume) a partially binarized GAN; see the module docstring."""
    import warnings

    from pbgan.data import describe_source, make_dataset
    from pbgan.settings import NegativeDoRWarning

    config.validate()
    run_dir = Path(run_dir)
    _check_resume(run_dir, config)
    setting = get_setting(config.setting)
    resolution = config.resolution
    source = describe_source(config.data)
    steps = _steps_per_epoch(config, source.num_images)

    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "samples").mkdir(exist_ok=True)
    tf.keras.utils.set_random_seed(config.seed)
    strategy = make_strategy(config.strategy)
    replicas = strategy.num_replicas_in_sync
    saved_config = {**dataclasses.asdict(config), "resolution": resolution}
    saved_config.update(steps_per_epoch=steps, replicas=replicas, versions=stack_versions())
    atomic_write_json(run_dir / "config.json", saved_config)

    with strategy.scope():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NegativeDoRWarning)
            generator = build_generator(
                resolution=resolution,
                width=config.width,
                z_dim=config.z_dim,
                setting=setting,
                scheme=config.scheme,
                name="generator",
            )
        discriminator = build_discriminator(
            resolution=resolution, width=config.width, binary=setting.binary_discriminator
        )
        gan = GAN(generator, discriminator)
        g_opt = tf.keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1)
        d_opt = tf.keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1)
        gan.compile(g_optimizer=g_opt, d_optimizer=d_opt, jit_compile=config.jit_compile)
        # Build optimizer slots now so a restore fills them instead of deferring.
        g_opt.build(generator.trainable_variables)
        d_opt.build(discriminator.trainable_variables)
        epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        checkpoint = tf.train.Checkpoint(
            generator=generator,
            discriminator=discriminator,
            g_optimizer=g_opt,
            d_optimizer=d_opt,
            epoch=epoch_var,
        )
    manager = tf.train.CheckpointManager(checkpoint, run_dir / "checkpoints", max_to_keep=2)
    if manager.latest_checkpoint:
        try:
            checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as err:
            raise RunError(
                f"checkpoint in {run_dir} does not match this model ({type(err).__name__}): "
                "pass a new --out"
            ) from err
        log.info("resuming %s from epoch %d", run_dir, int(epoch_var.numpy()))
    initial_epoch = int(epoch_var.numpy())
    history = [r for r in _read_history(run_dir / "history.csv") if r["epoch"] <= initial_epoch]

    if initial_epoch >= config.epochs:
        return TrainResult(run_dir, history, initial_epoch, None, replicas)

    dataset = make_dataset(
        source,
        size=resolution,
        batch_size=config.batch_size,
        seed=config.seed + initial_epoch,  # a resumed run sees new batches, not a replay
    )
    z_fixed = np.random.default_rng(config.seed).normal(size=(config.samples, config.z_dim))
    guard = _StopOnNonFinite()
    callbacks = [
        guard,
        _EpochEnd(
            run_dir, gan, manager, epoch_var, z_fixed.astype("float32"), guard, history, source
        ),
        tf.keras.callbacks.TensorBoard(run_dir / "logs", write_graph=False, profile_batch=0),
        *(extra_callbacks or []),
    ]
    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 2
    gan.fit(
        dataset,
        epochs=config.epochs,
        steps_per_epoch=steps,
        initial_epoch=initial_epoch,
        callbacks=callbacks,
        verbose=verbose,
    )
    return TrainResult(run_dir, history, int(epoch_var.numpy()), guard.reason, replicas)
