"""What a node and an edge look like on the canvas: HTML content, colours, labels.

Pure functions of the graph and the compiler's findings, so they are tested without a browser.
The canvas renders node content as Markdown with raw HTML: every text that comes from a project
file (ids, parameter values, messages that quote them) is escaped here, and the content is one
HTML block on one line, so Markdown and math syntax inside it stay plain text.
"""
from __future__ import annotations

import html
from typing import Any, Iterable

from runtime.layers import Layer

FAMILY_COLOURS = {      # pale fills, so black text stays readable; one per palette group
    "Input / Output": "#e8eaed",
    "Dense & shape": "#dbeafe",
    "Convolution": "#dcfce7",
    "Recurrent": "#fef3c7",
    "Attention": "#fce7f3",
    "Normalization & regularization": "#ede9fe",
    "Activation": "#ffedd5",
    "Merge": "#cffafe",
}
OTHER_COLOUR = "#f3f4f6"
ERROR_COLOUR = "#dc2626"
WARNING_COLOUR = "#d97706"
SELECTED_COLOUR = "#2563eb"
NODE_WIDTH = 210
WARNING_CHARS = 36     # one line of a card


def shape_text(shape: Iterable[int] | None) -> str:
    """(16, 5, 5) -> "16×5×5"; a scalar per sample -> "1"; unknown -> "?"."""
    if shape is None:
        return "?"
    dims = [str(d) for d in shape]
    return "×".join(dims) if dims else "1"


def count_text(n: int) -> str:
    """61706 -> "61,706", 150624 -> "150.6K", 11689512 -> "11.7M": exact while short enough for a node."""
    if n < 100_000:
        return f"{n:,}"
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def value_text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "×".join(str(v) for v in value)
    return str(value)


def key_params_text(layer: Layer, params: dict[str, Any]) -> str:
    """The first key parameter always, the others where they differ from their default."""
    parts = []
    for k, name in enumerate(layer.key_params):
        default = layer.param(name).default
        value = params.get(name, default)
        if k == 0 or value != default:
            parts.append(f"{name}={value_text(value)}")
    return " · ".join(parts)


def node_content(node_id: str, layer: Layer, params: dict[str, Any], shape: Iterable[int] | None,
                 n_params: int | None, problems: list[tuple[str, str]], inputs: int) -> str:
    """One node card: id and type, key parameters, output shape and weights, then its problems
    as (message, severity): errors in full, warnings shortened. Lines are inline elements split by
    <br>: a card is parsed again on every change, so it stays small."""
    e = html.escape
    lines = [f'<b>{e(node_id)}</b> <span style="color:#4b5563">{e(layer.type)}</span>']
    key = key_params_text(layer, params)
    if key:
        lines.append(e(key))
    out = f"→ {e(shape_text(shape))}"
    if n_params:
        out += f" · {e(count_text(n_params))} params"
    lines.append(f'<span style="font-family:monospace">{out}</span>')
    if inputs > 1:
        lines.append(f'<span style="color:#4b5563">{inputs} inputs, in the order #1..#{inputs} on the edges</span>')
    for text, severity in problems:
        if severity != "error" and len(text) > WARNING_CHARS:   # the inspector has the whole text
            text = text[:WARNING_CHARS - 1].rstrip() + "…"
        colour = ERROR_COLOUR if severity == "error" else WARNING_COLOUR
        lines.append(f'<span style="color:{colour};font-size:10px">⚠ {e(text)}</span>')
    return '<div style="margin:0;text-align:left;line-height:1.3;font-size:11px">' + "<br>".join(lines) + "</div>"


def node_style(family: str, severity: str | None, selected: bool, health: str | None = None) -> dict[str, Any]:
    """A fresh dict every call: the canvas component mutates the style dict it is given. `health`: a
    colour for the left edge, from the last run's figures (builder.training_hints.health_colours)."""
    border = {"error": ERROR_COLOUR, "warning": WARNING_COLOUR}.get(severity or "", "#9ca3af")
    style = {"background": FAMILY_COLOURS.get(family, OTHER_COLOUR), "width": f"{NODE_WIDTH}px",
             "fontSize": "11px", "padding": "4px 8px", "borderRadius": "6px",
             "border": f"{3 if severity == 'error' else 1}px solid {border}"}
    if selected:
        style["boxShadow"] = f"0 0 0 3px {SELECTED_COLOUR}"
    if health:
        style["borderLeft"] = f"6px solid {health}"
    return style


def edge_label(shape: Iterable[int] | None, input_number: int | None) -> str:
    """The tensor an edge carries; on multi-input nodes prefixed by its input number ("#2 · 16×8×8")."""
    text = shape_text(shape)
    return f"#{input_number} · {text}" if input_number is not None else text
