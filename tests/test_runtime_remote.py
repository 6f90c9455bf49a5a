"""Remote benchmarking: log parsing, and the ssh/adb command flow against local stand-ins."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

from pbgan.runtime.remote import (
    AdbRunner,
    RemoteError,
    SshRunner,
    benchmark_command,
    parse_benchmark_output,
)

import pytest

DATA = Path(__file__).parent / "data"
# Synthetic outputs: written by hand from the log format in `lce_benchmark_model`'s source
# (TFLite's benchmark tool, as LCE builds it), not captured on a Pi or an Android device.
# They pin the parser to that format; a log from a real device may still differ.
PI_LOG = DATA / "lce_benchmark_model_rpi4_binary_synthetic.txt"
ANDROID_LOG = DATA / "lce_benchmark_model_android_float_synthetic.txt"
FAILED_LOG = DATA / "lce_benchmark_model_unresolved_op_synthetic.txt"
SSHD = Path("/usr/sbin/sshd")


# --- parsing ----------------------------------------------------------------------------


def test_parse_reads_the_timed_runs_and_peak_memory_of_a_pi_log():
    r = parse_benchmark_output(PI_LOG.read_text())
    assert r.avg_ms == pytest.approx(21.1437)
    assert r.count == 50
    assert (r.min_ms, r.max_ms, r.std_ms) == pytest.approx((20.981, 21.602, 0.118))
    assert r.init_ms == pytest.approx(9.117)
    assert r.first_inference_ms == pytest.approx(24.211)
    assert r.warmup_avg_ms == pytest.approx(21.3025)
    assert (r.init_mem_mb, r.overall_mem_mb) == pytest.approx((4.35156, 7.92578))
    assert r.peak_mem_mb == pytest.approx(11.3438)
    assert r.model_size_mb == pytest.approx(1.43251)
    assert r.threads == 1


def test_parse_ignores_the_rss_lines_of_newer_tools():
    r = parse_benchmark_output(ANDROID_LOG.read_text())
    assert r.avg_ms == pytest.approx(8.12931)
    assert r.count == 123
    assert r.peak_mem_mb == pytest.approx(26.9453)
    assert r.threads == 4


def test_parse_falls_back_to_the_second_stats_line_without_a_summary():
    text = PI_LOG.read_text().split("INFO: Inference timings")[0]
    r = parse_benchmark_output(text)
    assert r.avg_ms == pytest.approx(21.1437)
    assert r.peak_mem_mb is None and r.init_ms is None


def test_parse_reads_the_all_same_stats_form():
    text = "INFO: count=1 curr=40000\n\nINFO: count=5 curr=30000(all same)\n"
    r = parse_benchmark_output(text)
    assert (r.avg_ms, r.min_ms, r.max_ms, r.count) == (30.0, 30.0, 30.0, 5)


def test_parse_reports_the_tools_first_error_in_one_line():
    with pytest.raises(RemoteError, match="unresolved custom op: LceBconv2d") as err:
        parse_benchmark_output(FAILED_LOG.read_text())
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("text", ["", "garbage\x00\x01 not a log", "INFO: count=3 curr=9\n"])
def test_parse_refuses_output_without_timings(text):
    with pytest.raises(RemoteError, match="no inference timings") as err:
        parse_benchmark_output(text)
    assert "\n" not in str(err.value)


def test_benchmark_command_always_asks_for_peak_memory():
    argv = benchmark_command(
        "/d/bin", "/d/m.tflite", threads=2, runs=7, extra_flags=["--use_xnnpack=false"]
    )
    assert argv == [
        "/d/bin",
        "--graph=/d/m.tflite",
        "--num_threads=2",
        "--num_runs=7",
        "--report_peak_memory_footprint=true",
        "--use_xnnpack=false",
    ]


# --- stand-ins ---------------------------------------------------------------------------


def _executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def fake_benchmark_binary(tmp_path: Path, log: Path, *, exit_code: int = 0) -> tuple[Path, Path]:
    """A `lce_benchmark_model` that prints a synthetic log (to stderr, like the tool)."""
    args_file = tmp_path / "benchmark-args.txt"
    script = _executable(
        tmp_path / "lce_benchmark_model",
        f'#!/bin/sh\necho "$@" > {args_file}\ncat {log} >&2\nexit {exit_code}\n',
    )
    return script, args_file


@pytest.fixture
def tiny_model(tmp_path: Path) -> Path:
    # The runner copies bytes; they need not be a valid flatbuffer for the command flow.
    path = tmp_path / "generator.tflite"
    path.write_bytes(b"\x1c\x00\x00\x00TFL3" + bytes(64))
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
        check=True,
        capture_output=True,
    )


@pytest.fixture
def sshd(tmp_path: Path):
    """A real OpenSSH server on 127.0.0.1 for the current user, key login only."""
    if not SSHD.exists() or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        pytest.skip(
            "OpenSSH server/client not installed (apt install openssh-server openssh-client)"
        )
    if os.geteuid() == 0 and not Path("/run/sshd").exists():
        # sshd run as root needs its privilege-separation directory, which the service
        # manager normally creates.
        Path("/run/sshd").mkdir(mode=0o755)
    keys = tmp_path / "keys"
    keys.mkdir()
    _keygen(keys / "host")
    _keygen(keys / "client")
    (keys / "authorized_keys").write_text((keys / "client.pub").read_text())
    port = _free_port()
    config = keys / "sshd_config"
    config.write_text(
        "\n".join(
            [
                "ListenAddress 127.0.0.1",
                f"HostKey {keys / 'host'}",
                f"PidFile {keys / 'sshd.pid'}",
                f"AuthorizedKeysFile {keys / 'authorized_keys'}",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                "StrictModes no",
                "UsePAM no",
                "Subsystem sftp internal-sftp",
                "",
            ]
        )
    )
    proc = subprocess.Popen(
        [str(SSHD), "-D", "-e", "-f", str(config), "-p", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.skip(f"sshd did not start: {proc.stdout.read().strip()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        pytest.skip("sshd did not listen within 10 s")
    user = (
        os.environ.get("USER")
        or subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()
    )
    options = ["-F", "/dev/null", "-o", f"UserKnownHostsFile={keys / 'known_hosts'}"]
    yield {
        "target": f"{user}@127.0.0.1",
        "port": port,
        "identity": keys / "client",
        "options": options,
    }
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()


# --- ssh ---------------------------------------------------------------------------------


def test_ssh_runner_runs_the_binary_remotely_and_removes_its_temp_dir(sshd, tmp_path, tiny_model):
    binary, args_file = fake_benchmark_binary(tmp_path, PI_LOG)
    runner = SshRunner(
        sshd["target"],
        port=sshd["port"],
        identity=sshd["identity"],
        timeout=60,
        options=sshd["options"],
    )
    result = runner.run_benchmark(tiny_model, binary, threads=2, runs=9)
    assert result.avg_ms == pytest.approx(21.1437)
    assert result.peak_mem_mb == pytest.approx(11.3438)
    assert result.remote_dir.startswith("/tmp/pbgan-")
    assert not Path(result.remote_dir).exists()
    args = args_file.read_text().split()
    assert f"--graph={result.remote_dir}/{tiny_model.name}" in args
    assert {"--num_threads=2", "--num_runs=9", "--report_peak_memory_footprint=true"} <= set(args)


def test_ssh_runner_cleans_up_and_names_the_error_when_the_binary_fails(sshd, tmp_path, tiny_model):
    binary, _ = fake_benchmark_binary(tmp_path, FAILED_LOG, exit_code=1)
    runner = SshRunner(
        sshd["target"], port=sshd["port"], identity=sshd["identity"], options=sshd["options"]
    )
    before = set(Path("/tmp").glob("pbgan-*"))
    with pytest.raises(RemoteError, match="exited with 1: Encountered unresolved custom op"):
        runner.run_benchmark(tiny_model, binary)
    assert set(Path("/tmp").glob("pbgan-*")) == before


def test_ssh_runner_fails_fast_in_one_line_on_a_closed_port(tmp_path, tiny_model):
    if shutil.which("ssh") is None:
        pytest.skip("ssh not installed (apt install openssh-client)")
    binary, _ = fake_benchmark_binary(tmp_path, PI_LOG)
    runner = SshRunner(
        "nobody@127.0.0.1",
        port=_free_port(),
        timeout=20,
        connect_timeout=3,
        options=["-F", "/dev/null", "-o", f"UserKnownHostsFile={tmp_path / 'kh'}"],
    )
    start = time.monotonic()
    with pytest.raises(RemoteError, match="cannot reach nobody@127.0.0.1 over ssh") as err:
        runner.run_benchmark(tiny_model, binary)
    assert time.monotonic() - start < 10
    assert "\n" not in str(err.value)


def test_runner_refuses_a_missing_benchmark_binary_before_connecting(tmp_path, tiny_model):
    runner = SshRunner("pi@192.0.2.1", timeout=1)  # TEST-NET: would hang if contacted
    with pytest.raises(RemoteError, match="benchmark binary .* not found; build"):
        runner.run_benchmark(tiny_model, tmp_path / "missing" / "lce_benchmark_model")


def test_ssh_runner_names_a_missing_ssh_client(tmp_path, tiny_model, monkeypatch):
    binary, _ = fake_benchmark_binary(tmp_path, PI_LOG)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(RemoteError, match="ssh is not installed; install openssh-client"):
        SshRunner("pi@raspberrypi").run_benchmark(tiny_model, binary)


# --- adb ---------------------------------------------------------------------------------

FAKE_ADB = """#!{python}
# Stand-in for adb: /data/local/tmp lives under $FAKE_ADB_ROOT on this machine.
import os, shutil, subprocess, sys
root = os.environ["FAKE_ADB_ROOT"]
args = sys.argv[1:]
with open(os.path.join(root, "calls.txt"), "a") as log:
    log.write(" ".join(args) + "\\n")
