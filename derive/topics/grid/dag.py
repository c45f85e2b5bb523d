"""Longest paths and ancestor sets in a dependency DAG (the minimum number of sequential steps).

A graph is a mapping ``node -> predecessors`` (the values a node is computed from). With
unlimited parallel work per step, a node can be computed one step after its last
predecessor, so the minimum number of sequential steps is the (weighted) number of
nodes on the longest path. Nodes of weight 0 (given inputs, free bookkeeping) cost no step.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterable, Mapping


def topological_order(preds: Mapping[Hashable, Iterable[Hashable]]) -> list[Hashable]:
    """Kahn's algorithm; a cycle (or a predecessor that is not a node) is a ``ValueError``."""
    succs: dict[Hashable, list[Hashable]] = {n: [] for n in preds}
    indegree = {n: 0 for n in preds}
    for node, before in preds.items():
        for p in before:
            if p not in succs:
                raise ValueError(f"predecessor {p!r} of {node!r} is not a node of the graph")
            succs[p].append(node)
            indegree[node] += 1
    ready = deque(n for n, d in indegree.items() if d == 0)
    order = []
    while ready:
        node = ready.popleft()
        order.append(node)
        for s in succs[node]:
            indegree[s] -= 1
            if indegree[s] == 0:
                ready.append(s)
    if len(order) != len(preds):
        raise ValueError("the dependency graph has a cycle")
    return order


def earliest_steps(
    preds: Mapping[Hashable, Iterable[Hashable]],
    weight: Callable[[Hashable], int] = lambda node: 1,
) -> dict[Hashable, int]:
    """The step at which each node is ready: ``weight(node) + max over its predecessors``."""
    step: dict[Hashable, int] = {}
    for node in topological_order(preds):
        step[node] = weight(node) + max((step[p] for p in preds[node]), default=0)
    return step


def longest_path(
    preds: Mapping[Hashable, Iterable[Hashable]],
    weight: Callable[[Hashable], int] = lambda node: 1,
) -> tuple[int, list[Hashable]]:
    """The weighted length of the longest path and one such path (first node first)."""
    step = earliest_steps(preds, weight)
    if not step:
        return 0, []
    node = max(step, key=lambda n: step[n])
    length, path = step[node], [node]
    while True:
        before = [p for p in preds[node] if step[p] == step[node] - weight(node)]
        if not before:
            break
        node = before[0]
        path.append(node)
    return length, path[::-1]


def ancestors(preds: Mapping[Hashable, Iterable[Hashable]], node: Hashable) -> set[Hashable]:
    """Every node ``node`` depends on, directly or not."""
    seen: set[Hashable] = set()
    stack = list(preds[node])
    while stack:
        p = stack.pop()
        if p not in seen:
            seen.add(p)
            stack.extend(preds[p])
    return seen
