"""Plotly figures of a run: curves, learning rate, gradient heatmap, confusion matrix, predictions;
and the dataset's preview images and class balance as plain HTML.

Pure functions from plain data (metric series `{name: [(step, value), ...]}`, lists) to figures:
no Streamlit here, so tests can check what a figure holds.
"""
from __future__ import annotations

import base64
import html
import io
import math
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from PIL import Image

Series = dict[str, list[tuple[int, float]]]
HEIGHT = 260
MAX_POINTS = 400
AXIS_ROOM = 72                 # below the plot: the tick labels and the axis title (Plotly's automatic margin
                               # gives them 65 px, 72 beside the gradient heatmap's colour bar)
LEGEND_ROW_PX = 20             # a legend entry's line (12 px text)
LEGEND_PAD_PX = 10             # the legend's own padding, above and below its rows
LEGEND_ONE_ROW_PX = 300        # a legend this wide fits in one row under half the main area at 1280 px
MARGIN = dict(l=40, r=10, t=36, b=AXIS_ROOM)
PREVIEW_CELL_PX = 72          # a preview image's cell: a 0.75rem caption of 11 characters ("T-shirt/top") fits
HEATMAP_ROW_PX = 16            # a layer's row in the gradient heatmap: room for one 12 px label
# Plotly options for every chart of the app: no mode bar (its buttons crowd small charts).
CONFIG = {"displayModeBar": False}
COLOURS = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be185d", "#4d7c0f")


def legend_rows(labels: Sequence[str]) -> int:
    """Lines the legend takes under the chart: one row while all its entries fit side by side in the
    narrowest chart (a symbol and about 7 px a character each), else one entry per line. Plotly wraps a
    row at the chart's width, which only the browser knows: room for a wrapped row cannot be planned."""
    if len(labels) < 2:                         # Plotly shows no legend for a single line
        return 0
    return 1 if sum(40 + 7 * len(label) for label in labels) <= LEGEND_ONE_ROW_PX else len(labels)


def _layout(fig: go.Figure, title: str, x_title: str = "step", y_title: str = "") -> go.Figure:
    """Every chart's plot is HEIGHT less its margins tall: a legend gets its own rows below the axis
    title, in the bottom margin, and makes the chart taller by as much (charts side by side keep their
    axes level, and no number of runs puts the legend over the axis title or the plot)."""
    rows = legend_rows([trace.name or "" for trace in fig.data])
    legend = LEGEND_PAD_PX + rows * LEGEND_ROW_PX if rows else 0
    fig.update_layout(title=dict(text=title, font=dict(size=14)), height=HEIGHT + legend,
                      margin={**MARGIN, "b": AXIS_ROOM + legend},
                      legend=dict(orientation="h" if rows == 1 else "v", yref="container", y=0, yanchor="bottom",
                                  x=0, xanchor="left"),
                      xaxis_title=x_title, yaxis_title=y_title)
    if x_title == "step":
        # From step 0, as the loss curve: a lone validation point otherwise gets an axis of its own
        # (3,499.5 to 3,500.5), which reads as another time than the loss chart beside it.
        fig.update_xaxes(rangemode="tozero")
        if max((x for trace in fig.data for x in (trace.x or ())), default=0) <= 10:
            fig.update_xaxes(dtick=1)           # a few steps (a huge batch): no ticks at step 0.5, 1.5
    # No plotly template: Streamlit's theme styles the chart, and resolving a template costs ~20 ms of
    # Python per figure, time the training thread of a live run would spend waiting for the GIL.
    return fig


def _finite(points: list[tuple[int, float]]) -> tuple[list[int], list[float]]:
    """Steps and finite values, thinned to at most MAX_POINTS (each kept point the mean of its stretch,
    the last one kept as is): a chart refreshed every second never ships thousands of points."""
    kept = [(s, v) for s, v in points if v is not None and math.isfinite(v)]
    if len(kept) > MAX_POINTS:
        stride = math.ceil(len(kept) / MAX_POINTS)
        chunks = [kept[i:i + stride] for i in range(0, len(kept) - 1, stride)]
        kept = [(c[-1][0], sum(v for _, v in c) / len(c)) for c in chunks] + [kept[-1]]
    return [s for s, _ in kept], [v for _, v in kept]


def _mode(steps: Sequence[int]) -> str:
    """Short series get markers: a one-epoch run's single validation point is otherwise invisible."""
    return "lines" if len(steps) > 12 else "lines+markers"


def curves(series: Series, names: Sequence[tuple[str, str]], title: str, y_title: str = "",
           log_y: bool = False) -> go.Figure:
    """Lines for the given (metric name, legend label) pairs that have points."""
    fig = go.Figure()
    for i, (name, label) in enumerate(names):
        steps, values = _finite(series.get(name, []))
        if steps:
            fig.add_trace(go.Scatter(x=steps, y=values, name=label, mode=_mode(steps),
                                     line=dict(color=COLOURS[i % len(COLOURS)], width=1.6)))
    if log_y:
        fig.update_yaxes(type="log")
    return _layout(fig, title, y_title=y_title)


