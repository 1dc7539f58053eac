"""Results, playground, run history and a failing run under AppTest; the playground's preprocessing."""
from __future__ import annotations

import base64
import io
import json
import re
import time
import zipfile
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from scipy import ndimage

from builder import markdown, results, run_control, tab_state, trained_model
from builder.playground import (DRAW_SIZE, INK, background, centred_by_mass, digit_box, drawing_to_digit,
                                image_file_to_pixels, like_training, normalize, pen_width, stroke_width)
from builder.projects import store
from builder.run_history import (NAME_PX, RUN_COLUMNS, compared, graph_change, graph_diff, labels, run_rows,
                                  settings_diff)
from builder.training_hints import health_colours
from runtime import checkpoints, datasets
from runtime.graph import Edge, Graph, Node
from runtime.store import RunInfo
from runtime.training.evaluation import class_report
from test_data_upload import upload
from tests.datasets.test_dataset_uploads import zip_bytes
from training_app import charts, open_tab, open_template, run, set_setting, texts, train, wait_for_run


def trained_app(epochs: int = 2, **settings):
    at = open_template("mlp")
    set_setting(at, "epochs", epochs)
    for name, value in settings.items():
        set_setting(at, name, value)
    train(at)
    assert wait_for_run(at) == "completed"
    return run(at)


def _ink_side(image: np.ndarray) -> int:
    rows, cols = np.nonzero(image > INK)
    return max(rows.max() - rows.min(), cols.max() - cols.min()) + 1


@pytest.mark.parametrize("name", ["mnist", "digits"])
def test_a_drawing_fills_the_frame_as_the_training_images_of_its_dataset_do(name):
    splits = datasets.load(name)
    pictures = np.stack([results.picture(x, splits.normalization) for x in splits.x_train[:256]])
    typical = np.median([_ink_side(p) for p in pictures])          # 20 of MNIST's 28 pixels, all 8 of Digits'
    _, height, width = splits.x_train.shape[1:]
    rgba = np.zeros((196, 196, 4), dtype=np.uint8)
    rgba[10:60, 170:180, :3] = 255                                  # a short stroke in the top right corner
    digit = drawing_to_digit(rgba, height, width, digit_box(pictures))
    assert digit.shape == (height, width) and digit.max() > 0.9
    assert abs(_ink_side(digit) - typical) <= 1
    rows, cols = np.nonzero(digit > 0.5)
    centre = (height - 1) / 2
    assert abs(rows.mean() - centre) < 1.5 and abs(cols.mean() - centre) < 1.5     # centred
    assert drawing_to_digit(np.zeros((196, 196, 4), np.uint8), height, width, 1.0).max() == 0


def test_the_digit_box_reads_the_ink_of_light_and_of_dark_backgrounds():
    ink = np.zeros((4, 28, 28), np.float32)
    ink[:, 4:24, 10:18] = 1.0                                       # 20 pixels tall, centred in 28
    assert digit_box(ink) == digit_box(1.0 - ink) == 20 / 28


SEVEN = [(0.3, 0.15), (0.7, 0.15), (0.42, 0.85)]                  # strokes through fractions of the pad
THREE = [(0.32, 0.22), (0.45, 0.15), (0.62, 0.17), (0.68, 0.3), (0.6, 0.43), (0.47, 0.48), (0.62, 0.53),
         (0.7, 0.67), (0.62, 0.82), (0.45, 0.86), (0.3, 0.8)]


def pad_drawing(stroke: list[tuple[float, float]], pen: int) -> np.ndarray:
    """What the pad sends for one stroke drawn with a `pen` px pen: white on black (H, W, 4)."""
    pad = Image.new("RGBA", (DRAW_SIZE, DRAW_SIZE), (0, 0, 0, 255))
    ImageDraw.Draw(pad).line([(x * DRAW_SIZE, y * DRAW_SIZE) for x, y in stroke], fill=(255, 255, 255, 255),
                             width=pen, joint="curve")
    return np.asarray(pad)


