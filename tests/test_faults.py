"""Nothing lost, nothing silent: bad values, concurrent runs, resumes and overwrites."""

from __future__ import annotations

import warnings

from pbgan.cli import main
from pbgan.runs import RunError
from pbgan.settings import NegativeDoRWarning
from pbgan.train.run import TrainConfig, train

import pytest
from click.testing import CliRunner
from conftest import TINY_RUN


def _train(run_dir, extra_callbacks=None, **overrides):
    options = {**TINY_RUN, "setting": "F", **overrides}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NegativeDoRWarning)
        return train(TrainConfig(**options), run_dir, verbose=0, extra_callbacks=extra_callbacks)


def _cli(*args: str):
    return CliRunner().invoke(main, list(args))


def test_train_refuses_empty_data_and_writes_nothing(tmp_path):
    run = tmp_path / "run"
    result = _cli("train", "--data", "", "--out", str(run))
    assert result.exit_code == 2, result.output
    assert "--data" in result.output and "synthetic" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not run.exists()


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["train", "--z-dim", "0", "--out", "{tmp}/run"], "--z-dim"),
        (["sample", "{tmp}", "-n", "0"], "-n"),
        (["analyze", "dcgan32", "--width", "-1"], "--width"),
        (["analyze", "dcgan32", "--z-dim", "0"], "--z-dim"),
    ],
)
def test_nonsense_counts_and_sizes_are_refused(tmp_path, args, flag):
    result = _cli(*[a.format(tmp=tmp_path) for a in args])
    assert result.exit_code == 2, result.output
    assert flag in result.output
    assert not (tmp_path / "run").exists()


def test_resume_refusal_names_the_real_flag(trained_run):
    run_dir, _ = trained_run("F")
    with pytest.raises(RunError, match="trained with --arch dcgan32, not dcgan64: pass --arch "):
        _train(run_dir, architecture="dcgan64")


