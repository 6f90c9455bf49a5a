"""Several training processes on one run (``--strategy multiworker``): who writes where.

With ``MultiWorkerMirroredStrategy`` every worker runs the same ``fit`` and the same
callbacks, and saving is collective (a checkpoint, a sample grid and ``generator.keras``
all read variables through all-reduces and all-gathers every worker must join). So every
worker saves, but only the chief saves into the run directory: each other worker trains
in a private copy of the run's state (config, history, epoch records, checkpoints) in the
system's temporary folder, removed when it stops, as Keras' multi-worker guide does.
Only the chief's run directory is locked; on one machine every worker sees the same path,
and a second worker would otherwise be refused by the first one's lock.

A worker that dies leaves the others inside a collective that never completes. TF's
coordination service (on by default for this strategy in TF 2.16) sees the closed
connection or the missing heartbeats and aborts them: 6 to 27 s after a SIGKILL here. A
collective waiting longer than :data:`TIMEOUT_ENV` fails too, which catches a worker that
is alive but stuck (its heartbeats go on). Either way the survivors stop with one line of
error (:func:`peer_failures`). Not covered: a worker that never starts, for which the
others wait at start-up for ever (no timeout applies before the first collective), and
the temporary copy of a worker killed with SIGKILL, which stays behind. Stop a hung
worker with SIGKILL: TensorFlow catches SIGTERM.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pbgan.runs import CHECKPOINTS, CONFIG, EPOCHS, HISTORY, RunError

__all__ = [
    "TIMEOUT_ENV",
    "check_same_epoch",
    "collective_timeout",
    "is_chief",
    "multiworker_strategy",
    "own_run_dir",
    "peer_failures",
    "tf_config",
]

# Seconds a collective (one all-reduce of a train step, one save) may wait for the other
# workers before it fails. Long enough for the slowest step and epoch-end save of a big
# run on a busy CPU; 0 waits for ever.
TIMEOUT_ENV = "PBGAN_COLLECTIVE_TIMEOUT"
DEFAULT_TIMEOUT = 600.0


def tf_config(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The cluster and this process's task, from ``TF_CONFIG``; a one-line error if unusable."""
    environ = os.environ if environ is None else environ
    raw = environ.get("TF_CONFIG")
    if not raw:
        raise RunError("--strategy multiworker needs the TF_CONFIG environment variable set")
    try:
        config = json.loads(raw)
        task_type, index = config["task"]["type"], int(config["task"]["index"])
        hosts = config["cluster"][task_type]
    except (ValueError, KeyError, TypeError) as err:
        raise RunError(
            f"TF_CONFIG is not a cluster and task ({type(err).__name__}: {err}): set it to "
            '{"cluster": {"worker": ["host1:port", "host2:port"]}, '
            '"task": {"type": "worker", "index": 0}}'
        ) from None
    if not 0 <= index < len(hosts):
        raise RunError(
            f"TF_CONFIG task index {index} is not one of the {len(hosts)} {task_type} "
            "addresses in its cluster: number the workers from 0"
        )
    return config


def is_chief(config: dict[str, Any]) -> bool:
    """TF's rule: the ``chief`` task if the cluster has one, else worker 0."""
    task = config["task"]
    if "chief" in config["cluster"]:
        return task["type"] == "chief"
    return task["type"] == "worker" and int(task["index"]) == 0


def collective_timeout(environ: dict[str, str] | None = None) -> float:
    """Seconds from :data:`TIMEOUT_ENV` (default :data:`DEFAULT_TIMEOUT`); 0 = no limit."""
    environ = os.environ if environ is None else environ
    raw = environ.get(TIMEOUT_ENV, "")
    try:
        seconds = float(raw) if raw.strip() else DEFAULT_TIMEOUT
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:  # also refuses nan
        raise RunError(f"{TIMEOUT_ENV}={raw!r}: pass a number of seconds (0 waits for ever)")
    return seconds


_STRATEGY: list = []  # the process's one strategy: collectives are configured only once


