"""Graph helpers the network benchmarks share (propagation.py, network.py)."""

from __future__ import annotations

from collections import deque


def distances(n: int, edges: list[tuple[int, int]], start: int) -> dict[int, int]:
    """Hops from ``start`` to every node it reaches over the undirected ``edges``."""
    adj: dict[int, list[int]] = {i: [] for i in range(n)}
    for i, j in edges:
        adj[i].append(j)
        adj[j].append(i)
    dist, todo = {start: 0}, deque([start])
    while todo:
        u = todo.popleft()
        for v in adj[u]:
            if v not in dist:
                dist[v] = dist[u] + 1
                todo.append(v)
    return dist
