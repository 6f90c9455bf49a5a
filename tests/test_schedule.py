"""Operator order for a small arena (pbgan.convert.schedule)."""

from __future__ import annotations

import dataclasses
from collections import Counter

from pbgan.convert.schedule import (
    depth_first_order,
    greedy_order,
    reorder_operators,
    schedule_for_memory,
)
from pbgan.interpreters import lce_interpreter
from pbgan.tflite_graph import ModelInfo, OpInfo, TensorInfo, arena_estimate, read_flatbuffer

import numpy as np
import pytest
import tensorflow as tf


def _tensor(index: int, nbytes: int) -> TensorInfo:
    return TensorInfo(index, f"t{index}", (nbytes // 4,), "float32", nbytes, False)


def _join_graph() -> ModelInfo:
    """x -> four branches (a large window, a small quantized copy, a conv output) summed
    as ((c3 + c2) + c1) + c0, listed in the worst order: every window first."""
    x = _tensor(0, 100)
    windows = [_tensor(1 + i, 1000) for i in range(4)]
    quantized = [_tensor(5 + i, 10) for i in range(4)]
    convs = [_tensor(9 + i, 200) for i in range(4)]
    sums = [_tensor(13 + i, 200) for i in range(3)]
    spec = [("PAD", [x], [w]) for w in windows]
    spec += [("QUANTIZE", [w], [q]) for w, q in zip(windows, quantized, strict=True)]
    spec += [("CONV", [q], [c]) for q, c in zip(quantized, convs, strict=True)]
    spec += [
        ("ADD", [convs[3], convs[2]], [sums[0]]),
        ("ADD", [sums[0], convs[1]], [sums[1]]),
        ("ADD", [sums[1], convs[0]], [sums[2]]),
    ]
    ops = [OpInfo(k, name, ins, outs) for k, (name, ins, outs) in enumerate(spec)]
    tensors = [x, *windows, *quantized, *convs, *sums]
    return ModelInfo(
        ops=ops,
        tensors=tensors,
        inputs=[x],
        outputs=[sums[2]],
        op_counts=Counter(op.name for op in ops),
        size_bytes=0,
        constant_bytes_by_dtype={},
        binary_weight_bytes=0,
        float_weight_bytes=0,
        activation_arena_bytes=arena_estimate(ops, [x], [sums[2]]),
    )


def _estimate(info: ModelInfo, order: list[int]) -> int:
    ops = [dataclasses.replace(info.ops[i], index=k) for k, i in enumerate(order)]
    return arena_estimate(ops, info.inputs, info.outputs)


def _topological(info: ModelInfo, order: list[int]) -> bool:
    seen = {t.index for t in info.inputs}
    for i in order:
        if any(t.index not in seen for t in info.ops[i].inputs):
            return False
        seen |= {t.index for t in info.ops[i].outputs}
    return sorted(order) == list(range(len(info.ops)))


def test_orders_are_topological_and_finish_branches_in_the_order_they_join():
    info = _join_graph()
    assert info.activation_arena_bytes == 4100  # x and all four windows
    dfs = depth_first_order(info)
    rank = [dfs.index(i) for i in range(len(info.ops))]
    for order in (greedy_order(info), greedy_order(info, rank), dfs):
        assert _topological(info, order)
        assert _estimate(info, order) < info.activation_arena_bytes
    # Windows quantized as soon as they exist, x freed by the last, the sum joined as
    # it grows: the window, x and two small copies is the peak.
    best = greedy_order(info, rank)
    assert _estimate(info, best) == 1100 + 3 * 10
    names = [info.ops[i].name for i in best]
    assert names[:8] == ["PAD", "QUANTIZE"] * 4
    # Branch 3 joins first ((c3 + c2) + ...), so its convolution runs first.
    assert best[8] == 11 and best[9] == 10


def _two_branch_flatbuffer() -> bytes:
    import larq_compute_engine as lce

    x = tf.keras.Input((8, 8, 4))
    a = tf.keras.layers.Conv2D(16, 3, padding="same", name="a")(x)
    b = tf.keras.layers.Conv2D(16, 3, padding="same", name="b")(x)
    a = tf.keras.layers.Conv2D(2, 1, name="a2")(tf.pad(a, [[0, 0], [2, 2], [2, 2], [0, 0]]))
    b = tf.keras.layers.Conv2D(2, 1, name="b2")(tf.pad(b, [[0, 0], [2, 2], [2, 2], [0, 0]]))
    return lce.convert_keras_model(tf.keras.Model(x, a + b))


def test_reordering_keeps_every_byte_but_the_operator_vector_and_the_outputs_exact():
    data = _two_branch_flatbuffer()
    info = read_flatbuffer(data)
    order = depth_first_order(info, reverse_inputs=True)
    assert order != list(range(len(info.ops)))
    moved = reorder_operators(data, order)
    assert len(moved) == len(data)
    assert [op.name for op in read_flatbuffer(moved).ops] == [info.ops[i].name for i in order]
    x = np.random.default_rng(0).standard_normal((1, 8, 8, 4)).astype(np.float32)
    want = lce_interpreter(data).predict([x])[0]
    np.testing.assert_array_equal(lce_interpreter(moved).predict([x])[0], want)
    with pytest.raises(ValueError, match="permutation"):
        reorder_operators(data, order[:-1])


def test_schedule_never_raises_the_estimate():
    data = _two_branch_flatbuffer()
    scheduled, record = schedule_for_memory(data)
    assert record["arena_estimate_after"] <= record["arena_estimate_before"]
    assert read_flatbuffer(scheduled).activation_arena_bytes == record["arena_estimate_after"]
    # Already in its best order: a second pass changes nothing.
    again, second = schedule_for_memory(scheduled)
    assert again == scheduled
    assert second["arena_estimate_before"] == second["arena_estimate_after"]
