"""A layered auto-layout ("tidy up"): each node one rank below its deepest input, side branches beside."""
from __future__ import annotations

from runtime.graph import Graph

RANK_GAP = 140      # pixels between ranks: a node card with an issue message, plus the edge label
SIDE_GAP = 230      # pixels between nodes of the same rank (node width plus margin)
EDGE_ROOM = 40      # pixels below a rank's tallest card, for the edges and their shape labels


def layout(graph: Graph, heights: dict[str, float] | None = None) -> dict[str, tuple[float, float]]:
    """Positions for every node, ranks top to bottom. `heights` (node id -> pixels, as the browser drew
    the cards) makes room below a rank whose tallest card is taller than RANK_GAP leaves room for."""
    ids = [n.id for n in graph.nodes]
    known = set(ids)
    preds = {i: [p for p in graph.inputs_of(i) if p in known] for i in ids}
    rank = _ranks(ids, preds)
    by_rank: dict[int, list[str]] = {}
    for i in ids:
        by_rank.setdefault(rank[i], []).append(i)
    across: dict[str, float] = {}
    top: dict[int, float] = {}
    below = 0.0
    for r in sorted(by_rank):
        row = by_rank[r]
        top[r] = below
        below += max(RANK_GAP, max((heights or {}).get(i, 0.0) for i in row) + EDGE_ROOM)
        # order a rank by where its inputs sit, so that edges cross as little as possible
        row.sort(key=lambda i: sum(across.get(p, 0.0) for p in preds[i]) / len(preds[i]) if preds[i] else 0.0)
        for k, node_id in enumerate(row):
            across[node_id] = (k - (len(row) - 1) / 2) * SIDE_GAP
    return {i: (across[i], top[rank[i]]) for i in ids}


def _ranks(ids: list[str], preds: dict[str, list[str]]) -> dict[str, int]:
    """Longest path from a source, in topological order; nodes on a cycle (reported by the compiler) rank 0."""
    waiting = {i: len(preds[i]) for i in ids}
    succs: dict[str, list[str]] = {i: [] for i in ids}
    for i in ids:
        for p in preds[i]:
            succs[p].append(i)
    rank = {i: 0 for i in ids}
    ready = [i for i in ids if waiting[i] == 0]
    while ready:
        node_id = ready.pop()
        for nxt in succs[node_id]:
            rank[nxt] = max(rank[nxt], rank[node_id] + 1)
            waiting[nxt] -= 1
            if waiting[nxt] == 0:
                ready.append(nxt)
    return rank
