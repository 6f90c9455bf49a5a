"""Thread counts: a row that loses to fewer threads is flagged, the count to use is named,
and the per-operator slices the thread profile times compute what the whole graph does.

No test here asserts a timing: the rows are constructed, the slices are checked by value.
"""

from __future__ import annotations

import json

from pbgan.interpreters import exact_config, lce_interpreter
from pbgan.runtime.cli import _emit
from pbgan.runtime.profile import op_models, profile_ops, sub_model, summarize_by_type
from pbgan.runtime.report import (
    ModelBench,
    format_table,
    recommended_threads,
    summarize,
    write_report,
)
from pbgan.tflite_graph import read_flatbuffer

import numpy as np
import pytest
from test_tflite_graph import tiny_models

NOTE = "2 threads slower than 1: use 1"


def _measured_rows():
    """The shape of what bench measured on dcgan64: auto loses at 2 threads, A gains."""
    return [
        ModelBench("A.tflite", "lce-default", 1, 16.6),
        ModelBench("A.tflite", "tflite-builtin", 1, 27.0),
        ModelBench("A.tflite", "lce-default", 2, 10.8),
        ModelBench("A.tflite", "tflite-builtin", 2, 15.0),
        ModelBench("auto.tflite", "lce-indirect-bgemm", 1, 7.6),
        ModelBench("auto.tflite", "lce-default", 1, 51.0),
        ModelBench("auto.tflite", "lce-indirect-bgemm", 2, 14.7),
        ModelBench("auto.tflite", "lce-default", 2, 30.0),
    ]


def _row(rows, model, config, threads):
    return next(
        r for r in rows if (r["model"], r["config"], r["threads"]) == (model, config, threads)
    )


def test_a_thread_count_slower_than_fewer_threads_is_flagged_on_its_rows():
    summary = summarize(_measured_rows(), "A.tflite", stack=False)
    losing = _row(summary["rows"], "auto.tflite", "lce-indirect-bgemm", 2)
    assert losing["thread_note"] == NOTE and losing["slower_than_threads"] == 1
    best_auto_2 = next(
        r for r in summary["best"] if r["model"] == "auto.tflite" and r["threads"] == 2
    )
    assert best_auto_2["thread_note"] == NOTE


def test_rows_that_gain_from_threads_carry_no_flag():
    summary = summarize(_measured_rows(), "A.tflite", stack=False)
    for model, config in [
        ("A.tflite", "lce-default"),
        ("A.tflite", "tflite-builtin"),
        ("auto.tflite", "lce-default"),  # 51 -> 30 ms: its own kernel scales
    ]:
        row = _row(summary["rows"], model, config, 2)
        assert row["thread_note"] is None and row["slower_than_threads"] is None
    assert all(r["thread_note"] is None for r in summary["rows"] if r["threads"] == 1)


def test_the_full_table_compares_a_configuration_with_itself():
    # lce-default at 2 threads (30 ms) beats lce-default at 1 (51 ms) though it is slower
    # than the model's best at 1 thread: the thread count is not what loses there.
    summary = summarize(_measured_rows(), None, stack=False)
    assert _row(summary["rows"], "auto.tflite", "lce-default", 2)["thread_note"] is None


def test_the_recommended_thread_count_is_in_the_json_per_model(tmp_path):
    paths = write_report(_measured_rows(), "A.tflite", tmp_path)
    data = json.loads(paths["json"].read_text())
    picks = {r["model"]: r for r in data["recommended_threads"]}
    assert picks["auto.tflite"]["threads"] == 1
    assert picks["auto.tflite"]["config"] == "lce-indirect-bgemm"
    assert picks["auto.tflite"]["tried_threads"] == [1, 2]
    assert picks["A.tflite"]["threads"] == 2
    flagged = [r for r in data["rows"] if r["thread_note"]]
    assert [(r["model"], r["config"], r["threads"]) for r in flagged] == [
        ("auto.tflite", "lce-indirect-bgemm", 2)
    ]


def test_the_markdown_report_flags_the_row_and_says_what_to_run(tmp_path):
    markdown = write_report(_measured_rows(), "A.tflite", tmp_path)["markdown"].read_text()
    assert NOTE in markdown
    assert "**Run with:** auto.tflite [local]: 1 thread(s), lce-indirect-bgemm" in markdown
    assert "**Run with:** A.tflite [local]: 2 thread(s)" in markdown


def test_the_cli_table_flags_the_row_and_says_what_to_run(capsys):
    _emit(summarize(_measured_rows(), "A.tflite", stack=False), as_json=False)
    out = capsys.readouterr().out
    (flagged,) = [line for line in out.splitlines() if NOTE in line]
    assert "auto.tflite" in flagged and "lce-indirect-bgemm" in flagged
    assert "run with: auto.tflite [local]: 1 thread(s)" in out
    assert "note: auto.tflite [local] is slower at 2 threads" in out


def test_the_text_table_has_a_threads_note_column():
    summary = summarize(_measured_rows(), "A.tflite", stack=False)
    header, *lines = format_table(summary["rows"]).splitlines()
    assert "threads note" in header
    assert sum(NOTE in line for line in lines) == 1


