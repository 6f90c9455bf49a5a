"""The levers for a deployable binary generator: float initialisation, distillation,
weight averaging and real-valued shortcuts (pbgan.transfer, pbgan.train, pbgan.layers)."""

import math
import warnings

from pbgan.analysis import load_keras_model
from pbgan.convert import convert_generator
from pbgan.layers import PhaseConv2DTranspose, phase_kernel_from_transpose
from pbgan.models import build_generator
from pbgan.runs import read_history
from pbgan.settings import NegativeDoRWarning
from pbgan.train.run import RunError, TrainConfig, train
from pbgan.transfer import TransferError, copy_float_weights

import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY, TINY_RUN

R, W = 32, TINY["width"]


def _gen(setting, scheme="xnor", **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NegativeDoRWarning)
        return build_generator(resolution=R, width=W, setting=setting, scheme=scheme, **kwargs)


@pytest.mark.parametrize("scheme", ["xnor", "bwn"])
def test_float_weights_become_the_binary_generators_latent_weights(scheme):
    teacher, student = _gen("A"), _gen("auto", scheme)
    copied = copy_float_weights(teacher, student)
    assert "deconv1" in copied and "bn0" in copied and "projection" in copied
    for layer in student.layers:
        source = teacher.get_layer(layer.name)
        if isinstance(layer, PhaseConv2DTranspose):
            expected = phase_kernel_from_transpose(source.kernel.numpy())
            np.testing.assert_array_equal(layer.conv.kernel.numpy(), expected)
        else:
            for got, want in zip(layer.get_weights(), source.get_weights(), strict=True):
                np.testing.assert_array_equal(got, want)


def test_a_teacher_of_another_width_is_refused():
    with pytest.raises(TransferError, match="same"):
        copy_float_weights(build_generator(resolution=R, width=2 * W), _gen("auto"))


def test_shortcut_adds_the_folded_upsampled_input_to_the_binary_output():
    x = tf.random.normal((2, 4, 4, 8))
    plain = PhaseConv2DTranspose(4, binary=True, scheme="xnor", use_scale=True)
    short = PhaseConv2DTranspose(4, binary=True, scheme="xnor", use_scale=True, shortcut=True)
    plain(x), short(x)
    short.set_weights(plain.get_weights())
    folded = x.numpy().reshape(2, 4, 4, 4, 2).mean(-1)
    expected = plain(x).numpy() + folded.repeat(2, axis=1).repeat(2, axis=2)
    np.testing.assert_allclose(short(x).numpy(), expected, atol=1e-5)


def test_shortcut_needs_divisible_channels_and_a_scale():
    with pytest.raises(ValueError, match="use_scale"):
        PhaseConv2DTranspose(4, binary=True, shortcut=True)
    with pytest.raises(ValueError, match="multiple"):
        PhaseConv2DTranspose(3, binary=True, use_scale=True, shortcut=True)(tf.zeros((1, 2, 2, 8)))


def test_a_generator_with_shortcuts_converts_with_a_bconv_per_binary_layer():
    gen = _gen("auto", shortcut=True)
    result = convert_generator(gen, setting="auto")
    binary = sum(r["binarized"] for r in result.manifest["layers"])
    assert binary == 3 and result.manifest["ops"]["LceBconv2d"] == 4 + 4 + 4  # per position/phase
    assert result.manifest["ops"]["RESIZE_NEAREST_NEIGHBOR"] == 2  # deconv1, deconv2
    assert result.manifest["parity_max_abs_err"] < 1e-3


def _run(tmp_path, name, **levers):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NegativeDoRWarning)
        config = TrainConfig(setting="auto", **TINY_RUN, **levers)
        return train(config, tmp_path / name, verbose=0)


def test_distillation_and_averaging_train_and_export_the_average(tmp_path, trained_run):
    teacher, _ = trained_run("A")
    result = _run(tmp_path, "s", init_from=str(teacher), teacher=str(teacher), ema=0.5)
    assert result.epochs_done == 1
    rows = read_history(tmp_path / "s" / "history.csv")
    assert math.isfinite(rows[-1]["distill"]) and rows[-1]["distill"] > 0
    # generator.keras is the averaged generator, not the live one.
    live, avg = _gen("auto"), _gen("auto")
    ckpt = tf.train.Checkpoint(generator=live, generator_ema=avg)
    ckpt.restore(tf.train.latest_checkpoint(tmp_path / "s" / "checkpoints")).expect_partial()
    exported = load_keras_model(tmp_path / "s" / "generator.keras")
    z = np.random.default_rng(0).normal(size=(4, 100)).astype("float32")
    np.testing.assert_allclose(exported(z).numpy(), avg(z).numpy(), atol=1e-6)
    assert np.abs(exported(z).numpy() - live(z).numpy()).max() > 1e-4


def test_without_a_teacher_distill_is_not_measured(trained_run):
    path, _ = trained_run("A")
    assert math.isnan(read_history(path / "history.csv")[-1]["distill"])


def test_a_binary_teacher_and_bad_lever_values_are_refused(tmp_path, trained_run):
    binary, _ = trained_run("auto")
    with pytest.raises(RunError, match="binarized generator"):
        _run(tmp_path, "t", teacher=str(binary))
    with pytest.raises(RunError, match="--ema"):
        _run(tmp_path, "e", ema=1.0)
    with pytest.raises(RunError, match="--distill-weight"):
        _run(tmp_path, "d", distill_weight=float("nan"))


def test_a_plan_binarizing_negative_dor_says_so_once_when_training_starts(capsys):
    from pbgan.train.run import _warn_negative_dor

    _warn_negative_dor(TrainConfig(setting="F", architecture="dcgan64", width=0.25))
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert "deconv3" in lines[0] and "-192" in lines[0] and "--allow-negative-dor" in lines[0]
    _warn_negative_dor(TrainConfig(setting="auto", architecture="dcgan64", width=0.25))
    assert capsys.readouterr().err == ""
