"""`pbgan inspect` and `pbgan bench` through click, with their one-line errors."""

from __future__ import annotations

import json
import socket

from pbgan.runtime.cli import bench, inspect, parse_threads
from pbgan.runtime.local import BINARY_CONFIGS, FLOAT_CONFIGS

import pytest
from click.testing import CliRunner
from test_tflite_graph import write_tiny_models


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    return write_tiny_models(tmp_path_factory.mktemp("models"))


def _one_line_failure(result) -> str:
    """The error line; progress lines may precede it on stderr, nothing may follow it."""
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("Error: "), result.output
    assert sum(line.startswith("Error: ") for line in lines) == 1, result.output
    return lines[-1]


def test_commands_are_registered_on_the_main_cli():
    from pbgan.cli import main

    assert {"bench", "inspect"} <= set(main.commands)


def test_inspect_prints_the_operator_histogram(paths):
    result = CliRunner().invoke(inspect, [str(paths["binary"])])
    assert result.exit_code == 0, result.output
    assert "LceBconv2d" in result.output and "binary weights" in result.output


def test_inspect_json_has_op_counts_and_sizes(paths):
    result = CliRunner().invoke(inspect, [str(paths["float"]), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["op_counts"]["TRANSPOSE_CONV"] == 2
    assert data["float_weight_bytes"] > 0 and data["activation_arena_bytes"] > 0


def test_inspect_refuses_garbage_and_missing_files_in_one_line(tmp_path):
    garbage = tmp_path / "garbage.tflite"
    garbage.write_bytes(b"\x00" * 3 + b"not a flatbuffer")
    assert "not a TFLite flatbuffer" in _one_line_failure(
        CliRunner().invoke(inspect, [str(garbage)])
    )
    missing = CliRunner().invoke(inspect, [str(tmp_path / "missing.tflite")])
    assert "does not exist" in _one_line_failure(missing)


def test_bench_json_compares_with_the_fastest_float_baseline(paths):
    args = [str(paths["binary_generator"]), "--baseline", str(paths["float"])]
    args += ["--runs", "3", "--warmup", "1", "--no-memory", "--json"]
    result = CliRunner().invoke(bench, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["baseline"] == "float.tflite"
    base_rows = [r for r in data["rows"] if r["model"] == "float.tflite"]
    assert [r["config"] for r in base_rows] == list(FLOAT_CONFIGS)
    fastest = min(base_rows, key=lambda r: r["median_ms"])
    binary_rows = [r for r in data["rows"] if r["model"] == "binary_generator.tflite"]
    assert [r["config"] for r in binary_rows] == list(BINARY_CONFIGS)
    for row in binary_rows:
        assert row["baseline_config"] == fastest["config"]
        assert row["speedup"] == pytest.approx(fastest["median_ms"] / row["median_ms"])
        assert row["weight_ratio"] > 1
    assert sum(r["is_best"] for r in binary_rows) == 1


def test_bench_prints_a_table_measures_memory_and_writes_a_report(paths, tmp_path):
    args = [str(paths["binary_generator"]), "--runs", "3", "--warmup", "0", "--threads", "1,2"]
    args += ["--configs", "lce-indirect-bgemm", "--report", str(tmp_path / "rep")]
    result = CliRunner().invoke(bench, args)
    assert result.exit_code == 0, result.output
    assert "lce-indirect-bgemm *" in result.stdout
    data = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert {r["threads"] for r in data["rows"]} == {1, 2}
    assert all(r["peak_rss_bytes"] > 0 for r in data["best"])
    assert (tmp_path / "rep" / "report.png").stat().st_size > 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["--threads", "0"], "--threads '0': give positive integers"),
        (["--configs", "warp-speed"], "unknown config 'warp-speed'"),
        (["--configs", "tflite-builtin"], "tflite-builtin cannot run LCE custom ops"),
        (["--ssh", "pi@raspberrypi"], "need --benchmark-binary"),
        (["--ssh", "pi@a", "--adb", "X"], "exclude each other"),
    ],
)
def test_bench_usage_errors_are_one_line(paths, args, message):
    result = CliRunner().invoke(bench, [str(paths["binary_generator"]), "--runs", "1", *args])
    assert message in _one_line_failure(result)


def test_bench_refuses_a_binary_baseline(paths):
    args = [str(paths["float"]), "--baseline", str(paths["binary_generator"])]
    assert "contains LCE ops" in _one_line_failure(CliRunner().invoke(bench, args))


def test_bench_refuses_missing_and_garbage_models(paths, tmp_path):
    missing = CliRunner().invoke(bench, [str(tmp_path / "gone.tflite")])
    assert "does not exist" in _one_line_failure(missing)
    garbage = tmp_path / "g.tflite"
    garbage.write_text("hello")
    assert "not a TFLite flatbuffer" in _one_line_failure(CliRunner().invoke(bench, [str(garbage)]))


def test_bench_names_a_missing_benchmark_binary(paths, tmp_path):
    args = [str(paths["binary_generator"]), "--adb", "--benchmark-binary", str(tmp_path / "nope")]
    assert "benchmark binary" in _one_line_failure(CliRunner().invoke(bench, args))


def test_bench_over_ssh_to_a_closed_port_fails_in_one_line(paths, tmp_path):
    import shutil

    if shutil.which("ssh") is None:
        pytest.skip("ssh not installed (apt install openssh-client)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    binary = tmp_path / "lce_benchmark_model"
    binary.write_text("#!/bin/sh\n")
    args = [str(paths["binary_generator"]), "--ssh", "nobody@127.0.0.1", "--ssh-port", str(port)]
    args += ["--benchmark-binary", str(binary), "--timeout", "20"]
    assert "cannot reach nobody@127.0.0.1" in _one_line_failure(CliRunner().invoke(bench, args))


def test_parse_threads_deduplicates_in_order():
    assert parse_threads("1,2,1,4") == [1, 2, 4]
