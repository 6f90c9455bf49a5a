"""Machine description and the load sentence of benchmark reports."""

from __future__ import annotations

from pbgan.machine import busy_cores, load_sentence


def test_busy_cores_is_a_share_of_this_machines_cores():
    busy = busy_cores(0.2)
    if busy is not None:  # Linux
        import os

        assert 0.0 <= busy <= os.cpu_count()


def test_load_sentence_trusts_busy_cores_over_the_lagging_load_average():
    # A benchmark that just ended leaves the 1-minute load high; the machine is idle now.
    assert "idle when the run started" in load_sentence([1.3, 1.1, 1.0], [1.2, 1.1, 1.0], 0.02)
    assert "other work was running" in load_sentence([0.1, 0.1, 0.1], [], 1.5)
    # Without a busy figure the 1-minute load decides.
    assert "idle" in load_sentence([0.2, 0.5, 0.6], [0.9, 0.6, 0.6])
    assert "other work was running" in load_sentence([1.9, 1.5, 1.0], [1.9, 1.5, 1.0])
    assert load_sentence([], []) == "Load average unknown on this OS."
