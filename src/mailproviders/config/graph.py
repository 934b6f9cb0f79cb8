"""Cycles among composite providers (``failover``/``roundrobin`` listing other aliases).

Everything here is linear in the number of providers and links: strongly connected
components by an iterative Tarjan pass, then one breadth-first search forwards and one
backwards per component to name a cycle through each of its providers. (Searching from
every provider in turn took 37 s for a chain of 5,000.)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

__all__ = ["cycles"]

#: Longest cycle shown whole in a message; a longer one is shortened in the middle.
_SHOWN: Final = 8


def _components(graph: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Strongly connected components of ``graph`` (edges to unknown names ignored)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in graph:
                    continue
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(graph[target])))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    found.append(component)
    return found


def _tree(
    start: str, edges: Mapping[str, Iterable[str]], inside: set[str]
) -> tuple[dict[str, str], dict[str, int]]:
    """Breadth-first tree from ``start`` within ``inside``: node → the node it was reached
    from, and node → its distance from ``start``."""
    parent, depth = {start: start}, {start: 0}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for target in edges.get(node, ()):
            if target in inside and target not in parent:
                parent[target], depth[target] = node, depth[node] + 1
                queue.append(target)
    return parent, depth


def _chain(parent: Mapping[str, str], node: str, limit: int) -> list[str]:
    """Up to ``limit`` nodes from ``node`` towards the root of the tree ``parent``."""
    names = [node]
    while len(names) < limit and parent[names[-1]] != names[-1]:
        names.append(parent[names[-1]])
    return names


def _shown(head: list[str], tail: list[str], length: int) -> str:
    """A cycle of ``length`` links: whole (``head + tail``) when short, else its start and
    end around an ellipsis."""
    names = [repr(name) for name in head + tail]
    if length > _SHOWN:
        names = [*names[: len(head)], "…", *names[len(head) :], f"({length} links)"]
        return " → ".join(names[:-1]) + " " + names[-1]
    return " → ".join(names)


def _walks(component: list[str], graph: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """For each member of a strongly connected ``component`` (its discovery root last),
    a cycle through it, written for a message."""
    root, inside = component[-1], set(component)
    reverse: dict[str, list[str]] = {}
    for node in component:
        for target in graph[node]:
            if target in inside:
                reverse.setdefault(target, []).append(node)
    forward, down = _tree(root, graph, inside)  # parents lead back to the root
    backward, up = _tree(root, reverse, inside)  # parents lead on towards the root
    walks = {}
    for node in component:
        if node == root:  # root → … → a predecessor of the root → root
            last = reverse[root][0]
            length = down[last] + 1
            keep = length if length <= _SHOWN else 3
            tail = [*reversed(_chain(forward, last, keep)), root]
            head = [] if length <= _SHOWN else [root]
        else:  # node → … → root (backward tree), then root → … → node (forward tree)
            length = up[node] + down[node]
            keep = length + 1 if length <= _SHOWN else 3
            head = _chain(backward, node, keep)
            tail = list(reversed(_chain(forward, node, keep)))[1 if length <= _SHOWN else 0 :]
        walks[node] = _shown(head, tail, length)
    return walks


def cycles(graph: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Providers of ``graph`` (alias → the aliases it sends through) that reach themselves,
    each with a cycle through it written for a message; ``""`` for one that lists itself."""
    found: dict[str, str] = {}
    for component in _components(graph):
        if len(component) > 1:
            found.update(_walks(component, graph))
    for alias, using in graph.items():
        if alias in using:
            found[alias] = ""
    return found
