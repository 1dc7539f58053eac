import base64
import io
import math
import re

import numpy as np
from PIL import Image

from builder import charts


def test_a_run_with_one_validation_point_shows_it_as_a_marker_in_the_overlay_and_the_live_chart():
    runs = {"run 1": {"val/acc": [(20, 0.8)]}, "run 2": {"val/acc": [(s, 0.5 + s / 1000) for s in range(0, 400, 20)]}}
    overlay = charts.overlay_figure(runs, "val/acc")
    assert [t.mode for t in overlay.data] == ["lines+markers", "lines"]
    live = charts.metric_figure({"val/acc": [(20, 0.8)]}, "classification")
    assert [t.mode for t in live.data] == ["lines+markers"]


def test_curves_leave_out_points_that_are_not_finite():
    fig = charts.curves({"train/loss": [(1, 2.0), (2, math.nan), (3, 1.0)]}, [("train/loss", "train")], "loss")
    assert list(fig.data[0].x) == [1, 3] and list(fig.data[0].y) == [2.0, 1.0]


def test_class_balance_bars_scale_to_the_largest_class_and_escape_names():
    bars = charts.balance_bars({"<b>cat</b>": 50, "dog": 100, "eel": 0})
    assert "&lt;b&gt;cat&lt;/b&gt;" in bars and "<b>cat</b>" not in bars
    assert "height:28px" in bars and "height:56px;background" in bars and "height:0px" in bars
    assert "fewest: eel (0), most: dog (100)" in bars
    assert "350 in each class" in charts.balance_bars({"0": 350, "1": 350})


def test_step_axes_start_at_zero_so_a_lone_validation_point_lines_up_with_the_loss_chart():
    series = {"train/loss": [(s, 1.0) for s in range(1, 3500)], "val/acc": [(3500, 0.9)], "lr": [(1, 1e-3)]}
    for fig in (charts.metric_figure(series, "classification"), charts.loss_figure(series), charts.lr_figure(series),
                charts.overlay_figure({"run 1": series}, "val/acc")):
        assert fig.layout.xaxis.rangemode == "tozero"


def test_a_run_of_a_few_steps_gets_whole_step_ticks():
    few = {"train/loss": [(1, 2.3), (2, 2.2)], "val/loss": [(1, 2.3), (2, 2.2)]}
    assert charts.loss_figure(few).layout.xaxis.dtick == 1
    assert charts.loss_figure({"train/loss": [(s, 1.0) for s in range(1, 60)]}).layout.xaxis.dtick is None


def test_the_gradient_heatmap_names_every_layer_and_grows_with_the_model():
    def heatmap(layers):
        return charts.gradient_heatmap({f"grad_norm/{layer}": [(1, 0.1), (20, 0.05)] for layer in layers})
    resnet = [f"{kind}{i}" for i in range(1, 9) for kind in ("conv", "bn")] + ["fc1"]     # the template's 17
    tall, small = heatmap(resnet), heatmap(["fc1", "fc2", "fc3"])
    assert list(tall.layout.yaxis.tickvals) == resnet == list(tall.layout.yaxis.ticktext)
    assert list(small.layout.yaxis.tickvals) == ["fc1", "fc2", "fc3"]
    plot_height = tall.layout.height - tall.layout.margin.t - tall.layout.margin.b
    assert plot_height / len(resnet) >= 16                 # a 12 px label per row, none overlapping
    assert small.layout.height == charts.HEIGHT            # as tall as the charts beside it


def test_preview_captions_stay_on_one_line_in_cells_wide_enough_for_them():
    grey, colour = np.zeros((28, 28, 1), np.float32), np.ones((8, 8, 3), np.float32)
    grid = charts.image_grid([grey, colour], ["T-shirt/top", "<b>Ankle boot</b>"])
    assert f"repeat(auto-fill,minmax({charts.PREVIEW_CELL_PX}px,1fr))" in grid and charts.PREVIEW_CELL_PX >= 72
    assert grid.count("white-space:nowrap") == 2 and grid.count("text-overflow:ellipsis") == 2
    assert 'title="&lt;b&gt;Ankle boot&lt;/b&gt;"' in grid and "<b>Ankle" not in grid
    pictures = [Image.open(io.BytesIO(base64.b64decode(src))) for src in re.findall(r"base64,([^\"]+)", grid)]
    assert [(p.mode, p.size) for p in pictures] == [("L", (28, 28)), ("RGB", (8, 8))]


def test_a_legend_of_any_length_lies_below_the_axis_title_and_leaves_the_plot_its_height():
    plot_height = charts.HEIGHT - charts.MARGIN["t"] - charts.AXIS_ROOM
    for n in range(1, 10):
        forks = {f"run 1{' fork' * i} ({i:012x})": {"val/loss": [(i, 1.0), (i + 1, 0.5)]} for i in range(n)}
        fig = charts.overlay_figure(forks, "val/loss")
        rows = 0 if n == 1 else n                              # too long for one row: one run a line
        assert fig.layout.height - fig.layout.margin.t - fig.layout.margin.b == plot_height
        legend = charts.LEGEND_PAD_PX + rows * charts.LEGEND_ROW_PX if rows else 0
        assert fig.layout.margin.b == charts.AXIS_ROOM + legend
        assert (fig.layout.legend.yref, fig.layout.legend.y, fig.layout.legend.yanchor) == ("container", 0, "bottom")
        if rows:
            assert fig.layout.legend.orientation == "v"
    short = charts.overlay_figure({"run 1": {}, "run 2": {}, "run 3": {}}, "val/loss")
    assert short.layout.legend.orientation == "h"
    assert short.layout.margin.b == charts.AXIS_ROOM + charts.LEGEND_PAD_PX + charts.LEGEND_ROW_PX
    live = charts.loss_figure({"train/loss": [(1, 2.0)], "val/loss": [(1, 2.1)]})
    accuracy = charts.metric_figure({"val/acc": [(1, 0.5)]}, "classification")
    for fig in (live, accuracy):                               # side by side: their plots are as tall
        assert fig.layout.height - fig.layout.margin.t - fig.layout.margin.b == plot_height


def test_the_gradient_heatmap_spans_the_steps_the_loss_chart_spans():
    # LSTM on motions, 12 steps: norms read at steps 1 and 9; centred cells drew the axis from -3 to 13
    series = {"train/loss": [(s, 1.3) for s in range(1, 13)], "grad_norm/lstm1": [(1, 0.02), (9, 0.01)]}
    heatmap = charts.gradient_heatmap(series).data[0]
    assert list(heatmap.x) == [1, 9, 12]            # cell edges: each reading holds until the next
    assert len(heatmap.x) == len(heatmap.z[0]) + 1
