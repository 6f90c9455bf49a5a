"""Reading flatbuffers: operators, weight bytes, arena estimate, refusal of bad input.

``tiny_models()`` converts three tiny Keras models once per session; the other
``test_runtime_*`` modules import it from here.
"""

from __future__ import annotations

import os
import sys
from functools import cache
from pathlib import Path

from pbgan.tflite_graph import (
    FlatbufferError,
    format_summary,
    read_flatbuffer,
    read_flatbuffer_file,
)

import pytest


@cache
def tiny_models() -> dict[str, bytes]:
    """``float``: a small deconvolution generator; ``binary``: one xnor QuantConv2D;
    ``float_conv``: the same conv in float (the binary one's float equivalent)."""
    import larq as lq
    import larq_compute_engine as lce
    import tensorflow as tf

    z = tf.keras.Input((16,))
    x = tf.keras.layers.Dense(4 * 4 * 16)(z)
    x = tf.keras.layers.Reshape((4, 4, 16))(x)
    x = tf.keras.layers.Conv2DTranspose(8, 4, strides=2, padding="same", activation="relu")(x)
    x = tf.keras.layers.Conv2DTranspose(3, 4, strides=2, padding="same", activation="tanh")(x)
    generator = tf.keras.Model(z, x)

    image = tf.keras.Input((8, 8, 32))
    binary = tf.keras.Model(
        image,
        lq.layers.QuantConv2D(
            8,
            2,
            input_quantizer="ste_sign",
            kernel_quantizer="ste_sign",
            kernel_constraint="weight_clip",
            use_bias=False,
        )(image),
    )
    float_conv = tf.keras.Model(image, tf.keras.layers.Conv2D(8, 2, use_bias=False)(image))
    return {
        name: lce.convert_keras_model(model)
        for name, model in (("float", generator), ("binary", binary), ("float_conv", float_conv))
    }


def write_tiny_models(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, data in tiny_models().items():
        paths[name] = folder / f"{name}.tflite"
        paths[name].write_bytes(data)
    return paths


@pytest.fixture(scope="module")
def infos():
    return {name: read_flatbuffer(data) for name, data in tiny_models().items()}


def test_binary_model_holds_an_lce_bconv_with_int32_packed_filter(infos):
    info = infos["binary"]
    assert info.op_counts["LceBconv2d"] == 1
    assert info.has_lce_ops
    (bconv,) = [op for op in info.ops if op.name == "LceBconv2d"]
    assert bconv.inputs[1].is_constant and bconv.inputs[1].dtype == "int32"


def test_float_generator_keeps_transpose_convs_in_execution_order(infos):
    info = infos["float"]
    assert info.op_counts["TRANSPOSE_CONV"] == 2
    assert not info.has_lce_ops
    names = [op.name for op in info.ops]
    assert names.index("FULLY_CONNECTED") < names.index("TRANSPOSE_CONV")
    assert [op.index for op in info.ops] == list(range(len(info.ops)))
    assert info.binary_weight_bytes == 0
    # Dense 16x256 + 4x4 deconvolution kernels (+ biases) are all float.
    assert info.float_weight_bytes >= 4 * (16 * 256 + 4 * 4 * 16 * 8 + 4 * 4 * 8 * 3)


def test_binary_weights_are_a_32nd_of_the_float_filter(infos):
    float_filter = 8 * 2 * 2 * 32 * 4  # float32 bytes of the same 2x2x32->8 kernel
    conv = [op for op in infos["float_conv"].ops if op.name == "CONV_2D"][0]
    assert conv.inputs[1].nbytes == float_filter
    assert infos["binary"].binary_weight_bytes * 32 == float_filter


def test_inputs_outputs_and_shapes_come_from_the_main_subgraph(infos):
    (latent,) = infos["float"].inputs
    assert latent.shape == (1, 16) and latent.dtype == "float32" and not latent.is_constant
    (image,) = infos["float"].outputs
    assert image.shape == (1, 16, 16, 3) and image.nbytes == 16 * 16 * 3 * 4


def test_arena_estimate_of_one_op_is_its_input_plus_output(infos):
    info = infos["float_conv"]
    assert [op.name for op in info.ops] == ["CONV_2D"]
    assert info.activation_arena_bytes == 8 * 8 * 32 * 4 + 7 * 7 * 8 * 4


def test_constant_bytes_are_counted_once_per_buffer(infos):
    info = infos["binary"]
    assert sum(info.constant_bytes_by_dtype.values()) == (
        info.binary_weight_bytes
        + info.float_weight_bytes
        + sum(n for d, n in info.constant_bytes_by_dtype.items() if d not in ("float32", "int32"))
    )
    assert info.size_bytes == len(tiny_models()["binary"])


def test_summary_lists_operators_and_sizes(infos):
    text = format_summary(infos["binary"])
    assert "LceBconv2d" in text and "binary weights" in text and "activation arena" in text


def test_reading_does_not_import_tensorflow(tmp_path):
    path = write_tiny_models(tmp_path)["binary"]
    code = (
        "import sys; from pbgan.tflite_graph import read_flatbuffer_file; "
        f"read_flatbuffer_file({str(path)!r}); assert 'tensorflow' not in sys.modules"
    )
    assert os.spawnv(os.P_WAIT, sys.executable, [sys.executable, "-c", code]) == 0


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not a model at all, just text",
        os.urandom(4096),
        b"\x00\x00\x00\x00TFL3" + os.urandom(512),
    ],
    ids=["empty", "text", "random", "random-with-identifier"],
)
def test_garbage_bytes_raise_a_one_line_flatbuffer_error(data):
    with pytest.raises(FlatbufferError, match="not a TFLite flatbuffer: .*pbgan convert") as err:
        read_flatbuffer(data)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_models_raise_flatbuffer_error(keep):
    data = tiny_models()["float"]
    with pytest.raises(FlatbufferError, match="not a TFLite flatbuffer"):
        read_flatbuffer(data[: int(len(data) * keep)])


def test_missing_file_names_the_fix(tmp_path):
    with pytest.raises(FlatbufferError, match="does not exist; pass a .tflite file"):
        read_flatbuffer_file(tmp_path / "nope.tflite")


def test_flatbuffer_error_is_a_value_error():
    assert issubclass(FlatbufferError, ValueError)
