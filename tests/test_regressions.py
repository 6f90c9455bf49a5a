"""Faults that already behaved, pinned so they keep behaving, and the fixes found with them.

An adversarial pass found these cases handled well but untested: an unreachable ssh host,
random damage to a flatbuffer, odd `pbgan evaluate` inputs. The rest is what the same
pass found wrong in `runtime/` and `metrics/`: finished results lost to an unwritable
`bench --report` or `evaluate --out`, `bench --adb MODEL`, a misleading report label,
and scp against a host without an sftp server.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from pathlib import Path

from pbgan.metrics.cli import evaluate
from pbgan.runtime.cli import bench, inspect
from pbgan.runtime.remote import RemoteError, SshRunner
from pbgan.runtime.report import ModelBench, write_report
from pbgan.tflite_graph import FlatbufferError, ModelInfo, read_flatbuffer

import pytest
from click.testing import CliRunner
from test_runtime_remote import (  # noqa: F401  fake_adb is a fixture
    PI_LOG,
    _executable,
    fake_adb,
    fake_benchmark_binary,
)
from test_tflite_graph import tiny_models, write_tiny_models

IS_ROOT = os.geteuid() == 0


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    return write_tiny_models(tmp_path_factory.mktemp("models"))


def _error_line(result, *, progress: tuple[str, ...] = ()) -> str:
    """The one error line on stderr: before it only progress lines (and click's usage)."""
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    other = [
        line
        for line in lines[:-1]
        if not line.startswith((*progress, "no --baseline: ", "Usage: ", "Try '"))
    ]
    assert lines and lines[-1].startswith("Error: ") and not other, result.output
    return lines[-1]


def _bench_args(paths, *extra: str) -> list[str]:
    args = [str(paths["binary_generator"]), "--runs", "1", "--warmup", "0", "--no-memory"]
    return args + ["--configs", "lce-default", *extra]


# --- bench --report: refused before the timing, never lost after it ----------------------


@pytest.mark.parametrize("case", ["a file", "under a file", "read-only"])
def test_bench_refuses_an_unwritable_report_folder_before_timing(
    paths, tmp_path, case, monkeypatch
):
    if case == "read-only" and IS_ROOT:
        pytest.skip("root writes into a read-only folder; run the suite as a user")
    blocker = tmp_path / "report"
    if case == "read-only":
        blocker.mkdir(mode=0o555)
        report, named = blocker / "rep", blocker
        fix = "is not writable"
    else:
        blocker.write_text("not a folder")
        report = blocker if case == "a file" else blocker / "rep"
        named, fix = blocker, "is a file, not a folder"

    def no_timing(*args, **kwargs):
        raise AssertionError("timing started before the report folder was checked")

    monkeypatch.setattr("pbgan.runtime.compare.local_rows", no_timing)
    line = _error_line(CliRunner().invoke(bench, _bench_args(paths, "--report", str(report))))
    assert f"--report {report}: {named} {fix}" in line


def test_bench_writes_the_report_elsewhere_when_its_folder_fails_after_timing(
    paths, tmp_path, monkeypatch
):
    from pbgan.runtime import compare

    report = tmp_path / "rep"
    timed = compare.local_rows

    def time_then_lose_the_folder(*args, **kwargs):
        rows = timed(*args, **kwargs)
        report.write_text("someone put a file here during the run")  # mkdir now fails
        return rows

    monkeypatch.setattr("pbgan.runtime.compare.local_rows", time_then_lose_the_folder)
    result = CliRunner().invoke(bench, _bench_args(paths, "--json", "--report", str(report)))
    line = _error_line(result, progress=("timing ",))
    assert f"cannot write the report into {report}" in line
    fallback = Path(line.split("it was written to ")[1].split(" instead")[0])
    try:
        assert fallback != report.parent and fallback.is_dir()
        saved = json.loads((fallback / "report.json").read_text())
        assert saved["rows"] == json.loads(result.stdout)["rows"]  # and printed before
        assert (fallback / "report.md").is_file() and (fallback / "report.png").is_file()
    finally:
        shutil.rmtree(fallback, ignore_errors=True)


# --- bench --adb MODEL, and a report's "where" --------------------------------------------


def test_bench_adb_then_a_single_model_times_it_alone_on_the_only_device(
    fake_adb,  # noqa: F811  the fixture imported above
    paths,
    tmp_path,
):
    binary, _ = fake_benchmark_binary(tmp_path, PI_LOG)
    model = paths["binary_generator"]
    args = ["--adb", str(model), "--benchmark-binary", str(binary), "--runs", "2", "--json"]
    result = CliRunner().invoke(bench, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["baseline"] is None
    assert {(r["where"], r["model"]) for r in data["rows"]} == {("adb", model.name)}
    assert all(r["speedup"] is None for r in data["rows"])
    assert "no --baseline: timing binary_generator.tflite without a float baseline" in (
        result.stderr
    )
    calls = (fake_adb / "calls.txt").read_text().splitlines()
    assert calls and not any(c.startswith("-s ") for c in calls)  # the only device


def test_bench_without_a_model_names_the_fix_in_one_line(tmp_path):
    binary = tmp_path / "lce_benchmark_model"
    binary.write_text("#!/bin/sh\n")
    for args in ([], ["--adb", "--benchmark-binary", str(binary)]):
        assert "no MODEL given: pass one or more .tflite" in _error_line(
            CliRunner().invoke(bench, args)
        )


def _rows(*wheres: str) -> list[ModelBench]:
    sizes = dict(size_bytes=4096, float_weight_bytes=2048, arena_bytes=1024)
    return [ModelBench("gen.tflite", "default", 1, 2.0, where=w, **sizes) for w in wheres]


@pytest.mark.parametrize(
    ("wheres", "label", "not_label"),
    [
        (["local"], "Machine: ", "Device"),
        (
            ["ssh:pi@raspberrypi"],
            "Device: `ssh:pi@raspberrypi` (`lce_benchmark_model`); driven from ",
            "Machine",
        ),
        (["local", "adb"], "Machine (local rows): ", "driven from"),
    ],
    ids=["local", "remote", "both"],
)
def test_the_report_names_where_its_rows_ran(tmp_path, wheres, label, not_label):
    text = (write_report(_rows(*wheres), None, tmp_path)["markdown"]).read_text()
    assert label in text and not_label not in text.split("Baseline:")[0]


# --- ssh: an unreachable host is one line, soon ----------------------------------------------


@pytest.mark.parametrize(
    "where",
    [["nobody@127.0.0.1", "--ssh-port", "1"], ["nobody@pbgan-test.invalid"]],
    ids=["closed-port", "unknown-host"],
)
def test_bench_over_ssh_to_an_unreachable_host_is_one_line_within_a_bounded_time(
    paths, tmp_path, where
):
    if shutil.which("ssh") is None:
        pytest.skip("ssh not installed (apt install openssh-client)")
    binary = tmp_path / "lce_benchmark_model"
    binary.write_text("#!/bin/sh\n")
    args = [str(paths["binary_generator"]), "--ssh", *where, "--benchmark-binary", str(binary)]
    start = time.monotonic()
    result = CliRunner().invoke(bench, [*args, "--timeout", "15", "--json"])
    assert time.monotonic() - start < 20
    line = _error_line(result, progress=("timing ",))
    assert f"{where[0]}" in line and ("cannot reach" in line or "timed out" in line), line


FAKE_SSH = """#!/bin/sh
# Stand-in for ssh: the host is this machine; the last argument is the remote command.
for last; do :; done
exec sh -c "$last"
"""

FAKE_SCP = """#!/bin/sh
# Stand-in for the scp of OpenSSH >= 9 against a host without an sftp server: only the
# original protocol (-O) copies; SFTP gets "Connection closed" and ssh's exit code 255.
echo "$@" >> "{log}"
case " $* " in *" -O "*) ;; *) echo "scp: Connection closed" >&2; exit 255;; esac
[ -n "{always_fail}" ] && {{ echo "scp: Connection closed" >&2; exit 255; }}
for last; do :; done
for arg; do [ "$arg" = "$last" ] && break; src="$arg"; done
cp "$src" "${{last#*:}}"
"""


@pytest.fixture
def no_sftp_host(tmp_path, monkeypatch):
    def install(*, always_fail: bool = False) -> Path:
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir(exist_ok=True)
        log = tmp_path / "scp-calls.txt"
        _executable(bin_dir / "ssh", FAKE_SSH)
        _executable(
            bin_dir / "scp", FAKE_SCP.format(log=log, always_fail="yes" if always_fail else "")
        )
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
        return log

    return install


def test_scp_to_a_host_without_an_sftp_server_falls_back_to_the_scp_protocol(
    no_sftp_host, tmp_path, paths
):
    log = no_sftp_host()
    binary, _ = fake_benchmark_binary(tmp_path, PI_LOG)
    result = SshRunner("pi@device", timeout=30).run_benchmark(paths["float"], binary)
    assert result.avg_ms > 0
    calls = log.read_text().splitlines()
    assert len(calls) == 4 and [" -O " in f" {c} " for c in calls] == [False, True] * 2


def test_scp_that_fails_both_ways_names_the_sftp_server_in_one_line(no_sftp_host, tmp_path, paths):
    no_sftp_host(always_fail=True)
    binary, _ = fake_benchmark_binary(tmp_path, PI_LOG)
    with pytest.raises(RemoteError) as err:
        SshRunner("pi@device", timeout=30).run_benchmark(paths["float"], binary)
    message = str(err.value)
    assert "\n" not in message and "cannot reach" not in message
    assert "copying float.tflite to pi@device failed: scp: Connection closed" in message
    assert "install openssh-sftp-server" in message


# --- a damaged flatbuffer: one-line errors from the reader, never a crash -------------------


def _damage(data: bytes, rng: random.Random) -> bytes:
    damaged = bytearray(data)
    kind = rng.choice(["flip", "flips", "truncate"])
    if kind == "truncate":
        return bytes(damaged[: rng.randrange(len(damaged))])
    for _ in range(1 if kind == "flip" else rng.randint(2, 16)):
        damaged[rng.randrange(len(damaged))] ^= 1 << rng.randrange(8)
    return bytes(damaged)


@pytest.mark.parametrize("name", ["binary", "float"])
def test_random_bit_flips_and_truncations_give_one_line_errors_or_a_model(name):
    data = tiny_models()[name]
    rng = random.Random(f"flatbuffer-{name}")
    outcomes = {"read": 0, "refused": 0}
    for _ in range(200):
        try:
            info = read_flatbuffer(_damage(data, rng))
        except FlatbufferError as err:  # a ValueError: the CLIs print it as one line
            message = str(err)
            assert "\n" not in message and message.startswith("not a TFLite flatbuffer: ")
            assert message.endswith("pass a .tflite file written by `pbgan convert`")
            outcomes["refused"] += 1
        else:
            assert isinstance(info, ModelInfo)
            outcomes["read"] += 1
    # Both paths ran: damage in weight bytes still reads; damage in the tables is refused.
    assert min(outcomes.values()) > 10, outcomes


def test_inspect_of_damaged_flatbuffers_exits_2_in_one_line_naming_the_file(tmp_path):
    data = tiny_models()["binary"]
    rng = random.Random(7)
    refused = 0
    for i in range(20):
        path = tmp_path / f"damaged-{i}.tflite"
        path.write_bytes(_damage(data, rng))
        result = CliRunner().invoke(inspect, [str(path)])
        if result.exit_code == 0:
            continue
        assert _error_line(result).startswith(f"Error: {path}: not a TFLite flatbuffer: ")
        refused += 1
    assert refused > 0


# --- evaluate: empty and odd inputs --------------------------------------------------------


@pytest.fixture(scope="module")
def odd_inputs(tmp_path_factory, paths):
    from PIL import Image

    root = tmp_path_factory.mktemp("odd")
    (root / "empty").mkdir()
    junk = root / "junk"
    junk.mkdir()
    for i in range(5):
        (junk / f"{i}.png").write_text("not an image")
    (junk / "notes.txt").write_text("hello")
    three = root / "three"
    three.mkdir()
    for i in range(3):
        Image.new("RGB", (40, 40), (60 * i, 0, 0)).save(three / f"{i}.png")
    run = root / "run"  # a run that has not finished its first epoch
    run.mkdir()
    (run / "config.json").write_text('{"setting": "A", "data": "synthetic"}')
    return {"root": root, "gen": paths["float"]}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{gen}", "--data", "{root}/empty"], "no images found in {root}/empty: pass --data"),
        (
            ["{gen}", "--data", "{root}/junk"],
            "no readable image in {root}/junk: 5 files could not be decoded",
        ),
        (["{gen}", "--data", "{root}/three"], "holds only 3 readable images: evaluation needs"),
        (["{gen}", "--data", "{root}/missing"], "data path not found: {root}/missing: pass"),
        (["{gen}", "--data", ""], "--data is empty: pass --data synthetic"),
        (["{gen}", "--data", "synthetic", "-n", "0"], "'-n': 0 is not in the range x>=2"),
        (["{gen}", "--data", "synthetic", "-n", "1"], "'-n': 1 is not in the range x>=2"),
        (["{root}/run"], "{root}/run has no generator.keras yet: let `pbgan train` finish"),
        (["{root}/missing-run"], "{root}/missing-run does not exist: pass a run directory"),
        (
            ["{gen}", "--data", "synthetic", "--out", "{gen}/result.json"],
            "--out {gen}/result.json: {gen} is a file, not a folder",
        ),
    ],
    ids=[
        "empty-folder",
        "non-images",
        "three-images",
        "missing-data",
        "empty-data",
        "n0",
        "n1",
        "run-without-generator",
        "missing-run",
        "out-under-a-file",
    ],
)
def test_evaluate_refuses_empty_and_odd_inputs_in_one_line(odd_inputs, args, message):
    args = [a.format(**odd_inputs) for a in args]
    result = CliRunner().invoke(evaluate, [*args, *([] if "-n" in args else ["-n", "2"])])
    assert message.format(**odd_inputs) in _error_line(result, progress=("evaluate: ",))


