"""The app's wiring under AppTest: palette, canvas events (injected as the browser sends them),
inspector, summary, projects, undo, autosave."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from builder import markdown, palette, projects
from runtime.graph import parse_project

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("LAYERBOARD_HOME", str(tmp_path))
    return tmp_path


def start(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if query:
        at.query_params.update(query)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def canvas(at: AppTest) -> dict:
    return json.loads(at.get("component_instance")[0].proto.json_args)


def content(at: AppTest, node_id: str) -> str:
    return next(n for n in canvas(at)["nodes"] if n["id"] == node_id)["data"]["content"]


def click_palette(at: AppTest, layer_type: str) -> AppTest:
    """Clicks the layer's button; a folded family's buttons are not drawn, so it searches first."""
    if not any(b.key == f"palette_{layer_type}" for b in at.sidebar.button):
        at.sidebar.text_input(key="palette_search").input(layer_type)
        run(at)
    at.sidebar.button(key=f"palette_{layer_type}").click()
    return run(at)


def browser_sends(at: AppTest, change) -> AppTest:
    """Fakes a canvas event: the browser's copy of the drawn state, changed by `change`."""
    state = canvas(at)
    value = {"nodes": state["nodes"], "edges": state["edges"], "selectedId": None,
             "timestamp": state["timestamp"] + 1000}
    change(value)
    at.session_state["canvas"] = value
    return run(at)


def browser_measures(at: AppTest, sizes: dict[str, tuple[int, int]], selected: str | None = None) -> AppTest:
    """Fakes the browser reporting the cards as it drew them: (width, height) by node id, 210x50 for the
    others; `selected` is the node selected in it."""
    def measure(value):
        for n in value["nodes"]:
            n["width"], n["height"] = sizes.get(n["id"], (210, 50))
        value["selectedId"] = selected
    return browser_sends(at, measure)


def workspace(at: AppTest):
    return at.session_state["workspace"]


def test_first_visit_opens_a_saved_empty_project_and_the_palette_builds_a_chain(home):
    at = start()
    assert workspace(at).graph.nodes == []
    for t in ("Input", "Flatten", "Linear", "Output"):
        click_palette(at, t)
    drawn = canvas(at)
    assert [n["id"] for n in drawn["nodes"]] == ["input1", "flatten1", "fc1", "output1"]
    assert [(e["source"], e["target"]) for e in drawn["edges"]] == \
        [("input1", "flatten1"), ("flatten1", "fc1"), ("fc1", "output1")]
    assert "→ 784" in content(at, "flatten1") and "→ 64" in content(at, "fc1")
    assert [e["label"] for e in drawn["edges"]] == ["1×28×28", "784", "64"]
    saved = projects.store().load_project(workspace(at).project_id)
    assert len(saved.graph.nodes) == 4                     # autosaved on every change


def test_the_palette_draws_the_buttons_of_open_families_only(home):
    at = start()

    def drawn() -> set[str]:
        return {b.key for b in at.sidebar.button if b.key and b.key.startswith("palette_")}
    assert {"palette_Input", "palette_Output", "palette_Linear"} <= drawn()
    assert "palette_Conv2d" not in drawn() and "palette_ReLU" not in drawn()       # folded families
    at.session_state[palette.family_key("Convolution", "")] = True                   # unfolded, as a click does
    run(at)
    assert {"palette_Conv2d", "palette_MaxPool2d"} <= drawn() and "palette_ReLU" not in drawn()
    at.sidebar.text_input(key="palette_search").input("pool")
    run(at)
    assert {"palette_MaxPool2d", "palette_AvgPool1d", "palette_SequencePool"} <= drawn()   # every family found
    assert "palette_Linear" not in drawn()


def test_a_search_shows_name_matches_and_folds_the_layers_only_their_explanation_mentions(home):
    at = start()
    at.sidebar.text_input(key="palette_search").input("Output")
    run(at)
    drawn = [b.key for b in at.sidebar.button if b.key and b.key.startswith("palette_")]
    assert drawn == ["palette_Output", "palette_Input"]
    mentioned = at.sidebar.expander[-1]
    n_mentioned = len(palette.matching("Output")[1])
    assert mentioned.label == f":gray[Also mentioned in {n_mentioned} explanations]"
    at.session_state[palette.family_key(palette.MENTIONED, "Output")] = True         # unfolded, as a click does
    run(at)
    drawn = [b.key for b in at.sidebar.button if b.key and b.key.startswith("palette_")]
    assert drawn[:2] == ["palette_Output", "palette_Input"] and "palette_Conv2d" in drawn[2:]
    at.sidebar.text_input(key="palette_search").input("residual")          # only an explanation has it
    run(at)
    assert [b.key for b in at.sidebar.button if b.key and b.key.startswith("palette_")] == ["palette_Add"]


