"""The open project and everything a user does to its graph: add, wire, edit, delete, undo.

Pure Python (no Streamlit): the page calls these methods from widget callbacks and canvas
events, and the tests call them directly. Every edit goes through `_edit`, which records the
previous state for undo and bumps `revision` (the autosave and the compile cache key on it).
"""
from __future__ import annotations

import copy
import math
import uuid
from contextlib import contextmanager
from typing import Any, Iterator

from builder.history import History
from builder.node_card import NODE_WIDTH
from runtime.graph import Edge, Graph, Node, Project, project_from_dict
from runtime.layers import LAYERS, id_stem   # the templates' ids too: conv1, fc1, pool1
from runtime.layout import EDGE_ROOM, RANK_GAP, SIDE_GAP, layout

ROW = RANK_GAP  # vertical distance between a node and the one added after it, as in a tidied graph
COLUMN = 250    # horizontal distance for a node placed beside the graph (a node is 210 px wide)
MARGIN = (40.0, 20.0)   # where the graph's top-left corner goes when it is laid out anew
POSITION_LIMIT = 1e6    # a coordinate beyond this (or not a number) comes from a broken file
CARD = (float(NODE_WIDTH), 80.0)   # a card the browser has not measured: 3 lines and a warning
CLEARANCE = float(SIDE_GAP - NODE_WIDTH)   # the least room between a new card and any other, as
                                           # between side branches in a tidied graph

Box = tuple[float, float, float, float]     # a card on the canvas: x, y (top-left), width, height
Sizes = dict[str, tuple[float, float]]      # node id -> (width, height) as the browser measured it


def free_spot(want: tuple[float, float], size: tuple[float, float], cards: list[Box]) -> tuple[float, float]:
    """`want`, or else the nearest spot right of it in the same row (a side branch, as a tidied graph
    has them), where a card of `size` keeps CLEARANCE from every one of `cards`. Not below: the edge
    to a card under a card it does not follow would seem to come from that card."""
    x, y = want
    width, height = size
    while True:
        blocking = [c for c in cards if x < c[0] + c[2] + CLEARANCE and c[0] < x + width + CLEARANCE
                    and y < c[1] + c[3] + CLEARANCE and c[1] < y + height + CLEARANCE]
        if not blocking:
            return x, y
        x = max(c[0] + c[2] for c in blocking) + CLEARANCE


def default_params(layer_type: str) -> dict[str, Any]:
    """The parameters a new node starts with: every declared parameter at its default."""
    return {p.name: copy.deepcopy(p.default) for p in LAYERS[layer_type].params}


