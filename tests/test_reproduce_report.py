"""The report of ``pbgan reproduce`` over constructed folders and records: summaries
reused without checkpoints, a reproduction done in batches with runs missing, and
REPORT.md's tables from a constructed report.json. No training."""

import dataclasses
import json
import re

from pbgan.plots import save_grid
from pbgan.reproduce import (
    FIGURES,
    ReproduceConfig,
    export_reproduction,
    render_report,
    run_reproduction,
)
from pbgan.runs import write_history

import numpy as np
import pytest

# --------------------------------------------------------------------------------------
# Reuse of summaries without checkpoints: a constructed reproduction folder.
# --------------------------------------------------------------------------------------

EVAL_KEY = {"data": "synthetic", "n": 32, "seed": 0}


def _write(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))


def _fake_run(folder, *, seed, swd, ssim, median_ms, scheme="xnor", setting="A", epochs=1, bconv=0):
    """What `pbgan reproduce --summaries-to` keeps of a main run trained ``epochs`` epochs."""
    config = {"setting": setting, "scheme": scheme, "architecture": "dcgan32", "width": 0.0625}
    _write(folder / "config.json", {**config, "data": "synthetic", "batch_size": 8, "seed": seed})
    write_history(
        folder / "history.csv",
        [{"epoch": e, "d_loss": 1.0 + e, "g_loss": 2.0 + seed} for e in range(1, epochs + 1)],
    )
    levels = {"32": swd - 1, "16": swd + 1}
    _write(
        folder / "eval.json",
        {"key": {**EVAL_KEY, "epoch": epochs}, "swd_x1e3": {"levels": levels, "avg": swd},
         "ms_ssim_generated": ssim},
    )  # fmt: skip
    (folder / "samples").mkdir()
    for name in ("eval_samples.png", f"samples/epoch_{epochs:03d}.png"):
        save_grid(np.full((8, 32, 32, 3), 40 * seed, np.uint8), folder / name, cols=8)
    _write(
        folder / "generator.json",
        {"epoch": epochs, "size_bytes": 9000, "binary_constant_bytes": 0,
         "ops": {"LceBconv2d": bconv} if bconv else {}, "float_constant_bytes": 8000,
         "parity_max_abs_err": 0.0, "deploys_binary": bool(bconv)},
    )  # fmt: skip
    best = {"config": "xnnpack", "median_ms": median_ms, "p10_ms": 0.1, "p90_ms": 0.9}
    _write(
        folder / "bench.json",
        {"key": {"epoch": epochs, "runs": 2, "threads": 1}, "best": best, "results": [best]},
    )


def _top_level(out):
    """The reproduction's own cached measurements: noise floor, Fig. 2, real samples."""
    floor = {"levels": {"32": 5.0, "16": 6.0}, "avg": 5.5, "n": 32, "note": None}
    _write(out / "noise_floor_r32.json", {"key": EVAL_KEY, "noise_floor_x1e3": floor,
                                          "ms_ssim_real": 0.125})  # fmt: skip
    row = {"c": 4, "h": 2, "w": 2, "dor": 0, "min_error": 0.1, "shared_error": 0.2,
           "sign_error": 0.3}  # fmt: skip
    _write(out / "binarization_error.json", {"key": {"grid": "default", "seed": 0}, "rows": [row]})
    (out / FIGURES["fig2"]).write_bytes(b"png")
    save_grid(np.zeros((8, 32, 32, 3), np.uint8), out / "real_samples_r32.png", cols=8)


def _folder_of_summaries(out):
    """A pre-seed training folder (runs/xnor_A, seed 0, with its checkpoints) and a
    committed summary of seed 1, plus the reproduction's own cached measurements."""
    _fake_run(out / "runs" / "xnor_A", seed=0, swd=50.0, ssim=0.25, median_ms=0.5)
    (out / "runs" / "xnor_A" / "checkpoints").mkdir()
    (out / "runs" / "xnor_A" / "checkpoints" / "ckpt-1.index").write_bytes(b"big")
    _fake_run(out / "summaries" / "xnor_A_s1", seed=1, swd=70.0, ssim=0.35, median_ms=0.7)
    _top_level(out)


