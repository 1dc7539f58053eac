"""A person brings their own CSV: a malformed file is named, a good one is added with its target
column, previewed, trained for one epoch with the chart drawn, and the run forked with other
settings; the URL keeps the project, so a reload (or a bookmark) finds the upload still chosen."""
import numpy as np
import pytest

from train_driver import TrainApp

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]


def measurements_csv(rows: int = 300) -> bytes:
    """Two measurements and a species decided by them: learnable in one epoch."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 2))
    species = np.where(x[:, 0] + x[:, 1] > 0, "tall", "short")
    lines = ["height,width,species"] + [f"{a:.3f},{b:.3f},{s}" for (a, b), s in zip(x, species)]
    return ("\n".join(lines) + "\n").encode()


def upload(app: TrainApp, name: str, data: bytes) -> None:
    expander = app.panel().locator('[data-testid="stExpander"]').filter(has_text="Upload your own data")
    if expander.locator("details[open]").count() == 0:
        expander.locator("summary").click()
    expander.locator('input[type="file"]').set_input_files({"name": name, "mimeType": "text/csv", "buffer": data})
    app.wait_for(lambda: expander.get_by_role("button", name="Add this dataset").count() == 1, 30,
                 "the upload's options")
    app.settle()
    app.press("Add this dataset")


def picked(app: TrainApp) -> str:
    """What the dataset picker shows (its text and its input's value)."""
    box = app.panel().locator('[data-testid="stSelectbox"]').filter(has_text="Dataset").first
    return box.evaluate("e => e.innerText + ' ' + [...e.querySelectorAll('input')].map(i => i.value).join(' ')")


def test_upload_a_csv_train_one_epoch_fork_and_reload(server, page):
    app = TrainApp(page, server.url)
    app.open()
    app.open_template("mlp")
    app.tab("Data & training")

    upload(app, "broken.csv", b"height,width,species\n" + b"1,2,tall\n" * 12 + b"3,short\n")
    app.wait_for(lambda: "broken.csv was not added" in app.panel().inner_text(), 30, "the refusal")
    assert "row 14: 2 values" in app.panel().inner_text()
    app.show(app.panel().locator('[data-testid="stAlert"]'))
    page.shoot("malformed-refused")

    upload(app, "measurements.csv", measurements_csv())
    app.wait_for(lambda: "Added measurements.csv → species" in app.panel().inner_text(), 60, "the new dataset")
    assert "Your data: measurements.csv → species" in picked(app)
    text = app.panel().inner_text()
    assert "Your upload measurements.csv: target column 'species', 2 classes, 2 features." in text
    assert "210 training · 45 validation · 45 test samples" in text
    app.show(app.panel().locator(".class-balance"))                         # class balance, under the table
    page.shoot("uploaded-preview")

    app.set_setting("epochs", 1)
    app.press("Train", settle=False)
    app.wait_for(lambda: "completed" in app.status_line(), 120, "the run on the upload to complete")
    app.settle()
    app.wait_for(lambda: app.chart_last_step("Loss") > 0, 30, "the loss chart (plotly.js loads with the first chart)")
    app.show(app.panel().locator(".js-plotly-plot").filter(has_text="Loss"))
    page.shoot("trained-on-upload")

    # Fork the run from its checkpoint with other settings: the whole settings form, prefilled.
    app.tab("Runs")
    form = app.panel().locator('[data-testid="stForm"]')
    assert {"Checkpoint", "optimizer", "schedule", "Advanced settings"} <= set(form.inner_text().split("\n"))
    assert form.get_by_label("batch size", exact=True).input_value() == "64"
    form.get_by_label("lr", exact=True).fill("0.01")
    form.get_by_label("epochs", exact=True).fill("2")
    app.show(form)
    page.shoot("fork-form")
    app.press("Fork", settle=False)
    app.tab("Data & training", settle=False)
    app.wait_for(lambda: "run 1 fork · completed" in app.status_line(), 120, "the fork to complete")
    app.settle()
    # The fork goes on along its parent's steps (4 per epoch: 210 samples in batches of 64): 5 to 12.
    assert app.chart_last_step("Loss") == 12
    app.tab("Runs")
    app.wait_for(lambda: app.chart_last_step("val/loss", trace=1) == 12, 30, "the fork beside its parent")
    app.show(app.panel().locator(".js-plotly-plot").first)
    page.shoot("fork-compared")

    url = page.url
    assert "project=" in url
    app.reload()
    app.settle(timeout=60.0)
    assert page.url == url
    app.tab("Data & training")
    app.wait_for(lambda: "Your data: measurements.csv → species" in picked(app), 30, "the upload still chosen")
    page.shoot("reloaded")