def test_the_summary_lists_the_layers_like_keras_and_follows_the_canvas(home):
    at = start()
    for t in ("Input", "Flatten", "Linear", "Output"):
        click_palette(at, t)
    at.button(key="inspector_close").click()
    run(at)
    click_palette(at, "ReLU")                                      # nothing selected: not wired in

    def table() -> list[list[str]]:
        text = next(c.value for c in at.code if c.value.startswith("Layer (type)"))
        return [[cell.strip() for cell in line.split("   ") if cell.strip()] for line in text.splitlines()]
    rows = table()
    assert rows[0] == ["Layer (type)", "Output shape", "Param #"] and set(rows[1][0]) == {"─"}
    assert [r for r in rows[2:] if r[0] != "relu1 (ReLU)"] == [
        ["input1 (Input)", "1×28×28", "0"], ["flatten1 (Flatten)", "784", "0"], ["fc1 (Linear)", "64", "50,240"],
        ["output1 (Output)", "64", "0"]]                            # in execution order
    assert ["relu1 (ReLU)", "?", "0", "not in the model"] in rows

    def delete_flatten(value):
        value["nodes"] = [n for n in value["nodes"] if n["id"] != "flatten1"]
        value["edges"] = [e for e in value["edges"] if "flatten1" not in (e["source"], e["target"])]
    browser_sends(at, lambda value: value.update(selectedId="fc1"))    # a click on fc1, then the deletion
    browser_sends(at, delete_flatten)
    rows = table()
    assert ["fc1 (Linear)", "?", "0"] in rows and not any(r[0] == "flatten1 (Flatten)" for r in rows)   # 2-D input


def test_canvas_events_move_connect_select_and_delete(home):
    at = start()
    for t in ("Input", "Linear"):
        click_palette(at, t)
    at.button(key="inspector_close").click()
    run(at)
    click_palette(at, "Output")
    assert workspace(at).graph.inputs_of("output1") == []

    def connect_and_move(value):
        value["edges"].append({"id": "st-flow-edge_linear1-output1", "source": "fc1", "target": "output1"})
        value["nodes"][0]["position"] = {"x": 33.0, "y": -20.0}
        value["selectedId"] = "fc1"
    browser_sends(at, connect_and_move)
    ws = workspace(at)
    assert ws.graph.inputs_of("output1") == ["fc1"]
    assert ws.graph.node("input1").position == (33.0, -20.0)
    assert ws.selected == "fc1" and any(s.value.startswith("fc1") for s in at.main.subheader)

    def delete_linear(value):
        value["nodes"] = [n for n in value["nodes"] if n["id"] != "fc1"]
        value["edges"] = [e for e in value["edges"] if "fc1" not in (e["source"], e["target"])]
    browser_sends(at, delete_linear)
    assert workspace(at).graph.inputs_of("output1") == ["input1"]     # the chain is bridged
    at.button(key="undo").click()
    run(at)
    assert workspace(at).graph.inputs_of("output1") == ["fc1"]


def test_a_push_carries_the_sizes_the_browser_measured(home):
    at = start()
    for t in ("Input", "Flatten", "Linear", "Output"):
        click_palette(at, t)

    def measure_and_delete_flatten(value):
        for k, n in enumerate(value["nodes"]):
            n["width"], n["height"] = 210, 50 + k
        value["nodes"] = [n for n in value["nodes"] if n["id"] != "flatten1"]
        value["edges"] = [e for e in value["edges"] if "flatten1" not in (e["source"], e["target"])]
    browser_sends(at, measure_and_delete_flatten)
    drawn = {n["id"]: n for n in canvas(at)["nodes"]}
    assert "→ 784" not in drawn["fc1"]["data"]["content"]          # Python's answer differs: a push
    assert [(drawn[i]["width"], drawn[i]["height"]) for i in ("input1", "fc1", "output1")] == \
        [(210, 50), (210, 52), (210, 53)]
    click_palette(at, "ReLU")                                      # not drawn by the browser yet
    assert "width" not in next(n for n in canvas(at)["nodes"] if n["id"] == "relu1")


def test_the_palette_places_a_layer_below_the_selected_card_as_tall_as_the_browser_measured_it(home):
    at = start()
    for t in ("Input", "Flatten"):
        click_palette(at, t)
    browser_measures(at, {"flatten1": (210, 230)}, selected="flatten1")   # a tall card: a long error message
    click_palette(at, "Linear")
    graph = workspace(at).graph
    assert graph.inputs_of("fc1") == ["flatten1"]
    assert graph.node("fc1").position[1] > graph.node("flatten1").position[1] + 230