def test_the_stroke_width_is_told_in_pixels_on_light_and_on_dark_backgrounds():
    for width in (1, 2, 3, 4):
        ink = np.zeros((4, 48, 48), np.float32)
        ink[:, 4:44, 20:20 + width] = 1.0                            # a bar 40 pixels long
        assert stroke_width(ink) == pytest.approx(width * 40 / (40 + width), rel=0.02)   # its ends count as outline
        assert stroke_width(1.0 - ink) == pytest.approx(stroke_width(ink))


@pytest.mark.parametrize("name", ["mnist", "digits"])
def test_a_stroke_drawn_on_the_pad_comes_out_as_thick_as_the_training_images_strokes(name):
    splits = datasets.load(name)
    pictures = np.stack([results.picture(x, splits.normalization) for x in splits.x_train[:256]])
    _, height, width = splits.x_train.shape[1:]
    pen = pen_width(pictures)
    for stroke in (SEVEN, THREE):                                     # drawn large and centred
        digit = drawing_to_digit(pad_drawing(stroke, pen), height, width, digit_box(pictures))
        assert stroke_width(digit[None]) == pytest.approx(stroke_width(pictures), rel=0.12), (name, pen)


@pytest.mark.parametrize("name, by_mass", [("mnist", True), ("digits", False)])
def test_a_drawing_is_centred_as_the_training_images_centre_their_digits(name, by_mass):
    splits = datasets.load(name)
    pictures = np.stack([results.picture(x, splits.normalization) for x in splits.x_train[:256]])
    _, height, width = splits.x_train.shape[1:]
    assert centred_by_mass(pictures) == centred_by_mass(1.0 - pictures) == by_mass
    digit = drawing_to_digit(pad_drawing(SEVEN, pen_width(pictures)), height, width, digit_box(pictures),
                             by_mass=centred_by_mass(pictures))
    centre = np.array([(height - 1) / 2, (width - 1) / 2])
    if by_mass:                                      # MNIST: the ink's centre of mass on the image's centre
        assert np.abs(np.array(ndimage.center_of_mass(digit)) - centre).max() <= 0.5
    else:                                            # Digits: its bounding box
        rows, cols = np.nonzero(digit > INK)
        assert np.abs(np.array([rows.min() + rows.max(), cols.min() + cols.max()]) / 2 - centre).max() <= 0.5


def test_an_uploaded_picture_is_resized_and_a_bad_file_is_named():
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (255, 0, 0)).save(buffer, format="PNG")
    pixels = image_file_to_pixels(buffer.getvalue(), 3, 32, 32)
    assert pixels.shape == (3, 32, 32) and pixels[0].min() == 1.0 and pixels[1].max() == 0.0
    assert image_file_to_pixels(buffer.getvalue(), 1, 28, 28).shape == (1, 28, 28)
    with pytest.raises(ValueError, match="not an image"):
        image_file_to_pixels(b"GIF89a but not really", 1, 28, 28)
    x = normalize(np.ones((1, 2, 2), np.float32), {"mean": [0.5], "std": [0.25]}, image=True)
    assert np.allclose(x, 2.0)


def test_an_image_too_large_to_decode_is_refused_from_its_header():
    buffer = io.BytesIO()
    Image.new("L", (6000, 5000)).save(buffer, format="PNG")      # 30 million pixels in a few KB
    with pytest.raises(ValueError, match="6,000 x 5,000 pixels; at most 25 million"):
        image_file_to_pixels(buffer.getvalue(), 1, 28, 28)
    buffer = io.BytesIO()
    Image.new("1", (20000, 10000)).save(buffer, format="PNG")     # beyond what PIL itself opens
    with pytest.raises(ValueError, match="more than 179 million pixels; at most 25 million"):
        image_file_to_pixels(buffer.getvalue(), 1, 28, 28)


