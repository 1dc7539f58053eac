"""Open an .onnx file through the Projects menu's uploader: a refusal is a message on the page; an
exported LeNet-5 opens on the canvas as a new project, its nodes showing their output shapes."""
from pathlib import Path

import pytest

from driver import App
from tests.builder.test_onnx_open import lenet5_onnx, unknown_operator_onnx

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]


def open_onnx(app: App, path: Path, answer) -> str:
    """Uploads `path` through the Projects menu; waits for the `answer` the page shows and returns its text."""
    app.main().get_by_role("button", name="Projects").click()
    menu = app.page.locator('[data-testid="stPopoverBody"]')
    uploader = menu.locator('[data-testid="stFileUploader"]').filter(has_text="Open an ONNX model")
    app.page.shoot(f"projects-menu-before-{path.stem}")
    uploader.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(path))
    answer.wait_for(timeout=90_000)
    text = answer.inner_text()
    app.page.keyboard.press("Escape")
    app.settle()
    return text


def test_an_onnx_model_opens_on_the_canvas_with_shapes(server, page, tmp_path):
    app = App(page, server.url)
    app.open()

    trig = tmp_path / "trig.onnx"
    trig.write_bytes(unknown_operator_onnx())
    alert = page.locator('[data-testid="stAlertContentError"]').filter(has_text="trig.onnx was not opened")
    refusal = open_onnx(app, trig, alert)
    page.shoot("unknown-operators-refused")
    assert "Sin x2, Cos x1" in refusal, refusal
    assert app.node_ids() == []                                   # nothing was opened

    lenet = tmp_path / "lenet5.onnx"
    lenet.write_bytes(lenet5_onnx()[0])
    toast = page.locator('[data-testid="stToast"]').filter(has_text="Opened lenet5.onnx")
    assert "with its weights" in open_onnx(app, lenet, toast)
    assert alert.count() == 0                                     # the refusal made way
    ids = app.node_ids()
    assert "conv2d1" in ids and "linear3" in ids and len(ids) == 14, ids
    app.fit_view()
    page.shoot("lenet5-opened")
    assert "6×28×28" in app.node_text("conv2d1") and "16×5×5" in app.node_text("maxpool2d2")
    assert "10" in app.node_text("linear3")
    assert app.main().get_by_label("Project name").input_value() == "lenet5"
    assert "?project=" in page.url and not page.url.endswith("=new")

    page.get_by_role("tab", name="Export").click()
    app.settle()
    main = app.main()
    assert main.get_by_text("the graph on the canvas with the weights imported from lenet5.onnx").count() == 1
    main.get_by_role("button", name="Export ONNX").click()
    main.get_by_text("verified: passed").wait_for(timeout=120_000)
    app.settle()
    page.shoot("export-of-the-imported-weights")
