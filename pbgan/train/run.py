"""A training run: build the GAN, restore its checkpoint, fit, and write the run
directory (layout in :mod:`pbgan.runs`) atomically at the end of every good epoch.

Everything is written only when the epoch's losses are finite. Running the same command
again restores the last checkpoint, optimizer state and step counter included, and
continues with the next epoch.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import sys
import time
from pathlib import Path

from pbgan import stack_versions
from pbgan.io import atomic_write_json
from pbgan.models import build_discriminator, build_generator
from pbgan.runs import (
    CHECKPOINTS,
    CONFIG,
    RunError,
    check_identity,
    check_writable,
    lock_run,
    resumed_config,
    run_generator,
)
from pbgan.settings import (
    ARCHITECTURES,
    DEFAULT_SCHEME,
    get_scheme,
    get_setting,
    resolve_architecture,
)
from pbgan.train.epoch import EpochEnd, repair, restore_newest
from pbgan.train.gan import GAN
from pbgan.train.workers import (
    check_same_epoch,
    multiworker_strategy,
    own_run_dir,
    peer_failures,
)
from pbgan.transfer import copy_float_weights

import numpy as np
import tensorflow as tf

__all__ = ["RunError", "TrainConfig", "TrainResult", "make_strategy", "train"]

log = logging.getLogger("pbgan.train")


@dataclasses.dataclass
class TrainConfig:
    setting: str = "F"
    scheme: str = DEFAULT_SCHEME
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
    # Levers for a binary generator (docs in pbgan.train.gan and `pbgan train --help`).
    init_from: str | None = None  # a float run (or .keras) whose weights start the generator
    teacher: str | None = None  # a float run (or .keras) to distil from
    distill_weight: float = 10.0
    teacher_sign_z: bool = False
    ema: float = 0.0  # decay of the generator weight average; 0 = off
    shortcut: bool = False  # real-valued paths around binary deconvolutions

    @property
    def resolution(self) -> int:
        return ARCHITECTURES[self.architecture]

    def validate(self) -> None:
        self.setting = get_setting(self.setting).name
        try:
            resolve_architecture(self.architecture)
            get_scheme(self.scheme)
        except ValueError as err:
            raise RunError(str(err)) from err
        if not 0.0 <= self.ema < 1.0:
            raise RunError(f"--ema {self.ema}: the decay must be in [0, 1) (0 turns it off)")
        if self.distill_weight < 0 or not math.isfinite(self.distill_weight):
            raise RunError(f"--distill-weight {self.distill_weight}: pass a finite value >= 0")
        if self.batch_size < 1 or self.epochs < 1 or self.z_dim < 1:
            raise RunError("--batch-size, --epochs and --z-dim must be at least 1")
        if not str(self.data).strip():
            raise RunError(
                "--data is empty: pass --data synthetic, a CelebA folder or zip, or a folder "
                "of images"
            )


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
    ``TF_CONFIG`` environment variable (see README and :mod:`pbgan.train.workers`).
    """
    if name == "multiworker":  # first: listing devices would already fix the process's setup
        return multiworker_strategy()
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=devices)
    raise RunError(f"unknown strategy {name!r}: choose auto, default, mirrored or multiworker")


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


def _warn_negative_dor(config: TrainConfig) -> None:
    """Say once, before training, which layers the plan binarizes although DoR < 0."""
    import warnings

    from pbgan.models import generator_dors
    from pbgan.settings import NegativeDoRWarning

    dors = generator_dors(config.resolution, config.width, config.z_dim)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NegativeDoRWarning)
        get_setting(config.setting).plan(dors)
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr, flush=True)


class _Estimate(tf.keras.callbacks.Callback):
    """After the first steps, say how long the whole run will take at that pace."""

    def __init__(self, total_steps: int, after: int = 10):
        super().__init__()
        self.total_steps, self.after = total_steps, after
        self._start: float | None = None
        self._done = False

    def on_train_batch_begin(self, batch, logs=None):
        if self._start is None and batch == 1:  # step 0 includes tracing
            self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if self._done or self._start is None or batch < self.after:
            return
        self._done = True
        per_step = (time.perf_counter() - self._start) / batch  # batches 1..batch
        seconds = per_step * self.total_steps
        left = f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"
        if seconds >= 3 * 3600:
            left = f"{seconds / 3600:.1f} h"
        print(
            f"estimate: {per_step:.2f} s/step, about {left} for the {self.total_steps} "
            "steps left (Ctrl-C and rerun the same command to resume later)",
            file=sys.stderr,
            flush=True,
        )