def _snapshot(folder):
    return {p: p.stat().st_mtime_ns for p in sorted(folder.rglob("*")) if p.is_file()}


def test_runs_found_as_summaries_are_aggregated_without_checkpoints(tmp_path, monkeypatch):
    import pbgan.reproduce.stages as stages

    def no_training(*args, **kwargs):
        raise AssertionError("a finished summary was trained again")

    monkeypatch.setattr(stages, "train_run", no_training)
    out = tmp_path / "out"
    _folder_of_summaries(out)
    before = _snapshot(out / "summaries")
    config = ReproduceConfig(
        out=out, epochs=1, steps_per_epoch=2, batch_size=8, width=0.0625, architecture="dcgan32",
        schemes=("xnor",), settings=("A",), eval_n=32, resolutions=(32,), bench_runs=2,
        seeds=(0, 1),
    )  # fmt: skip
    lines = []
    summary = run_reproduction(config, report=lines.append)
    assert "reproduce: 2 of 2 runs already trained, 0 to train (1 at a time)" in lines
    assert [r["dir"] for r in summary["runs"]] == ["runs/xnor_A", "summaries/xnor_A_s1"]
    assert _snapshot(out / "summaries") == before  # a summary is read, never written
    (row,) = summary["aggregates"]
    assert row["swd_x1e3"]["mean"] == 60.0 and row["swd_x1e3"]["sd"] == pytest.approx(14.142, 1e-4)
    assert row["swd_x1e3_levels"]["32"]["values"] == [49.0, 69.0]
    report = (out / "REPORT.md").read_text()
    a = "60.0 ± 14.1 (2 seeds: s0 50.0, s1 70.0) | 0.300 ± 0.071 (2 seeds: s0 0.250, s1 0.350)"
    assert f"| A | 44 | {a} |" in report
    assert "0.600 ± 0.141 (2 seeds: s0 0.500, s1 0.700)" in report  # Table 4 latency

    dest = tmp_path / "committed"
    again = export_reproduction(config, dest, report=lines.append)
    assert [r["dir"] for r in again["runs"]] == ["summaries/xnor_A_s0", "summaries/xnor_A_s1"]
    assert again["aggregates"] == summary["aggregates"]
    exported = {p.relative_to(dest / "summaries").as_posix() for p in _snapshot(dest / "summaries")}
    assert "xnor_A_s0/samples/epoch_001.png" in exported and "xnor_A_s0/bench.json" in exported
    assert not [p for p in exported if "checkpoints" in p]


# A reproduction done in batches: the aggregate command over a folder where some
# setting x scheme x seed runs were never trained and one is still part-way.
# --------------------------------------------------------------------------------------

BATCHES = ReproduceConfig(
    epochs=2, steps_per_epoch=2, batch_size=8, width=0.0625, architecture="dcgan32",
    schemes=("bwn", "xnor"), settings=("A", "B", "E", "auto"), eval_n=32, resolutions=(32,),
    bench_runs=2, seeds=(0, 1, 2), recipe="plain",
)  # fmt: skip


