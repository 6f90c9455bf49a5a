"""Reports: ratios against the fastest baseline configuration, and the files written."""

from __future__ import annotations

import json

from pbgan.runtime.report import ModelBench, format_table, summarize, write_report

import pytest

MIB = 1024 * 1024


def _rows():
    float_sizes = dict(size_bytes=14 * MIB, float_weight_bytes=13 * MIB, arena_bytes=600_000)
    binary_sizes = dict(
        size_bytes=MIB,
        binary_weight_bytes=MIB // 2,
        float_weight_bytes=MIB // 4,
        arena_bytes=500_000,
    )
    return [
        ModelBench(
            "A.tflite", "tflite-xnnpack", 1, 8.0, 7.5, 9.0, **float_sizes, peak_rss_bytes=50 * MIB
        ),
        ModelBench("A.tflite", "lce-default", 1, 10.0, 9.5, 11.0, **float_sizes),
        ModelBench(
            "F.tflite",
            "lce-indirect-bgemm",
            1,
            4.0,
            3.9,
            4.2,
            **binary_sizes,
            peak_rss_bytes=10 * MIB,
        ),
        ModelBench("F.tflite", "lce-default", 1, 6.0, 5.9, 6.2, **binary_sizes),
    ]


def test_speedup_is_against_the_fastest_baseline_configuration():
    summary = summarize(_rows(), "A.tflite")
    best_f = next(r for r in summary["best"] if r["model"] == "F.tflite")
    assert best_f["config"] == "lce-indirect-bgemm"
    assert best_f["baseline_config"] == "tflite-xnnpack"
    assert best_f["speedup"] == pytest.approx(2.0)
    assert best_f["size_ratio"] == pytest.approx(14.0)
    assert best_f["weight_ratio"] == pytest.approx(13 / 0.75)
    assert best_f["arena_ratio"] == pytest.approx(1.2)
    assert best_f["rss_ratio"] == pytest.approx(5.0)
    slow_f = next(
        r for r in summary["rows"] if r["config"] == "lce-default" and r["model"] == "F.tflite"
    )
    assert not slow_f["is_best"] and slow_f["speedup"] == pytest.approx(8 / 6)


def test_ratios_compare_only_rows_of_the_same_machine_and_thread_count():
    rows = _rows() + [
        ModelBench("F.tflite", "default", 1, 20.0, where="ssh:pi@pi", latency_kind="avg")
    ]
    remote = next(r for r in summarize(rows, "A.tflite")["rows"] if r["where"] == "ssh:pi@pi")
    assert remote["speedup"] is None
    rows.append(ModelBench("F.tflite", "lce-default", 2, 3.0))
    two = next(r for r in summarize(rows, "A.tflite")["rows"] if r["threads"] == 2)
    assert two["speedup"] is None


def test_without_a_baseline_ratios_are_empty():
    summary = summarize(_rows(), None)
    assert all(r["speedup"] is None and r["rss_ratio"] is None for r in summary["rows"])
    assert "-" in format_table(summary["rows"])


def test_report_writes_markdown_json_and_png(tmp_path):
    paths = write_report(_rows(), "A.tflite", tmp_path / "report")
    assert set(paths) == {"markdown", "json", "png"}
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    markdown = paths["markdown"].read_text()
    assert "| F.tflite | local | lce-indirect-bgemm * | 1 |" in markdown
    assert "2.00x" in markdown
    data = json.loads(paths["json"].read_text())
    assert data["baseline"] == "A.tflite"
    best_f = next(r for r in data["best"] if r["model"] == "F.tflite")
    assert best_f["speedup"] == pytest.approx(2.0) and best_f["rss_ratio"] == pytest.approx(5.0)


def test_report_refuses_no_results(tmp_path):
    with pytest.raises(ValueError, match="no benchmark results"):
        write_report([], None, tmp_path)


def test_a_thread_count_that_loses_to_fewer_threads_is_named():
    from pbgan.runtime.report import ModelBench, summarize

    rows = [
        ModelBench("auto.tflite", "lce-indirect-bgemm", 1, 7.6),
        ModelBench("auto.tflite", "lce-indirect-bgemm", 2, 14.7),
        ModelBench("A.tflite", "lce-default", 1, 16.6),
        ModelBench("A.tflite", "lce-default", 2, 10.8),
    ]
    notes = summarize(rows, "A.tflite", stack=False)["notes"]
    assert len(notes) == 1
    assert notes[0].startswith("auto.tflite [local] is slower at 2 threads (14.7 ms) than at 1")
    assert "(7.6 ms, +93.4%)" in notes[0]