def test_the_upload_and_a_training_zip_have_one_pixel_limit_told_in_one_sentence():
    buffer = io.BytesIO()
    Image.new("L", (6000, 5000)).save(buffer, format="PNG")      # 30 million pixels in a few KB
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("a/1.png", buffer.getvalue())
    limit = "6,000 x 5,000 pixels; at most 25 million pixels are read per image: scale it down first."
    with pytest.raises(ValueError) as caught:
        image_file_to_pixels(buffer.getvalue(), 1, 28, 28, name="huge.png")
    assert str(caught.value) == f"huge.png is {limit}"                  # named once, not 'huge.png: The file is'
    with pytest.raises(datasets.DatasetError) as caught:
        datasets.load_image_zip(archive.getvalue(), filename="x.zip")
    assert str(caught.value) == f"x.zip: a/1.png is {limit}"


def test_a_file_that_is_no_image_is_told_without_pils_internals():
    with pytest.raises(ValueError) as caught:
        image_file_to_pixels(b"not an image at all", 1, 28, 28)
    assert str(caught.value) == "The file is not an image this can read (PNG, JPEG, BMP, GIF or WebP)."


def test_a_dark_on_light_upload_is_inverted_for_a_model_trained_light_on_dark():
    paper = np.ones((1, 28, 28), np.float32)
    paper[0, 4:24, 12:16] = 0.0                                    # a "1" in black ink on white paper
    seen, inverted = like_training(paper, training_background=0.04)   # MNIST's background is black
    assert inverted and background(seen) == 0.0 and seen[0, 10, 13] == 1.0
    assert like_training(1.0 - paper, training_background=0.04) == (pytest.approx(1.0 - paper), False)


def test_a_transparent_background_reads_as_white_paper():
    image = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    image.paste((0, 0, 0, 255), (18, 4, 22, 36))                   # black ink, transparent around it
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    pixels = image_file_to_pixels(buffer.getvalue(), 1, 20, 20)
    assert background(pixels) == 1.0 and pixels[0, 10, 10] < 0.5


def test_results_playground_and_their_agreement_with_the_model(home):
    at = open_tab(trained_app(), "Results")
    confusion = charts(at)["Confusion matrix (test split)"]["data"][0]["z"]
    trained = trained_model.load(store(), run_control.registry().jobs()[0].id)
    assert confusion == trained.evaluation().report.confusion
    open_tab(at, "Playground")
    at.radio(key="playground_way").set_value("Pick a test image")
    run(at)
    at.number_input(key="playground_pick").set_value(3)
    run(at)
    shown = re.search(r"Prediction: \*\*(\S+)\*\* with probability \*\*([0-9.]+)\*\*", " ".join(texts(at, "markdown")))
    expected = trained.probabilities(trained.splits.x_test[3:4])[0]
    assert shown.group(1) == trained.splits.class_names[int(expected.argmax())]
    assert abs(float(shown.group(2)) - float(expected.max())) < 1e-4
    assert "Download this input (.npy)" in [b.label for b in at.get("download_button")]
    open_tab(at, "Runs")                         # the Playground is not drawn: Streamlit forgets its widgets
    open_tab(at, "Playground")
    assert at.number_input(key="playground_pick").value == 3


def test_a_checkpoint_that_no_longer_fits_its_graph_is_explained_in_every_tab(home):
    at = trained_app(epochs=1)
    run_id = run_control.registry().jobs()[0].id
    last = store().checkpoints(run_id)[-1]
    weights, state = checkpoints.load(last)
    checkpoints.save(last.with_suffix(""), {k: torch.zeros(3) for k in weights}, state)   # another graph's
    for tab in ("Results", "Playground", "Export"):
        open_tab(at, tab)
        told = " ".join(texts(at, "error") + texts(at, "warning")).replace("\\", "")     # markdown escapes
        assert "does not fit its graph: wrong shape" in told, tab
        assert "size mismatch" not in told                             # torch's own words stay out