def _batches_folder(out):
    """A and xnor auto over 3 seeds (seed 0 as training runs with their generators), bwn B
    over 3 seeds, bwn E over 1 seed plus seed 1 part-way; xnor B, xnor E, bwn auto and
    bwn E seed 2 never trained."""
    done = {("xnor", "A"): (50.0, 0.25), ("xnor", "auto"): (80.0, 0.30), ("bwn", "B"): (51.0, 0.26)}
    for (scheme, setting), (swd, ssim) in done.items():
        for seed in (0, 1, 2):
            home = "runs" if seed == 0 and scheme == "xnor" else "summaries"
            folder = out / home / f"{scheme}_{setting}_s{seed}"
            _fake_run(folder, seed=seed, swd=swd + (2 if setting == "auto" else 1) * seed,
                      ssim=ssim + 0.01 * seed, median_ms=0.5 + 0.1 * seed, scheme=scheme,
                      setting=setting, epochs=2, bconv=4 if setting == "auto" else 0)  # fmt: skip
            if home == "runs":
                (folder / "generator.keras").write_bytes(f"{setting} weights".encode())
                (folder / "checkpoints").mkdir()
    _fake_run(out / "summaries" / "bwn_E_s0", seed=0, swd=300.0, ssim=0.4, median_ms=0.6,
              scheme="bwn", setting="E", epochs=2)  # fmt: skip
    part_way = out / "runs" / "bwn_E_s1"
    _fake_run(part_way, seed=1, swd=1.0, ssim=0.1, median_ms=0.6, scheme="bwn", setting="E")
    (part_way / "eval.json").unlink()
    (part_way / "generator.keras").write_bytes(b"not a model: loading it fails the test")
    _top_level(out)


def _links(report):
    return re.findall(r"\]\(([^)]+)\)", report)


def test_aggregate_over_missing_runs_reports_seed_counts_not_run_and_not_decided(
    tmp_path, monkeypatch
):
    import pbgan.reproduce.stages as stages

    def never(*args, **kwargs):
        raise AssertionError("a missing or unfinished run was evaluated or converted")

    monkeypatch.setattr(stages, "load_generator", never)
    monkeypatch.setattr(stages, "_convert", never)
    out = tmp_path / "repro"
    _batches_folder(out)
    config = dataclasses.replace(BATCHES, out=out)
    lines = []
    summary = run_reproduction(config, report=lines.append, train=False)
    assert len(summary["runs"]) == 10
    missing = {m["name"]: m["reason"] for m in summary["missing"]}
    assert missing["bwn_E_s1"] == "unfinished (1 of 2 epochs)"
    assert missing["bwn_E_s2"] == "not trained" and missing["xnor_B_s0"] == "not trained"
    assert set(missing) == {f"{x}_s{n}" for x in ("xnor_B", "xnor_E", "bwn_auto") for n in (0, 1, 2)} | {"bwn_E_s1", "bwn_E_s2"}  # fmt: skip
    assert not (out / "runs" / "bwn_E_s1" / "eval.json").exists()
    assert "reproduce: 11 of 21 planned runs missing from " + str(out) in lines
    report = (out / "REPORT.md").read_text()
    seeds = _section(report, "## Seeds per setting and scheme")
    assert "| setting | bwn (float ops) | xnor (binary ops) |" in seeds
    assert "| A | 3 seeds (s0, s1, s2) | 3 seeds (s0, s1, s2) |" in seeds
    assert "| B | 3 seeds (s0, s1, s2) | not run |" in seeds
    assert "| E | 1 seed (s0) | not run |" in seeds
    assert "| auto | not run | 3 seeds (s0, s1, s2) |" in seeds
    assert "- bwn E (dcgan32): seed 1 unfinished (1 of 2 epochs)" in seeds
    assert "- bwn E (dcgan32): seed 2 not trained" in seeds
    assert "- xnor B (dcgan32): seeds 0, 1, 2 not trained" in seeds
    assert "Fewer than 3 seeds: bwn E (1 seed)." in seeds
    table3 = _section(report, "## Table 3")
    assert "| E | 449 | 300.0 (1 seed: s0) | 0.400 (1 seed: s0) | not run | not run |" in table3
    a = "51.0 ± 1.0 (3 seeds: s0 50.0, s1 51.0, s2 52.0)"
    assert f"| A | 44 | {a} |" in table3
    assert (
        "| auto | — | not run | not run | 82.0 ± 2.0 (3 seeds: s0 80.0, s1 82.0, s2 84.0) |"
        in table3
    )
    table4 = _section(report, "## Table 4")
    assert "| auto | not run | — | — | — | 4 LceBconv2d |" in table4
    assert "bwn (float ops): F or A not run or not timed" in table4
    gap = _section(report, "## The deployable gap")
    assert f"- **xnor auto vs A**: SWD x1e3 auto 82.0 ± 2.0 (3 seeds: s0 80.0, s1 82.0, s2 84.0) vs A {a}: auto - A = +31.0 (+61% of A); MS-SSIM auto 0.310 ± 0.010" in gap  # fmt: skip
    assert gap.rstrip().endswith("by the verdict rule: auto worse than A.")
    verdicts = {e["id"]: e["measured"] for e in summary["inferences"]}
    e_rule = verdicts["E_worse_than_BCD"]
    assert e_rule["bwn"]["verdict"] == "not decided at this evidence"
    assert "seeds 3 and 1, fewer than 3" in e_rule["bwn"]["detail"]
    assert e_rule["xnor"]["verdict"] == "not measured"  # xnor B and E were not run
    assert "MS-SSIM" in verdicts["dor_nonnegative_cheap"]["bwn"]["detail"]
    assert "No generator file is kept in this folder" in report
    for name in FIGURES.values():
        assert (out / name).stat().st_size > 0, name

    dest = tmp_path / "docs" / "results"
    again = export_reproduction(config, dest, report=lines.append)
    exported = {p.name for p in (dest / "summaries").iterdir()}
    assert exported == {r["name"] for r in summary["runs"]}  # the part-way run stays behind
    assert sorted(p.name for p in (dest / "generators").iterdir()) == [
        "A_seed0.keras",
        "xnor_auto_seed0.keras",
    ]
    assert (dest / "generators" / "xnor_auto_seed0.keras").read_bytes() == b"auto weights"
    kept = {p.name for p in (dest / "summaries").rglob("*") if p.is_file()}
    assert not kept & {"generator.keras", "generator.tflite"}
    assert not list((dest / "summaries").rglob("checkpoints"))
    assert {m["name"]: m["reason"] for m in again["missing"]}["bwn_E_s1"] == "not trained"
    assert again["aggregates"] == summary["aggregates"]
    committed = (dest / "REPORT.md").read_text()
    assert (
        "Generator files kept in this folder: `generators/A_seed0.keras`, "
        "`generators/xnor_auto_seed0.keras`" in committed
    )
    assert "runs/" not in committed
    for link in _links(committed):
        assert (dest / link).is_file(), link


