import math

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
