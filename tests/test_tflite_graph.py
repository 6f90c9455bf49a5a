"""Reading flatbuffers: operators, weight bytes, arena estimate, refusal of bad input.

``tiny_models()`` converts four tiny Keras models once per session; the other
``test_runtime_*`` modules import it from here.
"""

from __future__ import annotations

import copy
import os
import sys
from functools import cache
from pathlib import Path

from pbgan.tflite_graph import (
    FlatbufferError,
    format_summary,
    read_flatbuffer,
    read_flatbuffer_file,
    tflite_schema,
)

import flatbuffers
import pytest


@cache
def tiny_models() -> dict[str, bytes]:
    """``float``: a small deconvolution generator; ``binary``: one xnor QuantConv2D;
    ``float_conv``: the same conv in float (the binary one's float equivalent);
    ``binary_generator``: a generator of ``float``'s shapes with one xnor convolution."""
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
    x = tf.keras.layers.Dense(4 * 4 * 16)(z)
    x = tf.keras.layers.UpSampling2D(2)(tf.keras.layers.Reshape((4, 4, 16))(x))
    x = lq.layers.QuantConv2D(
        8,
        3,
        padding="same",
        pad_values=1.0,
        input_quantizer="ste_sign",
        kernel_quantizer="ste_sign",
        kernel_constraint="weight_clip",
        use_bias=False,
    )(x)
    x = tf.keras.layers.Conv2DTranspose(3, 4, strides=2, padding="same", activation="tanh")(x)
    binary_generator = tf.keras.Model(z, x)
    models = {"float": generator, "binary": binary, "float_conv": float_conv}
    models["binary_generator"] = binary_generator
    return {name: lce.convert_keras_model(model) for name, model in models.items()}


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
    # Dense 16x256 + the two 4x4 deconvolution kernels, float32; the biases are zero at
    # initialization and the converter drops them. int32: the reshape target and the two
    # deconvolutions' output shapes, 4 int32 each.
    assert info.float_weight_bytes == 4 * (16 * 256 + 4 * 4 * 16 * 8 + 4 * 4 * 8 * 3)
    assert info.constant_bytes_by_dtype == {"float32": 26112, "int32": 3 * 4 * 4}


def test_binary_weights_are_a_32nd_of_the_float_filter(infos):
    float_filter = 8 * 2 * 2 * 32 * 4  # float32 bytes of the same 2x2x32->8 kernel
    conv = [op for op in infos["float_conv"].ops if op.name == "CONV_2D"][0]
    assert conv.inputs[1].nbytes == float_filter
    assert infos["binary"].binary_weight_bytes * 32 == float_filter
    # Beside the packed filter, LCE keeps a float32 multiplier and bias per output channel.
    assert infos["binary"].float_weight_bytes == 2 * 8 * 4
    assert infos["binary"].constant_bytes_by_dtype == {"int32": 128, "float32": 64}


def test_inputs_outputs_and_shapes_come_from_the_main_subgraph(infos):
    (latent,) = infos["float"].inputs
    assert latent.shape == (1, 16) and latent.dtype == "float32" and not latent.is_constant
    (image,) = infos["float"].outputs
    assert image.shape == (1, 16, 16, 3) and image.nbytes == 16 * 16 * 3 * 4


def test_arena_estimate_of_one_op_is_its_input_plus_output(infos):
    info = infos["float_conv"]
    assert [op.name for op in info.ops] == ["CONV_2D"]
    assert info.activation_arena_bytes == 8 * 8 * 32 * 4 + 7 * 7 * 8 * 4


def test_arena_estimate_frees_a_tensor_after_its_last_reader(infos):
    # float: FULLY_CONNECTED, RESHAPE, TRANSPOSE_CONV, RELU, TRANSPOSE_CONV, TANH. Bytes alive
    # at each op: 64+1024, 1024+1024, 1024+2048, 2048+2048, 2048+3072, 3072+3072; the peak
    # is the tanh's input and output. Keeping every tensor alive would give 12352.
    assert infos["float"].activation_arena_bytes == 2 * 16 * 16 * 3 * 4
    # binary: the float input dies after LceQuantize; its bit-packed output is 32x smaller.
    assert infos["binary"].activation_arena_bytes == 8 * 8 * 32 * 4 + 8 * 8 * 1 * 4


def _with_tensors_sharing_buffers(data: bytes, indices: list[int]) -> bytes:
    """The model with one more tensor per index, each reading the same buffer as it."""
    model = tflite_schema().ModelT.InitFromPackedBuf(data, 0)
    tensors = model.subgraphs[0].tensors
    for i in indices:
        twin = copy.copy(tensors[i])
        twin.name = tensors[i].name + b"_twin"
        tensors.append(twin)
    builder = flatbuffers.Builder(len(data))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_constant_bytes_are_counted_once_per_buffer(infos):
    info = infos["binary"]
    (bconv,) = [op for op in info.ops if op.name == "LceBconv2d"]
    shared = [t.index for t in bconv.inputs if t.is_constant]  # packed filter, two floats
    data = _with_tensors_sharing_buffers(tiny_models()["binary"], shared)
    twinned = read_flatbuffer(data)
    assert len(twinned.tensors) == len(info.tensors) + 3
    assert sum(t.is_constant for t in twinned.tensors) == 6
    assert twinned.constant_bytes_by_dtype == {"int32": 128, "float32": 64}
    assert (twinned.binary_weight_bytes, twinned.float_weight_bytes) == (128, 64)
    assert twinned.size_bytes == len(data) and info.size_bytes == len(tiny_models()["binary"])


def test_summary_lists_operators_by_count_and_the_sizes(infos):
    lines = format_summary(infos["float"]).splitlines()
    assert lines[:9] == [
        "operator         count",
        "---------------  -----",
        "TRANSPOSE_CONV       2",
        "FULLY_CONNECTED      1",
        "RELU                 1",
        "RESHAPE              1",
        "TANH                 1",
        "total                6",
        "",
    ]
    kib = len(tiny_models()["float"]) / 1024
    rows = dict(line.split("  ", 1) for line in lines[9:])
    assert {k.strip(): v.strip() for k, v in rows.items()} == {
        "flatbuffer size": f"{kib:.1f} KiB",
        "binary weights (bit-packed)": "0 B",
        "float weights": "25.5 KiB",  # 26112 B
        "constants float32": "25.5 KiB",
        "constants int32": "48 B",
        "activation arena (estimate)": "6.0 KiB",  # 6144 B
        "input 0": f"{infos['float'].inputs[0].name}  float32[1, 16]",
        "output 0": f"{infos['float'].outputs[0].name}  float32[1, 16, 16, 3]",
    }


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


def test_a_garbage_file_raises_a_one_line_value_error_naming_the_file(tmp_path):
    # The CLIs turn ValueError into a one-line usage error, so this must be one too.
    path = tmp_path / "notes.tflite"
    path.write_bytes(b"not a model at all, just text")
    with pytest.raises(ValueError) as err:
        read_flatbuffer_file(path)
    assert type(err.value) is FlatbufferError
    assert str(err.value) == (
        f"{path}: not a TFLite flatbuffer: file identifier is b'a mo', expected b'TFL3'; "
        "pass a .tflite file written by `pbgan convert`"
    )
