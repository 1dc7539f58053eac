"""Tidy up: ranks top to bottom, side branches beside, room below the tallest card of a rank."""
from runtime.graph import Edge, Graph, Node
from runtime.layout import EDGE_ROOM, RANK_GAP, SIDE_GAP, layout


def diamond() -> Graph:
    """a -> b -> d and a -> c -> d: b and c share a rank."""
    nodes = [Node(i, "ReLU", {}) for i in "abcd"]
    return Graph(nodes, [Edge("a", "b"), Edge("a", "c"), Edge("b", "d"), Edge("c", "d")])


def test_ranks_flow_down_and_a_rank_spreads_sideways():
    at = layout(diamond())
    assert [at[i][1] for i in "abcd"] == [0, RANK_GAP, RANK_GAP, 2 * RANK_GAP]
    assert abs(at["b"][0] - at["c"][0]) == SIDE_GAP and at["a"][0] == at["d"][0] == 0


def test_a_rank_with_a_tall_card_pushes_the_ranks_below_it_down():
    at = layout(diamond(), {"a": 60, "b": 60, "c": 310, "d": 60})      # c: a red card with a long message
    assert at["b"][1] == at["c"][1] == RANK_GAP
    assert at["d"][1] == RANK_GAP + 310 + EDGE_ROOM
