import csv
import json
import math
import subprocess
import sys
import textwrap
import warnings

from pbgan.cli import main
from pbgan.runs import RunError, run_generator
from pbgan.settings import NegativeDoRWarning
from pbgan.train.run import TrainConfig, train

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner
from conftest import TINY, every_setting_and_scheme

ARTEFACTS = [
    "config.json",
    "generator.keras",
    "history.csv",
    "loss_curves.png",
    "samples/epoch_001.png",
]


def _train(run_dir, **overrides):
    options = {**TINY, "epochs": 1, "steps_per_epoch": 2, **overrides}
    extra = options.pop("extra_callbacks", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NegativeDoRWarning)
        return train(TrainConfig(**options), run_dir, verbose=0, extra_callbacks=extra)


def _history(run_dir):
    with open(run_dir / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


# What a training step runs differs by layer kind, not by which layers a setting picks
# (test_models builds every setting and scheme; test_convert checks every plan's graph):
# A trains float layers only; G every deconvolution binary, the output layer's bias and
# scale included, in each scheme; auto the binary projection and the binary-weight
# discriminator in each scheme. The other pairs repeat those paths: `make test-all`.
FAST_PAIRS = {("A", "xnor"), ("G", "xnor"), ("G", "bwn"), ("auto", "xnor"), ("auto", "bwn")}


@pytest.mark.parametrize("setting,scheme", every_setting_and_scheme(fast=FAST_PAIRS))
def test_every_setting_and_scheme_trains_and_writes_its_artefacts(setting, scheme, trained_run):
    run_dir, result = trained_run(setting, scheme)
    assert result.stopped is None and result.epochs_done == 1
    for name in ARTEFACTS:
        assert (run_dir / name).exists(), name
    assert (run_dir / "logs").is_dir() and any((run_dir / "checkpoints").iterdir())
    config = json.loads((run_dir / "config.json").read_text())
    assert (config["setting"], config["scheme"], config["architecture"]) == (
        setting,
        scheme,
        "dcgan32",
    )
    assert {"tensorflow", "larq"} <= set(config["versions"])
    (row,) = _history(run_dir)
    assert all(math.isfinite(float(row[k])) for k in ("d_loss", "g_loss"))


def _iterations(run_dir):
    """Optimizer step counters stored in the latest checkpoint."""
    reader = tf.train.load_checkpoint(str(run_dir / "checkpoints"))
    names = [n for n in reader.get_variable_to_shape_map() if "iter" in n and "optimizer" in n]
    return sorted(int(reader.get_tensor(n)) for n in names)


class _Interrupt(tf.keras.callbacks.Callback):
    """Kill training in the middle of an epoch, as Ctrl-C would."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.at = (epoch, batch)
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise KeyboardInterrupt


def test_an_interrupted_run_resumes_its_optimizer_state_after_its_last_finished_epoch(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path, epochs=3, steps_per_epoch=2, extra_callbacks=[_Interrupt(1, 0)])
    (first,) = _history(tmp_path)
    assert int(first["epoch"]) == 1
    assert _iterations(tmp_path) == [2, 2]
    # Resumed with 3 steps per epoch: 2 restored + 2 epochs x 3 = 8 optimizer steps.
    # Restarting from scratch would count 9; restoring weights but not optimizers, 6.
    result = _train(tmp_path, epochs=3, steps_per_epoch=3)
    assert result.epochs_done == 3
    history = _history(tmp_path)
    assert [int(r["epoch"]) for r in history] == [1, 2, 3]
    assert history[0] == first  # epoch 1 was not trained again
    assert _iterations(tmp_path) == [8, 8]
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == [
        "epoch_001.png",
        "epoch_002.png",
        "epoch_003.png",
    ]
    # Asking again for 3 epochs has nothing left to do.
    assert _train(tmp_path, epochs=3, steps_per_epoch=3).epochs_done == 3
    assert _iterations(tmp_path) == [8, 8] and _history(tmp_path) == history


class _Poison(tf.keras.callbacks.Callback):
    """Make the discriminator's logit NaN from epoch 2 on."""

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            kernel = self.model.discriminator.get_layer("logit").kernel
            kernel.assign(tf.fill(kernel.shape, float("nan")))


def test_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    result = _train(tmp_path, epochs=3, extra_callbacks=[_Poison()])
    assert result.stopped is not None and "d_loss" in result.stopped and "epoch 2" in result.stopped
    assert result.epochs_done == 1
    assert [int(r["epoch"]) for r in _history(tmp_path)] == [1]
    reader = tf.train.load_checkpoint(str(tmp_path / "checkpoints"))
    for name in reader.get_variable_to_shape_map():
        value = reader.get_tensor(name)
        if np.issubdtype(np.asarray(value).dtype, np.floating):
            assert np.all(np.isfinite(value)), name


def test_resuming_with_another_model_is_refused(trained_run):
    run_dir, _ = trained_run("auto", "xnor")
    with pytest.raises(RunError, match="trained with --setting auto, not F: pass --setting auto"):
        _train(run_dir, setting="F")
    with pytest.raises(RunError, match="--scheme xnor, not bwn"):
        _train(run_dir, setting="auto", scheme="bwn")
    with pytest.raises(RunError, match="--width 0.0625, not 0.125"):
        _train(run_dir, setting="auto", width=1 / 8)


def test_run_generator_reads_runs_and_passes_other_paths_through(tmp_path, trained_run):
    unfinished = tmp_path / "run"
    unfinished.mkdir()
    with pytest.raises(RunError, match="no generator.keras yet"):
        run_generator(unfinished)
    run, _ = trained_run("auto", "xnor")
    path, config = run_generator(run)
    assert path == run / "generator.keras" and config["setting"] == "auto"
    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / "saved_model.pb").write_bytes(b"")
    for other in (saved, tmp_path / "gen.keras", tmp_path / "gen.tflite"):
        assert run_generator(other) == (other, {})


