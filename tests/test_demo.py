"""`pbgan demo` (the README's main job) at toy scale: one page about two models."""

import json
import sys

from pbgan.demo.page import write_page
from pbgan.demo.run import DemoConfig, run_demo

import pytest


def _toy(out):
    return DemoConfig(
        out=out,
        steps=2,
        steps_per_epoch=2,
        width=1 / 16,
        batch_size=8,
        eval_n=8,
        bench_runs=2,
        samples=4,
        full_width=False,
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    record = run_demo(_toy(out), report=lambda message: None)
    return out, record, write_page(record, out)


def test_quality_and_speed_rows_name_the_same_model_files(demo):
    out, record, _ = demo
    bench_files = {row["model"] for row in record["bench"]["best"]}
    for name, model in record["models"].items():
        assert model["quality"]["source"] == model["tflite"], name
        assert model["tflite"] in bench_files, name
    assert record["bench"]["baseline"] == record["models"]["A"]["tflite"]


def test_the_page_names_each_models_architecture_setting_and_steps(demo):
    out, record, paths = demo
    page = paths["markdown"].read_text()
    assert "dcgan32 width 0.0625, setting A (float), 2 steps, seed 0" in page
    assert "dcgan32 width 0.0625, setting auto (xnor), 2 steps, seed 0" in page
    for model in record["models"].values():
        assert page.count(model["tflite"]) == 1  # the quality table's file column
    assert json.loads(paths["json"].read_text())["models"].keys() == {"A", "auto"}
    assert "of which the model's" in page
    if sys.platform == "linux":  # memory split into the model's and the code's
        for row in record["bench"]["best"]:
            assert 0 < row["anon_rss_bytes"] <= row["peak_rss_bytes"], row["model"]
    assert paths["png"].stat().st_size > 0


def test_the_deployable_model_runs_binary_ops_and_the_float_one_none(demo):
    _, record, _ = demo
    assert record["models"]["A"]["ops"].get("LceBconv2d", 0) == 0
    # One per output position of the projection (2x2 at dcgan32), per phase of a deconv.
    expected = sum(4 for _ in record["auto_binarizes"])  # dcgan32: 2x2 projection, 4 phases
    assert record["models"]["auto"]["ops"]["LceBconv2d"] == expected


def test_a_second_run_reuses_every_finished_step(demo):
    out, record, _ = demo
    messages = []
    again = run_demo(_toy(out), report=messages.append)
    assert not [m for m in messages if "convert" in m or "score" in m]
    assert again["models"]["auto"]["tflite_sha256"] == record["models"]["auto"]["tflite_sha256"]