def multiworker_strategy():
    """``MultiWorkerMirroredStrategy`` for ``TF_CONFIG``, returned once every worker called it.

    The first call must come before TensorFlow runs anything (even listing devices),
    since it configures the process's collective ops; later calls (the second stage of
    a recipe) reuse it. Returning only when all workers got here is what lets a worker
    copy the run's state (:func:`own_run_dir`) before the chief writes anything.
    """
    import tensorflow as tf

    config = tf_config()
    if not _STRATEGY:
        options = tf.distribute.experimental.CommunicationOptions(
            timeout_seconds=collective_timeout() or None
        )
        strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
        if strategy.extended.should_checkpoint != is_chief(config):
            # Our copy of TF's rule and TF's own disagree: better refuse than let two
            # processes write one run directory.
            raise RunError(
                "TensorFlow and pbgan disagree on which worker is the chief: report this "
                "with your TF_CONFIG"
            )
        _STRATEGY.append(strategy)
    strategy = _STRATEGY[0]
    # A barrier: one all-reduce every worker must join.
    strategy.reduce("SUM", strategy.run(lambda: tf.constant(1.0)), axis=None)
    return strategy


def check_same_epoch(strategy, epoch: int) -> None:
    """Refuse, on every worker at once, to train on from different restored epochs.

    A worker that cannot read the chief's run directory (another machine, no shared
    file system) restores nothing and would train a different model in lockstep with
    it. Every worker sees the same sums, so all refuse together instead of some hanging.
    """
    if not _STRATEGY or strategy is not _STRATEGY[0]:
        return
    import tensorflow as tf

    per_replica = strategy.run(lambda: tf.constant([epoch, epoch * epoch], tf.float64))
    total, squares = strategy.reduce("SUM", per_replica, axis=None).numpy()
    if squares * strategy.num_replicas_in_sync != total * total:  # equal only if all agree
        raise RunError(
            f"the workers restored different epochs (this one {epoch}): every worker must "
            "read the chief's run directory; pass the same --out on a shared file system"
        )


@contextlib.contextmanager
def own_run_dir(run_dir: str | os.PathLike, strategy: str) -> Iterator[Path]:
    """The directory this process trains in: ``run_dir``, or a non-chief worker's copy.

    A non-chief worker gets a temporary copy of the run's config, history, epoch records
    and checkpoints (so it restores and repairs to the same epoch as the chief, taking the
    same collective steps) and writes only there; the copy is
    removed when the block ends, however it ends. Call this before making the strategy:
    until every worker has joined the cluster the chief cannot have started writing, so
    the copy is never torn.
    """
    run_dir = Path(run_dir)
    if strategy != "multiworker" or is_chief(tf_config()):
        yield run_dir
        return
    task = tf_config()["task"]
    own = Path(tempfile.mkdtemp(prefix=f"pbgan-{task['type']}{task['index']}-"))
    try:
        for name in (CONFIG, HISTORY):
            if (run_dir / name).is_file():
                shutil.copy2(run_dir / name, own / name)
        for name in (CHECKPOINTS, EPOCHS):
            if (run_dir / name).is_dir():
                shutil.copytree(run_dir / name, own / name)
        yield own
    finally:
        shutil.rmtree(own, ignore_errors=True)


@contextlib.contextmanager
def peer_failures(strategy: str) -> Iterator[None]:
    """Another worker dying or stalling, as a one-line error that names the fix.

    TensorFlow aborts the survivors' collectives (``UnavailableError`` when the
    coordination service misses a worker's heartbeats, ``DeadlineExceededError`` when a
    collective outlives :data:`TIMEOUT_ENV`) with a page of graph trace around one line
    that matters.
    """
    if strategy != "multiworker":
        yield
        return
    import tensorflow as tf

    lost = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError)
    try:
        yield
    except (*lost, RunError) as err:
        # The end of an epoch reports its own failed writes; one caused by a lost peer
        # is a lost peer, not a disk to fix.
        cause = err.__cause__ if isinstance(err, RunError) else err
        if not isinstance(cause, lost):
            raise
        raise RunError(
            f"another worker stopped or stalled ({type(cause).__name__}: {_cause(cause)}): "
            "the run directory keeps its last finished epoch; start every worker again to "
            "resume"
        ) from cause


def _cause(err: Exception) -> str:
    """The first sentence of why TensorFlow aborted, without its graph trace."""
    text = str(getattr(err, "message", err))
    lines = [
        line
        for line in text.splitlines()
        if line.strip()
        and not line[0].isspace()  # the trace of where the op was defined
        and not line.startswith(("Graph execution error", "Detected at node"))
    ]
    cause = lines[0].split("aborted by: ", 1)[-1] if lines else type(err).__name__
    return cause.split(". ")[0].strip().rstrip(".")
