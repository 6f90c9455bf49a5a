"""Benchmark a flatbuffer on a Raspberry Pi (ssh) or an Android device (adb).

LCE ships no aarch64 Python wheel, so on a device the runtime is LCE's
``lce_benchmark_model``: TensorFlow Lite's ``benchmark_model`` with the LCE ops
registered and two extra flags (``--use_reference_bconv``, ``--use_indirect_bgemm``).
A runner makes a fresh temporary directory on the device, copies the model and the
binary there, runs

    lce_benchmark_model --graph=M --num_threads=N --num_runs=R
                        --report_peak_memory_footprint=true [extra flags]

parses its log with :func:`parse_benchmark_output`, and removes the directory whatever
happened. Every failure is a :class:`RemoteError` with one line naming the fix.
"""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "REMOTE_CONFIGS",
    "AdbRunner",
    "RemoteError",
    "RemoteResult",
    "SshRunner",
    "benchmark_command",
    "parse_benchmark_output",
]

# Extra flags per configuration. The tool applies XNNPACK to float ops by default, so
# the float choices are "xnnpack" and "no-xnnpack"; the bconv choices keep the default.
REMOTE_CONFIGS: dict[str, tuple[str, ...]] = {
    "default": (),
    "indirect-bgemm": ("--use_indirect_bgemm=true",),
    "reference-bconv": ("--use_reference_bconv=true",),
    "xnnpack": ("--use_xnnpack=true",),
    "no-xnnpack": ("--use_xnnpack=false",),
}
REMOTE_BINARY_CONFIGS = ("default", "indirect-bgemm")
REMOTE_FLOAT_CONFIGS = ("xnnpack", "no-xnnpack")

_NUMBER = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?nan|[-+]?inf)"
_SUMMARY = re.compile(
    rf"Inference timings in us: Init: {_NUMBER}, First inference: {_NUMBER}, "
    rf"Warmup \(avg\): {_NUMBER}, Inference \(avg\): {_NUMBER}"
)
# tensorflow::Stat::OutputToStream: the full form, or "count=N curr=X(all same)".
_STATS = re.compile(
    rf"\bcount=(\d+)(?: first={_NUMBER} curr={_NUMBER} min={_NUMBER} max={_NUMBER} "
    rf"avg={_NUMBER} std={_NUMBER}| curr={_NUMBER})?"
)
_MEMORY = re.compile(
    rf"Memory footprint delta from the start of the tool \(MB\): init={_NUMBER} "
    rf"overall={_NUMBER}"
)
_PEAK = re.compile(rf"Overall peak memory footprint \(MB\) via periodic monitoring: {_NUMBER}")
_MODEL_SIZE = re.compile(rf"The input model file size \(MB\): {_NUMBER}")
_THREADS = re.compile(r"Num threads: \[(-?\d+)\]")
_BINARY_HINT = (
    "build //larq_compute_engine/tflite/benchmark:lce_benchmark_model for the device "
    "(or take it from the LCE releases) and pass --benchmark-binary"
)


class RemoteError(RuntimeError):
    """A remote benchmark that failed; the message is one line naming the fix."""


@dataclasses.dataclass
class RemoteResult:
    """One ``lce_benchmark_model`` run; times in ms, memory in MB (as the tool prints)."""

    avg_ms: float
    count: int
    min_ms: float | None = None
    max_ms: float | None = None
    std_ms: float | None = None
    init_ms: float | None = None
    first_inference_ms: float | None = None
    warmup_avg_ms: float | None = None
    init_mem_mb: float | None = None
    overall_mem_mb: float | None = None
    peak_mem_mb: float | None = None
    model_size_mb: float | None = None
    threads: int | None = None
    target: str = ""
    remote_dir: str = ""
    flags: list[str] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _first_error(text: str) -> str | None:
    for line in text.splitlines():
        if line.startswith("ERROR:") and "Benchmarking failed" not in line:
            return line.removeprefix("ERROR:").strip()
    return None


