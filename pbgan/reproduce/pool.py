"""Training runs side by side: ``--jobs N`` processes, each pinned to its own core.

A small GAN's training step does not keep two cores busy: on a 2-core machine two
processes pinned to one core each train about 1.7x as many steps per second in total as
one process on both cores (dcgan32 at width 0.25; see the committed reproduction's
README). Each job is a fresh interpreter (``spawn``: TensorFlow does not survive a
fork) that pins itself with :func:`os.sched_setaffinity` before it imports TensorFlow,
so TensorFlow sizes its thread pools to that one core; it trains one run and exits, so
no memory piles up between runs. With ``jobs=1`` runs train in this process, one after
the other.

Only training runs in parallel: evaluation, conversion and benchmarks follow in the
calling process, so latencies are never measured beside a training job.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Sequence
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

from pbgan.reproduce.plan import ReproduceConfig, ReproduceError, RunSpec

__all__ = ["TrainTask", "cores", "die_with_parent", "train_all"]

Report = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class TrainTask:
    """One run to train: what, with which options, where, and its progress tag."""

    spec: RunSpec
    config: ReproduceConfig
    run_dir: str
    tag: str
    teacher_dir: str | None = None  # the run of spec.teacher, trained before this one


def cores() -> list[int]:
    """The cores this process may run on, in order."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux: no pinning, but still N processes
        return list(range(os.cpu_count() or 1))


def _pin(core: int) -> None:
    try:
        os.sched_setaffinity(0, {core})
    except (AttributeError, OSError):
        pass


def _one_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def die_with_parent() -> None:
    """End this process when its parent ends, however it ends (``kill -9`` included).

    A training job must not train on, unseen, after ``pbgan reproduce`` was stopped: on
    Linux the kernel sends it SIGKILL when the parent dies (``PR_SET_PDEATHSIG``); its
    run resumes from the last finished epoch next time. Elsewhere this does nothing.
    """
    import ctypes
    import signal

    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request took hold
        os._exit(1)


def _child(task: TrainTask, core: int, conn) -> None:
    """Entry point of a job: pin, then import TensorFlow, train, send the result."""
    die_with_parent()
    _pin(core)
    try:
        from pbgan.metrics.evaluate import progress
        from pbgan.reproduce.stages import train_run

        import tensorflow as tf

        # larq's quantized variables trip an AutoGraph notice on every run; it is harmless.
        tf.get_logger().setLevel("ERROR")
        result = train_run(
            task.spec, task.config, Path(task.run_dir), task.tag, progress, task.teacher_dir
        )
    except Exception as err:  # sent to the parent, which reports every failure
        result = {"error": f"{type(err).__name__}: {_one_line(err)}"}
    conn.send(result)
    conn.close()


def _in_process(tasks: Sequence[TrainTask], report: Report, done: Callable) -> dict[str, dict]:
    from pbgan.reproduce.stages import train_run

    import tensorflow as tf

    results: dict[str, dict] = {}
    for task in _teachers_first(tasks):
        failed = _failed_teacher(task, results)
        results[task.spec.name] = failed or train_run(
            task.spec, task.config, Path(task.run_dir), task.tag, report, task.teacher_dir
        )
        tf.keras.backend.clear_session()  # one run's graphs must not pile up
        done()
    return results


def _teachers_first(tasks: Sequence[TrainTask]) -> list[TrainTask]:
    """The tasks in order, every student after the runs it learns from."""
    return sorted(tasks, key=lambda t: t.spec.teacher is not None)


def _failed_teacher(task: TrainTask, results: dict[str, dict]) -> dict | None:
    """An error result for a student whose teacher failed to train in this invocation."""
    teacher = results.get(task.spec.teacher or "")
    if teacher is None or "error" not in teacher:
        return None
    return {"error": f"its float teacher {task.spec.teacher} did not train"}


def _ready(pending: deque, running_names: set[str]) -> TrainTask | None:
    """The first pending task whose teacher is neither pending nor being trained."""
    waiting = running_names | {t.spec.name for t in pending}
    for task in pending:
        if task.spec.teacher not in waiting:
            pending.remove(task)
            return task
    return None


def _side_by_side(
    tasks: Sequence[TrainTask], jobs: int, report: Report, done: Callable
) -> dict[str, dict]:
    ctx = multiprocessing.get_context("spawn")
    usable = cores()
    free = deque(usable[i % len(usable)] for i in range(jobs))
    pending = deque(_teachers_first(tasks))
    running: dict[Any, tuple[Any, Any, TrainTask, int]] = {}
    results: dict[str, dict] = {}
    report(f"reproduce: {jobs} training processes on cores {', '.join(map(str, list(free)))}")
    if jobs > len(usable):
        report(f"reproduce: --jobs {jobs} exceeds the {len(usable)} usable cores: some share one")
    try:
        while pending or running:
            while pending and free:
                task = _ready(pending, {t.spec.name for _, _, t, _ in running.values()})
                if task is None:  # every pending run waits for a teacher being trained
                    break
                failed = _failed_teacher(task, results)
                if failed:
                    results[task.spec.name] = failed
                    done()
                    continue
                core = free.popleft()
                receive, send = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_child, args=(task, core, send), daemon=True)
                proc.start()
                send.close()
                running[proc.sentinel] = (proc, receive, task, core)
            for sentinel in wait(list(running)):
                proc, receive, task, core = running.pop(sentinel)
                proc.join()
                # The child sends a few numbers just before it exits, so nothing blocks.
                result = receive.recv() if receive.poll() else None
                receive.close()
                if result is None:
                    result = {"error": f"the training process exited with code {proc.exitcode}"}
                results[task.spec.name] = result
                free.append(core)
                done()
    finally:
        for proc, *_ in running.values():
            proc.terminate()
            proc.join()
    return results


def train_all(
    tasks: Sequence[TrainTask],
    jobs: int = 1,
    report: Report = print,
    done: Callable[[], Any] = lambda: None,
) -> dict[str, dict]:
    """Train every task (``jobs`` at a time); run name -> ``{"epochs_done", "stopped"}``.

    ``done`` is called after each run. A job that fails does not stop the others; the
    first failure is raised (as :class:`ReproduceError`) once every job has ended, and
    what finished is kept on disk for the next invocation.
    """
    if jobs <= 1 or len(tasks) <= 1:
        return _in_process(tasks, report, done)
    results = _side_by_side(tasks, min(jobs, len(tasks)), report, done)
    failed = [(name, r["error"]) for name, r in results.items() if "error" in r]
    for name, error in failed:
        report(f"reproduce: {name}: training failed: {error}")
    if failed:
        name, error = failed[0]
        raise ReproduceError(f"training {name} failed ({error}); rerun to resume the rest")
    return results
