"""Execution order of a converted graph, chosen for a small activation arena.

TFLite runs a subgraph's operators in the order the flatbuffer lists them, and its arena
planner keeps each tensor from the operator that writes it to the last one that reads
it. The converter picks some topological order; where a graph has parallel branches it
may start all of them before finishing one (a phase deconvolution's four windows padded
before any is quantized), and every started branch's tensors are alive at once.

:func:`schedule_for_memory` tries these orders and keeps the one with the lowest
:func:`pbgan.tflite_graph.arena_estimate`, the converter's own included (so no graph
gets worse):

* :func:`greedy_order`, a list schedule: of the operators whose inputs exist, run the
  one that adds the fewest bytes to the live set (its outputs, minus the inputs it is
  the last reader of; a window and the quantizer that shrinks it as one step), ties in
  the converter's order;
* :func:`depth_first_order`, operators in post-order from the graph's outputs: each
  branch of a join (the sum of a fused tail's phases) is finished, and joined, before
  the next one starts, whichever way the converter associated the join;
* the greedy schedule with ties broken in depth-first order (branches that cost the
  same run in the order their join wants them).

The operators, tensors and weights are untouched:
:func:`reorder_operators` permutes the subgraph's operator vector in place (flatbuffer
offsets are relative to where they are stored, so each entry is re-pointed), and the
results are bit-identical.
"""

from __future__ import annotations

import struct

from pbgan.tflite_graph import ModelInfo, OpInfo, read_flatbuffer, tflite_schema

__all__ = ["depth_first_order", "greedy_order", "reorder_operators", "schedule_for_memory"]

# SubGraph's fields: tensors, inputs, outputs, operators, name; a field's vtable slot is
# 4 + 2 * its index.
_OPERATORS_SLOT = 4 + 2 * 3


def _net_bytes(op: OpInfo, readers: dict[int, int], pinned: set[int]) -> int:
    """Bytes ``op`` adds to the live set: its outputs, minus the inputs it reads last."""
    inputs = {t.index: t for t in op.inputs if not t.is_constant}
    freed = sum(
        t.nbytes
        for t in inputs.values()
        if t.index not in pinned and readers[t.index] == sum(u.index == t.index for u in op.inputs)
    )
    return sum(t.nbytes for t in op.outputs if not t.is_constant) - freed


def greedy_order(info: ModelInfo, rank: list[int] | None = None) -> list[int]:
    """A topological order that greedily keeps the live bytes small (module doc), ties
    broken by ``rank`` (an operator's place in some order; default the converter's).

    A step is an operator and, while it pays, the operator that alone reads its output
    (a window and the quantizer that shrinks it count as one step: alone, the window
    looks expensive and would wait while other branches grow).
    """
    ops = info.ops
    rank = rank or list(range(len(ops)))
    produced_by = {t.index: op.index for op in ops for t in op.outputs}
    readers: dict[int, int] = {}
    read_by: dict[int, list[int]] = {}
    for op in ops:
        for t in op.inputs:
            if not t.is_constant:
                readers[t.index] = readers.get(t.index, 0) + 1
                read_by.setdefault(t.index, []).append(op.index)
    pinned = {t.index for t in info.outputs}
    missing = {
        op.index: {t.index for t in op.inputs if not t.is_constant and t.index in produced_by}
        for op in ops
    }

    def run(i: int, readers: dict[int, int], missing: dict[int, set[int]]) -> None:
        for t in ops[i].inputs:
            if not t.is_constant:
                readers[t.index] -= 1
        for t in ops[i].outputs:
            for j in read_by.get(t.index, ()):
                missing[j].discard(t.index)

    def step(i: int) -> tuple[int, list[int]]:
        """The net bytes of running ``i`` and the readers it pays to run right after."""
        counts, waits = dict(readers), {j: set(m) for j, m in missing.items()}
        total, chain = _net_bytes(ops[i], counts, pinned), [i]
        run(i, counts, waits)
        while True:
            outputs = [t.index for t in ops[chain[-1]].outputs if not t.is_constant]
            after = {j for t in outputs for j in read_by.get(t, ())}
            if len(outputs) != 1 or len(after) != 1:
                break
            (j,) = after
            if waits[j] or (net := _net_bytes(ops[j], counts, pinned)) >= 0:
                break
            total += net
            chain.append(j)
            run(j, counts, waits)
        return total, chain

    order: list[int] = []
    while len(order) < len(ops):
        ready = [i for i in range(len(ops)) if i not in order and not missing[i]]
        if not ready:
            raise ValueError("the graph has a cycle or an operator reading a missing tensor")
        steps = {i: step(i) for i in ready}
        _, chain = steps[min(ready, key=lambda i: (steps[i][0], rank[i]))]
        for i in chain:
            run(i, readers, missing)
            order.append(i)
    return order


def depth_first_order(info: ModelInfo, *, reverse_inputs: bool = False) -> list[int]:
    """Operators in post-order from the graph's outputs (module doc); each operator's
    inputs are visited in order (``reverse_inputs``: last first)."""
    produced_by = {t.index: op.index for op in info.ops for t in op.outputs}
    order: list[int] = []
    done: set[int] = set()
    roots = [produced_by[t.index] for t in info.outputs if t.index in produced_by]
    for root in [*roots, *range(len(info.ops))]:
        stack = [(root, False)]
        while stack:
            i, expanded = stack.pop()
            if i in done:
                continue
            if expanded:
                done.add(i)
                order.append(i)
                continue
            stack.append((i, True))
            inputs = [t for t in info.ops[i].inputs if t.index in produced_by]
            if not reverse_inputs:
                inputs.reverse()  # the stack pops the first input first
            stack += [(produced_by[t.index], False) for t in inputs]
    return order


def reorder_operators(data: bytes, order: list[int]) -> bytes:
    """``data`` with its main subgraph's operators in ``order`` (a permutation), every
    other byte as it was."""
    schema = tflite_schema()
    graph = schema.Model.GetRootAs(data, 0).Subgraphs(0)
    table = graph._tab
    slot = table.Offset(_OPERATORS_SLOT)
    n = table.VectorLen(slot) if slot else 0
    if sorted(order) != list(range(n)):
        raise ValueError(f"order is not a permutation of the {n} operators")
    start = table.Vector(slot)
    targets = [start + 4 * k + struct.unpack_from("<I", data, start + 4 * k)[0] for k in range(n)]
    out = bytearray(data)
    for k, old in enumerate(order):
        struct.pack_into("<I", out, start + 4 * k, targets[old] - (start + 4 * k))
    return bytes(out)


def schedule_for_memory(data: bytes) -> tuple[bytes, dict[str, int]]:
    """``data`` in the order with the lowest arena estimate (module doc), and
    ``{"arena_estimate_before": …, "arena_estimate_after": …}``."""
    info = read_flatbuffer(data)
    before = best = info.activation_arena_bytes
    chosen = data
    depth_first = depth_first_order(info)
    orders = [
        greedy_order(info),
        greedy_order(info, rank=[depth_first.index(i) for i in range(len(info.ops))]),
        depth_first,
        depth_first_order(info, reverse_inputs=True),
    ]
    for order in orders:
        if order == list(range(len(info.ops))):
            continue
        candidate = reorder_operators(data, order)
        estimate = read_flatbuffer(candidate).activation_arena_bytes
        if estimate < best:
            chosen, best = candidate, estimate
    return chosen, {"arena_estimate_before": before, "arena_estimate_after": best}