def _stats(match: re.Match) -> dict[str, float | int]:
    count = int(match.group(1))
    if match.group(2) is not None:
        first, _curr, lo, hi, avg, std = (float(match.group(i)) for i in range(2, 8))
        return {"count": count, "min": lo, "max": hi, "avg": avg, "std": std}
    if match.group(8) is not None:  # all runs took the same time
        value = float(match.group(8))
        return {"count": count, "min": value, "max": value, "avg": value, "std": 0.0}
    return {"count": count}


def _optional(pattern: re.Pattern, text: str, group: int = 1) -> float | None:
    match = pattern.search(text)
    return float(match.group(group)) if match else None


def parse_benchmark_output(text: str) -> RemoteResult:
    """Latency and memory from a ``lce_benchmark_model`` / ``benchmark_model`` log.

    The tool prints one statistics line per phase (warm-up, then the timed runs) and a
    summary; the average comes from the summary's ``Inference (avg)``, or from the
    second statistics line when the summary is missing. Memory lines are optional
    (absent without ``--report_peak_memory_footprint`` or where unsupported).
    """
    summary = _SUMMARY.search(text)
    phases = [_stats(m) for m in _STATS.finditer(text)]
    timed = phases[1] if len(phases) >= 2 else None
    if summary is None and (timed is None or "avg" not in timed):
        error = _first_error(text)
        if error:
            raise RemoteError(f"lce_benchmark_model failed: {error}")
        raise RemoteError(
            "no inference timings in the benchmark output; run lce_benchmark_model "
            "by hand to see why"
        )
    timed = timed or {}
    avg_us = float(summary.group(4)) if summary else float(timed["avg"])
    memory = _MEMORY.search(text)
    threads = _THREADS.search(text)

    def ms(value: float | None) -> float | None:
        return None if value is None else value / 1e3

    return RemoteResult(
        avg_ms=avg_us / 1e3,
        count=int(timed.get("count", 0)),
        min_ms=ms(timed.get("min")),
        max_ms=ms(timed.get("max")),
        std_ms=ms(timed.get("std")),
        init_ms=ms(float(summary.group(1))) if summary else None,
        first_inference_ms=ms(float(summary.group(2))) if summary else None,
        warmup_avg_ms=ms(float(summary.group(3))) if summary else None,
        init_mem_mb=float(memory.group(1)) if memory else None,
        overall_mem_mb=float(memory.group(2)) if memory else None,
        peak_mem_mb=_optional(_PEAK, text),
        model_size_mb=_optional(_MODEL_SIZE, text),
        threads=int(threads.group(1)) if threads else None,
    )


def benchmark_command(
    binary: str,
    model: str,
    *,
    threads: int,
    runs: int,
    warmup_runs: int | None = None,
    extra_flags: Sequence[str] = (),
) -> list[str]:
    """The argument vector run on the device."""
    argv = [
        binary,
        f"--graph={model}",
        f"--num_threads={threads}",
        f"--num_runs={runs}",
        "--report_peak_memory_footprint=true",
    ]
    if warmup_runs is not None:
        argv.append(f"--warmup_runs={warmup_runs}")
    return argv + list(extra_flags)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def _check_local_files(model_path: Path, binary: Path) -> None:
    if not model_path.is_file():
        raise RemoteError(
            f"{model_path} does not exist; pass a .tflite file written by `pbgan convert`"
        )
    if not binary.is_file():
        raise RemoteError(f"benchmark binary {binary} not found; {_BINARY_HINT}")