if args[:1] == ["-s"]:
    if args[1] != os.environ.get("FAKE_ADB_SERIAL", args[1]):
        sys.exit("error: device '%s' not found" % args[1])
    args = args[2:]
local = lambda p: root + p
if args[0] == "push":
    shutil.copy(args[1], local(args[2]))
    print("%s: 1 file pushed." % args[1])
elif args[0] == "shell":
    command = args[1].replace("/data/local/tmp", local("/data/local/tmp"))
    proc = subprocess.run(["sh", "-c", command], capture_output=True, text=True)
    sys.stdout.write(proc.stdout + proc.stderr)
else:
    sys.exit("unsupported: %s" % args)
"""


@pytest.fixture
def fake_adb(tmp_path, monkeypatch):
    root = tmp_path / "device"
    (root / "data" / "local" / "tmp").mkdir(parents=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _executable(bin_dir / "adb", FAKE_ADB.format(python=sys.executable))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_ADB_ROOT", str(root))
    monkeypatch.setenv("FAKE_ADB_SERIAL", "emulator-5554")
    return root


def test_adb_runner_pushes_runs_parses_and_removes_its_dir(fake_adb, tmp_path, tiny_model):
    binary, args_file = fake_benchmark_binary(tmp_path, ANDROID_LOG)
    result = AdbRunner("emulator-5554", timeout=30).run_benchmark(
        tiny_model, binary, threads=4, runs=5, extra_flags=["--use_xnnpack=false"]
    )
    assert result.avg_ms == pytest.approx(8.12931)
    assert result.target == "adb:emulator-5554"
    assert result.remote_dir.startswith("/data/local/tmp/pbgan-")
    assert list((fake_adb / "data" / "local" / "tmp").iterdir()) == []
    args = args_file.read_text().split()
    assert {"--num_threads=4", "--num_runs=5", "--use_xnnpack=false"} <= set(args)
    calls = (fake_adb / "calls.txt").read_text().splitlines()
    assert all(c.startswith("-s emulator-5554 ") for c in calls)
    assert any(" push " in f" {c} " for c in calls)
    assert "rm -rf" in calls[-1]


def test_adb_runner_reports_a_failing_binary_and_still_cleans_up(fake_adb, tmp_path, tiny_model):
    binary, _ = fake_benchmark_binary(tmp_path, FAILED_LOG, exit_code=1)
    with pytest.raises(RemoteError, match="exited with 1: Encountered unresolved custom op"):
        AdbRunner(timeout=30).run_benchmark(tiny_model, binary)
    assert list((fake_adb / "data" / "local" / "tmp").iterdir()) == []


def test_adb_runner_names_an_unknown_device(fake_adb, tmp_path, tiny_model):
    binary, _ = fake_benchmark_binary(tmp_path, ANDROID_LOG)
    with pytest.raises(RemoteError, match="device 'R58M' not found; connect a device"):
        AdbRunner("R58M", timeout=30).run_benchmark(tiny_model, binary)


def test_adb_runner_names_a_missing_adb(tmp_path, tiny_model, monkeypatch):
    binary, _ = fake_benchmark_binary(tmp_path, ANDROID_LOG)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(RemoteError, match="adb is not installed"):
        AdbRunner().run_benchmark(tiny_model, binary)


def test_ssh_runner_refuses_a_missing_identity_file(tmp_path):
    with pytest.raises(RemoteError, match="identity file .* not found"):
        SshRunner("pi@raspberrypi", identity=tmp_path / "id_missing")


def test_bench_cli_over_adb_runs_each_remote_config_per_model(fake_adb, tmp_path):
    import json

    from pbgan.runtime.cli import bench

    from click.testing import CliRunner
    from test_tflite_graph import write_tiny_models

    models = write_tiny_models(tmp_path / "models")
    binary, _ = fake_benchmark_binary(tmp_path, PI_LOG)
    args = [str(models["binary_generator"]), "--baseline", str(models["float"]), "--json"]
    args += ["--runs", "5", "--adb", "emulator-5554", "--benchmark-binary", str(binary)]
    result = CliRunner().invoke(bench, args)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    assert {r["where"] for r in rows} == {"adb:emulator-5554"}
    assert [(r["model"], r["config"]) for r in rows] == [
        ("float.tflite", "xnnpack"),
        ("float.tflite", "no-xnnpack"),
        ("binary_generator.tflite", "default"),
        ("binary_generator.tflite", "indirect-bgemm"),
    ]
    assert all(r["median_ms"] == pytest.approx(21.1437) for r in rows)
    assert all(r["peak_rss_bytes"] == int(11.3438 * 1024 * 1024) for r in rows)
    assert rows[-1]["speedup"] == pytest.approx(1.0)