@pytest.mark.parametrize("tol", ["nan", "inf", "-1"])
def test_convert_refuses_a_parity_tolerance_that_disables_the_check(tmp_path, tol):
    out = tmp_path / "gen.tflite"
    args = ["convert", "--model", "dcgan32", "--init", "random", "--width", "0.0625"]
    result = _cli(*args, "--setting", "A", "--parity-tol", tol, "-o", str(out))
    assert result.exit_code == 2, result.output
    assert "--parity-tol" in result.output and len(result.output.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("timeout", ["-5", "0", "nan"])
def test_bench_refuses_a_timeout_that_is_not_positive(tmp_path, timeout):
    result = _cli("bench", str(tmp_path / "gen.tflite"), "--timeout", timeout)
    assert result.exit_code == 2, result.output
    assert "--timeout" in result.output


def test_convert_generator_refuses_a_nan_parity_tolerance():
    from pbgan.convert import ConversionError, convert_generator
    from pbgan.models import build_generator

    gen = build_generator(resolution=32, width=1 / 16, setting="A")
    with pytest.raises(ConversionError, match="finite value >= 0"):
        convert_generator(gen, setting="A", parity_tolerance=float("nan"))


def test_a_second_process_cannot_train_a_run_being_trained(tmp_path):
    import fcntl
    import os

    from pbgan.runs import LOCK, lock_run

    run = tmp_path / "run"
    with lock_run(run):
        # What a second process sees: its own open file description on the lock file.
        with open(run / LOCK, "rb") as other:
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(
            RunError, match=rf"being trained by another process \(pid {os.getpid()}\)"
        ):
            _train(run)
    assert not (run / "config.json").exists() and not (run / "checkpoints").exists()
    assert _train(run).epochs_done == 1  # released: the same command now trains


def test_checkpoints_without_config_are_refused(tmp_path, trained_run):
    import shutil

    source, _ = trained_run("F")
    run = tmp_path / "run"
    shutil.copytree(source, run)
    (run / "config.json").unlink()
    with pytest.raises(RunError, match="checkpoints but no config.json"):
        _train(run)
    assert not (run / "config.json").exists()


def test_a_refused_start_writes_nothing(tmp_path, monkeypatch):
    from PIL import Image

    monkeypatch.delenv("TF_CONFIG", raising=False)
    run = tmp_path / "run"
    with pytest.raises(RunError, match="TF_CONFIG"):
        _train(run, strategy="multiworker")
    assert not run.exists()
    few = tmp_path / "few"
    few.mkdir()
    Image.new("RGB", (40, 40)).save(few / "0.png")
    with pytest.raises(RunError, match="fewer than one batch"):
        _train(run, data=str(few), steps_per_epoch=None)
    with pytest.raises(ValueError, match="not found"):
        _train(run, data=str(tmp_path / "missing"))
    assert not run.exists()
    assert _train(run).epochs_done == 1  # the corrected command is not refused


def _hyperparameters_seen():
    import tensorflow as tf

    class Seen(tf.keras.callbacks.Callback):
        values: dict = {}

        def on_train_begin(self, logs=None):
            for name in ("g_optimizer", "d_optimizer"):
                opt = getattr(self.model, name)
                values = (float(opt.learning_rate), float(opt.beta_1))
                self.values[name] = pytest.approx(values, rel=1e-6)

    return Seen()


def test_resuming_honours_lr_and_beta1_and_records_the_change(tmp_path, trained_run):
    import json
    import shutil

    source, _ = trained_run("F")
    run = tmp_path / "run"
    shutil.copytree(source, run)
    seen = _hyperparameters_seen()
    _train(run, epochs=2, learning_rate=1e-3, beta_1=0.9, extra_callbacks=[seen])
    assert seen.values == {"g_optimizer": (1e-3, 0.9), "d_optimizer": (1e-3, 0.9)}
    config = json.loads((run / "config.json").read_text())
    assert (config["learning_rate"], config["beta_1"]) == (2e-4, 0.5)  # what the run started with
    changes = [
        {"epoch": 2, "key": "learning_rate", "old": 2e-4, "new": 1e-3},
        {"epoch": 2, "key": "beta_1", "old": 0.5, "new": 0.9},
    ]
    assert config["changes"] == changes
    # The same values again are no change; a new one is recorded against the one in force.
    _train(run, epochs=3, learning_rate=1e-3, beta_1=0.9)
    _train(run, epochs=4, learning_rate=5e-4, beta_1=0.9, extra_callbacks=[seen])
    assert seen.values["g_optimizer"] == (5e-4, 0.9)
    config = json.loads((run / "config.json").read_text())
    assert config["learning_rate"] == 2e-4
    assert config["changes"] == [
        *changes,
        {"epoch": 4, "key": "learning_rate", "old": 1e-3, "new": 5e-4},
    ]


def test_resuming_with_other_data_or_batch_size_is_refused(tmp_path, trained_run):
    run, _ = trained_run("F")
    with pytest.raises(RunError, match="trained with --batch-size 8, not 4: pass --batch-size 8"):
        _train(run, batch_size=4)
    with pytest.raises(
        RunError, match="trained with --data synthetic, not .*: pass --data synthetic"
    ):
        _train(run, data=str(tmp_path))


def test_convert_refuses_to_replace_a_read_only_output(tmp_path):
    out = tmp_path / "gen.tflite"
    out.write_bytes(b"keep me")
    out.chmod(0o444)
    args = ["convert", "--model", "dcgan32", "--init", "random", "--width", "0.0625"]
    result = _cli(*args, "--setting", "A", "-o", str(out))
    assert result.exit_code == 2, result.output
    assert "read-only" in result.output and "chmod u+w" in result.output
    assert out.read_bytes() == b"keep me"


def test_atomic_writes_honour_the_umask(tmp_path):
    import os

    from pbgan.io import atomic_write_bytes, atomic_write_json
    from pbgan.runs import save_model_atomic

    import tensorflow as tf

    old = os.umask(0o027)
    try:
        atomic_write_bytes(tmp_path / "a.tflite", b"x")
        atomic_write_json(tmp_path / "a.json", {})
        model = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(1)])
        save_model_atomic(model, tmp_path / "a.keras")
    finally:
        os.umask(old)
    for name in ("a.tflite", "a.json", "a.keras"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o640, name


def test_bench_times_only_generators_of_one_shape(tmp_path):
    import larq_compute_engine as lce
    import tensorflow as tf
    from test_tflite_graph import write_tiny_models

    paths = write_tiny_models(tmp_path)
    z = tf.keras.Input((16,))
    x = tf.keras.layers.Reshape((4, 4, 16))(tf.keras.layers.Dense(4 * 4 * 16)(z))
    x = tf.keras.layers.Conv2DTranspose(3, 4, strides=2, padding="same", activation="tanh")(x)
    smaller = tmp_path / "smaller.tflite"
    smaller.write_bytes(lce.convert_keras_model(tf.keras.Model(z, x)))
    dense = tmp_path / "dense.tflite"
    dense.write_bytes(lce.convert_keras_model(tf.keras.Sequential([z, tf.keras.layers.Dense(3)])))
    cases = [
        (
            [paths["binary"], "--baseline", paths["float_conv"]],
            "float_conv.tflite is not a generator",
        ),
        ([dense, "--baseline", paths["float"]], "dense.tflite is not a generator"),
        ([paths["binary_generator"], "--baseline", smaller], "compare generators of the same"),
        ([paths["float"], smaller], "maps (1, 16) to (1, 8, 8, 3) but"),
    ]
    for args, message in cases:
        result = _cli("bench", *map(str, args), "--runs", "1", "--no-memory")
        assert result.exit_code == 2, result.output
        assert message in result.output
        assert len(result.output.strip().splitlines()) == 1, result.output