class Workspace:
    def __init__(self, project: Project, project_id: str | None = None):
        self.project = project
        self.project_id = project_id
        self.history = History()
        self.selected: str | None = None
        self.revision = 0
        self.token = uuid.uuid4().hex[:8]   # marks what the canvas draws for this workspace

    @property
    def graph(self) -> Graph:
        return self.project.graph

    def has_node(self, node_id: str | None) -> bool:
        return node_id is not None and any(n.id == node_id for n in self.graph.nodes)

    def widget_key(self, kind: str, *parts: str) -> str:
        """The key of a widget that shows the project at this revision (`kind` without underscores):
        every edit draws the widgets anew, with new keys."""
        return "_".join([kind, self.token, str(self.revision), *parts])

    def is_current(self, key: str) -> bool:
        """Whether `key` (from `widget_key`) belongs to a widget drawn for the project as it is now.
        Streamlit can still deliver a change from a widget drawn before the last edit (seen after an
        upload chose a dataset: the dataset box and every setting of the previous drawing fired their
        callbacks with their old values); such a change is stale and must not be written back."""
        return key.split("_")[1:3] == [self.token, str(self.revision)]

    def select(self, node_id: str | None) -> None:
        self.selected = node_id if self.has_node(node_id) else None

    @contextmanager
    def _edit(self) -> Iterator[Graph]:
        before = self.project.to_dict()
        yield self.graph
        self.history.record(before)
        self.revision += 1

    # --- nodes -------------------------------------------------------------------------------
    def add_layer(self, layer_type: str, sizes: Sizes | None = None) -> str:
        """Adds a layer after the selected node and wires it (inserting it before that node's only
        successor, which moves down with everything after it); with nothing selected (or nothing
        that can precede it), places it beside the graph, unwired. Either way it lands where it
        covers no card: `sizes` are the cards' sizes as the browser measured them, where known.
        Selects it."""
        sizes = sizes or {}
        anchor = self.selected if self.has_node(self.selected) else None
        layer = LAYERS[layer_type]
        if anchor is not None and (layer.inputs[1] == 0 or self.graph.node(anchor).type == "Output"):
            anchor = None            # nothing feeds an Input, and nothing follows the Output
        with self._edit() as g:
            node_id = g.new_id(id_stem(layer_type))
            if anchor is None:
                position = self._free_spot(sizes)
            else:
                after = [e for e in g.edges if e.source == anchor]
                inserting = len(after) == 1 and layer_type != "Output"
                moving = self._downstream(after[0].target) if inserting else set()
                x, _ = self._position(anchor)
                position = free_spot((x, self._next_row(anchor, sizes)), CARD, self._cards(sizes, moving))
                if inserting:                    # anchor -> new -> old successor, one row below the new
                    successor_y = self._position(after[0].target)[1]
                    self._move_down(moving, max(0.0, position[1] + ROW - successor_y))
                    after[0].source = node_id
                g.edges.append(Edge(anchor, node_id))
            g.nodes.append(Node(node_id, layer_type, default_params(layer_type), position))
        self.selected = node_id
        return node_id

    def delete_nodes(self, node_ids: set[str]) -> None:
        """Removes nodes and their edges, as one undo step. A node in a chain (one input) is
        bridged: its input is wired to its outputs, so deleting a layer keeps the chain whole."""
        node_ids = {i for i in node_ids if self.has_node(i)}
        if not node_ids:
            return
        with self._edit() as g:
            for node_id in node_ids:
                ins = [e.source for e in g.edges if e.target == node_id]
                for e in [e for e in g.edges if e.source == node_id]:
                    if len(ins) == 1 and ins[0] not in node_ids and not any(
                            (x.source, x.target) == (ins[0], e.target) for x in g.edges):
                        e.source = ins[0]
                    else:
                        g.edges.remove(e)
                g.edges = [e for e in g.edges if e.target != node_id]
                g.nodes = [n for n in g.nodes if n.id != node_id]
        if self.selected in node_ids:
            self.selected = None

    def duplicate_node(self, node_id: str, sizes: Sizes | None = None) -> str | None:
        """A copy of the node with the same parameters beside it, unwired, where it covers no card
        (`sizes` as in `add_layer`); selects the copy."""
        if not self.has_node(node_id):
            return None
        original = self.graph.node(node_id)
        with self._edit() as g:
            new_id = g.new_id(id_stem(original.type))
            x, y = self._position(node_id)
            position = free_spot((x + COLUMN, y), CARD, self._cards(sizes or {}))
            g.nodes.append(Node(new_id, original.type, copy.deepcopy(original.params), position))
        self.selected = new_id
        return new_id

    def set_param(self, node_id: str, name: str, value: Any) -> None:
        if not self.has_node(node_id) or self.graph.node(node_id).params.get(name, object()) == value:
            return
        with self._edit() as g:
            g.node(node_id).params[name] = value

    def move_nodes(self, positions: dict[str, tuple[float, float]]) -> None:
        """Positions dragged on the canvas. Saved, but not an undo step: undo is for the network."""
        for node in self.graph.nodes:
            if node.id in positions:
                node.position = positions[node.id]

    def arrange(self, positions: dict[str, tuple[float, float]]) -> None:
        """"Tidy up": new positions for many nodes at once, as one undo step."""
        with self._edit():
            self.move_nodes(positions)

    # --- edges -------------------------------------------------------------------------------
    def connect(self, source: str, target: str) -> bool:
        """Wires source -> target (appended: it becomes the target's last input). False when it
        cannot be an edge: unknown node, a node to itself, or an existing edge."""
        if (source == target or not self.has_node(source) or not self.has_node(target)
                or any(e.source == source and e.target == target for e in self.graph.edges)):
            return False
        with self._edit() as g:
            g.edges.append(Edge(source, target))
        return True

    def disconnect(self, pairs: list[tuple[str, str]]) -> None:
        present = [p for p in pairs if any((e.source, e.target) == p for e in self.graph.edges)]
        if not present:
            return
        with self._edit() as g:
            for source, target in present:
                for e in g.edges:
                    if (e.source, e.target) == (source, target):
                        g.edges.remove(e)
                        break

    def move_input_up(self, target: str, index: int) -> None:
        """Swaps input `index` of a multi-input node with the one before it (input order matters
        for Concat and attention). Explicit ports are rewritten to the new order."""
        incoming = [e for e in self.graph.edges if e.target == target]
        order = self.graph.inputs_of(target)
        if not 0 < index < len(order):
            return
        with self._edit() as g:
            order[index - 1], order[index] = order[index], order[index - 1]
            ranked = sorted(incoming, key=lambda e: order.index(e.source))
            g.edges = [e for e in g.edges if e.target != target] + ranked
            for e in ranked:
                e.port = None

    # --- whole project -----------------------------------------------------------------------
    def rename(self, name: str) -> None:
        name = name.strip()
        if name and name != self.project.name:
            with self._edit():
                self.project.name = name[:200]

    def undo(self) -> bool:
        return self._restore(self.history.undo(self.project.to_dict()))

    def redo(self) -> bool:
        return self._restore(self.history.redo(self.project.to_dict()))

    def _restore(self, snapshot: dict[str, Any] | None) -> bool:
        if snapshot is None:
            return False
        self.project = project_from_dict(snapshot)
        self.revision += 1
        self.select(self.selected)
        return True

    def frame(self) -> None:
        """Moves the whole graph so its top-left node sits at MARGIN: the canvas opens at the
        top-left corner, so an opened or tidied graph starts in view. A graph with a node
        without a usable position (positions are optional in a file; a broken one may hold 1e308
        or NaN) is laid out anew first. Not an undo step."""
        if not self.graph.nodes:
            return
        if any(n.position is None or not all(isinstance(v, (int, float)) and math.isfinite(v)
                                             and abs(v) < POSITION_LIMIT for v in n.position)
               for n in self.graph.nodes):
            self.move_nodes(layout(self.graph))
        dx = MARGIN[0] - min(n.position[0] for n in self.graph.nodes)
        dy = MARGIN[1] - min(n.position[1] for n in self.graph.nodes)
        for node in self.graph.nodes:
            node.position = (node.position[0] + dx, node.position[1] + dy)

    # --- placement ---------------------------------------------------------------------------
    def _position(self, node_id: str) -> tuple[float, float]:
        node = self.graph.node(node_id)
        return node.position if node.position is not None else (0.0, 0.0)

    def _cards(self, sizes: Sizes, leaving_out: frozenset[str] | set[str] = frozenset()) -> list[Box]:
        return [(*self._position(n.id), *sizes.get(n.id, CARD)) for n in self.graph.nodes
                if n.id not in leaving_out]

    def _next_row(self, node_id: str, sizes: Sizes) -> float:
        """Where a card added under `node_id` starts: a tidied graph's row below it, or lower when
        the card is taller than a row leaves room for (an error card with a long message)."""
        _, height = sizes.get(node_id, CARD)
        return self._position(node_id)[1] + max(ROW, height + EDGE_ROOM)

    def _free_spot(self, sizes: Sizes) -> tuple[float, float]:
        """Under the last node when it is unwired too (layers added one after another form a
        column), else in a new column right of the graph; further right where a card is in the way."""
        placed = [n.position for n in self.graph.nodes if n.position is not None]
        if not placed:
            return MARGIN
        last = self.graph.nodes[-1]
        if last.position is not None and not any(last.id in (e.source, e.target) for e in self.graph.edges):
            want = (last.position[0], self._next_row(last.id, sizes))
        else:
            want = (max(x for x, _ in placed) + COLUMN, min(y for _, y in placed))
        return free_spot(want, CARD, self._cards(sizes))

    def _downstream(self, start: str) -> set[str]:
        """`start` and every node fed by it, directly or not."""
        seen, todo = set(), [start]
        while todo:
            node_id = todo.pop()
            if node_id not in seen:
                seen.add(node_id)
                todo.extend(e.target for e in self.graph.edges if e.source == node_id)
        return seen

    def _move_down(self, node_ids: set[str], dy: float) -> None:
        for node_id in node_ids:
            x, y = self._position(node_id)
            self.graph.node(node_id).position = (x, y + dy)