def test_an_uploaded_picture_is_kept_while_another_tab_is_open(home):
    at = open_tab(trained_app(epochs=1), "Playground")
    at.radio(key="playground_way").set_value("Upload an image")
    run(at)
    paper = Image.new("L", (40, 40), 255)
    paper.paste(0, (18, 4, 22, 36))                               # a "1" in black ink on white paper
    buffer = io.BytesIO()
    paper.save(buffer, format="PNG")
    at.file_uploader(key="playground_upload").set_value(("one.png", buffer.getvalue(), "image/png"))
    run(at)
    prediction = [t for t in texts(at, "markdown") if t.startswith("Prediction:")]
    assert prediction
    open_tab(at, "Results")                      # the Playground is not drawn: Streamlit forgets its uploader
    open_tab(at, "Playground")
    assert [t for t in texts(at, "markdown") if t.startswith("Prediction:")] == prediction
    assert r"one\.png, uploaded before: upload another to replace it." in texts(at, "caption")
    at.file_uploader(key="playground_upload").set_value(("no.png", b"not an image", "image/png"))
    run(at)                                      # a bad file is named once, in the message's own sentence
    assert texts(at, "error") == [markdown.escape("no.png is not an image this can read (PNG, JPEG, BMP, GIF or "
                                                  "WebP).")]


def test_a_drawing_is_kept_while_another_tab_is_open(home):
    at = open_tab(trained_app(epochs=1), "Playground")
    assert not [t for t in texts(at, "markdown") if t.startswith("Prediction:")]     # nothing drawn yet
    drawn = np.zeros((196, 196, 4), dtype=np.uint8)
    drawn[20:170, 90:106, :3] = 255                                # a "1", as the pad sent it before Results
    at.session_state[tab_state.PREFIX + "playground_canvas"] = drawn
    open_tab(at, "Playground")                                    # the pad is back, empty: the drawing stands
    assert [t for t in texts(at, "markdown") if t.startswith("Prediction:")]
    assert "The digit drawn before another tab was opened: draw on the pad to replace it." in texts(at, "caption")


def shown_picture(at, caption: str) -> np.ndarray:
    """The picture shown above `caption` in the playground, as its pixels, and how it is drawn."""
    figure = next(m.value for m in at.markdown if f"{caption}</figcaption>" in m.value)
    assert "image-rendering:pixelated" in figure                   # crisp cells, not the browser's smooth blur
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(re.search(r"base64,([^\"]+)", figure).group(1)))))


def test_what_the_model_sees_is_shown_pixel_for_pixel(home):
    at = open_tab(trained_app(epochs=1), "Playground")             # the 8x8 Digits
    at.session_state[tab_state.PREFIX + "playground_canvas"] = pad_drawing(SEVEN, 29)
    open_tab(at, "Playground")
    seen = shown_picture(at, "what the model sees")
    assert seen.shape == (8, 8) and seen[0, 0] == 0 and seen.max() == 255
    at.radio(key="playground_way").set_value("Pick a test image")
    run(at)
    trained = trained_model.load(store(), run_control.registry().jobs()[0].id)
    label = trained.splits.class_names[int(trained.splits.y_test[0])]
    expected = results.picture(trained.splits.x_test[0], trained.splits.normalization)
    assert np.abs(shown_picture(at, f"labelled {label}") / 255.0 - expected).max() <= 0.5 / 255


def test_a_drawing_is_shaded_as_the_training_images_of_dark_ink_on_white_paper(home):
    def paper(stroke: tuple[int, int, int, int]) -> bytes:
        image = Image.new("L", (12, 12), 255)                       # white paper, black ink: an image folder
        image.paste(0, stroke)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()
    files = {f"{name}/{i}.png": paper((left + i % 3, top, left + i % 3 + width, top + height))
             for name, (left, top, width, height) in (("one", (4, 1, 2, 10)), ("minus", (1, 5, 9, 2)))
             for i in range(10)}
    at = open_template("mlp")
    upload(at, "paper.zip", zip_bytes(files))
    set_setting(at, "epochs", 1)
    train(at)
    assert wait_for_run(at) == "completed"
    at.session_state[tab_state.PREFIX + "playground_canvas"] = pad_drawing([(0.5, 0.15), (0.5, 0.85)], 16)
    open_tab(at, "Playground")                                      # a "1", white on the pad's black
    assert "Shades inverted: the training images are dark ink on a light background." in texts(at, "caption")
    seen = shown_picture(at, "what the model sees")
    assert seen.shape == (12, 12) and seen[0, 0] == seen[-1, -1] == 255 and seen[6, 5:7].min() < 64
    assert [t for t in texts(at, "markdown") if t.startswith("Prediction:")]