def test_the_inspectors_duplicate_places_the_copy_clear_of_the_card_as_wide_as_the_browser_measured_it(home):
    at = start()
    for t in ("Input", "Flatten"):
        click_palette(at, t)
    browser_measures(at, {"input1": (640, 60)}, selected="input1")        # a wide card
    at.button(key="inspector_duplicate").click()
    run(at)
    ws = workspace(at)
    copy = ws.selected
    assert copy != "input1" and ws.graph.node(copy).type == "Input"
    assert ws.graph.node(copy).position[0] >= ws.graph.node("input1").position[0] + 640


def test_tidy_up_leaves_room_below_a_card_as_tall_as_the_browser_measured_it(home):
    at = start()
    for t in ("Input", "Flatten", "Linear"):
        click_palette(at, t)
    browser_measures(at, {"flatten1": (210, 230)})                        # a tall card: a long error message
    at.button(key="tidy").click()
    run(at)
    graph = workspace(at).graph
    assert graph.node("fc1").position[1] >= graph.node("flatten1").position[1] + 230


def test_the_browsers_echo_of_a_push_leaves_the_arguments_byte_identical(home):
    at = start()
    for t in ("Input", "Flatten"):
        click_palette(at, t)
    pushed = at.get("component_instance")[0].proto.json_args

    def echo_measured(value):          # the browser took the push, measured it and reports it back
        for n in value["nodes"]:
            n["width"], n["height"] = 210, 40
    browser_sends(at, echo_measured)
    assert at.get("component_instance")[0].proto.json_args == pushed     # else the exchange never ends


def test_inspector_edits_apply_at_once_and_recheck(home):
    at = start()
    for t in ("Input", "Flatten", "Linear", "Output"):
        click_palette(at, t)
    workspace(at).select("fc1")
    run(at)
    at.number_input(key=next(k.key for k in at.number_input if k.label == "out_features (number)")).set_value(10)
    run(at)
    assert workspace(at).graph.node("fc1").params["out_features"] == 10
    assert "→ 10" in content(at, "fc1") and "7,850 params" in content(at, "fc1")
    assert at.metric[0].value == "7,850"
    workspace(at).select("input1")
    run(at)
    shape = next(t for t in at.text_input if t.label == "shape")
    shape.set_value("3, 32, 32")
    run(at)
    assert workspace(at).graph.node("input1").params["shape"] == [3, 32, 32]
    assert "→ 3072" in content(at, "flatten1")
    shape = next(t for t in at.text_input if t.label == "shape")
    shape.set_value("three")
    run(at)
    assert workspace(at).graph.node("input1").params["shape"] == [3, 32, 32]
    assert any("not a list of whole numbers" in e.value for e in at.error)


def test_a_refused_value_is_reported_on_its_own_node_only(home):
    at = start()
    for t in ("Input", "Flatten", "Output"):
        click_palette(at, t)
    workspace(at).select("input1")
    run(at)
    next(t for t in at.text_input if t.label == "shape").set_value("abc")
    run(at)
    assert any("not a list of whole numbers" in e.value for e in at.error)
    workspace(at).select("flatten1")           # another node: the message is not about it
    run(at)
    assert not any("whole numbers" in e.value for e in at.error)
    workspace(at).select("input1")
    run(at)
    assert any("not a list of whole numbers" in e.value for e in at.error)
    click_palette(at, "ReLU")                  # an edit redraws the form with the graph's values
    workspace(at).select("input1")
    run(at)
    assert not any("whole numbers" in e.value for e in at.error)


def test_a_template_broken_on_purpose_shows_the_red_node_and_the_fix(home):
    at = start()
    at.button(key="template_lenet5").click()
    run(at)
    ws = workspace(at)
    assert ws.project.name == "LeNet-5" and at.metric[2].value == "0"
    flatten = next(n.id for n in ws.graph.nodes if n.type == "Flatten")
    after = next(e.target for e in ws.graph.edges if e.source == flatten)
    ws.select(flatten)
    run(at)
    at.button(key="inspector_delete").click()
    run(at)
    card = content(at, after)
    assert "3px solid #dc2626" in json.dumps(canvas(at)) and "insert Flatten" in card
    issue = next(b for b in at.button if b.key and b.key.startswith("issue_"))
    issue.click()
    run(at)
    assert workspace(at).selected == after
    at.button(key="undo").click()
    run(at)
    assert workspace(at).has_node(flatten) and at.metric[2].value == "0"
    at.button(key="redo").click()
    run(at)
    assert not workspace(at).has_node(flatten)


