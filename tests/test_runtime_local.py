"""Local benchmarking: every configuration runs, the best is the fastest, memory probe."""

from __future__ import annotations

import itertools

from pbgan.runtime.local import (
    BINARY_CONFIGS,
    FLOAT_CONFIGS,
    BenchError,
    BenchResult,
    bench_local,
    best,
    measure_peak_rss,
    random_inputs,
    time_alternating,
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


def _result(config, *, median, p10=None, p90=None, mean=None):
    p10 = median if p10 is None else p10
    p90 = median if p90 is None else p90
    mean = median if mean is None else mean
    return BenchResult("m", config, "lce", 1, median, p10, p90, mean, [p10, median, p90], "")


def test_best_is_the_lowest_median_not_the_lowest_mean_p10_or_p90():
    results = [
        _result("lce-default", median=3.0, p10=0.5, p90=9.0, mean=4.0),  # lowest p10
        _result("lce-xnnpack", median=1.0, p10=0.9, p90=30.0, mean=8.0),  # lowest median
        _result("tflite-builtin", median=2.0, p10=1.5, p90=2.5, mean=2.0),  # lowest mean, p90
        _result("tflite-xnnpack", median=4.0, p10=4.0, p90=4.0, mean=4.0),
    ]
    assert best(results).config == "lce-xnnpack"


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_best_does_not_depend_on_the_order_of_distinct_medians(order):
    results = [_result(f"c{i}", median=m) for i, m in enumerate((2.5, 0.7, 1.2))]
    chosen = best([results[i] for i in order])
    assert (chosen.config, chosen.median_ms) == ("c1", 0.7)


def test_a_tied_median_goes_to_the_configuration_listed_first():
    # Configurations are listed in a fixed order, so a tie resolves the same way each run.
    results = [_result("a", median=2.0), _result("b", median=1.0), _result("c", median=1.0)]
    assert best(results).config == "b"
    assert best(results[::-1]).config == "c"


def test_best_of_no_results_names_the_fix():
    with pytest.raises(ValueError, match="no results to choose from; run bench_local first"):
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
    if "clear_refs" in probe["method"]:  # Linux: the growth split into model and code
        anon, code = probe["anon_delta_bytes"], probe["file_delta_bytes"]
        assert anon > 0 and code >= 0
        assert anon <= probe["peak_delta_bytes"]


def test_anonymous_rss_grows_with_the_model_copy(tmp_path):
    """A model 8 MB larger holds ~8 MB more anonymous memory (the interpreter's copy);
    the code pages do not depend on the model."""
    small = write_tiny_models(tmp_path / "small")["float"]
    data = small.read_bytes()
    padded = tmp_path / "padded.tflite"
    # The file identifier and offsets stay valid when bytes are appended after the root.
    padded.write_bytes(data + bytes(np.random.default_rng(0).integers(0, 255, 8_000_000, np.uint8)))
    a = measure_peak_rss(small, config="lce-default", runs=2)
    b = measure_peak_rss(padded, config="lce-default", runs=2)
    if "clear_refs" not in a["method"]:
        pytest.skip("the RSS split needs Linux's /proc/self/status")
    assert 7_000_000 < b["anon_delta_bytes"] - a["anon_delta_bytes"] < 9_500_000


def test_peak_rss_probe_names_a_missing_file(tmp_path):
    with pytest.raises(BenchError, match="does not exist"):
        measure_peak_rss(tmp_path / "gone.tflite")


def test_alternating_rounds_run_each_call_in_turn():
    order: list[str] = []
    calls = {"a": lambda: order.append("a"), "b": lambda: order.append("b")}
    times = time_alternating(calls, rounds=2, repeat=3)
    assert order == ["a"] * 3 + ["b"] * 3 + ["a"] * 3 + ["b"] * 3
    assert [len(v) for v in times.values()] == [2, 2]
    assert all(t >= 0 for v in times.values() for t in v)