def test_a_class_never_predicted_has_an_undefined_precision_not_zero():
    report = class_report(torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 1, 2]), 3)    # class 2 never predicted
    shown = results.per_class_table(report, ["cat", "dog", "eel"])
    assert [list(row.values()) for row in shown] == [["cat", "0.500", "1.000", 1], ["dog", "0.500", "0.500", 2],
                                                     ["eel", "—", "0.000", 1]]
    assert results.undefined_note(report).startswith("— precision: the model predicted that class for no test")
    assert results.undefined_note(class_report(torch.tensor([0, 1]), torch.tensor([0, 1]), 2)) is None


def test_run_history_compares_two_runs_and_forks_one(home):
    at = trained_app(epochs=1)
    set_setting(at, "lr", 0.01)
    train(at)
    assert wait_for_run(at) == "completed"
    open_tab(at, "Runs")
    rows = at.dataframe
    table = next(d for d in rows if "status" in d.value.columns)
    history = table.value
    assert list(history["run"]) == ["run 1", "run 2"] and list(history["lr"]) == [0.001, 0.01]
    assert json.loads(table.proto.columns)["run"]["width"] == NAME_PX   # a long name does not widen its column
    diff = next(d.value for d in rows if "setting" in d.value.columns)
    assert list(diff["setting"]) == ["lr"]
    assert {"val/loss", "val/acc"} <= set(charts(at))
    second = run_control.registry().jobs()[-1]
    at.button(key=f"fork_{second.id}").click()
    run(at)
    fork = run_control.registry().jobs()[-1]
    assert fork.wait(60) and fork.status == "completed"
    info = store().run(fork.id)
    assert info.parent_run_id == second.id and info.parent_checkpoint.endswith("last.json")
    parent_losses, fork_losses = (run_control.series(r, ["train/loss"])["train/loss"] for r in (second.id, fork.id))
    own = store().metrics(fork.id, ["train/loss"])["train/loss"]
    assert own[0][0] == parent_losses[-1][0] + 1                # the fork's steps go on from its parent's
    assert fork_losses == parent_losses + own                   # and its curves show where it began
    run(at)                                                     # Runs compares the parent and its fork
    traces = {t["name"]: t["x"] for t in charts(at)["val/loss"]["data"]}
    assert traces["run 2"] == [s for s, _ in store().metrics(second.id, ["val/loss"])["val/loss"]]
    assert traces["run 2 fork"] == [s for s, _ in store().metrics(fork.id, ["val/loss"])["val/loss"]]
    assert min(traces["run 2 fork"]) > max(traces["run 2"])    # drawn beside its parent, from where it took over
    at.multiselect(key="history_selected_3").set_value([second.id])   # the form forks the last run picked
    run(at)
    at.button(key=f"fork_{second.id}").click()                  # a second fork of run 2, also "run 2 fork"
    run(at)
    again = run_control.registry().jobs()[-1]
    assert again.wait(60) and again.status == "completed"
    run(at)
    heading = f"**Fork {markdown.escape(f'run 2 fork ({again.id})')}** from a checkpoint with changed settings"
    assert heading in texts(at, "markdown")                     # which "run 2 fork" the form forks


def test_graph_diff_names_what_changed():
    before = Graph([Node("a", "Input", {"shape": [4]}), Node("b", "Linear", {"out_features": 8})], [Edge("a", "b")])
    after = Graph([Node("a", "Input", {"shape": [4]}), Node("b", "Linear", {"out_features": 16}),
                   Node("c", "ReLU", {})], [Edge("a", "b"), Edge("b", "c")])
    assert graph_diff(before, after) == ["added c (ReLU)", "b.out_features: 8 → 16", "wired b → c"]


