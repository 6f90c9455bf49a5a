"""The end of an epoch is one commit: a kill anywhere, a torn checkpoint, a full disk or an
unusable --out leaves a run that the same command finishes with one history row and one
sample per epoch, and a generator.keras that is the checkpointed generator."""

from __future__ import annotations

import errno
import os
import warnings
from pathlib import Path

from pbgan.cli import main
from pbgan.runs import CHECKPOINTS, GENERATOR, RunError, read_history, sample_path
from pbgan.settings import NegativeDoRWarning
from pbgan.train import epoch as epoch_end
from pbgan.train.run import TrainConfig, train

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner
from conftest import TINY_RUN

RUN = {**TINY_RUN, "setting": "F", "steps_per_epoch": 1}


def _train(run_dir: Path, extra_callbacks=None, **overrides):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NegativeDoRWarning)
        config = TrainConfig(**{**RUN, **overrides})
        return train(config, run_dir, verbose=0, extra_callbacks=extra_callbacks)


def _cli(*args: str):
    return CliRunner().invoke(main, list(args))


def _checkpointed(run_dir: Path) -> int:
    latest = tf.train.latest_checkpoint(str(run_dir / CHECKPOINTS))
    return int(latest.rsplit("-", 1)[1]) if latest else 0


def _z() -> np.ndarray:
    return np.random.default_rng(7).normal(size=(3, 100)).astype("float32")


def _assert_consistent(run_dir: Path, done: int, exported: tf.keras.Model | None) -> None:
    """One row, one sample, one record per committed epoch; generator.keras is ``exported``."""
    from pbgan.analysis import load_keras_model

    assert [r["epoch"] for r in read_history(run_dir / "history.csv")] == list(range(1, done + 1))
    samples = sorted(p.name for p in (run_dir / "samples").glob("*.png"))
    assert samples == [sample_path(run_dir, n).name for n in range(1, done + 1)]
    records = sorted(p.name for p in (run_dir / "epochs").glob("*.json"))
    assert records == [f"epoch_{n:03d}.json" for n in range(1, done + 1)]
    assert not list((run_dir / CHECKPOINTS).glob("*_temp*"))
    assert not [p for p in run_dir.rglob(".*") if p.name != ".lock"], "temporary files left"
    if done == 0:
        assert not (run_dir / GENERATOR).exists()
        return
    saved = load_keras_model(run_dir / GENERATOR).predict(_z(), verbose=0)
    np.testing.assert_allclose(saved, exported.predict(_z(), verbose=0), atol=1e-6)


class _Crash(BaseException):
    """A kill: nothing after it runs, no handler sees it (a BaseException, like SIGKILL)."""


class _Check(tf.keras.callbacks.Callback):
    """Checks the run against the model's averaged generator when fit starts and ends.

    When fit starts the resume has repaired the run and the model holds the restored
    checkpoint; when it ends the last epoch has committed.
    """

    def __init__(self, run_dir: Path, begin: int, end: int):
        super().__init__()
        self.run_dir, self.begin, self.end, self.checked = run_dir, begin, end, []

    def on_train_begin(self, logs=None):
        _assert_consistent(self.run_dir, self.begin, self.model.ema)
        self.checked.append("begin")

    def on_train_end(self, logs=None):
        _assert_consistent(self.run_dir, self.end, self.model.ema)
        self.checked.append("end")


# Every write at the end of an epoch, in order; then the checkpoint, the commit point.
WRITES = ["save_grid", "save_model_atomic", "_write_record", "write_history", "plot_loss_curves"]


def _crash_after(monkeypatch, name: str, epoch: int) -> None:
    """Kill the run right after write ``name`` of epoch ``epoch``'s end (not of a repair)."""
    committing = []
    real_commit = epoch_end.EpochEnd._commit

    def commit(self, done, logs):
        committing[:] = [done]
        real_commit(self, done, logs)

    monkeypatch.setattr(epoch_end.EpochEnd, "_commit", commit)
    if name in ("save", "save_temp"):
        real = tf.train.CheckpointManager.save

        def save(self, checkpoint_number=None, **kwargs):
            if int(checkpoint_number) != epoch:
                return real(self, checkpoint_number=checkpoint_number, **kwargs)
            if name == "save_temp":  # killed inside TF's save: its temp folder stays
                temp = Path(self.directory) / f"ckpt-{epoch}_temp" / "part-00000-of-00001.data"
                temp.parent.mkdir(parents=True)
                temp.write_bytes(b"half")
                raise _Crash
            real(self, checkpoint_number=checkpoint_number, **kwargs)
            raise _Crash

        monkeypatch.setattr(tf.train.CheckpointManager, "save", save)
        return
    real = getattr(epoch_end, name)

    def wrapper(*args, **kwargs):
        result = real(*args, **kwargs)
        if committing == [epoch]:
            raise _Crash
        return result

    monkeypatch.setattr(epoch_end, name, wrapper)