def test_aggregate_over_a_folder_with_no_finished_run_still_writes_the_report(tmp_path):
    out = tmp_path / "repro"
    _top_level(out)
    config = dataclasses.replace(BATCHES, out=out, settings=("A", "auto"), seeds=(0,))
    summary = run_reproduction(config, report=lambda line: None, train=False)
    assert summary["runs"] == [] and len(summary["missing"]) == 3
    report = (out / "REPORT.md").read_text()
    assert "| A | not run | not run |" in _section(report, "## Seeds per setting and scheme")
    assert "- **xnor auto vs A**: not measured: auto and A not run under xnor." in report
    for name in FIGURES.values():
        assert (out / name).stat().st_size > 0, name


# --------------------------------------------------------------------------------------
# REPORT.md from a constructed report.json: every number is distinct, so a value in the
# wrong column, from the wrong run or the wrong seed fails.
# --------------------------------------------------------------------------------------


def _run(scheme, setting, seed, *, swd=None, ssim=None, deploy=None, schemes=None):
    name = f"{scheme}_{setting}_s{seed}"
    quality = {"swd_x1e3": {"avg": swd, "levels": {"32": swd}}, "ms_ssim_generated": ssim}
    return {
        "name": name, "scheme": scheme, "schemes": schemes or [scheme], "setting": setting,
        "architecture": "dcgan32", "resolution": 32, "main": True, "seed": seed,
        "dir": f"runs/{name}", "epochs_done": 3, "stopped": None, "train_seconds": 12.0,
        "history": [{"epoch": 1, "d_loss": 1.0, "g_loss": 2.0}],
        "eval": None if swd is None else quality, "deploy": deploy,
    }  # fmt: skip