def loss_figure(series: Series) -> go.Figure:
    return curves(series, [("train/loss", "train"), ("val/loss", "validation")], "Loss")


def metric_figure(series: Series, task: str) -> go.Figure:
    if task == "classification":
        fig = curves(series, [("val/acc", "validation accuracy")], "Accuracy")
        return fig.update_yaxes(range=[0, 1.02])
    return curves(series, [("val/r2", "validation R²"), ("val/mae", "validation MAE")], "Fit")


def lr_figure(series: Series) -> go.Figure:
    return curves(series, [("lr", "learning rate")], "Learning rate", log_y=True)


def layer_names(series: Series, prefix: str = "grad_norm/") -> list[str]:
    """Node ids with a series under `prefix`, in the model's order (the order they were first reported)."""
    return [name[len(prefix):] for name in series if name.startswith(prefix)]


def gradient_heatmap(series: Series) -> go.Figure:
    """log10 of each layer's gradient norm over time: a dark band is a layer that stops learning
    (vanishing), a bright one a layer whose updates blow up (exploding)."""
    layers = layer_names(series)
    steps = sorted({s for layer in layers for s, _ in series[f"grad_norm/{layer}"]})
    index = {s: i for i, s in enumerate(steps)}
    z = []
    for layer in layers:
        row: list[float | None] = [None] * len(steps)
        for s, v in series[f"grad_norm/{layer}"]:
            row[index[s]] = math.log10(v) if v and v > 0 and math.isfinite(v) else None
        z.append(row)
    # A reading holds from its step to the next one's, the last to the run's last step: cells by their
    # edges span the steps the loss chart beside it spans (centred cells reached below step 0).
    edges: list[int] = []
    if steps:
        run_end = max((s for s, _ in series.get("train/loss", [])), default=0)
        edges = steps + [max(run_end, steps[-1] + 1)]
    fig = go.Figure(go.Heatmap(x=edges, y=layers, z=z, colorscale="Viridis", zmin=-6, zmax=2,
                               colorbar=dict(title="log10", thickness=10),
                               hovertemplate="%{y} step %{x}: 10^%{z:.2f}<extra></extra>"))
    # Every layer named (Plotly's automatic ticks name every other one of the ResNet template's 17),
    # with a row tall enough for its label: the chart grows with the model.
    fig.update_yaxes(autorange="reversed", type="category", tickmode="array", tickvals=layers, ticktext=layers)
    fig = _layout(fig, "Gradient norm per layer (log10)")
    return fig.update_layout(height=max(HEIGHT, HEATMAP_ROW_PX * len(layers) + MARGIN["t"] + MARGIN["b"]))