def test_evaluate_source_refuses_fewer_than_two_images_per_set(odd_inputs):
    from pbgan.metrics.evaluate import EvaluationError, evaluate_source

    for n in (0, 1):
        with pytest.raises(EvaluationError, match=f"-n {n}: evaluation needs at least 2"):
            evaluate_source(odd_inputs["gen"], data="synthetic", n=n)


def test_evaluate_keeps_the_result_when_out_fails_after_the_evaluation(
    odd_inputs, tmp_path, monkeypatch
):
    from pbgan.metrics import cli

    out = tmp_path / "results" / "eval.json"
    evaluated = cli.evaluate_source

    def evaluate_then_lose_the_folder(*args, **kwargs):
        result = evaluated(*args, **kwargs)
        (tmp_path / "results").write_text("someone put a file here meanwhile")
        return result

    monkeypatch.setattr(cli, "evaluate_source", evaluate_then_lose_the_folder)
    args = [str(odd_inputs["gen"]), "--data", "synthetic", "-n", "4", "--json", "--out", str(out)]
    result = CliRunner().invoke(evaluate, args)
    line = _error_line(result, progress=("evaluate: ",))
    assert f"cannot write {out}" in line
    fallback = Path(line.split("the result was written to ")[1].split(" instead")[0])
    try:
        assert json.loads(fallback.read_text()) == json.loads(result.stdout)
    finally:
        fallback.unlink(missing_ok=True)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["trian"], "No such command 'trian'. Did you mean 'train'? (see `pbgan --help`)"),
        (["evaluate", "runs", "-n", "0"], "(see `pbgan evaluate --help`)"),
        (["convert", "gen.keras"], "Missing option '-o' / '--output'."),
    ],
)
def test_the_pbgan_command_reports_usage_errors_in_one_line(args, message):
    from pbgan.cli import main

    result = CliRunner().invoke(main, args, prog_name="pbgan")
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0]