def test_more_threads_are_compared_with_the_fastest_fewer_count():
    rows = [
        ModelBench("m.tflite", "lce-indirect-bgemm", 1, 9.0),
        ModelBench("m.tflite", "lce-indirect-bgemm", 2, 6.0),
        ModelBench("m.tflite", "lce-indirect-bgemm", 4, 7.0),
    ]
    summary = summarize(rows, None, stack=False)
    notes = {r["threads"]: r["thread_note"] for r in summary["rows"]}
    assert notes == {1: None, 2: None, 4: "4 threads slower than 2: use 2"}
    assert summary["recommended_threads"][0]["threads"] == 2


def test_a_tie_recommends_fewer_threads_and_flags_nothing():
    rows = [
        ModelBench("m.tflite", "lce-indirect-bgemm", 2, 5.0),
        ModelBench("m.tflite", "lce-indirect-bgemm", 1, 5.0),
    ]
    summary = summarize(rows, None, stack=False)
    assert [r["thread_note"] for r in summary["rows"]] == [None, None]
    assert recommended_threads(summary["best"])[0]["threads"] == 1


def test_each_machine_is_judged_on_its_own_rows():
    rows = [
        ModelBench("auto.tflite", "default", 1, 40.0, where="pi@rpi4"),
        ModelBench("auto.tflite", "default", 2, 22.0, where="pi@rpi4"),
        ModelBench("auto.tflite", "lce-indirect-bgemm", 1, 7.6),
        ModelBench("auto.tflite", "lce-indirect-bgemm", 2, 14.7),
    ]
    summary = summarize(rows, None, stack=False)
    flagged = [(r["where"], r["threads"]) for r in summary["rows"] if r["thread_note"]]
    assert flagged == [("local", 2)]
    picks = {r["where"]: r["threads"] for r in summary["recommended_threads"]}
    assert picks == {"pi@rpi4": 2, "local": 1}


def test_a_single_thread_count_gets_no_run_with_line(capsys):
    rows = [ModelBench("m.tflite", "lce-indirect-bgemm", 1, 5.0)]
    _emit(summarize(rows, None, stack=False), as_json=False)
    assert "run with:" not in capsys.readouterr().out


# --- the slices benchmarks/profile_threads.py times ---------------------------------


def _run(model: bytes, inputs: list[np.ndarray]) -> list[np.ndarray]:
    has_lce = read_flatbuffer(model).has_lce_ops
    return lce_interpreter(model, config=exact_config(has_lce)).predict(inputs)


def test_one_operator_slices_chained_reproduce_the_whole_graph():
    data = tiny_models()["binary_generator"]
    info = read_flatbuffer(data)
    z = np.random.default_rng(0).standard_normal((1, 16)).astype(np.float32)
    values = {info.inputs[0].index: z}
    slices = op_models(data)
    assert [op.name for op, _ in slices] == [op.name for op in info.ops]
    for op, model in slices:
        sliced = read_flatbuffer(model)
        assert [o.name for o in sliced.ops] == [op.name]
        outputs = _run(model, [values[t.index] for t in sliced.inputs])
        values.update({t.index: v for t, v in zip(sliced.outputs, outputs, strict=True)})
    (whole,) = _run(data, [z])
    np.testing.assert_array_equal(values[info.outputs[0].index], whole)


def test_a_slice_keeps_only_the_constants_it_reads():
    data = tiny_models()["float"]
    info = read_flatbuffer(data)
    last = len(info.ops) - 1
    tail = read_flatbuffer(sub_model(data, last, last))
    assert tail.size_bytes < info.size_bytes
    assert [t.shape for t in tail.outputs] == [t.shape for t in info.outputs]


def test_a_prefix_slice_ends_where_it_is_cut():
    data = tiny_models()["binary_generator"]
    info = read_flatbuffer(data)
    prefix = read_flatbuffer(sub_model(data, 0, 2))
    assert [o.name for o in prefix.ops] == [o.name for o in info.ops[:3]]
    assert [t.index for t in prefix.outputs] == [t.index for t in info.ops[2].outputs]


def test_slicing_refuses_operators_the_graph_does_not_have():
    data = tiny_models()["binary"]
    n = len(read_flatbuffer(data).ops)
    with pytest.raises(ValueError, match=f"the graph has {n}"):
        sub_model(data, 0, n)


def test_the_profile_has_the_whole_graph_and_every_operator_at_each_thread_count():
    data = tiny_models()["binary_generator"]
    whole, ops = profile_ops(
        data, config="lce-indirect-bgemm", threads=(1, 2), runs=2, warmup=0, repeats=1
    )
    assert whole.index == -1 and whole.op == "whole graph"
    assert [o.op for o in ops] == [op.name for op in read_flatbuffer(data).ops]
    assert all(set(o.ms) == set(o.cpu_ms) == {1, 2} for o in [whole, *ops])
    by_type = summarize_by_type(ops, key="cpu_ms")
    assert set(by_type) == {o.op for o in ops}
    assert json.loads(json.dumps(whole.to_dict()))["ms"].keys() == {"1", "2"}


def test_a_model_timed_only_with_several_threads_is_named():
    rows = [ModelBench("auto.tflite", "lce-indirect-bgemm", 2, 14.7)]
    (note,) = summarize(rows, None, stack=False)["notes"]
    assert note.startswith("auto.tflite [local] was timed only at 2 threads")
    assert note.endswith("add --threads 1,2")