def _float_generator(source: str, flag: str) -> tf.keras.Model:
    """A trained float generator (a run directory or a saved model) for a lever."""
    from pbgan.analysis import analyze, load_keras_model

    path, _ = run_generator(source)
    if not path.exists():
        raise RunError(f"{flag} {source} does not exist: pass a run directory of `pbgan train`")
    model = load_keras_model(path)
    if any(row.binarized for row in analyze(model)):
        raise RunError(f"{flag} {source} is a binarized generator: pass a float run (--setting A)")
    return model


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
    from pbgan.data import describe_source

    # Everything that can be refused is checked before anything is written: a failed
    # start must not leave a run directory that refuses the corrected command.
    config.validate()
    _warn_negative_dor(config)
    run_dir = Path(run_dir)
    check_writable(run_dir)
    check_identity(run_dir, dataclasses.asdict(config))
    source = describe_source(config.data)
    steps = _steps_per_epoch(config, source.num_images)
    tf.keras.utils.set_random_seed(config.seed)
    # A non-chief worker trains in a copy and locks that: only the chief writes run_dir.
    with own_run_dir(run_dir, config.strategy) as own_dir, peer_failures(config.strategy):
        strategy = make_strategy(config.strategy)
        with lock_run(own_dir):
            check_identity(run_dir, dataclasses.asdict(config))  # again, now no one else can
            result = _train_locked(
                config, own_dir, source, steps, strategy, verbose, extra_callbacks
            )
    return dataclasses.replace(result, run_dir=run_dir)


def _train_locked(config, run_dir, source, steps, strategy, verbose, extra_callbacks):
    import warnings

    from pbgan.data import make_dataset
    from pbgan.settings import NegativeDoRWarning

    setting = get_setting(config.setting)
    resolution = config.resolution
    replicas = strategy.num_replicas_in_sync

    def new_generator(name: str) -> tf.keras.Model:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NegativeDoRWarning)
            return build_generator(
                resolution=resolution,
                width=config.width,
                z_dim=config.z_dim,
                setting=setting,
                scheme=config.scheme,
                shortcut=config.shortcut,
                name=name,
            )

    with strategy.scope():
        generator = new_generator("generator")
        if config.init_from:
            copy_float_weights(_float_generator(config.init_from, "--init-from"), generator)
        ema = None
        if config.ema:
            ema = new_generator("generator_ema")
            ema.set_weights(generator.get_weights())
        teacher = _float_generator(config.teacher, "--teacher") if config.teacher else None
        if teacher is not None and teacher.output_shape != generator.output_shape:
            raise RunError(
                f"--teacher {config.teacher} draws {teacher.output_shape[1:]} images, not "
                f"{generator.output_shape[1:]}: pass a teacher of the same --arch"
            )
        discriminator = build_discriminator(
            resolution=resolution, width=config.width, binary=setting.binary_discriminator
        )
        gan = GAN(
            generator,
            discriminator,
            teacher=teacher,
            distill_weight=config.distill_weight,
            teacher_sign_z=config.teacher_sign_z,
            ema=ema,
            ema_decay=config.ema,
        )
        g_opt = tf.keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1)
        d_opt = tf.keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1)
        gan.compile(g_optimizer=g_opt, d_optimizer=d_opt, jit_compile=config.jit_compile)
        # Build optimizer slots now so a restore fills them instead of deferring.
        g_opt.build(generator.trainable_variables)
        d_opt.build(discriminator.trainable_variables)
        epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        tracked = {"generator_ema": ema} if ema is not None else {}
        checkpoint = tf.train.Checkpoint(
            generator=generator,
            discriminator=discriminator,
            g_optimizer=g_opt,
            d_optimizer=d_opt,
            epoch=epoch_var,
            **tracked,
        )
    manager = tf.train.CheckpointManager(checkpoint, run_dir / CHECKPOINTS, max_to_keep=2)
    if restore_newest(checkpoint, manager, run_dir):
        log.info("resuming %s from epoch %d", run_dir, int(epoch_var.numpy()))
    initial_epoch = int(epoch_var.numpy())
    check_same_epoch(strategy, initial_epoch)  # multi-worker only: all restored the same
    z_fixed = np.random.default_rng(config.seed).normal(size=(config.samples, config.z_dim))
    z_fixed = z_fixed.astype("float32")
    # Put right what a kill left ahead of the checkpoint; every worker takes the same steps.
    exported = ema if ema is not None else generator
    force = config.strategy == "multiworker"
    history = repair(run_dir, initial_epoch, exported, z_fixed, force=force)
    # A restore brings back the optimizers' own hyperparameters; the command's win.
    for opt in (g_opt, d_opt):
        opt.learning_rate = config.learning_rate
        opt.beta_1 = config.beta_1
    saved_config = {**dataclasses.asdict(config), "resolution": resolution}
    saved_config.update(steps_per_epoch=steps, replicas=replicas, versions=stack_versions())
    atomic_write_json(run_dir / CONFIG, resumed_config(run_dir, saved_config, initial_epoch))
    (run_dir / "samples").mkdir(exist_ok=True)

    if initial_epoch >= config.epochs:
        return TrainResult(run_dir, history, initial_epoch, None, replicas)

    dataset = make_dataset(
        source,
        size=resolution,
        batch_size=config.batch_size,
        seed=config.seed + initial_epoch,  # a resumed run sees new batches, not a replay
    )
    guard = _StopOnNonFinite()
    callbacks = [
        guard,
        _Estimate((config.epochs - initial_epoch) * steps),
        EpochEnd(run_dir, gan, manager, epoch_var, z_fixed, guard, history, source),
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
