"""Where a number was measured: CPU, cores, threads, OS, Python and the stack versions.

Every results JSON the project writes (bench, evaluate, reproduce, benchmarks/) records
:func:`machine_info`, so a figure never loses the machine it belongs to.
"""

from __future__ import annotations

import functools
import os
import platform
import time
from pathlib import Path
from typing import Any

__all__ = ["cpu_model", "machine_info", "machine_line"]


@functools.cache
def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), or what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def machine_info(*, threads: int | list[int] | None = None, stack: bool = True) -> dict[str, Any]:
    """A JSON-ready description of this machine.

    ``threads``: the thread count(s) the measurement used (``None``: not applicable).
    ``stack=False`` skips the TensorFlow/larq/LCE versions (they import TensorFlow).
    """
    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": _usable_cores(),
        "threads": threads,
        "os": platform.platform(),
        "arch": platform.machine(),
        "python": platform.python_version(),
    }
    if stack:
        from pbgan import stack_versions

        info["versions"] = stack_versions()
    return info


def machine_line(info: dict[str, Any] | None = None) -> str:
    """One line for a Markdown report: ``AMD EPYC ..., 2 cores, Linux-..., Python 3.11.7``."""
    info = info or machine_info(stack=False)
    parts = [str(info.get("cpu", "unknown CPU")), f"{info.get('cores')} cores"]
    if info.get("threads") is not None:
        threads = info["threads"]
        threads = ",".join(map(str, threads)) if isinstance(threads, list) else threads
        parts.append(f"threads {threads}")
    parts += [str(info.get("os", "")), f"Python {info.get('python', '?')}"]
    versions = info.get("versions") or {}
    if versions:
        parts.append(", ".join(f"{k} {v}" for k, v in versions.items() if k != "pbgan"))
    return ", ".join(p for p in parts if p)


def load_average() -> list[float]:
    """The 1-, 5- and 15-minute load averages, rounded (empty where the OS has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return []


def load_sentence(before: list[float], after: list[float], busy: float | None = None) -> str:
    """One sentence for a benchmark report: the load around the run and what it means.

    ``busy`` (:func:`busy_cores` just before the run) decides whether the machine was
    idle; without it, the 1-minute load average does (it lags: a run that just ended
    still counts)."""
    text = (
        f"Load average (1, 5, 15 min) before / after: {before} / {after or '?'}"
        if before
        else "Load average unknown on this OS"
    )
    if busy is not None:
        text += f"; {busy} of {os.cpu_count()} cores busy in the second before the run"
        idle = busy < 0.25
    elif before:
        idle = before[0] < 0.5
    else:
        return text + "."
    if idle:
        return text + ": idle when the run started."
    return text + ": other work was running; re-measure on an idle machine before quoting."


def busy_cores(seconds: float = 1.0) -> float | None:
    """How many cores were busy over the next ``seconds`` (all processes), from
    ``/proc/stat``; ``None`` where there is none. Unlike the load average, which decays
    over a minute, this says whether anything else is running now."""

    def sample() -> tuple[int, int] | None:
        try:
            fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields), idle

    first = sample()
    time.sleep(seconds)
    second = sample()
    if first is None or second is None or second[0] == first[0]:
        return None
    total, idle = second[0] - first[0], second[1] - first[1]
    return round((total - idle) / total * (os.cpu_count() or 1), 2)
