"""Graph edits as the page makes them: add after the selection, wire, delete, undo."""
from pathlib import Path

from builder.workspace import CARD, CLEARANCE, MARGIN, ROW, Workspace, free_spot
from runtime.graph import Edge, Graph, Node, Project, load_project

TEMPLATES = Path(__file__).resolve().parents[2] / "runtime" / "templates"


def chain(*types: str) -> Workspace:
    ws = Workspace(Project("t", Graph()))
    for t in types:
        ws.add_layer(t)
    return ws


def pairs(ws: Workspace) -> list[tuple[str, str]]:
    return [(e.source, e.target) for e in ws.graph.edges]


def test_palette_clicks_name_nodes_as_the_templates_do():
    template = load_project(TEMPLATES / "lenet5.json").graph
    ws = chain(*(n.type for n in template.nodes))
    assert [n.id for n in ws.graph.nodes] == [n.id for n in template.nodes]    # conv1, pool1, fc1, ...


def test_palette_clicks_build_a_wired_chain_below_the_selection():
    ws = chain("Input", "Conv2d", "ReLU", "Output")
    assert [n.id for n in ws.graph.nodes] == ["input1", "conv1", "relu1", "output1"]
    assert pairs(ws) == [("input1", "conv1"), ("conv1", "relu1"), ("relu1", "output1")]
    ys = [ws.graph.node(i).position[1] for i in ("input1", "conv1", "relu1", "output1")]
    assert ys == sorted(ys) and len(set(ys)) == 4
    assert ws.selected == "output1"
    assert ws.graph.node("conv1").params["out_channels"] == 16    # the declared default


def test_adding_after_a_node_in_a_chain_inserts_and_makes_room():
    ws = chain("Input", "Linear", "Output")
    before = ws.graph.node("output1").position[1]
    ws.select("input1")
    ws.add_layer("Flatten")
    assert pairs(ws) == [("flatten1", "fc1"), ("fc1", "output1"), ("input1", "flatten1")]
    assert ws.graph.inputs_of("fc1") == ["flatten1"]
    assert ws.graph.node("output1").position[1] > before


def test_input_is_never_wired_and_output_never_takes_successors():
    ws = chain("Input", "Linear")
    ws.add_layer("Input")
    assert ws.graph.inputs_of("input2") == []
    ws.select("input1")
    ws.add_layer("Output")      # Input already feeds fc1: Output joins, fc1 keeps its input
    assert ws.graph.inputs_of("fc1") == ["input1"] and ws.graph.inputs_of("output1") == ["input1"]
    ws.add_layer("ReLU")        # Output is selected: nothing can follow it
    assert ws.graph.inputs_of("relu1") == []


def test_with_nothing_selected_a_layer_lands_beside_the_graph_unwired():
    ws = chain("Input", "Linear")
    ws.select(None)
    ws.add_layer("ReLU")
    xs = [n.position[0] for n in ws.graph.nodes]
    assert ws.graph.inputs_of("relu1") == [] and xs[-1] > max(xs[:-1])


def box(ws: Workspace, node_id: str, sizes: dict) -> tuple[float, float, float, float]:
    return (*ws.graph.node(node_id).position, *sizes.get(node_id, CARD))


def overlap(a, b) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def test_a_free_spot_is_the_wanted_one_or_in_its_row_right_of_every_card_in_the_way():
    assert free_spot((0, 0), (210, 60), [(230, 0, 210, 60)]) == (0, 0)       # a side branch's distance
    tall_then_beside = [(0, 100, 210, 200), (210 + CLEARANCE, 150, 210, 60)]
    assert free_spot((0, 140), (210, 60), tall_then_beside) == (2 * (210 + CLEARANCE), 140)
    assert free_spot((0, 0), (210, 60), tall_then_beside) == (0, 0)           # above them: room enough


def test_a_layer_added_after_a_tall_card_starts_below_it():
    ws = chain("Input", "Flatten")
    sizes = {"flatten1": (210.0, 220.0)}          # an error card with a long message
    ws.add_layer("Linear", sizes)
    assert not overlap(box(ws, "fc1", sizes), box(ws, "flatten1", sizes))
    assert ws.graph.node("fc1").position[1] > ws.graph.node("flatten1").position[1] + 220