def _deploy(size_bytes, median_ms, bconv=0):
    return {
        "size_bytes": size_bytes, "binary_constant_bytes": 1500, "float_constant_bytes": 2500,
        "ops": {"LceBconv2d": bconv} if bconv else {}, "median_ms": median_ms,
        "best_config": "xnnpack" if not bconv else "lce-indirect-bgemm",
    }  # fmt: skip


def _layer(name, kind, h, c, dor):
    return {"layer": name, "kind": kind, "h_in": h, "w_in": h, "c_in": c, "dor": dor,
            "binarize": dor >= 0}  # fmt: skip


def _summary(runs, *, schemes=("bwn", "xnor"), settings=("A", "D", "E", "F")):
    chosen = [
        _layer("projection", "projection", 1, 100, 99),
        _layer("deconv1", "deconv", 2, 64, 60),
        _layer("deconv4", "deconv", 16, 8, -248),
    ]
    full = [_layer("deconv1", "deconv", 4, 1024, 1000), _layer("deconv4", "deconv", 32, 128, -900)]
    floor = {"noise_floor_x1e3": {"avg": 7.25, "levels": ["32", "16"]}, "ms_ssim_real": 0.125}
    return {
        "command": "pbgan reproduce --arch dcgan32",
        "config": {
            "architecture": "dcgan32", "width": 0.0625, "epochs": 3, "steps_per_epoch": 2,
            "batch_size": 8, "data": "synthetic", "eval_n": 32, "seeds": [0, 1],
            "bench_runs": 5, "resolution": 32, "schemes": list(schemes),
            "settings": list(settings),
        },
        "machine": {"cpu": "Test CPU", "cores": 2, "os": "Linux", "python": "3.11.7",
                    "versions": {"pbgan": "0.1.0", "tensorflow": "2.16.1"}},
        "wall_seconds": 3.0, "train_seconds": 36.0,
        "tables": {
            "chosen": {"architecture": "dcgan32", "width": 0.0625, "layers": chosen},
            "full_width_dcgan64": {"architecture": "dcgan64", "width": 1.0, "layers": full},
            "plans": {"A": [], "F": ["deconv1"]},
        },
        "noise_floor": {"32": floor}, "runs": runs, "inferences": [],
        "binarization_error": [], "files": {"figures": dict(FIGURES)},
    }  # fmt: skip


def _section(report, heading):
    """The text under ``heading`` up to the next ``## `` heading."""
    return report.split(heading, 1)[1].split("\n## ", 1)[0]


def test_every_table_and_figure_names_its_model_and_the_machine():
    report = render_report(_summary([_run("xnor", "A", 0, swd=50.0, ssim=0.2)]))
    line = "Machine: Test CPU, 2 cores, Linux, Python 3.11.7, tensorflow 2.16.1; pbgan 0.1.0."
    assert line in report.splitlines()
    caption = (
        "*Model: dcgan32, width 0.0625; settings A, D, E, F; schemes bwn, xnor; 3 epochs x 2 "
        "steps x batch 8 on synthetic; seeds 0, 1; Test CPU, 2 cores.*"
    )
    for heading in ("## Table 3", "## Table 4", "## Which", "## Figure 5", "## Figure 6",
                    "## SWD per", "## Figure 12", "## Figures 8-10", "## Runs"):  # fmt: skip
        assert caption in _section(report, heading), heading
    assert "*Model: dcgan32, width 0.0625 (DoR" in _section(report, "## Table 1")


