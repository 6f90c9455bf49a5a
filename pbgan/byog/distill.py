"""Data-free distillation: train a (binarized) student to draw what its float teacher draws.

No images are needed: every step draws a latent batch ``z`` and the student minimises

    L = mean |S(z) - T(z)|  +  f * mean_k mean |S_k(z) - T_k(z)|  +  a * L_G

* the L1 term is the distillation loss of :mod:`pbgan.train.gan` (per-image mean absolute
  difference, averaged over the batch);
* ``S_k``, ``T_k`` (``--feature-weight f``) are the feature maps after each upsampling
  stage, i.e. after every deconvolution but the last: the output of the batch norm that
  reads it when there is one (the binary layer's raw sums are on another scale than the
  float ones; their normalised values are comparable), else the deconvolution's own;
  layers are matched by name, which :func:`pbgan.byog.binarize_model` keeps;
* ``L_G`` (``--adversarial``, weight ``a``) is the non-saturating GAN loss against a
  small DCGAN discriminator (:func:`pbgan.models.build_discriminator`) that sees the
  teacher's samples as real and the student's as fake; images are resized to the
  nearest built-in resolution and grey ones repeated to three channels for it.

Before the first step the student's batch-norm statistics are re-estimated on random
latents (:func:`recalibrate_batch_norm`): a binary layer's sums are on another scale than
the float layer's it replaced.

The run directory is that of ``pbgan train`` (:mod:`pbgan.runs`), so ``pbgan convert
RUN``, ``pbgan sample RUN`` and ``pbgan evaluate RUN`` read it: ``config.json`` (``kind:
distill``, teacher, student and every option), ``checkpoints/`` (student, optimizers,
discriminator, epoch), ``generator.keras`` (the student after the last epoch),
``samples/epoch_NNN.png`` (teacher samples above, student samples below, fixed latents),
``history.csv`` and ``loss_curves.png``. The checkpoint is written last, so it is the
commit point; running the same command again resumes after the last committed epoch.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import time
from pathlib import Path

import pbgan
from pbgan.analysis import analyze, load_keras_model
from pbgan.io import atomic_write_json
from pbgan.models import build_discriminator
from pbgan.plots import plot_loss_curves, save_grid
from pbgan.runs import (
    CHECKPOINTS,
    CONFIG,
    GENERATOR,
    HISTORY,
    LOSS_CURVES,
    RunError,
    check_writable,
    load_run_config,
    lock_run,
    read_history,
    run_generator,
    sample_path,
    save_model_atomic,
    write_history,
)
from pbgan.settings import ARCHITECTURES
from pbgan.train.epoch import restore_newest

import numpy as np
import tensorflow as tf

__all__ = [
    "HISTORY_COLUMNS",
    "DistillConfig",
    "DistillResult",
    "Distiller",
    "distill",
    "recalibrate_batch_norm",
]

KIND = "distill"
HISTORY_COLUMNS = ("epoch", "loss", "distill", "feature", "g_adv", "d_loss", "seconds")
# What a resume may not change: the checkpoint would not fit, or the run would be
# two experiments.
_IDENTITY = ("teacher", "student", "batch_size", "feature_weight", "adversarial_weight")


@dataclasses.dataclass
class DistillConfig:
    teacher: str  # a float generator: .keras/.h5/SavedModel, or a `pbgan train` run
    student: str  # its binarized form (`pbgan binarize`), a .keras file
    steps: int = 1000
    steps_per_epoch: int = 100
    batch_size: int = 32
    learning_rate: float = 2e-4
    beta_1: float = 0.5
    seed: int = 0
    feature_weight: float = 0.0
    adversarial_weight: float = 0.0  # 0: no discriminator
    samples: int = 8

    @property
    def epochs(self) -> int:
        return math.ceil(self.steps / self.steps_per_epoch)

    def validate(self) -> None:
        for name in ("steps", "steps_per_epoch", "batch_size", "samples"):
            if getattr(self, name) < 1:
                raise RunError(f"--{name.replace('_', '-')} must be at least 1")
        for name in ("feature_weight", "adversarial_weight", "learning_rate"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise RunError(f"--{name.replace('_', '-')} {value}: pass a finite value >= 0")
        self.steps_per_epoch = min(self.steps_per_epoch, self.steps)
        self.teacher, self.student = os.path.abspath(self.teacher), os.path.abspath(self.student)
        for flag, path in (("TEACHER", self.teacher), ("STUDENT", self.student)):
            if not os.path.exists(path):
                raise RunError(f"{flag} {path} does not exist: pass a saved generator")


@dataclasses.dataclass
class DistillResult:
    run_dir: Path
    history: list[dict]
    epochs_done: int


def _feature_layers(teacher: tf.keras.Model, student: tf.keras.Model) -> list[str]:
    """Where the stages are compared: after every deconvolution but the last (module doc)."""
    deconvs = [r.layer for r in analyze(teacher) if r.kind == "deconv"][:-1]
    by_input: dict[str, list] = {}
    for layer in teacher.layers:
        for node in layer._inbound_nodes:  # noqa: SLF001  (Keras' graph; no public view)
            for inbound in tf.nest.flatten(node.inbound_layers):
                by_input.setdefault(inbound.name, []).append(layer)
    names = []
    for name in deconvs:
        after = by_input.get(name, [])
        bn = len(after) == 1 and isinstance(after[0], tf.keras.layers.BatchNormalization)
        names.append(after[0].name if bn else name)
    missing = [n for n in names if n not in {layer.name for layer in student.layers}]
    if missing:
        raise RunError(
            f"the student has no layer {missing[0]!r} of the teacher: pass a student made by "
            "`pbgan binarize` from this teacher, or --feature-weight 0"
        )
    return names


def _with_features(model: tf.keras.Model, names: list[str]) -> tf.keras.Model:
    outputs = [model.output] + [model.get_layer(n).output for n in names]
    return tf.keras.Model(model.inputs, outputs)


def _discriminator_view(shape: tuple) -> tuple[int, object]:
    """A built-in discriminator resolution and the map from generator images to it."""
    _, h, w, c = shape
    if c not in (1, 3):
        raise RunError(f"images of {c} channels: --adversarial knows 1 (grey) and 3 (RGB)")
    size = max(h, w)
    resolution = min(
        [r for r in ARCHITECTURES.values() if r >= size] or [max(ARCHITECTURES.values())]
    )

    def view(x: tf.Tensor) -> tf.Tensor:
        if (h, w) != (resolution, resolution):
            x = tf.image.resize(x, (resolution, resolution))
        return tf.tile(x, [1, 1, 1, 3]) if c == 1 else x

    return resolution, view


class Distiller(tf.keras.Model):
    """The student trained toward the teacher by ``fit()`` (latents drawn in the step)."""

    def __init__(
        self,
        student: tf.keras.Model,
        teacher: tf.keras.Model,
        *,
        batch_size: int,
        feature_layers: list[str],
        feature_weight: float,
        discriminator: tf.keras.Model | None = None,
        adversarial_weight: float = 0.0,
        view=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.student, self.teacher = student, teacher
        teacher.trainable = False
        self.batch = batch_size
        self.z_dim = int(student.input_shape[-1])
        self.student_f = _with_features(student, feature_layers)
        self.teacher_f = _with_features(teacher, feature_layers)
        self.feature_weight = float(feature_weight)
        self.discriminator = discriminator
        self.adversarial_weight = float(adversarial_weight)
        self.view = view
        self.trackers = {k: tf.keras.metrics.Mean(name=k) for k in HISTORY_COLUMNS[1:-1]}

    def compile(self, *, optimizer, d_optimizer=None, **kwargs) -> None:
        super().compile(**kwargs)
        self.g_optimizer, self.d_optimizer = optimizer, d_optimizer

    @property
    def metrics(self) -> list:
        return list(self.trackers.values())

    def call(self, z: tf.Tensor, training: bool = False) -> tf.Tensor:
        return self.student(z, training=training)

    def train_step(self, data) -> dict:
        xent = tf.nn.sigmoid_cross_entropy_with_logits
        z = tf.random.normal((self.batch, self.z_dim))
        target, *t_feats = tf.nest.flatten(self.teacher_f(z, training=False))
        d_loss = g_adv = tf.constant(0.0)
        if self.discriminator is not None:
            fake = self.student(z, training=True)
            with tf.GradientTape() as tape:
                real_logits = self.discriminator(self.view(target), training=True)
                fake_logits = self.discriminator(self.view(fake), training=True)
                d_loss = tf.reduce_mean(
                    xent(tf.ones_like(real_logits), real_logits)
                    + xent(tf.zeros_like(fake_logits), fake_logits)
                )
            d_vars = self.discriminator.trainable_variables
            self.d_optimizer.apply_gradients(
                zip(tape.gradient(d_loss, d_vars), d_vars, strict=True)
            )
        with tf.GradientTape() as tape:
            out, *s_feats = tf.nest.flatten(self.student_f(z, training=True))
            distill = tf.reduce_mean(tf.reduce_mean(tf.abs(out - target), axis=[1, 2, 3]))
            feature = tf.constant(0.0)
            if s_feats:
                feature = tf.add_n(
                    [tf.reduce_mean(tf.abs(s - t)) for s, t in zip(s_feats, t_feats, strict=True)]
                ) / len(s_feats)
            if self.discriminator is not None:
                logits = self.discriminator(self.view(out), training=True)
                g_adv = tf.reduce_mean(xent(tf.ones_like(logits), logits))
            loss = distill + self.feature_weight * feature + self.adversarial_weight * g_adv
        g_vars = self.student.trainable_variables
        self.g_optimizer.apply_gradients(zip(tape.gradient(loss, g_vars), g_vars, strict=True))
        values = {"loss": loss, "distill": distill, "feature": feature, "g_adv": g_adv}
        for key, value in {**values, "d_loss": d_loss}.items():
            self.trackers[key].update_state(value)
        return {k: m.result() for k, m in self.trackers.items()}


def recalibrate_batch_norm(
    model: tf.keras.Model, z_dim: int, *, n: int = 256, seed: int = 0
) -> None:
    """Set every batch norm's moving statistics to those of ``n`` random latents.

    A binary layer's sums are on another scale than the float layer's it replaced, so
    the batch norm after it starts with the teacher's statistics, wrong by that scale;
    one forward pass in training mode with momentum 0 replaces them (data-free).
    """
    norms = [
        layer for layer in model.layers if isinstance(layer, tf.keras.layers.BatchNormalization)
    ]
    momenta = [layer.momentum for layer in norms]
    try:
        for layer in norms:
            layer.momentum = 0.0
        z = tf.random.stateless_normal((n, z_dim), seed=(seed, 0))
        model(z, training=True)
    finally:
        for layer, momentum in zip(norms, momenta, strict=True):
            layer.momentum = momentum


def _write_history(path: Path, rows: list[dict]) -> None:
    write_history(path, rows, tuple(HISTORY_COLUMNS))


def _side_by_side(teacher, student, z: np.ndarray) -> np.ndarray:
    images = np.concatenate([teacher.predict(z, verbose=0), student.predict(z, verbose=0)])
    return np.repeat(images, 3, axis=-1) if images.shape[-1] == 1 else images


class _EpochEnd(tf.keras.callbacks.Callback):
    """Samples, generator.keras, history and curves, then the checkpoint (the commit)."""

    def __init__(self, run_dir, distiller, manager, epoch_var, z_fixed, history, epochs, verbose):
        super().__init__()
        self.run_dir, self.distiller, self.manager = run_dir, distiller, manager
        self.epoch_var, self.z_fixed, self.history = epoch_var, z_fixed, history
        self.epochs, self.verbose = epochs, verbose
        self._start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        done, logs = epoch + 1, logs or {}
        if not all(math.isfinite(float(logs.get(k, 0.0))) for k in HISTORY_COLUMNS[1:-1]):
            raise RunError(
                f"a loss became non-finite in epoch {done}: lower --lr and rerun (the last "
                "checkpoint is intact)"
            )
        d = self.distiller
        save_grid(
            _side_by_side(d.teacher, d.student, self.z_fixed),
            sample_path(self.run_dir, done),
            cols=len(self.z_fixed),
        )
        save_model_atomic(d.student, self.run_dir / GENERATOR)
        row = {k: float(logs.get(k, 0.0)) for k in HISTORY_COLUMNS[1:-1]}
        row.update(epoch=done, seconds=time.perf_counter() - self._start)
        self.history[:] = [r for r in self.history if r["epoch"] < done] + [row]
        _write_history(self.run_dir / HISTORY, self.history)
        keys = [
            k for k in ("distill", "feature", "g_adv", "d_loss") if any(r[k] for r in self.history)
        ]
        plot_loss_curves(
            self.history,
            self.run_dir / LOSS_CURVES,
            title=f"distill {self.run_dir.name}",
            keys=keys,
        )
        self.epoch_var.assign(done)
        self.manager.save(checkpoint_number=done)  # the commit point
        if self.verbose:
            shown = " ".join(f"{k} {row[k]:.4f}" for k in keys)
            print(
                f"{self.run_dir}: epoch {done}/{self.epochs} {shown} ({row['seconds']:.1f} s)",
                flush=True,
            )


def _check_resume(run_dir: Path, config: dict) -> None:
    if not (run_dir / CONFIG).exists():
        if (run_dir / CHECKPOINTS).exists():
            raise RunError(f"{run_dir} has checkpoints but no config.json: pass a new --out")
        return
    saved = load_run_config(run_dir)
    if saved.get("kind") != KIND:
        raise RunError(f"{run_dir} is a `pbgan train` run, not a distillation: pass a new --out")
    for key in _IDENTITY:
        if saved.get(key) != config.get(key):
            flag = key.upper() if key in ("teacher", "student") else "--" + key.replace("_", "-")
            raise RunError(
                f"{run_dir} was distilled with {flag} {saved.get(key)}, not {config.get(key)}: "
                "pass the same to resume, or a new --out"
            )


def distill(
    config: DistillConfig, run_dir: str | os.PathLike, *, verbose: bool = True
) -> DistillResult:
    """Distil (or resume distilling) ``config.student`` toward ``config.teacher``.

    Example::

        distill(DistillConfig("gen.keras", "student.keras", steps=2000), "runs/student")
    """
    config.validate()
    run_dir = Path(run_dir)
    check_writable(run_dir)
    saved = {"kind": KIND, **dataclasses.asdict(config)}
    _check_resume(run_dir, saved)
    teacher = load_keras_model(run_generator(config.teacher)[0])
    with lock_run(run_dir):
        return _distill_locked(config, run_dir, teacher, saved, verbose)


def _distill_locked(config, run_dir, teacher, saved, verbose) -> DistillResult:
    tf.keras.utils.set_random_seed(config.seed)
    student = load_keras_model(config.student)
    if (student.input_shape, student.output_shape) != (teacher.input_shape, teacher.output_shape):
        raise RunError(
            f"the student maps {student.input_shape} -> {student.output_shape} but the teacher "
            f"{teacher.input_shape} -> {teacher.output_shape}: pass the student binarized from it"
        )
    names = _feature_layers(teacher, student) if config.feature_weight else []
    discriminator, view = None, None
    d_opt = None
    if config.adversarial_weight:
        resolution, view = _discriminator_view(student.output_shape)
        discriminator = build_discriminator(resolution=resolution, width=1 / 16)
        d_opt = tf.keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1)
    distiller = Distiller(
        student,
        teacher,
        batch_size=config.batch_size,
        feature_layers=names,
        feature_weight=config.feature_weight,
        discriminator=discriminator,
        adversarial_weight=config.adversarial_weight,
        view=view,
    )
    g_opt = tf.keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1)
    distiller.compile(optimizer=g_opt, d_optimizer=d_opt)
    g_opt.build(student.trainable_variables)  # slots now, so a restore fills them
    tracked = {"student": student, "optimizer": g_opt}
    if discriminator is not None:
        d_opt.build(discriminator.trainable_variables)
        tracked.update(discriminator=discriminator, d_optimizer=d_opt)
    epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
    checkpoint = tf.train.Checkpoint(epoch=epoch_var, **tracked)
    manager = tf.train.CheckpointManager(checkpoint, run_dir / CHECKPOINTS, max_to_keep=2)
    restore_newest(checkpoint, manager, run_dir)
    done = int(epoch_var.numpy())
    # Put right what a kill between an epoch's writes and its checkpoint left ahead of it.
    history = [r for r in read_history(run_dir / HISTORY) if r["epoch"] <= done]
    if done:
        save_model_atomic(student, run_dir / GENERATOR)
    else:
        (run_dir / GENERATOR).unlink(missing_ok=True)
        recalibrate_batch_norm(student, int(student.input_shape[-1]), seed=config.seed)
    _write_history(run_dir / HISTORY, history)
    z_dim = int(student.input_shape[-1])
    z_fixed = np.random.default_rng(config.seed).normal(size=(config.samples, z_dim))
    atomic_write_json(
        run_dir / CONFIG, {**saved, "z_dim": z_dim, "versions": pbgan.stack_versions()}
    )
    if done >= config.epochs:
        return DistillResult(run_dir, history, done)
    tf.keras.utils.set_random_seed(config.seed + done)  # a resumed run draws new latents
    callback = _EpochEnd(
        run_dir,
        distiller,
        manager,
        epoch_var,
        z_fixed.astype("float32"),
        history,
        config.epochs,
        verbose,
    )
    if verbose:
        print(
            f"{run_dir}: distilling {config.student} toward {config.teacher}, epochs "
            f"{done + 1}-{config.epochs} of {config.steps_per_epoch} steps",
            file=sys.stderr,
            flush=True,
        )
    distiller.fit(
        tf.data.Dataset.from_tensors(0.0).repeat(),
        epochs=config.epochs,
        initial_epoch=done,
        steps_per_epoch=config.steps_per_epoch,
        callbacks=[callback],
        verbose=0,
    )
    return DistillResult(run_dir, history, int(epoch_var.numpy()))
