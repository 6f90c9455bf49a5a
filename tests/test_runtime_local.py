"""Local benchmarking: every configuration runs, the best is the fastest, memory probe."""

from __future__ import annotations

from pbgan.runtime.local import (
    BINARY_CONFIGS,
    FLOAT_CONFIGS,
    BenchError,
    BenchResult,
    bench_local,
    best,
    measure_peak_rss,
    random_inputs,
)
from pbgan.tflite_graph import read_flatbuffer

import numpy as np
import pytest
from test_tflite_graph import tiny_models, write_tiny_models


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    return write_tiny_models(tmp_path_factory.mktemp("models"))


def _sane(results, configs):
    assert [r.config for r in results] == list(configs)
    for r in results:
        assert len(r.times_ms) == 3
        assert all(t > 0 for t in r.times_ms)
        assert 0 < r.p10_ms <= r.median_ms <= r.p90_ms < 1000
        assert r.threads == 1


def test_binary_model_runs_with_every_bconv_kernel(paths):
    results = bench_local(paths["binary"], runs=3, warmup=1)
    _sane(results, BINARY_CONFIGS)
    assert {r.runtime for r in results} == {"lce"}
    assert results[0].model == "binary.tflite"


def test_float_model_runs_with_every_float_runtime(paths):
    results = bench_local(paths["float"], runs=3, warmup=1)
    _sane(results, FLOAT_CONFIGS)
    assert {r.runtime for r in results} == {"lce", "tflite"}
    assert {r.timed for r in results if r.runtime == "tflite"} == {"invoke()"}


def test_bytes_and_thread_count_are_accepted(paths):
    (result,) = bench_local(
        tiny_models()["binary"], threads=2, runs=3, warmup=0, configs=["lce-indirect-bgemm"]
    )
    assert result.threads == 2 and result.median_ms > 0


def test_float_baseline_is_the_fastest_float_configuration(paths):
    results = bench_local(paths["float"], runs=3, warmup=1)
    chosen = best(results)
    assert chosen.median_ms == min(r.median_ms for r in results)


def test_best_picks_the_lowest_median():
    def result(name, median):
        return BenchResult("m", name, "lce", 1, median, median, median, median, [median], "")

    assert best([result("a", 3.0), result("b", 1.0), result("c", 2.0)]).config == "b"
    with pytest.raises(ValueError, match="no results"):
        best([])


def test_tflite_configs_are_refused_for_lce_graphs(paths):
    with pytest.raises(BenchError, match="tflite-xnnpack cannot run LCE custom ops"):
        bench_local(paths["binary"], runs=1, configs=["tflite-xnnpack"])


def test_unknown_config_names_the_choices(paths):
    with pytest.raises(BenchError, match="unknown config 'fast'; choose from lce-default"):
        bench_local(paths["binary"], runs=1, configs=["fast"])


def test_missing_model_names_the_fix(tmp_path):
    with pytest.raises(BenchError, match="does not exist; pass a .tflite file"):
        bench_local(tmp_path / "gone.tflite")


def test_random_inputs_match_the_flatbuffer_inputs():
    info = read_flatbuffer(tiny_models()["float"])
    (z,) = random_inputs(info, seed=1)
    assert z.shape == (1, 16) and z.dtype == np.float32
    np.testing.assert_array_equal(z, random_inputs(info, seed=1)[0])


def test_peak_rss_probe_reports_growth_over_an_empty_interpreter_process(paths):
    probe = measure_peak_rss(paths["binary"], config="lce-indirect-bgemm", runs=2)
    assert probe["config"] == "lce-indirect-bgemm"
    assert probe["baseline_rss_bytes"] > 1_000_000
    assert probe["peak_rss_bytes"] >= probe["baseline_rss_bytes"]
    assert 0 < probe["peak_delta_bytes"] < 500_000_000
    assert "clear_refs" in probe["method"] or "ru_maxrss" in probe["method"]


def test_peak_rss_probe_names_a_missing_file(tmp_path):
    with pytest.raises(BenchError, match="does not exist"):
        measure_peak_rss(tmp_path / "gone.tflite")