def _tiny_run(run_dir: Path):
    """The pieces of a run's epoch end around a small generator, without the GAN's training."""
    from types import SimpleNamespace

    z = tf.keras.Input((100,))
    x = tf.keras.layers.Dense(4 * 4 * 3, activation="tanh")(z)
    gen = tf.keras.Model(z, tf.keras.layers.Reshape((4, 4, 3))(x))
    epoch_var = tf.Variable(0, dtype=tf.int64)
    checkpoint = tf.train.Checkpoint(generator=gen, epoch=epoch_var)
    manager = tf.train.CheckpointManager(checkpoint, run_dir / CHECKPOINTS, max_to_keep=2)
    restored = epoch_end.restore_newest(checkpoint, manager, run_dir)
    done = int(epoch_var.numpy())
    history = epoch_end.repair(run_dir, done, gen, _z()) if restored or done == 0 else []
    guard = SimpleNamespace(reason=None)
    gan = SimpleNamespace(generator=gen, ema=None)
    source = SimpleNamespace(skipped=0)
    end = epoch_end.EpochEnd(run_dir, gan, manager, epoch_var, _z(), guard, history, source)
    return end, gen, done


def _epoch(end: epoch_end.EpochEnd, gen: tf.keras.Model, done: int) -> None:
    """What one epoch of training does to the run: new weights, then the epoch end."""
    gen.set_weights([w + 0.1 * done for w in gen.get_weights()])
    end.on_epoch_end(done - 1, {"d_loss": 1.0 + done, "g_loss": 2.0 + done})


@pytest.mark.parametrize("point", [*WRITES, "save_temp", "save"])
def test_a_kill_after_any_epoch_end_write_is_repaired_on_resume(tmp_path, monkeypatch, point):
    run = tmp_path / "run"
    end, gen, _ = _tiny_run(run)
    _epoch(end, gen, 1)
    _epoch(end, gen, 2)
    with monkeypatch.context() as patch:
        _crash_after(patch, point, 3)
        with pytest.raises(_Crash):
            _epoch(end, gen, 3)
    end, gen, done = _tiny_run(run)  # the same command again: restore, then repair
    assert done == (3 if point == "save" else 2)
    _assert_consistent(run, done, gen)
    _epoch(end, gen, done + 1)
    _assert_consistent(run, done + 1, gen)
    rows = read_history(run / "history.csv")
    assert [r["d_loss"] for r in rows] == [1.0 + n for n in range(1, done + 2)]


def test_a_kill_before_the_first_checkpoint_leaves_a_fresh_run(tmp_path, monkeypatch):
    run = tmp_path / "run"
    end, gen, _ = _tiny_run(run)
    with monkeypatch.context() as patch:
        _crash_after(patch, "plot_loss_curves", 1)
        with pytest.raises(_Crash):
            _epoch(end, gen, 1)
    _, gen, done = _tiny_run(run)
    assert done == 0
    _assert_consistent(run, 0, gen)
    assert not (run / "history.csv").exists()


def test_training_killed_after_generator_export_resumes_to_a_consistent_run(tmp_path, monkeypatch):
    run = tmp_path / "run"
    with monkeypatch.context() as patch:
        _crash_after(patch, "save_model_atomic", 2)  # generator.keras one epoch ahead
        with pytest.raises(_Crash):
            _train(run, epochs=2, ema=0.9)
    assert _checkpointed(run) == 1
    check = _Check(run, begin=1, end=2)
    result = _train(run, epochs=2, ema=0.9, extra_callbacks=[check])
    assert check.checked == ["begin", "end"] and result.epochs_done == 2
    assert [r["epoch"] for r in result.history] == [1, 2]


def test_a_torn_newest_checkpoint_falls_back_to_the_older_one(tmp_path, capsys):
    run = tmp_path / "run"
    end, gen, _ = _tiny_run(run)
    _epoch(end, gen, 1)
    _epoch(end, gen, 2)
    epoch_two = gen.get_weights()
    _epoch(end, gen, 3)
    data = next((run / CHECKPOINTS).glob("ckpt-3.data-*"))
    data.write_bytes(data.read_bytes()[:10])  # a kill or a full disk mid-write
    capsys.readouterr()
    end, gen, done = _tiny_run(run)
    warning = capsys.readouterr().err.strip().splitlines()
    assert done == 2 and len(warning) == 1
    for restored, saved in zip(gen.get_weights(), epoch_two, strict=True):
        np.testing.assert_array_equal(restored, saved)  # all of epoch 2, none of the torn 3
    assert "ckpt-3 cannot be read" in warning[0] and "resuming from the older ckpt-2" in warning[0]
    _assert_consistent(run, 2, gen)
    _epoch(end, gen, 3)  # and it carries on
    _assert_consistent(run, 3, gen)
    for index in (run / CHECKPOINTS).glob("ckpt-*.index"):
        index.write_bytes(b"torn")
    with pytest.raises(RunError, match="no checkpoint in .* can be read .*: delete") as err:
        _tiny_run(run)
    assert "pass a new --out" in str(err.value) and "\n" not in str(err.value)


