"""``pbgan binarize``: the plan, the transform's exactness, and the analyze table."""

from __future__ import annotations

import json

from pbgan.analysis import analyze, format_table
from pbgan.byog.binarize import BinarizeError, binarize_model
from pbgan.cli import main
from pbgan.layers import PhaseConv2DTranspose, Projection

import numpy as np
import pytest
import tensorflow as tf
from byog_families import FAMILIES, output_padding_3x3, pytorch_dcgan, tf_tutorial
from click.testing import CliRunner


def _latents(model: tf.keras.Model, n: int = 8) -> np.ndarray:
    return np.random.default_rng(1).normal(size=(n, model.input_shape[-1])).astype("float32")


@pytest.mark.parametrize("family", FAMILIES)
def test_binarization_off_reproduces_the_teacher(family):
    teacher = FAMILIES[family]()
    student, report = binarize_model(teacher, binary=False)
    assert report.replaced  # the rewrite happened, only with float phase layers
    z = _latents(teacher)
    np.testing.assert_allclose(student(z), teacher(z), atol=1e-5)
    assert report.linearized == []  # no ReLU is touched when nothing is binary


@pytest.mark.parametrize("family", FAMILIES)
def test_auto_replaces_exactly_the_layers_with_nonnegative_dor(family):
    teacher = FAMILIES[family]()
    student, report = binarize_model(teacher)
    rows = analyze(teacher)
    assert [p.planned for p in report.layers] == [r.dor >= 0 for r in rows]
    for plan in report.layers:
        new = student.get_layer(plan.row.layer)
        binary = isinstance(new, PhaseConv2DTranspose | Projection) and new.binary
        assert binary == plan.replaced
        assert plan.replaced <= plan.planned
    # every layer the plan leaves alone keeps its class and weights
    for layer in teacher.layers:
        if layer.name in report.replaced or layer.name in report.linearized:
            continue
        new = student.get_layer(layer.name)
        assert type(new) is type(layer)
        for a, b in zip(new.get_weights(), layer.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    assert [r.binarized for r in analyze(student)] == [p.replaced for p in report.layers]


def test_phase_groups_are_counted_per_layer():
    _, report = binarize_model(tf_tutorial())
    convs = {p.row.layer: p.phase_convs for p in report.layers if p.replaced}
    # a Dense projection is one 1x1 conv, 5x5 s1 one 5x5 phase, 5x5 s2 four unequal phases
    assert convs == {"dense": 1, "conv2d_transpose": 1, "conv2d_transpose_1": 4}
    assert report.expected_bconvs == 6
    _, bwn = binarize_model(tf_tutorial(), scheme="bwn")
    assert bwn.expected_bconvs == 0  # bwn deploys in float


def test_a_dense_with_a_bias_stays_float_and_the_plan_says_why():
    teacher = output_padding_3x3()
    student, report = binarize_model(teacher)
    dense = report.layers[0]
    assert dense.planned and not dense.replaced and "bias" in dense.note
    assert type(student.get_layer(dense.row.layer)) is tf.keras.layers.Dense


def test_relu_before_an_xnor_layer_is_made_linear_and_leaky_relu_is_kept():
    _, report = binarize_model(pytorch_dcgan())
    assert report.linearized == ["re_lu"]  # re_lu_1 feeds the float output layer
    _, report = binarize_model(tf_tutorial())
    assert report.linearized == []
    _, report = binarize_model(pytorch_dcgan(), scheme="bwn")  # float inputs: ReLU stays
    assert report.linearized == []


def test_layers_binarizes_exactly_the_named_ones_even_with_negative_dor():
    teacher = pytorch_dcgan()
    student, report = binarize_model(teacher, layers=[teacher.layers[-2].name])
    assert report.replaced == [teacher.layers[-2].name]
    new = student.get_layer(teacher.layers[-2].name)
    assert new.binary and new.use_scale  # no batch norm follows the output layer


def test_a_refused_layer_stays_float_with_phase_plans_reason():
    z = tf.keras.Input((16,))
    x = tf.keras.layers.Reshape((1, 1, 16))(z)
    x = tf.keras.layers.Conv2DTranspose(32, 4, padding="valid", use_bias=False)(x)
    x = tf.keras.layers.Conv2DTranspose(3, 3, dilation_rate=2, padding="same", name="dilated")(x)
    student, report = binarize_model(tf.keras.Model(z, x))
    dilated = report.layers[-1]
    assert dilated.planned and not dilated.replaced and "dilation_rate" in dilated.note
    assert type(student.get_layer("dilated")) is tf.keras.layers.Conv2DTranspose


def test_a_model_with_binary_layers_is_refused():
    student, _ = binarize_model(tf_tutorial())
    with pytest.raises(BinarizeError, match="already has binary layers"):
        binarize_model(student)


def _run(*args):
    return CliRunner().invoke(main, list(args))


def test_cli_writes_a_student_that_loads_and_prints_the_plan(tmp_path):
    teacher = pytorch_dcgan()
    teacher.save(tmp_path / "gen.h5")
    out = tmp_path / "student.keras"
    result = _run("binarize", str(tmp_path / "gen.h5"), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "DoR" in result.output and "5 LceBconv2d expected" in result.output  # 1 + 4 phases
    from pbgan.analysis import load_keras_model

    assert [r.binarized for r in analyze(load_keras_model(out))] == [True, True, False]
    result = _run("binarize", str(tmp_path / "gen.h5"), "-o", str(out), "--json")
    assert json.loads(result.output)["expected_bconvs"] == 5


def test_cli_refuses_a_layer_that_does_not_exist_in_one_line(tmp_path):
    tf_tutorial().save(tmp_path / "gen.keras")
    result = _run(
        "binarize", str(tmp_path / "gen.keras"), "-o", str(tmp_path / "s.keras"),
        "--layers", "dense,conv2d_transpose_9",
    )  # fmt: skip
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
    assert "conv2d_transpose_9 is not a layer of the model" in result.output
    assert "choose from dense, conv2d_transpose" in result.output
    assert not (tmp_path / "s.keras").exists()


def test_analyze_table_columns_fit_keras_default_names():
    z = tf.keras.Input((8,))
    x = tf.keras.layers.Reshape((1, 1, 8))(z)
    for i in range(12):  # Keras numbers default names: conv2d_transpose_10 and beyond
        x = tf.keras.layers.Conv2DTranspose(4, 1, name=f"conv2d_transpose_{i}")(x)
    header, *lines = format_table(analyze(tf.keras.Model(z, x))).splitlines()
    for column in ("kind", "c_in", "DoR", "plan"):
        start = header.index(column)
        for line in lines:
            assert line[start - 1] == " " and line[start] != " ", (column, line)