def test_a_layer_inserted_after_a_node_goes_beside_a_card_in_its_way_and_pushes_the_successor_down():
    ws = Workspace(Project("t", Graph(
        [Node("conv1", "Conv2d", position=(0.0, 0.0)), Node("relu1", "ReLU", position=(230.0, ROW)),
         Node("fc1", "Linear", position=(0.0, ROW))],            # unwired, under conv1
        [Edge("conv1", "relu1")])))
    sizes = {"fc1": (210.0, 180.0)}              # red, with its long message
    ws.select("conv1")
    ws.add_layer("BatchNorm2d", sizes)            # conv1 -> bn1 -> relu1
    assert ws.graph.inputs_of("bn1") == ["conv1"] and ws.graph.inputs_of("relu1") == ["bn1"]
    for other in ("conv1", "relu1", "fc1"):
        assert not overlap(box(ws, "bn1", sizes), box(ws, other, sizes)), other
    assert ws.graph.node("bn1").position[1] == ROW
    assert ws.graph.node("relu1").position[1] == ROW + ROW


def test_beside_the_graph_a_layer_covers_no_card_either():
    ws = chain("Input", "Linear")
    ws.select(None)
    ws.add_layer("ReLU")
    sizes = {"relu1": (210.0, 300.0)}
    ws.add_layer("Tanh", sizes)                   # still unwired: under relu1, below all of it
    ws.select(None)
    ws.add_layer("Dropout", sizes)
    for new in ("tanh1", "dropout1"):
        for other in ws.graph.nodes:
            assert other.id == new or not overlap(box(ws, new, sizes), box(ws, other.id, sizes)), (new, other.id)


def test_a_copy_goes_beside_its_original_or_right_of_the_card_there():
    ws = chain("Input", "Linear")
    ws.select(None)
    ws.add_layer("ReLU")                          # right of the graph, level with input1
    copy = ws.duplicate_node("input1")
    assert ws.graph.node(copy).position[1] == ws.graph.node("input1").position[1]
    assert not overlap(box(ws, copy, {}), box(ws, "relu1", {}))


def test_a_copy_avoids_the_cards_as_big_as_the_browser_measured_them():
    ws = chain("Input", "Linear")
    ws.select(None)
    ws.add_layer("ReLU")
    sizes = {"relu1": (640.0, 80.0)}              # a wide card: a long error message
    assert overlap(box(ws, ws.duplicate_node("input1"), sizes), box(ws, "relu1", sizes))   # placed by estimate
    copy = ws.duplicate_node("input1", sizes)
    assert not overlap(box(ws, copy, sizes), box(ws, "relu1", sizes))


def test_delete_bridges_a_chain_and_undo_redo_restore_it():
    ws = chain("Input", "Flatten", "Linear", "Output")
    ws.delete_nodes({"flatten1"})
    assert pairs(ws) == [("input1", "fc1"), ("fc1", "output1")]
    assert ws.undo()
    assert [n.id for n in ws.graph.nodes] == ["input1", "flatten1", "fc1", "output1"]
    assert pairs(ws) == [("input1", "flatten1"), ("flatten1", "fc1"), ("fc1", "output1")]
    assert ws.redo()
    assert not ws.has_node("flatten1")
    assert not ws.redo()


def test_a_node_with_several_inputs_is_not_bridged():
    ws = Workspace(Project("t", Graph(
        [Node("a", "Input"), Node("b", "ReLU"), Node("add", "Add"), Node("c", "ReLU")],
        [Edge("a", "add"), Edge("b", "add"), Edge("add", "c")])))
    ws.delete_nodes({"add"})
    assert pairs(ws) == []


def test_params_edit_duplicate_and_no_op_edits_do_not_record():
    ws = chain("Input", "Linear")
    revision = ws.revision
    ws.set_param("fc1", "out_features", 64)     # unchanged value
    assert ws.revision == revision
    ws.set_param("fc1", "out_features", 10)
    copy = ws.duplicate_node("fc1")
    assert ws.graph.node(copy).params["out_features"] == 10 and ws.graph.inputs_of(copy) == []
    assert ws.selected == copy
    ws.undo()
    ws.undo()
    assert ws.graph.node("fc1").params["out_features"] == 64