def test_a_full_disk_at_the_checkpoint_names_the_fix_and_stays_resumable(tmp_path, monkeypatch):
    run = tmp_path / "run"
    end, gen, _ = _tiny_run(run)
    _epoch(end, gen, 1)

    def full(self, checkpoint_number=None, **kwargs):
        temp = Path(self.directory) / f"ckpt-{checkpoint_number}_temp" / "part-00000-of-00001"
        temp.parent.mkdir(parents=True)
        temp.write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(tf.train.CheckpointManager, "save", full)
        with pytest.raises(RunError) as err:
            _epoch(end, gen, 2)
    message = str(err.value)
    assert "no space left" in message and "free space and rerun the same command" in message
    assert "\n" not in message
    assert not list((run / CHECKPOINTS).glob("*_temp*"))
    end, gen, done = _tiny_run(run)
    assert done == 1
    _assert_consistent(run, 1, gen)
    _epoch(end, gen, 2)
    _assert_consistent(run, 2, gen)


def test_pbgan_train_exits_2_on_a_full_disk(tmp_path, monkeypatch):
    run = tmp_path / "run"

    def full(self, checkpoint_number=None, **kwargs):
        (Path(self.directory) / f"ckpt-{checkpoint_number}_temp").mkdir(parents=True)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tf.train.CheckpointManager, "save", full)
    args = ["--arch", "dcgan32", "--width", "0.0625", "--batch-size", "8", "--epochs", "1"]
    result = _cli("train", "--setting", "A", *args, "--steps-per-epoch", "1", "--out", str(run))
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert "free space and rerun the same command" in result.output
    assert not list((run / CHECKPOINTS).glob("*_temp*"))


def _read_only_folder(tmp_path: Path) -> Path:
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o555)
        return folder
    if not os.path.isdir("/proc/sys") or os.access("/proc/sys", os.W_OK):
        pytest.skip("root writes any folder, and /proc/sys is not read-only here")
    return Path("/proc/sys")  # what root cannot write either


@pytest.mark.parametrize("case", ["file", "under a file", "read-only parent"])
def test_an_unusable_out_is_refused_before_training(tmp_path, case):
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    out = {
        "file": afile,
        "under a file": afile / "run",
        "read-only parent": _read_only_folder(tmp_path) / "run",
    }[case]
    fix = {"file": "is a file", "under a file": "lies under it", "read-only parent": "read-only"}
    result = _cli("train", "--setting", "A", "--arch", "dcgan32", "--out", str(out))
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert fix[case] in result.output and "--out" in result.output
    assert afile.read_text() == "keep me" and (out == afile or not out.exists())
    with pytest.raises(RunError, match=fix[case]):
        _train(out)  # the library refuses it too, before anything is written


_TRAIN_SCRIPT = """
import sys, warnings
from pbgan.train.run import TrainConfig, train
warnings.simplefilter("ignore")
config = TrainConfig(setting="F", architecture="dcgan32", width=1 / 16, batch_size=8, samples=4,
                     epochs=4, steps_per_epoch=2, ema=0.9)
train(config, sys.argv[1], verbose=0)
"""


@pytest.mark.slow
def test_training_killed_at_random_moments_finishes_consistent(tmp_path):
    import random
    import signal
    import subprocess
    import sys
    import time

    run = tmp_path / "run"
    command = [sys.executable, "-c", _TRAIN_SCRIPT, str(run)]
    rng = random.Random(0)
    kills = 0
    start = time.monotonic()
    while kills < 4 and time.monotonic() - start < 600:
        before = _checkpointed(run)
        log = (tmp_path / "stderr.txt").open("wb")
        proc = subprocess.Popen(command, stderr=log)
        # Wait for the next checkpoint, then kill at a random moment of the epochs after it.
        while proc.poll() is None and _checkpointed(run) == before:
            time.sleep(0.2)
        log.close()
        if proc.poll() is not None:
            assert proc.returncode == 0, (tmp_path / "stderr.txt").read_text()[-2000:]
            break  # finished before a kill
        time.sleep(rng.uniform(0.0, 3.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
    subprocess.run(command, check=True, stderr=subprocess.DEVNULL, timeout=900)
    assert kills >= 1 and _checkpointed(run) == 4
    from pbgan.models import build_generator

    args = dict(resolution=32, width=1 / 16, setting="F", scheme="xnor", name="generator_ema")
    gen = build_generator(**args)
    ckpt = tf.train.Checkpoint(generator_ema=gen)
    ckpt.restore(
        tf.train.latest_checkpoint(str(run / CHECKPOINTS))
    ).assert_existing_objects_matched()
    _assert_consistent(run, 4, gen)
