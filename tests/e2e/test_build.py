"""A person builds LeNet-5 on an empty canvas, breaks it, reloads; and edits a template."""
import re

import pytest

from driver import App

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]

LENET_PARAMS = "61,706"     # LeNet-5 on 1x32x32 with 10 classes


def test_build_lenet5_from_an_empty_canvas(server, page):
    app = App(page, server.url)
    app.open()
    page.shoot("empty")
    assert app.node_ids() == []

    # The chain by palette clicks: each new layer is added after the selected one and wired.
    for layer in ("Input", "Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d"):
        app.add(layer)
    page.shoot("convolutions-by-palette")
    # The classifier: with nothing selected, layers land beside the graph; wired by dragging.
    app.click_button("✕")
    for layer in ("Flatten", "Linear", "ReLU", "Linear", "ReLU", "Linear", "Output"):
        app.add(layer)
        app.click_button("✕")
    page.shoot("classifier-unwired")
    app.fit_view()
    page.shoot("fitted")
    chain = ["pool2", "flatten1", "fc1", "relu3", "fc2", "relu4", "fc3", "output1"]
    for source, target in zip(chain, chain[1:]):
        app.connect(source, target)
        assert app.edge_exists(source, target), f"{source} -> {target} was not wired"
    page.shoot("wired")

    # Parameters in the inspector.
    settings = [("input1", "shape", "1, 32, 32"), ("conv1", "out_channels", 6), ("conv1", "kernel_size", 5),
                ("conv2", "kernel_size", 5), ("fc1", "out_features (number)", 120), ("fc2", "out_features (number)", 84),
                ("fc3", "out_features (number)", 10)]
    selected = None
    for node_id, label, value in settings:
        if node_id != selected:
            app.select(node_id)
            selected = node_id
        app.set_field(label, value)
    app.click_button("Tidy up")
    page.shoot("lenet5-built")
    assert "6×28×28" in app.node_text("conv1")
    assert "16×5×5" in app.node_text("pool2")
    assert "→ 400" in app.node_text("flatten1")
    assert "→ 10" in app.node_text("fc3")
    assert app.metric("Parameters") == LENET_PARAMS
    assert app.metric("Issues") == "0"

    # Break it on purpose: without Flatten, the first Linear receives an image and says so.
    app.select("flatten1")
    app.click_button("Delete")
    app.fit_view()
    page.shoot("flatten-removed")
    for _ in range(2):
        app.canvas.locator(".react-flow__controls-zoomin").click()
    page.shoot("red-node-zoomed-in")
    issue = app.main().get_by_role("button", name=re.compile(r"^fc1: Linear expects"))
    issue.scroll_into_view_if_needed()
    page.shoot("summary-lists-the-issue")
    issue.click()
    app.settle()
    app.main().get_by_role("heading", name=re.compile(r"^fc1")).scroll_into_view_if_needed()
    page.shoot("issue-click-opens-the-node")
    assert "flatten1" not in app.node_ids()
    card = app.node_text("fc1")
    assert "insert Flatten" in card, card
    border = app.node("fc1").evaluate("e => getComputedStyle(e).borderTopColor")
    assert border == "rgb(220, 38, 38)"
    assert app.metric("Issues") != "0"

    # Undo brings Flatten back; a reload finds the project as it was left.
    app.click_button("Undo")
    assert "flatten1" in app.node_ids() and app.metric("Parameters") == LENET_PARAMS
    everything = sorted(["input1", "conv1", "relu1", "pool1", "conv2", "relu2", "pool2", *chain[1:]])
    app.reload()
    page.shoot("after-reload")
    assert sorted(app.node_ids()) == everything
    assert app.metric("Parameters") == LENET_PARAMS

    # A restarted server loses nothing either: the URL names the project, the store keeps it.
    url = page.url
    page.goto("about:blank")          # leave first: a page losing its server logs connection errors
    server.stop()
    server.start()
    app.url = url
    app.open()
    page.shoot("after-server-restart")
    assert sorted(app.node_ids()) == everything and app.metric("Parameters") == LENET_PARAMS


def test_open_a_template_delete_with_the_node_menu_and_undo(server, page):
    app = App(page, server.url)
    app.open()
    app.main().get_by_role("button", name="Templates").click()
    page.locator(".st-key-template_lenet5 button").click()
    app.settle()
    page.shoot("template-opened")
    assert "relu2" in app.node_ids()
    app.node("relu2").click(button="right")
    app.canvas.get_by_role("button", name="Delete Node").click()
    app.settle()
    page.shoot("relu2-deleted-from-menu")
    assert "relu2" not in app.node_ids()
    assert app.edge_exists("conv2", "pool2")           # the chain was bridged
    app.click_button("Undo")
    page.shoot("undone")
    assert "relu2" in app.node_ids() and app.edge_exists("relu2", "pool2")
