"""The ``tf.data`` pipeline: training batches and evaluation images from any source.

Everything ends up as float32 batches in ``[-1, 1]`` (:func:`make_dataset`) or as uint8
arrays for the SWD metric (:func:`real_images`). Sources are resolved by
:func:`~pbgan.data.files.describe_source`; synthetic images are rendered on the fly by
:func:`~pbgan.data.synthetic.synthetic_faces_at`. This is the only data module that
imports TensorFlow.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import logging
import os
import threading
import time

import pbgan  # noqa: F401  (selects Keras 2 before TensorFlow loads)
from pbgan.data.files import SYNTHETIC, SourceInfo, describe_source
from pbgan.data.synthetic import SYNTHETIC_SEED, synthetic_faces_at

import numpy as np
import tensorflow as tf

__all__ = ["make_dataset", "real_images"]

log = logging.getLogger(__name__)


class _Decodes:
    """Image decodes running inside ``tf.data``, drained before the interpreter finalizes.

    A ``tf.numpy_function`` call that needs the GIL once Python has begun finalizing is
    ended by Python (``pthread_exit``) without telling TensorFlow, and the iterator's
    destructor, which runs later in finalization, then waits for it forever: an exit
    that lands during a decode hangs. A large image makes that window seconds wide. At
    exit (atexit runs before finalization) new calls return at once, and we wait for
    the running ones and for the pipeline's buffers to fill, so nothing is in flight
    when the iterator is destroyed.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.last = 0.0
        self.closing = False

    def start(self) -> bool:
        """Count a call in; ``False`` once the process is exiting."""
        with self.lock:
            self.last = time.monotonic()
            if self.closing:
                return False
            self.running += 1
            return True

    def stop(self) -> None:
        with self.lock:
            self.running -= 1
            self.last = time.monotonic()

    def drain(self, *, quiet: float = 0.3, timeout: float = 60.0) -> None:
        """Refuse new calls; wait until none runs and none has started for ``quiet`` s."""
        with self.lock:
            self.closing = True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                idle = self.running == 0 and time.monotonic() - self.last > quiet
            if idle:
                return
            time.sleep(0.05)
        log.warning("image decodes still running at exit after %.0f s", timeout)


_DECODES = _Decodes()
atexit.register(_DECODES.drain)


def _check(size: int, batch_size: int) -> None:
    if size < 8:
        raise ValueError(f"size must be at least 8, got {size}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")


def _loaded(image: tf.Tensor, ok: tf.Tensor) -> tf.Tensor:
    return ok


def _image_only(image: tf.Tensor, ok: tf.Tensor) -> tf.Tensor:
    return image


def _to_unit_range(images: tf.Tensor) -> tf.Tensor:
    return tf.cast(images, tf.float32) / 127.5 - 1.0


