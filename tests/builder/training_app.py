"""Driving the training area under AppTest: open a template, set a setting, train, wait for the run."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from builder import run_control, settings_form, training_area, training_panel

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_template(stem: str, query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if query:
        at.query_params.update(query)
    run(at)
    if stem:
        at.button(key=f"template_{stem}").click()
        run(at)
    return at


def widget(at: AppTest, kind: str, prefix: str, name: str):
    """The widget whose key is `<prefix>_<token>_<revision>_<name>` (keys follow the workspace revision)."""
    pattern = re.compile(rf"^{prefix}_[0-9a-f]+_\d+_{re.escape(name)}$")
    found = [w for w in getattr(at, kind) if w.key and pattern.match(w.key)]
    assert len(found) == 1, f"{len(found)} {kind} widgets for {name}"
    return found[0]


def open_advanced(at: AppTest) -> AppTest:
    """Unfolds the advanced settings, as a click does: their widgets are drawn only while unfolded."""
    at.session_state[training_panel.ADVANCED_KEY] = True
    return run(at)


def set_setting(at: AppTest, name: str, value) -> AppTest:
    if any(s["name"] == name and s["advanced"] for s in settings_form.settings()):
        open_advanced(at)
    kind = {bool: "checkbox", str: "selectbox"}.get(type(value), "number_input")
    widget(at, kind, "cfg", name).set_value(value)
    return run(at)


def open_tab(at: AppTest, name: str) -> AppTest:
    """Opens a tab of the training area, as a click on it does: only the open tab's content runs."""
    at.session_state[training_area.TAB_KEY] = name
    return run(at)


def workspace(at: AppTest):
    return at.session_state["workspace"]


def train(at: AppTest) -> AppTest:
    at.button(key="train").click()
    return run(at)


def wait_for_run(at: AppTest, timeout: float = 120.0) -> str:
    """Waits until the project's run has ended; returns its status."""
    project_id = workspace(at).project_id
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = run_control.registry().jobs(project_id)
        if jobs and not any(j.live for j in jobs):
            return jobs[-1].status
        time.sleep(0.1)
    raise TimeoutError(f"the run of project {project_id} did not end within {timeout:.0f} s")


def texts(at: AppTest, kind: str) -> list[str]:
    return [e.value for e in getattr(at, kind)]


def sample_images(at: AppTest) -> str:
    """The dataset preview's grid of sample images (HTML in a markdown element); empty when not shown."""
    return next((m.value for m in at.markdown if 'class="sample-images"' in m.value), "")


def class_balance(at: AppTest) -> str:
    """The dataset preview's class-balance bars (HTML in a markdown element); empty when not shown."""
    return next((m.value for m in at.markdown if 'class="class-balance"' in m.value), "")


def charts(at: AppTest) -> dict[str, dict]:
    """The Plotly figures on the page by title (AppTest shows them as elements with a JSON spec)."""
    out = {}
    for element in at.get("plotly_chart"):
        spec = json.loads(element.proto.spec)
        out[spec["layout"]["title"]["text"]] = spec
    return out
