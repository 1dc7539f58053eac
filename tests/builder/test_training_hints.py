"""What the curves tell: overfitting, a too-high learning rate, dead/vanishing/exploding layers, and
the health colours the canvas paints; plus the charts built from the same series."""
from __future__ import annotations

import math

from builder import charts
from builder.training_hints import HEALTH_COLOURS, health_colours, hints, layer_health


def epochs(values):
    return [(i * 10, v) for i, v in enumerate(values, start=1)]


def kinds(series):
    return [h.kind for h in hints(series)]


def test_overfitting_is_named_when_validation_rises_while_training_falls():
    series = {"val/loss": epochs([1.0, 0.6, 0.5, 0.55, 0.62]),
              "train/loss_epoch": epochs([1.1, 0.7, 0.5, 0.4, 0.3])}
    assert kinds(series) == ["overfitting"]
    assert "epoch 3" in hints(series)[0].text and "Dropout" in hints(series)[0].text
    series["val/loss"] = epochs([1.0, 0.6, 0.5, 0.45, 0.44])           # still improving: no hint
    assert kinds(series) == []


def test_a_rising_training_loss_blames_the_learning_rate():
    rising = {"train/loss": [(s, 1.0 + s / 10) for s in range(1, 41)], "lr": [(40, 3.0)]}
    assert kinds(rising) == ["learning_rate"] and "(now 3)" in hints(rising)[0].text
    falling = {"train/loss": [(s, 2.0 - s / 40) for s in range(1, 41)]}
    assert kinds(falling) == []


def test_layer_health_dead_vanishing_exploding_and_colours():
    series = {"grad_norm/conv1": [(1, 1e-9)], "grad_norm/fc1": [(1, 0.5)], "grad_norm/fc2": [(1, 5e3)],
              "grad_norm/fc3": [(1, 0.2), (20, math.inf)], "dead_relu/relu1": [(1, 0.95)],
              "dead_relu/relu2": [(1, 0.3)]}
    assert layer_health(series) == {"conv1": "vanishing", "fc1": "healthy",
                                    "fc2": "exploding", "fc3": "exploding", "relu1": "dead", "relu2": "healthy"}
    assert health_colours(series)["relu1"] == HEALTH_COLOURS["dead"]
    assert sorted(kinds(series)) == ["dead", "exploding", "exploding", "vanishing"]


def test_curves_are_thinned_but_keep_their_last_point():
    series = {"train/loss": [(s, float(s)) for s in range(1, 5001)]}
    trace = charts.loss_figure(series).data[0]
    assert len(trace.x) <= charts.MAX_POINTS + 1 and trace.x[-1] == 5000 and trace.y[-1] == 5000.0
    assert charts.loss_figure({"train/loss": [(1, math.nan), (2, 1.0)]}).data[0].x == (2,)


def test_gradient_heatmap_has_a_row_per_layer_in_log10():
    series = {"grad_norm/a": [(1, 1.0), (20, 10.0)], "grad_norm/b": [(20, 0.01)]}
    heat = charts.gradient_heatmap(series).data[0]
    assert list(heat.y) == ["a", "b"] and list(heat.x) == [1, 20, 21]      # cell edges: the last reading to 21
    assert [list(row) for row in heat.z] == [[0.0, 1.0], [None, -2.0]]
