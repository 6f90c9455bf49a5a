"""``--strategy multiworker``: who writes the run, and what a dead worker does to the others.

The fast tests pin :mod:`pbgan.train.workers` without a cluster. The slow ones start two
real ``pbgan train --strategy multiworker`` processes on 127.0.0.1; every wait has a
timeout, so a hang fails the test instead of the suite.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from pbgan.runs import (
    CHECKPOINTS,
    CONFIG,
    EPOCHS,
    HISTORY,
    LOCK,
    RunError,
    lock_run,
    read_history,
)
from pbgan.train.workers import (
    TIMEOUT_ENV,
    collective_timeout,
    is_chief,
    own_run_dir,
    peer_failures,
    tf_config,
)

import pytest


def _tf_config(index: int, workers: int = 2, chief: bool = False) -> dict:
    cluster = {"worker": [f"127.0.0.1:{2000 + i}" for i in range(workers)]}
    if chief:
        cluster["chief"] = ["127.0.0.1:1999"]
    return {"cluster": cluster, "task": {"type": "worker", "index": index}}


def test_tf_config_is_refused_with_the_fix_when_missing_or_malformed():
    with pytest.raises(RunError, match="needs the TF_CONFIG"):
        tf_config({})
    with pytest.raises(RunError, match="not a cluster and task"):
        tf_config({"TF_CONFIG": "{not json"})
    with pytest.raises(RunError, match="not a cluster and task"):
        tf_config({"TF_CONFIG": json.dumps({"cluster": {"worker": []}})})
    with pytest.raises(RunError, match="index 2 is not one of the 2"):
        tf_config({"TF_CONFIG": json.dumps(_tf_config(2))})
    assert tf_config({"TF_CONFIG": json.dumps(_tf_config(1))})["task"]["index"] == 1


def test_the_chief_is_worker_zero_unless_the_cluster_names_one():
    assert is_chief(_tf_config(0))
    assert not is_chief(_tf_config(1))
    assert not is_chief(_tf_config(0, chief=True))
    assert is_chief({**_tf_config(0, chief=True), "task": {"type": "chief", "index": 0}})


def test_collective_timeout_reads_seconds_and_refuses_nonsense():
    assert collective_timeout({}) == 600
    assert collective_timeout({TIMEOUT_ENV: "0"}) == 0
    assert collective_timeout({TIMEOUT_ENV: "7.5"}) == 7.5
    for bad in ("soon", "-1", "nan"):
        with pytest.raises(RunError, match=TIMEOUT_ENV):
            collective_timeout({TIMEOUT_ENV: bad})


def _a_run(run: Path) -> Path:
    (run / CHECKPOINTS).mkdir(parents=True)
    (run / CHECKPOINTS / "checkpoint").write_text('model_checkpoint_path: "ckpt-1"\n')
    (run / CHECKPOINTS / "ckpt-1.index").write_bytes(b"index")
    (run / CONFIG).write_text("{}")
    (run / HISTORY).write_text("epoch\n1\n")
    (run / EPOCHS).mkdir()
    (run / EPOCHS / "epoch_001.json").write_text('{"epoch": 1}')
    return run


def test_the_chief_and_single_process_runs_train_in_the_run_directory(tmp_path, monkeypatch):
    run = _a_run(tmp_path / "run")
    with own_run_dir(run, "auto") as own:
        assert own == run
    monkeypatch.setenv("TF_CONFIG", json.dumps(_tf_config(0)))
    with own_run_dir(run, "multiworker") as own:
        assert own == run


def test_a_non_chief_worker_trains_in_a_copy_that_is_removed_however_it_ends(tmp_path, monkeypatch):
    run = _a_run(tmp_path / "run")
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    monkeypatch.setenv("TF_CONFIG", json.dumps(_tf_config(1)))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    with pytest.raises(RuntimeError), own_run_dir(run, "multiworker") as own:
        assert own != run and not own.is_relative_to(run)
        # It restores what the chief restores...
        assert (own / CHECKPOINTS / "ckpt-1.index").read_bytes() == b"index"
        assert read_history(own / HISTORY) == [{"epoch": 1}]
        assert (own / EPOCHS / "epoch_001.json").read_text() == '{"epoch": 1}'
        # ...and what it writes never reaches the run.
        (own / HISTORY).write_text("epoch\n1\n2\n")
        (own / CHECKPOINTS / "ckpt-2.index").write_bytes(b"worker 1")
        raise RuntimeError("the worker stops")
    assert not own.exists()
    assert list((tmp_path / "tmp").iterdir()) == []
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_a_non_chief_worker_is_not_refused_by_the_chiefs_lock(tmp_path, monkeypatch):
    run = _a_run(tmp_path / "run")
    monkeypatch.setenv("TF_CONFIG", json.dumps(_tf_config(1)))
    with lock_run(run):  # the chief, on the same machine
        with own_run_dir(run, "multiworker") as own, lock_run(own):
            assert (own / LOCK).exists()
        with pytest.raises(RunError, match="being trained by another process"):
            with lock_run(run):  # but a second chief (or plain run) still is
                pass


def test_a_dead_or_stalled_peer_is_one_line_that_names_the_fix():
    import tensorflow as tf

    dead = (
        "Graph execution error:\n\nDetected at node CollectiveReduceV2 defined at (most "
        'recent call last):\n  File "<frozen runpy>", line 198, in _run_module_as_main\n'
        "Collective ops is aborted by: Error reported from /job:worker/task:1: Task "
        "/job:worker/replica:0/task:1 heartbeat timeout. This indicates that the remote "
        "task has failed\nThe error could be from a previous operation.\n\t [[{{node "
        "CollectiveReduceV2}}]] [Op:__inference_train_function_4233]"
    )
    stalled = dead.replace(
        dead[dead.index("Collective ops") : dead.index("\nThe error")],
        "Collective has timed out during execution.",
    )
    for err, cause in (
        (tf.errors.UnavailableError(None, None, dead), "task:1 heartbeat timeout)"),
        (tf.errors.DeadlineExceededError(None, None, stalled), "timed out during execution)"),
    ):
        with pytest.raises(RunError) as caught, peer_failures("multiworker"):
            raise err
        message = str(caught.value)
        assert "\n" not in message and cause in message, message
        assert "start every worker again to resume" in message
    # The end of an epoch turns a failed save into its own error; a lost peer's stays one.
    with pytest.raises(RunError, match="another worker stopped"), peer_failures("multiworker"):
        try:
            raise tf.errors.UnavailableError(None, None, dead)
        except tf.errors.UnavailableError as err:
            raise RunError("could not save epoch 2 in run (Graph execution error:)") from err
    with pytest.raises(RunError, match="no space left"), peer_failures("multiworker"):
        raise RunError("no space left on the device saving epoch 2") from OSError(28, "full")
    with pytest.raises(tf.errors.UnavailableError), peer_failures("auto"):
        raise tf.errors.UnavailableError(None, None, dead)


# ---------------------------------------------------------------- two real workers

# Tiny and fast (TINY of conftest, as command-line options); a float model so that
# `pbgan train` runs one stage.
_TINY_ARGS = ["--setting", "A", "--arch", "dcgan32", "--width", "0.0625", "--batch-size", "8"]
# Each process imports TensorFlow, traces the step and joins the cluster: a minute or more
# on a busy two-core machine. Past this a test fails instead of waiting for ever.
_DEADLINE = 420


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


class _Cluster:
    """Two ``pbgan train --strategy multiworker`` processes; killed if a test leaves them."""

    def __init__(self, tmp_path: Path, run: Path | list, *args: str, env: dict | None = None):
        self.logs = [tmp_path / f"worker{i}.log" for i in range(2)]
        self.tmpdir = tmp_path / "tmp"  # where non-chief workers keep their copies
        self.tmpdir.mkdir()
        hosts = [f"127.0.0.1:{port}" for port in _free_ports(2)]
        command = [sys.executable, "-m", "pbgan.cli", "train", *_TINY_ARGS, *args]
        command += ["--strategy", "multiworker", "--out"]
        runs = run if isinstance(run, list) else [run, run]
        self.procs, self._files = [], [log.open("w") for log in self.logs]
        for index, out in enumerate(self._files):
            task = {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": index}}
            task_env = {"TF_CONFIG": json.dumps(task), "TMPDIR": str(self.tmpdir), **(env or {})}
            self.procs.append(
                subprocess.Popen(
                    [*command, str(runs[index])],
                    env={**os.environ, **task_env},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )

    def output(self, index: int) -> str:
        return self.logs[index].read_text()

    def wait(self, index: int, timeout: float) -> int:
        try:
            return self.procs[index].wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"worker {index} still running after {timeout:.0f} s (a hang?)")

    def wait_for(self, index: int, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output(index):
            if self.procs[index].poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"worker {index} never printed {text!r}:\n{self.output(index)}")
            time.sleep(0.2)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        for out in self._files:
            out.close()


@pytest.fixture
def cluster(tmp_path):
    started: list[_Cluster] = []

    def start(run: Path | list, *args: str, env: dict | None = None) -> _Cluster:
        started.append(_Cluster(tmp_path, run, *args, env=env))
        return started[-1]

    yield start
    for c in started:
        c.stop()


@pytest.mark.slow
def test_two_workers_write_one_consistent_run_that_resumes(tmp_path, cluster):
    from pbgan.analysis import load_keras_model
    from pbgan.train.run import TrainConfig, train

    run = tmp_path / "run"
    workers = cluster(run, "--epochs", "2", "--steps-per-epoch", "3")
    for index in (0, 1):
        code = workers.wait(index, _DEADLINE)
        assert code == 0, workers.output(index)
        assert f"{run}: 2 epochs done" in workers.output(index)
    assert [row["epoch"] for row in read_history(run / HISTORY)] == [1, 2]
    config = json.loads((run / CONFIG).read_text())
    assert config["replicas"] == 2
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["epoch_001.png", "epoch_002.png"]
    assert load_keras_model(run / "generator.keras").output_shape == (None, 32, 32, 3)
    assert list(workers.tmpdir.iterdir()) == []  # worker 1's copy went with it

    # The checkpoint restores (optimizer and epoch included) in a single process, which
    # goes on from epoch 3 and keeps one row per epoch.
    tiny = dict(setting="A", architecture="dcgan32", width=1 / 16, batch_size=8, samples=4)
    result = train(TrainConfig(**tiny, epochs=3, steps_per_epoch=3), run, verbose=0)
    assert result.epochs_done == 3
    assert [row["epoch"] for row in read_history(run / HISTORY)] == [1, 2, 3]


@pytest.mark.slow
def test_workers_that_restored_different_epochs_refuse_together(tmp_path, cluster):
    from pbgan.train.run import TrainConfig, train

    # The chief's run has finished epoch 1; worker 1 cannot see it (another machine
    # without a shared file system looks like another folder).
    run = tmp_path / "run"
    tiny = dict(setting="A", architecture="dcgan32", width=1 / 16, batch_size=8, samples=4)
    train(TrainConfig(**tiny, epochs=1, steps_per_epoch=2), run, verbose=0)
    workers = cluster([run, tmp_path / "elsewhere"], "--epochs", "2", "--steps-per-epoch", "2")
    for index, epoch in ((0, 1), (1, 0)):
        code = workers.wait(index, _DEADLINE)
        out = workers.output(index)
        assert code == 2, out
        assert f"Error: the workers restored different epochs (this one {epoch})" in out
    assert [row["epoch"] for row in read_history(run / HISTORY)] == [1]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("victim", "sig", "env", "cause"),
    [
        pytest.param(1, signal.SIGKILL, {}, "UnavailableError", id="worker-killed"),
        pytest.param(0, signal.SIGKILL, {}, "UnavailableError", id="chief-killed"),
        pytest.param(
            1, signal.SIGSTOP, {TIMEOUT_ENV: "5"}, "DeadlineExceededError", id="worker-stalled"
        ),
    ],
)
def test_a_dead_or_stalled_worker_stops_the_other_with_a_clear_error(
    tmp_path, cluster, victim, sig, env, cause
):
    run = tmp_path / "run"
    # Far more epochs than the test waits for: the run cannot finish before the signal.
    workers = cluster(run, "--epochs", "50", "--steps-per-epoch", "5", env=env)
    workers.wait_for(victim, "Epoch 2/", _DEADLINE)  # epoch 1 is checkpointed
    workers.procs[victim].send_signal(sig)
    signalled = time.monotonic()
    survivor = 1 - victim
    # TF's coordination service misses ~10 s of heartbeats; a collective times out after
    # PBGAN_COLLECTIVE_TIMEOUT. Either way, well within a minute and a half.
    code = workers.wait(survivor, 90)
    seconds = time.monotonic() - signalled
    out = workers.output(survivor)
    assert code != 0, out
    # TF's own log lines may come after ours: find the one line the user is meant to read.
    errors = [line for line in out.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "another worker stopped or stalled" in errors[0], out
    assert cause in errors[0] and "start every worker again" in errors[0]
    print(f"survivor stopped {seconds:.1f} s after {sig.name}")
    rows = read_history(run / HISTORY)
    assert rows and [row["epoch"] for row in rows] == list(range(1, len(rows) + 1))
    assert (run / CHECKPOINTS / "checkpoint").exists()