def test_graph_change_is_none_when_only_the_settings_changed():
    graph = Graph([Node("a", "Input", {"shape": [4]}, (0, 0)), Node("b", "Linear", {"out_features": 8}, (0, 100))],
                  [Edge("a", "b")])
    moved = Graph([Node("a", "Input", {"shape": [4]}, (0, 0)), Node("b", "Linear", {"out_features": 8}, (50, 100))],
                  [Edge("a", "b")])
    assert graph_change(graph, graph) is None
    assert graph_change(graph, moved) == "only positions moved"


def _run_info(run_id: str, name: str, lr: float) -> RunInfo:
    return RunInfo(run_id, "p", 1, name, "completed", "", {"lr": lr, "epochs": 2}, {"name": "digits"}, 0.0, None,
                   None, {}, 2, None, None)


def test_settings_diff_keeps_a_column_for_each_of_runs_of_one_name():
    runs = [_run_info("a1", "run 1", 0.01), _run_info("b2", "run 1 fork", 0.1), _run_info("c3", "run 1 fork", 0.5)]
    assert labels(runs) == ["run 1", "run 1 fork (b2)", "run 1 fork (c3)"]
    assert settings_diff(runs) == [{"setting": "lr", "run 1": "0.01", "run 1 fork (b2)": "0.1",
                                    "run 1 fork (c3)": "0.5"}]


def test_the_runs_table_keeps_a_long_name_to_its_column_and_the_figures_beside_it():
    runs = [_run_info("a1", "run 1", 0.01), _run_info("b2", "run 1 fork fork fork fork fork", 0.1)]
    runs[1].final_metrics.update({"val/loss": 0.123456, "val/acc": 0.9})
    rows = run_rows(runs, now=0.0)
    assert list(rows[1]) == ["run", "status", "epochs", "val/acc", "val/loss", "optimizer", "lr", "batch",
                             "started", "id"]                  # one dataset: the tab above names it
    assert rows[0]["val/acc"] is None and rows[1]["val/loss"] == 0.1235
    assert RUN_COLUMNS["run"]["width"] == NAME_PX and RUN_COLUMNS["val/acc"]["label"] == "val acc"
    runs[1].dataset["name"] = "mnist"
    assert [row["dataset"] for row in run_rows(runs, now=0.0)] == ["digits", "mnist"]


def test_the_runs_table_says_on_which_day_a_run_older_than_today_started():
    now = time.mktime((2026, 12, 5, 12, 0, 0, 0, 0, -1))
    runs = [replace(_run_info("a1", "run 1", 0.01), created=time.mktime((2026, 11, 28, 9, 41, 7, 0, 0, -1))),
            replace(_run_info("b2", "run 2", 0.1), created=now - 7_200, started=now - 3_600),   # queued an hour
            replace(_run_info("c3", "run 3", 0.5), created=time.mktime((2025, 12, 24, 18, 0, 0, 0, 0, -1)))]
    assert [row["started"] for row in run_rows(runs, now)] == ["28 Nov 09:41", "today 11:00", "24 Dec 2025"]


def test_runs_picked_in_any_order_are_compared_in_the_order_they_ran():
    runs = [_run_info("a1", "run 1", 0.01), _run_info("b2", "run 2", 0.1), _run_info("c3", "run 3", 0.5)]
    assert [r.id for r in compared(runs, ["b2", "c3", "a1"])] == ["a1", "b2", "c3"]


def test_a_failing_run_shows_its_reason_and_the_app_stays_up(home):
    at = open_template("mlp")
    set_setting(at, "monitor", "val/r2")                # R² is not measured for a classifier
    train(at)
    assert wait_for_run(at) == "failed"
    run(at)
    errors = texts(at, "error")
    assert any(e.startswith("The run failed: Training setting 'monitor' is 'val/r2'") for e in errors), errors
    assert not at.button(key="train").disabled                       # ready for the next try