class _Runner:
    """Template: make a remote dir, copy, run, parse, always clean up."""

    target = ""  # as the user named the device
    label = ""  # where results ran, for reports: "ssh:pi@raspberrypi", "adb:SERIAL"

    def _mkdtemp(self) -> str:
        raise NotImplementedError

    def _push(self, local: Path, remote_dir: str) -> None:
        raise NotImplementedError

    def _shell(self, command: str) -> str:
        """Run ``command`` on the device; return its combined output or raise."""
        raise NotImplementedError

    def _cleanup(self, remote_dir: str) -> None:
        try:
            self._shell(f"rm -rf {shlex.quote(remote_dir)}")
        except RemoteError:
            pass  # best effort: the run's own error is the one to report

    def run_benchmark(
        self,
        model_path: str | os.PathLike,
        benchmark_binary: str | os.PathLike,
        *,
        threads: int = 1,
        runs: int = 50,
        warmup_runs: int | None = None,
        extra_flags: Sequence[str] = (),
    ) -> RemoteResult:
        """Copy model and binary to the device, run the benchmark there, parse it."""
        model_path, binary = Path(model_path), Path(benchmark_binary)
        _check_local_files(model_path, binary)
        remote_dir = self._mkdtemp()
        try:
            self._push(model_path, remote_dir)
            self._push(binary, remote_dir)
            remote_binary = f"{remote_dir}/{binary.name}"
            argv = benchmark_command(
                remote_binary,
                f"{remote_dir}/{model_path.name}",
                threads=threads,
                runs=runs,
                warmup_runs=warmup_runs,
                extra_flags=extra_flags,
            )
            command = f"chmod 755 {shlex.quote(remote_binary)} && " + shlex.join(argv)
            output = self._shell(command)
        finally:
            self._cleanup(remote_dir)
        result = parse_benchmark_output(output)
        result.target, result.remote_dir, result.flags = self.target, remote_dir, list(argv[1:])
        return result


def _require(program: str, package_hint: str) -> str:
    found = shutil.which(program)
    if found is None:
        raise RemoteError(f"{program} is not installed; {package_hint}")
    return found


def _run_bounded(
    argv: list[str], *, timeout: float, target: str, what: str
) -> subprocess.CompletedProcess:
    """Run a transport command with captured text output and a time bound."""
    try:
        return subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise RemoteError(
            f"{what} on {target} timed out after {timeout:.0f} s; "
            "raise --timeout or check the device"
        ) from None


class SshRunner(_Runner):
    """Runs the benchmark on ``target`` (``user@host``) over ssh with key login only.

    ``BatchMode=yes`` never waits for a password, ``ConnectTimeout`` bounds a dead host,
    ``StrictHostKeyChecking=accept-new`` trusts a first-seen host but refuses a changed
    key. ``options`` go to both ssh and scp (e.g. ``["-F", "/dev/null"]``).
    """

    def __init__(
        self,
        target: str,
        *,
        port: int | None = None,
        identity: str | os.PathLike | None = None,
        timeout: float = 600.0,
        connect_timeout: int = 10,
        options: Sequence[str] = (),
    ) -> None:
        if not target or target.startswith("-"):
            raise RemoteError(f"bad ssh target {target!r}; pass user@host")
        if identity is not None and not Path(identity).is_file():
            # ssh would skip it silently and then fail with "Permission denied".
            raise RemoteError(f"identity file {identity} not found; pass a private key file")
        self.target = target
        self.label = f"ssh:{target}"
        self.port = port
        self.identity = None if identity is None else str(identity)
        self.timeout = timeout
        self.common = [
            "-o",
            "BatchMode=yes",
            "-o",
            f"ConnectTimeout={connect_timeout}",
            "-o",
            "StrictHostKeyChecking=accept-new",
            *(["-i", self.identity] if self.identity else []),
            *options,
        ]

    def _run(self, argv: list[str], what: str) -> str:
        proc = _run_bounded(argv, timeout=self.timeout, target=self.target, what=what)
        # The remote side joins its stderr to stdout (see _shell); ssh's own notices
        # ("Permanently added ... to known hosts") stay on stderr, out of the log.
        output = proc.stdout
        if proc.returncode == 255:  # ssh's own failure: the command never ran
            raise RemoteError(
                f"cannot reach {self.target} over ssh: {_last_line(proc.stderr)}; "
                "check host, port and key login (ssh -o BatchMode=yes must work)"
            )
        if proc.returncode != 0:
            detail = _first_error(output) or _last_line(output + proc.stderr)
            raise RemoteError(f"{what} on {self.target} exited with {proc.returncode}: {detail}")
        return output

    def _ssh(self) -> list[str]:
        ssh = _require("ssh", "install openssh-client")
        return [ssh, *self.common, *(["-p", str(self.port)] if self.port else []), self.target]

    def _shell(self, command: str) -> str:
        return self._run([*self._ssh(), f"({command}) 2>&1"], "remote command")

    def _mkdtemp(self) -> str:
        out = self._run([*self._ssh(), "mktemp -d /tmp/pbgan-XXXXXXXX"], "mktemp")
        remote_dir = _last_line(out)
        if not remote_dir.startswith("/") or any(c.isspace() for c in remote_dir):
            raise RemoteError(f"mktemp on {self.target} printed {remote_dir!r}; check its shell")
        return remote_dir

    def _push(self, local: Path, remote_dir: str) -> None:
        scp = _require("scp", "install openssh-client")
        port = ["-P", str(self.port)] if self.port else []
        argv = [scp, "-q", *self.common, *port, str(local), f"{self.target}:{remote_dir}/"]
        what = f"copying {local.name}"
        proc = _run_bounded(argv, timeout=self.timeout, target=self.target, what=what)
        if proc.returncode == 255:
            # ssh reached the host a moment ago (mktemp), so this is the copy itself: the
            # scp of OpenSSH >= 9 speaks SFTP, which a host without an sftp server (dropbear,
            # minimal images) closes. -O is the original scp protocol.
            argv = [scp, "-O", *argv[1:]]
            proc = _run_bounded(argv, timeout=self.timeout, target=self.target, what=what)
        if proc.returncode != 0:
            raise RemoteError(
                f"{what} to {self.target} failed: {_last_line(proc.stderr + proc.stdout)}; "
                "check the host's free space in /tmp, and that scp works there (scp of "
                "OpenSSH >= 9 needs its sftp server: install openssh-sftp-server)"
            )


