import warnings

from pbgan.analysis import analyze
from pbgan.models import build_discriminator, build_generator, generator_dors
from pbgan.settings import ARCHITECTURES, SETTINGS, NegativeDoRWarning, get_setting

import numpy as np
import pytest
import tensorflow as tf

# Width 1/8 (DoR 99, 112, 0, -224, -1008) costs 1/64 of the full model; auto's plan
# follows the DoR of the model it is given, so it binarizes one layer fewer here.
WIDTH = 0.125


def _generator(setting, scheme, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NegativeDoRWarning)
        return build_generator(width=WIDTH, setting=setting, scheme=scheme, **kwargs)


@pytest.mark.parametrize("scheme", ["bwn", "xnor"])
@pytest.mark.parametrize("setting", list(SETTINGS))
def test_every_setting_and_scheme_builds_runs_and_reloads(setting, scheme, tmp_path):
    gen = _generator(setting, scheme)
    z = np.random.default_rng(0).normal(size=(4, 100)).astype("float32")
    out = gen(z, training=False).numpy()
    assert out.shape == (4, 64, 64, 3)
    assert np.all(np.isfinite(out)) and np.abs(out).max() <= 1.0

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NegativeDoRWarning)
        plan = get_setting(setting).plan(generator_dors(64, WIDTH))
    assert [r.binarized for r in analyze(gen)] == plan

    path = tmp_path / "gen.keras"
    gen.save(path)
    reloaded = tf.keras.models.load_model(path, compile=False)
    np.testing.assert_array_equal(reloaded(z, training=False).numpy(), out)


@pytest.mark.parametrize("resolution", [32, 64, 128])
def test_generator_and_discriminator_cover_each_resolution(resolution):
    gen = _generator("F", "xnor", resolution=resolution)
    disc = build_discriminator(resolution=resolution, width=WIDTH, binary=True)
    images = gen(np.zeros((2, 100), "float32"), training=False)
    assert images.shape == (2, resolution, resolution, 3)
    assert disc(images).shape == (2, 1)


def test_xnor_binary_layers_take_batch_norm_output_not_relu():
    gen = _generator("F", "xnor")
    for i in (1, 2, 3):
        assert gen.get_layer(f"deconv{i}").input.node.layer.name == f"bn{i - 1}"
    assert gen.get_layer("deconv4").input.node.layer.name == "relu3"


def test_bwn_keeps_float_activations_everywhere():
    gen = _generator("F", "bwn")
    for i in range(1, 5):
        assert gen.get_layer(f"deconv{i}").input.node.layer.name == f"relu{i - 1}"


def test_binary_discriminator_binarizes_inner_convolutions_only():
    disc = build_discriminator(width=WIDTH, binary=True)
    quantized = [x.name for x in disc.layers if getattr(x, "kernel_quantizer", None) is not None]
    assert quantized == ["conv2", "conv3", "conv4"]


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_every_registered_architecture_builds_at_its_resolution(name):
    gen = build_generator(resolution=ARCHITECTURES[name], width=WIDTH)
    assert gen.output_shape == (None, ARCHITECTURES[name], ARCHITECTURES[name], 3)