def test_the_canvas_paints_each_layer_with_its_health_from_the_run(home):
    at = trained_app(epochs=1)
    drawn = json.loads(at.get("component_instance")[0].proto.json_args)
    styles = {n["id"]: n["style"] for n in drawn["nodes"]}
    series = run_control.series(run_control.registry().jobs()[0].id)
    expected = health_colours(series)
    assert set(expected) >= {"fc1", "fc2", "fc3", "relu1", "relu2"}
    for node_id, colour in expected.items():
        assert styles[node_id]["borderLeft"] == f"6px solid {colour}"
    assert "borderLeft" not in styles["input1"]                     # no parameters, no health


def choose_dataset(at, name: str, subset: int = 0):
    next(s for s in at.selectbox if s.key and s.key.startswith("dataset_")).set_value(name)
    run(at)
    if subset:
        next(n for n in at.number_input if n.key and n.key.startswith("subset_")).set_value(subset)
        run(at)


@pytest.mark.parametrize("template, dataset, subset, figure", [
    ("transformer", "rotten_tomatoes", 600, "Confusion matrix (test split)"),     # type a sentence
    ("mlp", "iris", 0, "Confusion matrix (test split)"),                           # enter feature values
    ("lstm", "airline", 0, "One-step forecast (test period)"),                     # a forecast
])
def test_every_kind_of_data_gets_results_and_a_playground(home, template, dataset, subset, figure):
    at = open_template(template)
    choose_dataset(at, dataset, subset)
    set_setting(at, "epochs", 1)
    train(at)
    assert wait_for_run(at) == "completed"
    open_tab(at, "Results")
    assert figure in charts(at)
    trained = trained_model.load(store(), run_control.registry().jobs()[0].id)
    open_tab(at, "Playground")
    shown = " ".join(texts(at, "markdown"))
    if trained.task == "classification":
        if dataset == "rotten_tomatoes":
            x = trained.splits.encode_text(at.text_area(key="playground_text").value)
        else:                                   # the first test sample's values, as typed in the form
            x = trained.splits.x_test[:1]
        expected = trained.probabilities(x)[0]
        match = re.search(r"Prediction: \*\*(.+?)\*\* with probability \*\*([0-9.]+)\*\*", shown)
        assert match.group(1) == trained.splits.class_names[int(expected.argmax())]
        assert abs(float(match.group(2)) - float(expected.max())) < 1e-3
    else:
        value = float(trained.values(trained.splits.x_test[:1])[0, 0])
        match = re.search(r"Prediction: \*\*([-0-9.e+]+)\*\*", shown)
        assert abs(float(match.group(1)) - value) <= 1e-3 * max(1.0, abs(value))


def test_a_first_run_that_diverges_before_its_first_checkpoint_is_not_told_to_wait_for_one(home):
    at = open_template("mlp")
    set_setting(at, "lr", 10.0)
    set_setting(at, "optimizer", "sgd")
    train(at)
    assert wait_for_run(at) == "diverged"
    for tab in ("Results", "Playground"):
        open_tab(run(at), tab)
        assert texts(at, "info") == ["run 1 diverged before its first checkpoint (Data & training says why), so it "
                                     "has no trained model to show: fix what it names and train again."], tab


def test_a_run_that_diverges_before_its_first_checkpoint_leaves_the_earlier_trained_model_in_view(home):
    at = trained_app(epochs=1)
    set_setting(at, "lr", 10.0)
    set_setting(at, "optimizer", "sgd")
    train(at)
    assert wait_for_run(at) == "diverged"
    open_tab(run(at), "Results")
    assert any(i.startswith("run 2 diverged before saving a checkpoint") and "this shows run 1" in i
               for i in texts(at, "info")), texts(at, "info")
    assert "Confusion matrix (test split)" in charts(at)
    open_tab(at, "Export")
    assert any("Exports **trained weights of run 1" in m for m in texts(at, "markdown")), texts(at, "markdown")
