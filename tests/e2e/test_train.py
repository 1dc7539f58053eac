"""A person trains LeNet-5 on MNIST in the browser, watches it learn while editing the canvas, stops
and resumes, reads the results, draws a digit, exports ONNX; the test checks the downloaded file
against the app's own prediction with onnxruntime."""
import io
import re

import numpy as np
import onnxruntime as ort
import pytest

from conftest import ARTIFACTS
from train_driver import TABS, TrainApp

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]

PREDICTION = re.compile(r"Prediction: (\S+) with probability ([0-9.]+)")


def start_training(app: TrainApp, epochs: int = 2, batch_size: int = 1) -> None:
    app.open_template("lenet5")
    app.tab("Data & training")
    assert "Handwritten digits 0-9" in app.panel().inner_text()      # the template's dataset: MNIST
    app.set_setting("epochs", epochs)
    app.set_setting("batch size", batch_size)       # one sample a step: a run long enough to watch
    app.press("Train", settle=False)
    app.wait_for(lambda: app.chart_last_step("Loss") > 0, 60, "the first loss points")


def test_train_watch_stop_resume_results_playground_export(server, page):
    app = TrainApp(page, server.url)
    app.open()
    start_training(app, epochs=5)          # 17,500 steps: still running when Stop is pressed, even on a fast machine
    app.show(app.panel().locator(".js-plotly-plot"))
    page.shoot("training-live")
    first = app.chart_last_step("Loss")

    # The canvas stays usable while the run trains: add a layer from the palette.
    app.add_live("Dropout")
    assert "dropout1" in app.node_ids()
    assert "running" in app.status_line()
    app.wait_for(lambda: app.chart_last_step("Loss") > first, 30, "the loss chart to grow")
    grown = app.chart_last_step("Loss")
    page.shoot("canvas-edited-while-training")

    app.press("Stop", settle=False)
    app.wait_for(lambda: "stopped" in app.status_line(), 30, "the run to stop")
    app.settle()
    stopped_at = app.chart_last_step("Loss")
    assert stopped_at >= grown
    app.show(app.panel().get_by_role("button", name="Resume", exact=True))
    page.shoot("stopped")

    app.press("Resume", settle=False)
    # Only the open tab runs: the Results tab, opened while the run trains, shows the results once it ends.
    app.tab("Results", settle=False)
    app.wait_for(lambda: "still training" in app.panel().inner_text(), 10, "the Results tab during the run")
    app.wait_for(lambda: "Confusion matrix" in app.panel().inner_text(), 120, "the results when the run completes")
    app.tab("Data & training")
    assert "completed" in app.status_line()
    assert "run 1 resumed" in app.status_line()
    assert app.chart_last_step("Loss") > stopped_at           # the curve continues where it stopped
    app.show(app.panel().locator(".js-plotly-plot"))
    page.shoot("completed")

    app.tab("Results")
    confusion = app.panel().locator(".js-plotly-plot").first
    app.show(confusion)
    page.shoot("results")
    assert "Confusion matrix" in confusion.inner_text()
    accuracy = float(app.panel().locator('[data-testid="stMetric"]').filter(has_text="test/acc")
                     .locator('[data-testid="stMetricValue"]').inner_text())
    assert accuracy > 0.8, accuracy

    app.tab("Playground")
    for _ in range(3):        # the pad ignores strokes until its script has loaded: draw again if needed
        app.draw([(0.5, 0.15), (0.5, 0.85)])                 # a "1": one vertical stroke
        try:
            app.wait_for(lambda: PREDICTION.search(app.panel().inner_text()), 5, "the playground's prediction")
            break
        except TimeoutError:
            continue
    shown = PREDICTION.search(app.panel().inner_text())
    page.shoot("playground-drawn")
    model_input = np.load(io.BytesIO(app.download("Download this input (.npy)")), allow_pickle=False)
    assert model_input.shape == (1, 1, 28, 28)

    app.tab("Export")
    app.add_live("ReLU")                 # a palette click reruns the whole page: the Export tab stays open
    app.settle()
    assert app.page.locator(TABS).get_by_role("tab", name="Export").get_attribute("aria-selected") == "true"
    app.press("Export ONNX")
    app.wait_for(lambda: "verified: passed" in app.panel().inner_text(), 60, "the verified export")
    app.show(app.panel().get_by_role("button", name="Export ONNX"))
    page.shoot("exported")
    onnx_bytes = app.download("Download ONNX (.onnx)")

    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    probabilities = session.run(None, {session.get_inputs()[0].name: model_input})[0][0]
    assert str(int(np.argmax(probabilities))) == shown.group(1)
    assert abs(float(probabilities.max()) - float(shown.group(2))) < 1e-3


def test_a_reload_during_training_finds_the_run_still_live(server, page):
    app = TrainApp(page, server.url)
    app.open()
    start_training(app, epochs=50)         # in its own process a run is fast: this one outlasts the reload
    before = app.chart_last_step("Loss")
    app.reload()
    app.tab("Data & training", settle=False)
    app.wait_for(lambda: "running" in app.status_line(), 30, "the live run after the reload")
    app.wait_for(lambda: app.chart_last_step("Loss") > before, 30, "the curve to go on growing")
    app.show(app.panel().locator('[data-testid="stProgress"]'))
    page.shoot("reloaded-still-live")
    app.press("Stop", settle=False)
    app.wait_for(lambda: "stopped" in app.status_line(), 30, "the run to stop")


def test_two_pages_train_at_once_without_mixing(server, page, browser, request):
    other_context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        other = TrainApp(other_context.new_page(), server.url)
        first = TrainApp(page, server.url)
        for app, batch_size in ((first, 2), (other, 4)):           # two signatures: 175,000 and 87,500 steps
            app.open()
            start_training(app, epochs=100, batch_size=batch_size)    # long runs: they overlap and outlast the test
        # 3,500 training samples, 100 epochs: 175,000 steps at batch 2, 87,500 at batch 4.
        app_steps = ((first, "/175000"), (other, "/87500"))
        for app, steps in app_steps:
            app.wait_for(lambda: steps in app.progress_text(), 30, f"{steps} steps in the progress bar")
        assert all("running" in app.status_line() for app, _ in app_steps)   # both at the same time
        assert first.page.url != other.page.url                             # two projects
        for app, _ in app_steps:
            app.show(app.panel().locator('[data-testid="stProgress"]'))
        page.shoot("first-page")
        other.page.screenshot(path=str(ARTIFACTS / request.node.name / "second-page.png"))
        for app, _ in app_steps:
            app.press("Stop", settle=False)
            app.wait_for(lambda: "stopped" in app.status_line(), 30, "the run to stop")
        assert other.page.locator('[data-testid="stException"]').count() == 0
    finally:
        other_context.close()