def confusion_figure(confusion: list[list[int]], class_names: Sequence[str]) -> go.Figure:
    """Rows: true class; columns: predicted class; each cell counts test samples."""
    names = [str(c) for c in class_names] or [str(i) for i in range(len(confusion))]
    fig = go.Figure(go.Heatmap(z=confusion, x=names, y=names, colorscale="Blues", showscale=False,
                               text=confusion, texttemplate="%{text}",
                               hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category", side="bottom")
    fig = _layout(fig, "Confusion matrix (test split)", x_title="predicted", y_title="true")
    fig.update_layout(height=max(320, 28 * len(names) + 120))
    return fig


def scatter_figure(truth: Sequence[float], predicted: Sequence[float]) -> go.Figure:
    """Predicted against true values; points on the diagonal are perfect."""
    lo, hi = min([*truth, *predicted], default=0.0), max([*truth, *predicted], default=1.0)
    fig = go.Figure([go.Scatter(x=list(truth), y=list(predicted), mode="markers", name="test samples",
                                marker=dict(size=6, opacity=0.7)),
                     go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="perfect",
                                line=dict(dash="dash", color="#888"))])
    return _layout(fig, "Predicted vs true (test split)", x_title="true", y_title="predicted")


def forecast_figure(truth: Sequence[float], predicted: Sequence[float]) -> go.Figure:
    """The test period in time order: the true series and the one-step-ahead forecasts."""
    steps = list(range(len(truth)))
    fig = go.Figure([go.Scatter(x=steps, y=list(truth), name="true", mode="lines"),
                     go.Scatter(x=steps, y=list(predicted), name="forecast", mode="lines",
                                line=dict(dash="dot"))])
    return _layout(fig, "One-step forecast (test period)", x_title="time step", y_title="value")


def probability_figure(class_names: Sequence[str], probabilities: Sequence[float]) -> go.Figure:
    fig = go.Figure(go.Bar(x=list(probabilities), y=[str(c) for c in class_names], orientation="h",
                           marker_color="#2563eb", text=[f"{p:.1%}" for p in probabilities],
                           textposition="auto"))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(range=[0, 1])
    fig = _layout(fig, "Class probabilities", x_title="probability")
    fig.update_layout(height=max(200, 24 * len(class_names) + 80))
    return fig


def overlay_figure(runs: dict[str, Series], metric: str) -> go.Figure:
    """The same metric of several runs on one chart, one line per run label."""
    fig = go.Figure()
    for i, (label, series) in enumerate(runs.items()):
        steps, values = _finite(series.get(metric, []))
        fig.add_trace(go.Scatter(x=steps, y=values, name=label, mode=_mode(steps),
                                 line=dict(color=COLOURS[i % len(COLOURS)])))
    return _layout(fig, metric)


def sequence_figure(samples: Sequence[tuple[Sequence[Sequence[float]], str]]) -> go.Figure:
    """A few sequences (steps x channels), first channel of each, labelled by class or target."""
    fig = go.Figure()
    for i, (values, label) in enumerate(samples):
        first = [row[0] if isinstance(row, (list, tuple)) else row for row in values]
        fig.add_trace(go.Scatter(y=first, name=str(label), mode="lines",
                                 line=dict(color=COLOURS[i % len(COLOURS)], width=1.2)))
    return _layout(fig, "Samples (first channel)", x_title="time step")


def _png(pixels: np.ndarray) -> str:
    """(H, W) or (H, W, C) values in [0, 1] as a PNG data URL."""
    grey = pixels.ndim == 3 and pixels.shape[2] == 1
    image = Image.fromarray((np.clip(pixels[..., 0] if grey else pixels, 0, 1) * 255).round().astype(np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def image_figure(image: np.ndarray, caption: str, width_px: int | None = None) -> str:
    """One image with a one-line caption as plain HTML, its pixels drawn as crisp squares (the browser's
    smooth upscaling turned an 8x8 digit into a blur); `width_px` wide, or as wide as its container. A
    caption too long ends in an ellipsis, with the whole of it on hover."""
    width = f"width:{width_px}px;" if width_px else ""
    return (f'<figure style="margin:0;min-width:0;{width}" title="{html.escape(str(caption))}">'
            f'<img src="{_png(image)}" alt="{html.escape(str(caption))}" style="width:100%;display:block;'
            f'object-fit:contain;image-rendering:pixelated;border-radius:2px">'
            f'<figcaption style="font-size:0.75rem;text-align:center;overflow:hidden;text-overflow:ellipsis;'
            f'white-space:nowrap">{html.escape(str(caption))}</figcaption></figure>')


def image_grid(images: Sequence[np.ndarray], captions: Sequence[str]) -> str:
    """Sample images with one-line captions (image_figure) as plain HTML: cells at least PREVIEW_CELL_PX
    wide, as many to a row as fit (eight columns of a narrow panel left 36 px, and "Ankle boot" wrapped
    letter by letter)."""
    cells = "".join(image_figure(image, caption) for image, caption in zip(images, captions))
    return (f'<div class="sample-images" style="display:grid;gap:6px;grid-template-columns:'
            f'repeat(auto-fill,minmax({PREVIEW_CELL_PX}px,1fr))">{cells}</div>')


def balance_bars(counts: dict[str, int]) -> str:
    """The class balance as plain HTML bars (class names escaped). A Plotly chart here cost about a
    second of every page open: the dataset preview is on the page from the start, and it was the
    chart that made the browser load and compile plotly.js before the canvas could draw."""
    top = max(counts.values(), default=0) or 1
    bars = "".join(
        f'<div title="{html.escape(str(name))}: {n:,} samples" style="flex:1;min-width:0;text-align:center">'
        f'<div style="height:56px;display:flex;align-items:flex-end"><div style="width:100%;height:'
        f'{max(1 if n else 0, round(56 * n / top))}px;background:#16a34a;border-radius:2px 2px 0 0"></div></div>'
        f'<div style="font-size:0.7rem;overflow:hidden;text-overflow:ellipsis;white-space:nowrap">'
        f'{html.escape(str(name))}</div></div>' for name, n in counts.items())
    fewest, most = min(counts, key=counts.get, default=""), max(counts, key=counts.get, default="")
    if not counts:
        extremes = "no samples"
    elif counts[fewest] == counts[most]:
        extremes = f"{counts[most]:,} in each class"
    else:
        extremes = (f"fewest: {html.escape(str(fewest))} ({counts[fewest]:,}), "
                    f"most: {html.escape(str(most))} ({counts[most]:,})")
    return (f'<div class="class-balance"><div style="font-size:0.85rem;font-weight:600">Training samples per '
            f'class</div><div style="display:flex;gap:3px">{bars}</div>'
            f'<div style="font-size:0.75rem;color:#6b7280">{extremes}</div></div>')