def test_connect_refuses_loops_duplicates_and_unknown_nodes():
    ws = chain("Input", "Linear")
    assert not ws.connect("fc1", "fc1")
    assert not ws.connect("input1", "fc1")
    assert not ws.connect("input1", "nope")
    ws.add_layer("ReLU")
    ws.disconnect([("fc1", "relu1")])
    assert ws.graph.inputs_of("relu1") == []
    assert ws.connect("fc1", "relu1")


def test_input_order_can_be_changed():
    ws = Workspace(Project("t", Graph(
        [Node("a", "Input"), Node("b", "ReLU"), Node("c", "Tanh"), Node("cat", "Concat")],
        [Edge("a", "b"), Edge("a", "c"), Edge("c", "cat", port=0), Edge("b", "cat", port=1)])))
    assert ws.graph.inputs_of("cat") == ["c", "b"]
    ws.move_input_up("cat", 1)
    assert ws.graph.inputs_of("cat") == ["b", "c"]
    ws.undo()
    assert ws.graph.inputs_of("cat") == ["c", "b"]


def test_moves_are_kept_but_are_not_undo_steps():
    ws = chain("Input")
    revision = ws.revision
    ws.move_nodes({"input1": (40.0, 50.0)})
    assert ws.graph.node("input1").position == (40.0, 50.0) and ws.revision == revision
    ws.arrange({"input1": (0.0, 0.0)})
    ws.undo()
    assert ws.graph.node("input1").position == (40.0, 50.0)


def test_rename_trims_and_is_undoable():
    ws = chain("Input")
    ws.rename("  My net ")
    assert ws.project.name == "My net"
    ws.rename("   ")
    assert ws.project.name == "My net"
    ws.undo()
    assert ws.project.name == "t"


def test_frame_moves_the_graph_to_the_top_left_and_lays_out_nodes_without_positions():
    ws = Workspace(Project("t", Graph([Node("a", "Input", position=(500.0, -300.0)),
                                       Node("b", "ReLU", position=(700.0, -100.0))], [Edge("a", "b")])))
    ws.frame()
    assert ws.graph.node("a").position == MARGIN and ws.graph.node("b").position == (MARGIN[0] + 200, MARGIN[1] + 200)
    broken = Workspace(Project("t", Graph([Node("a", "Input", position=(1e308, 0.0)), Node("b", "ReLU"),
                                           Node("c", "Tanh")], [Edge("a", "b"), Edge("b", "c")])))
    broken.frame()
    ys = [n.position[1] for n in broken.graph.nodes]
    assert ys == sorted(ys) and len(set(ys)) == 3 and min(ys) == MARGIN[1]


def test_a_widget_drawn_before_the_last_edit_cannot_write_its_stale_value_back():
    from builder import inspector, training_panel
    ws = Workspace(load_project(TEMPLATES / "lenet5.json"))
    dataset_key, epochs_key = ws.widget_key("dataset"), ws.widget_key("cfg", "epochs")
    param_key = ws.widget_key("param", "conv1", "out_channels")
    assert ws.is_current(dataset_key) and ws.is_current(param_key)
    ws.set_param("conv1", "out_channels", 8)                 # any edit draws the widgets anew
    assert not ws.is_current(dataset_key) and not ws.is_current(epochs_key) and not ws.is_current(param_key)
    assert ws.is_current(ws.widget_key("param", "conv1", "out_channels"))
    assert not Workspace(ws.project).is_current(ws.widget_key("dataset"))     # another workspace's widget
    before, revision = ws.project.to_dict(), ws.revision
    # What Streamlit delivered after an upload chose a dataset: the previous drawing's callbacks, with
    # their old values (they return before reading them).
    training_panel._set_dataset(ws, dataset_key)
    training_panel._set_setting(ws, "epochs", epochs_key)
    inspector._apply(ws, "conv1", "out_channels", param_key, "int")
    assert ws.project.to_dict() == before and ws.revision == revision