def test_training_on_a_folder_of_images(tmp_path):
    from PIL import Image

    data = tmp_path / "faces"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(20):
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(data / f"{i}.png")
    result = _train(tmp_path / "run", data=str(data), steps_per_epoch=None)
    assert result.epochs_done == 1
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["steps_per_epoch"] == 20 // TINY["batch_size"]


def test_cli_train_sample_and_export(tmp_path):
    run = tmp_path / "run"
    args = ["train", "--arch", "dcgan32", "--width", "0.0625", "--batch-size", "8"]
    args += ["--epochs", "1", "--steps-per-epoch", "2", "--setting", "F", "--out", str(run)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "1 epochs done" in result.output
    grid = tmp_path / "grid.png"
    result = CliRunner().invoke(main, ["sample", str(run), "-n", "9", "-o", str(grid)])
    assert result.exit_code == 0, result.output
    from PIL import Image

    assert Image.open(grid).size == (3 * 34 + 2, 3 * 34 + 2)
    exported = tmp_path / "gen.keras"
    result = CliRunner().invoke(main, ["export", str(run), "-o", str(exported)])
    assert result.exit_code == 0 and exported.exists()
    result = CliRunner().invoke(main, args[:-2] + ["--setting", "G", "--out", str(run)])
    assert result.exit_code == 2 and "--setting F" in result.output


MIRRORED = textwrap.dedent(
    """
    import pbgan, sys, warnings
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from pbgan.train.run import TrainConfig, train
    warnings.simplefilter("ignore")
    config = TrainConfig(architecture="dcgan32", width=1 / 16, batch_size=8, samples=4,
                         epochs=1, steps_per_epoch=2, strategy="mirrored", setting="H")
    result = train(config, sys.argv[1], verbose=0)
    assert result.epochs_done == 1 and result.stopped is None, result
    print("replicas", result.replicas)
    """
)


def test_mirrored_strategy_trains_on_two_logical_cpus(tmp_path):
    out = subprocess.run(
        [sys.executable, "-c", MIRRORED, str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "replicas 2" in out.stdout
    assert json.loads((tmp_path / "config.json").read_text())["replicas"] == 2
    assert (tmp_path / "generator.keras").exists()