def test_a_new_session_reopens_the_project_from_the_url_or_the_latest(home):
    at = start()
    at.button(key="template_mlp").click()
    run(at)
    click_palette(at, "Dropout")
    mlp_id, nodes = workspace(at).project_id, [n.id for n in workspace(at).graph.nodes]
    at.button(key="template_empty").click()
    run(at)
    assert workspace(at).graph.nodes == []
    again = start({"project": mlp_id})                        # a reload: the URL names the project
    assert [n.id for n in workspace(again).graph.nodes] == nodes
    latest = start()               # no URL: the latest saved project (an untouched empty one is not saved)
    assert workspace(latest).project_id == mlp_id


def test_rename_duplicate_delete_and_tidy(home):
    at = start()
    at.button(key="template_resnet_small").click()
    run(at)
    at.text_input(key="project_name").set_value("My ResNet")
    run(at)
    first = workspace(at).project_id
    assert projects.store().load_project(first).name == "My ResNet"
    at.button(key="duplicate_project").click()
    run(at)
    assert workspace(at).project_id != first and workspace(at).project.name == "My ResNet (copy)"
    ws = workspace(at)
    ws.move_nodes({ws.graph.nodes[0].id: (5000.0, 5000.0)})
    at.button(key="tidy").click()
    run(at)
    assert max(abs(x) for n in workspace(at).graph.nodes for x in n.position) < 5000
    at.button(key=f"ask_delete_{first}").click()      # a click asks first: a deleted project is gone
    run(at)
    assert first in [p.id for p in projects.store().list_projects()]
    at.button(key=f"keep_{first}").click()
    run(at)
    assert first in [p.id for p in projects.store().list_projects()]
    at.button(key=f"ask_delete_{first}").click()
    run(at)
    at.button(key=f"delete_{first}").click()
    run(at)
    assert [p.id for p in projects.store().list_projects()] == [workspace(at).project_id]


def test_saved_projects_of_one_name_are_told_apart_by_when_they_were_saved_and_their_size(home):
    two_nodes = parse_project(json.dumps({"format_version": 1, "name": "Same", "graph": {
        "nodes": [{"id": "input1", "type": "Input"}, {"id": "output1", "type": "Output"}],
        "edges": [{"source": "input1", "target": "output1"}]}}))
    projects.store().save_project(two_nodes)
    two_nodes.graph.nodes.pop()
    two_nodes.graph.edges.clear()
    projects.store().save_project(two_nodes)
    at = start()
    listed = [m.value for m in at.markdown if "Same" in m.value]
    assert len(listed) == 2
    assert re.fullmatch(r"▶ Same  \n:gray\[:small\[\w+ \d\d:\d\d\]\]  \n:gray\[:small\[1 node\]\]", listed[0])
    assert re.fullmatch(r"Same  \n:gray\[:small\[\w+ \d\d:\d\d\]\]  \n:gray\[:small\[2 nodes\]\]", listed[1])


def test_a_hostile_project_is_shown_safely(home):
    text = json.dumps({"format_version": 1, "name": "<img src=x onerror=alert(1)>", "graph": {
        "nodes": [{"id": "<script>alert('x')</script>", "type": "Input", "params": {"shape": "lots"},
                   "position": [1e308, -1e308]},
                  {"id": "big", "type": "Linear", "params": {"out_features": 10 ** 30, "bias": "yes"}},
                  {"id": "[x](javascript:alert(1))", "type": "Output"}],
        "edges": [{"source": "<script>alert('x')</script>", "target": "big"},
                  {"source": "big", "target": "[x](javascript:alert(1))"}]}})
    project_id, _ = projects.store().save_project(parse_project(text))
    at = start({"project": project_id})
    assert len(workspace(at).graph.nodes) == 3
    cards = " ".join(n["data"]["content"] for n in canvas(at)["nodes"])   # ids stay data, never markup
    assert "<script>" not in cards and "&lt;script&gt;" in cards
    assert at.metric[2].value != "0"
    workspace(at).select("big")
    run(at)
    assert any(markdown.escape("out_features must be") in e.value for e in at.error)


def test_choosing_another_dataset_resizes_the_graph(home):
    at = start()
    at.button(key="template_mlp").click()
    run(at)
    ws = workspace(at)
    assert ws.project.dataset["name"] == "digits" and "→ 1×8×8" in content(at, "input1")
    ws.project.dataset = {"name": "iris"}          # what the data panel does
    run(at)
    assert "→ 4" in content(at, "input1")
    assert "shape=4<" in content(at, "input1").replace("<br>", "<")    # not the file's 1×8×8
    ws.select("input1")
    run(at)
    shape = next(t for t in at.text_input if t.label == "shape")
    assert shape.value == "4" and shape.disabled