def make_dataset(
    source: str | os.PathLike | SourceInfo = SYNTHETIC,
    *,
    size: int = 64,
    batch_size: int = 64,
    seed: int = 0,
    shuffle: bool = True,
    repeat: bool = True,
    num_synthetic: int = 50_000,
) -> tf.data.Dataset:
    """Training batches as a ``tf.data.Dataset``.

    Every batch is float32 ``(batch_size, size, size, 3)`` in ``[-1, 1]`` (the
    generator's ``tanh`` range); a last partial batch is dropped.

    Sources (see :func:`describe_source`):

    * ``"synthetic"`` (default): the embedded face set of :func:`synthetic_faces`
      (``num_synthetic`` images, seed :data:`SYNTHETIC_SEED`), rendered on the fly from
      shuffled indices, a batch per call, in parallel; nothing is stored or downloaded.
    * image files (CelebA folder or zip, any image folder): decoded in parallel and
      preprocessed by :func:`preprocess`: aligned CelebA (178x218) is cropped to the
      128x128 square centred at (x=89, y=121) as in PGGAN, other images to their
      centred ``min(h, w)`` square, then area-resized to ``size``. Zip members are read
      in memory; nothing is extracted or written, and the user's files are only read.

    A corrupt or unreadable file is skipped, logged and counted, never fatal: pass a
    :class:`SourceInfo` from :func:`describe_source` and read ``info.skipped``.

    Args:
        source: ``"synthetic"``, a path, or a :class:`SourceInfo`.
        size: output side length in pixels.
        batch_size: images per batch.
        seed: order of the images (shuffle seed); the data set itself does not change
            with it, so runs with different seeds train on the same images.
        shuffle: reshuffle every epoch (deterministically from ``seed``).
        repeat: repeat forever; otherwise one epoch.
        num_synthetic: size of the synthetic set.

    Raises:
        DataError: the source is missing or holds no images.
    """
    _check(size, batch_size)
    info = (
        source
        if isinstance(source, SourceInfo)
        else describe_source(source, num_synthetic=num_synthetic, check_readable=False)
    )
    if not repeat and info.num_images < batch_size:
        log.warning(
            "%s holds %d images, fewer than one batch of %d: the epoch is empty",
            info.path or info.kind,
            info.num_images,
            batch_size,
        )
    order = tf.data.Dataset.range(info.num_images)
    if shuffle:
        order = order.shuffle(info.num_images, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        order = order.repeat()
    auto = tf.data.AUTOTUNE
    if info.kind == "synthetic":

        def render(idx: np.ndarray) -> np.ndarray:
            return synthetic_faces_at(idx, size, SYNTHETIC_SEED)

        def render_batch(idx: tf.Tensor) -> tf.Tensor:
            images = tf.numpy_function(render, [idx], tf.uint8, stateful=False)
            return tf.ensure_shape(images, (batch_size, size, size, 3))

        ds = order.batch(batch_size, drop_remainder=True)
        ds = ds.map(render_batch, num_parallel_calls=auto, deterministic=True)
    else:
        blank = np.zeros((size, size, 3), np.uint8)

        def load(i: np.ndarray) -> tuple[np.ndarray, np.bool_]:
            if not _DECODES.start():  # exiting: fill the buffers at once, decode nothing
                return blank, np.True_
            try:
                image = info.load(int(i), size)
            finally:
                _DECODES.stop()
            return (blank, np.False_) if image is None else (image, np.True_)

        def load_one(i: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            image, ok = tf.numpy_function(load, [i], (tf.uint8, tf.bool), stateful=True)
            return tf.ensure_shape(image, (size, size, 3)), tf.ensure_shape(ok, ())

        ds = order.map(load_one, num_parallel_calls=auto, deterministic=True)
        # Batch (image, ok) pairs and drop ``ok`` afterwards: a map right before batch is
        # fused into one op that holds an error until its batch fills, which never
        # happens once every file has failed, so the error would hang instead of raising.
        ds = ds.filter(_loaded).batch(batch_size, drop_remainder=True)
        ds = ds.map(_image_only)
    return ds.map(_to_unit_range, num_parallel_calls=auto).prefetch(auto)


def real_images(
    source: str | os.PathLike | SourceInfo = SYNTHETIC,
    n: int = 10_000,
    size: int = 64,
    seed: int = 0,
    *,
    num_synthetic: int = 50_000,
) -> np.ndarray:
    """The first ``n`` images of a source in an order fixed by ``seed``, for evaluation.

    Preprocessing is that of :func:`make_dataset`. For the synthetic source the images
    come from the same set training uses (a seeded permutation of its indices).
    Unreadable files are skipped and counted as in :func:`make_dataset`.

    Returns:
        uint8 array ``(n, size, size, 3)``; fewer rows (with a warning) only when the
        source holds fewer than ``n`` readable images.

    Raises:
        DataError: the source is missing or holds no images.
    """
    _check(size, 1)
    info = (
        source
        if isinstance(source, SourceInfo)
        else describe_source(source, num_synthetic=num_synthetic)
    )
    order = np.random.default_rng(seed).permutation(info.num_images)
    if n > info.num_images:
        log.warning(
            "asked for %d real images but %s holds %d", n, info.path or info.kind, info.num_images
        )
    if info.kind == "synthetic":
        return synthetic_faces_at(order[:n], size, SYNTHETIC_SEED)
    out = np.empty((min(n, info.num_images), size, size, 3), np.uint8)
    got = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        pos = 0
        while got < len(out) and pos < len(order):
            block = order[pos : pos + len(out) - got]
            pos += len(block)
            # PIL releases the GIL while decoding, so threads decode in parallel.
            for image in pool.map(lambda i: info.load(int(i), size), block):
                if image is not None:
                    out[got] = image
                    got += 1
    if got < len(out):
        log.warning("only %d of the %d images requested from %s are readable", got, n, info.path)
    return out[:got]