def test_table3_gives_mean_sd_and_each_seed_for_both_schemes():
    shared = ["bwn", "xnor"]
    runs = [
        _run("xnor", "A", 0, swd=50.04, ssim=0.2101, schemes=shared),
        _run("xnor", "A", 1, swd=52.0, ssim=0.2301, schemes=shared),
        _run("bwn", "E", 0, swd=310.06, ssim=0.3334),
        _run("bwn", "E", 1, swd=320.06, ssim=0.3434),
        _run("xnor", "E", 0, swd=420.44, ssim=0.4441),
        _run("bwn", "F", 1, swd=66.66, ssim=0.2555),
    ]
    lines = render_report(_summary(runs)).splitlines()
    header = "| setting | paper SWD | bwn (float ops) SWD x1e3 | bwn MS-SSIM | xnor (binary ops) "
    assert f"{header}SWD x1e3 | xnor MS-SSIM |" in lines
    a = "51.0 ± 1.4 (2 seeds: s0 50.0, s1 52.0) | 0.220 ± 0.014 (2 seeds: s0 0.210, s1 0.230)"
    assert f"| A | 44 | {a} | {a} |" in lines  # one run per seed serves both schemes
    assert "| D | 67 | not run | not run | not run | not run |" in lines
    e = "| E | 449 | 315.1 ± 7.1 (2 seeds: s0 310.1, s1 320.1) | 0.338 ± 0.007 (2 seeds: s0 0.333,"
    assert f"{e} s1 0.343) | 420.4 (1 seed: s0) | 0.444 (1 seed: s0) |" in lines
    assert "| F | 67 | 66.7 (1 seed: s1) | 0.256 (1 seed: s1) | not run | not run |" in lines
    assert "| real vs real (noise floor) | — | 7.2 | 0.125 | 7.2 | 0.125 |" in lines


def test_table1_keeps_the_computed_and_the_paper_dor_in_their_own_columns():
    lines = render_report(_summary([])).splitlines()
    assert "| projection | 1 x 1 x 100 | 99 | binarize | — | — (not in the paper) |" in lines
    assert "| deconv1 | 2 x 2 x 64 | 60 | binarize | 1000 | 1008 |" in lines
    assert "| deconv4 | 16 x 16 x 8 | -248 | keep float | -900 | -896 |" in lines
    assert "| F | deconv1 | no |" in lines and "| A | none | no |" in lines


def test_table4_covers_both_schemes_against_setting_a_over_seeds():
    shared = ["bwn", "xnor"]
    runs = [
        _run("xnor", "A", 0, swd=50.0, ssim=0.2, deploy=_deploy(100_000, 2.0), schemes=shared),
        _run("xnor", "A", 1, swd=51.0, ssim=0.2, deploy=_deploy(100_000, 2.2), schemes=shared),
        _run("bwn", "F", 0, swd=60.0, ssim=0.2, deploy=_deploy(100_000, 2.1)),
        _run("bwn", "F", 1, swd=61.0, ssim=0.2, deploy=_deploy(100_000, 2.1)),
        _run("xnor", "F", 0, swd=70.0, ssim=0.2, deploy=_deploy(25_000, 0.5, bconv=3)),
        _run("xnor", "F", 1, swd=71.0, ssim=0.2, deploy=_deploy(25_000, 0.7, bconv=3)),
        _run("xnor", "E", 0, swd=90.0, ssim=0.2, deploy={"error": "boom"}),
    ]
    table4 = _section(render_report(_summary(runs)), "## Table 4")
    lines = table4.splitlines()
    (header,) = [line for line in lines if line.startswith("| setting |")]
    assert header.startswith("| setting | bwn ops (deploys float) | bwn flatbuffer (vs A) |")
    assert "| xnor ops (deploys binary) | xnor flatbuffer (vs A) |" in header
    bwn_f = "| F | float only | 100.0 kB (1/1.00) | 2.100 ± 0.000 (2 seeds: s0 2.100, s1 2.100) |"
    xnor_f = " 3 LceBconv2d | 25.0 kB (1/4.00) | 0.600 ± 0.141 (2 seeds: s0 0.500, s1 0.700) |"
    assert f"{bwn_f} 1.00x |{xnor_f} 3.50x |" in lines
    assert "| E | not run | — | — | — | failed: boom | — | — | — |" in lines
    assert (
        "bwn (float ops): memory 1.00x smaller (paper 25.81x), inference 1.00x faster (paper "
        "1.96x); F 2 seeds, A 2 seeds; xnor (binary ops): memory 4.00x smaller (paper 25.81x), "
        "inference 3.50x faster (paper 1.96x); F 2 seeds, A 2 seeds." in table4
    )
    assert "Only the xnor columns deploy as binary ops" in table4
