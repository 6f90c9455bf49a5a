"""The GAN as a ``keras.Model``: its own ``compile`` and ``train_step``.

Extending Keras at its seams (instead of writing a loop) brings ``fit()``'s progress
bar, callbacks and ``tf.distribute`` for free. Losses are the non-saturating GAN
losses of Goodfellow et al.:

    L_D = -log D(x) - log(1 - D(G(z)))        L_G = -log D(G(z))

computed from logits with ``sigmoid_cross_entropy``. Each step updates D once, then G
once with a fresh latent batch, as in DCGAN. Under a distribution strategy the
per-example losses are summed and divided by the *global* batch size, so replicas'
gradients add up to the gradient of the mean.

Two optional levers for a binary generator (see ``pbgan train --help``):

* **distillation** from a frozen float ``teacher``: the G step minimises
  ``L_G + w * mean |G(z) - T(z')|`` where ``z'`` is ``z`` or, with ``teacher_sign_z``,
  ``sign(z)`` (what a binary projection actually sees);
* **weight averaging**: ``ema`` holds an exponential moving average of the generator's
  weights (latent weights and batch-norm statistics), updated after every G step with
  decay ``min(d, (1 + t) / (10 + t))`` so early steps are not frozen in; it is the
  generator that is sampled, exported and converted.
"""

from __future__ import annotations

import tensorflow as tf

__all__ = ["GAN"]


class GAN(tf.keras.Model):
    def __init__(
        self,
        generator: tf.keras.Model,
        discriminator: tf.keras.Model,
        *,
        teacher: tf.keras.Model | None = None,
        distill_weight: float = 0.0,
        teacher_sign_z: bool = False,
        ema: tf.keras.Model | None = None,
        ema_decay: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.z_dim = int(generator.input_shape[-1])
        self.teacher = teacher
        self.distill_weight = float(distill_weight)
        self.teacher_sign_z = teacher_sign_z
        if teacher is not None:
            teacher.trainable = False
        self.ema = ema
        self.ema_decay = float(ema_decay)
        self.d_loss_tracker = tf.keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = tf.keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = tf.keras.metrics.Mean(name="d_real")
        self.d_fake_tracker = tf.keras.metrics.Mean(name="d_fake")
        self.distill_tracker = tf.keras.metrics.Mean(name="distill")

    def compile(
        self,
        *,
        g_optimizer: tf.keras.optimizers.Optimizer,
        d_optimizer: tf.keras.optimizers.Optimizer,
        **kwargs,
    ) -> None:
        super().compile(**kwargs)
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer

    @property
    def metrics(self) -> list:
        # Listed here so Keras resets them at the start of every epoch.
        trackers = [self.d_loss_tracker, self.g_loss_tracker]
        trackers += [self.d_real_tracker, self.d_fake_tracker]
        return trackers + ([self.distill_tracker] if self.teacher is not None else [])

    def call(self, z: tf.Tensor, training: bool = False) -> tf.Tensor:
        return self.generator(z, training=training)

    def _mean(self, per_example: tf.Tensor, global_batch: tf.Tensor) -> tf.Tensor:
        return tf.reduce_sum(per_example) / tf.cast(global_batch, per_example.dtype)

    def train_step(self, real: tf.Tensor) -> dict:
        if isinstance(real, tuple):
            real = real[0]
        batch = tf.shape(real)[0]
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        global_batch = batch * replicas
        xent = tf.nn.sigmoid_cross_entropy_with_logits

        z = tf.random.normal((batch, self.z_dim))
        with tf.GradientTape() as tape:
            fake = self.generator(z, training=True)
            real_logits = self.discriminator(real, training=True)
            fake_logits = self.discriminator(fake, training=True)
            per_example = xent(tf.ones_like(real_logits), real_logits) + xent(
                tf.zeros_like(fake_logits), fake_logits
            )
            d_loss = self._mean(per_example, global_batch)
            # Regularisation losses (none by default) belong to D alone here.
            if self.discriminator.losses:
                d_loss += tf.add_n(self.discriminator.losses) / tf.cast(replicas, d_loss.dtype)
        d_vars = self.discriminator.trainable_variables
        self.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, d_vars), d_vars, strict=True))

        z = tf.random.normal((batch, self.z_dim))
        with tf.GradientTape() as tape:
            fake = self.generator(z, training=True)
            fake_logits = self.discriminator(fake, training=True)
            g_loss = self._mean(xent(tf.ones_like(fake_logits), fake_logits), global_batch)
            total = g_loss
            if self.teacher is not None:
                target = self.teacher(tf.sign(z) if self.teacher_sign_z else z, training=False)
                per_image = tf.reduce_mean(tf.abs(fake - target), axis=[1, 2, 3])
                distill = self._mean(per_image, global_batch)
                total = g_loss + self.distill_weight * distill
        g_vars = self.generator.trainable_variables
        self.g_optimizer.apply_gradients(zip(tape.gradient(total, g_vars), g_vars, strict=True))
        if self.ema is not None:
            self._update_ema()

        scale = tf.cast(replicas, d_loss.dtype)  # back to this replica's mean
        self.d_loss_tracker.update_state(d_loss * scale)
        self.g_loss_tracker.update_state(g_loss * scale)
        self.d_real_tracker.update_state(tf.reduce_mean(tf.sigmoid(real_logits)))
        self.d_fake_tracker.update_state(tf.reduce_mean(tf.sigmoid(fake_logits)))
        if self.teacher is not None:
            self.distill_tracker.update_state(distill * scale)
        return {m.name: m.result() for m in self.metrics}

    def _update_ema(self) -> None:
        t = tf.cast(self.g_optimizer.iterations, tf.float32)
        decay = tf.minimum(self.ema_decay, (1.0 + t) / (10.0 + t))
        for avg, live in zip(self.ema.weights, self.generator.weights, strict=True):
            avg.assign(decay * avg + (1.0 - decay) * tf.cast(live, avg.dtype))