class AdbRunner(_Runner):
    """Runs the benchmark on an Android device (``serial``, or the only one) over adb."""

    def __init__(
        self, serial: str | None = None, *, timeout: float = 600.0, adb: str = "adb"
    ) -> None:
        self.serial = serial or None
        self.timeout = timeout
        self.adb = adb
        self.target = f"adb:{serial}" if serial else "adb"
        self.label = self.target

    def _adb(self, *args: str, what: str) -> str:
        adb = _require(self.adb, "install the Android platform-tools (apt install adb)")
        argv = [adb, *(["-s", self.serial] if self.serial else []), *args]
        proc = _run_bounded(argv, timeout=self.timeout, target=self.target, what=what)
        output = proc.stdout + proc.stderr
        if proc.returncode != 0:
            line = _last_line(proc.stderr or proc.stdout)
            if "device" in line and ("not found" in line or "no devices" in line):
                raise RemoteError(
                    f"adb: {line}; connect a device (adb devices) or pass --adb SERIAL"
                )
            raise RemoteError(f"{what} on {self.target} failed: {line}")
        return output

    def _shell(self, command: str) -> str:
        # Old adb servers drop the remote exit status: echo it and read it back. stderr
        # joins stdout on the device so the log keeps its order ahead of the marker.
        marker = "pbgan-exit="
        output = self._adb("shell", f'({command}) 2>&1; echo "{marker}$?"', what="adb shell")
        found = re.findall(rf"^{marker}(\d+)\s*$", output, re.MULTILINE)
        body = re.sub(rf"^{marker}\d+\s*$", "", output, flags=re.MULTILINE)
        if not found:
            raise RemoteError(
                f"adb shell on {self.target} gave no exit status: {_last_line(output)}"
            )
        if int(found[-1]) != 0:
            detail = _first_error(body) or _last_line(body)
            raise RemoteError(f"command on {self.target} exited with {found[-1]}: {detail}")
        return body

    def _mkdtemp(self) -> str:
        # A local random name and mkdir (which fails on a clash): old devices have no mktemp.
        remote_dir = f"/data/local/tmp/pbgan-{secrets.token_hex(4)}"
        self._shell(f"mkdir {remote_dir}")
        return remote_dir

    def _push(self, local: Path, remote_dir: str) -> None:
        self._adb("push", str(local), f"{remote_dir}/{local.name}", what=f"pushing {local.name}")
