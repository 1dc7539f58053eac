"""Hostile project files opened from disk: rejected with a message, or shown as plain text."""
import json

import pytest

from driver import App

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]

SCRIPT = "<script>alert('pwned')</script>"


def upload(app: App, path) -> str:
    """Opens the file through the Projects menu; returns the message the app shows."""
    app.main().get_by_role("button", name="Projects").click()
    menu = app.page.locator('[data-testid="stPopoverBody"]')       # the panel's data upload has its own
    uploader = menu.locator('[data-testid="stFileUploader"]').filter(has_text="Open a project file")
    uploader.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(path))
    app.settle()
    toast = app.page.locator('[data-testid="stToast"]').filter(has_text=path.name)   # toasts stack up
    toast.wait_for(timeout=30_000)
    text = toast.inner_text()
    app.page.keyboard.press("Escape")
    return text


def test_hostile_files_are_refused_or_shown_safely(server, page, tmp_path):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    app = App(page, server.url)
    app.open()

    broken = tmp_path / "broken.json"
    broken.write_text('{"format_version": 1, "name": "x", "graph": {"nodes": [}')
    assert "Not valid JSON (line 1" in upload(app, broken)

    huge = tmp_path / "huge.json"
    huge.write_text(json.dumps({"format_version": 1, "name": "huge", "graph": {
        "nodes": [{"id": f"n{i}", "type": "ReLU"} for i in range(10_000)], "edges": []}}))
    assert "10000 nodes" in upload(app, huge)

    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"format_version": 1, "name": "w", "graph": {"nodes": "all", "edges": []}}))
    assert "graph.nodes" in upload(app, wrong)
    page.shoot("refused")
    assert app.node_ids() == []                       # nothing was opened

    evil = tmp_path / "evil.json"
    evil.write_text(json.dumps({"format_version": 1, "name": f"{SCRIPT} net", "graph": {
        "nodes": [{"id": SCRIPT, "type": "Input", "params": {"shape": [1, 1e308]}, "position": [1e308, 0]},
                  {"id": "<img src=x onerror=alert(2)>", "type": "Linear",
                   "params": {"out_features": 10 ** 12, "bias": "<b>yes</b>"}},
                  {"id": "out", "type": "Output"}],
        "edges": [{"source": SCRIPT, "target": "<img src=x onerror=alert(2)>"},
                  {"source": "<img src=x onerror=alert(2)>", "target": "out"}]}}))
    assert "Opened evil.json" in upload(app, evil)
    app.fit_view()
    page.shoot("evil-shown-as-text")
    assert sorted(app.node_ids()) == sorted([SCRIPT, "<img src=x onerror=alert(2)>", "out"])
    assert SCRIPT in app.node_text(SCRIPT)            # the text is shown as typed ...
    assert app.canvas.locator(".react-flow__node script, .react-flow__node img").count() == 0   # ... not run
    assert "out_features must be" in app.node_text("<img src=x onerror=alert(2)>")
    assert app.main().get_by_label("Project name").input_value() == f"{SCRIPT} net"
    assert dialogs == []
