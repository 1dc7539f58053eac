"""The training settings form, generated from TrainConfig: one widget per setting, beginner settings
in view and advanced ones folded away. The Data & training panel edits the project with it; run
history's fork form fills it with a run's settings."""
from __future__ import annotations

import json
import math
from typing import Any, Callable

import streamlit as st

from runtime.dataspec import DataSpec
from runtime.training import ConfigError, TrainConfig, describe
from runtime.training.session import make_augment

JS_INT = (1 << 53) - 1           # the largest whole number a browser's number widget holds exactly
FORM_KINDS = ("bool", "str", "int", "float", "dict")
Changed = Callable[[str, str], None]   # on_change(setting name, widget key)


def settings() -> list[dict[str, Any]]:
    return [s for s in describe() if s["kind"] in FORM_KINDS]


def setting_value(setting_name: str, widget_value: Any) -> Any:
    """The widget's value as the setting takes it: an object setting (augment) is typed as JSON."""
    if not isinstance(widget_value, str) or setting_name not in _object_settings():
        return widget_value
    text = widget_value.strip() or "{}"
    try:
        value = json.loads(text)
    except ValueError as e:
        raise ConfigError(f"Training setting {setting_name!r} must be a JSON object such as "
                          f'{{"shift": 0.1, "noise": 0.05}}, or {{}} for off; {text!r} is not JSON ({e}).') from None
    return value


def check(training: dict[str, Any], spec: DataSpec | None) -> TrainConfig:
    """The settings as a TrainConfig; ConfigError names a bad one, including augmentation keys that do
    not fit the data (`spec`; None when the dataset is unknown)."""
    config = TrainConfig.from_dict(training)
    if spec is not None:
        make_augment(config, spec)
    return config


def values_from_state(key_of: Callable[[str], str]) -> dict[str, Any]:
    """Every setting's value as its widget holds it now (ConfigError for JSON that does not parse)."""
    return {s["name"]: setting_value(s["name"], st.session_state[key_of(s["name"])]) for s in settings()}


def show(values: dict[str, Any], key_of: Callable[[str], str], on_change: Changed | None = None,
         advanced_key: str | None = None) -> None:
    """Widgets for `values` (a TrainConfig dict); `key_of(name)` is each widget's key. Inside st.form
    leave `on_change` out and read the values with `values_from_state` when it is submitted.

    With `advanced_key` (a key that does not change with the values), the advanced settings are drawn
    only while their expander is open (it reruns the page when opened or closed): 21 widgets fewer on
    the page, which the browser otherwise re-renders on every script run. Only for widgets that write
    their changes with `on_change`: a form reads every widget when it is submitted."""
    values = {**TrainConfig().to_dict(), **values}
    basic = [s for s in settings() if not s["advanced"]]
    cols = st.columns(3)
    for i, setting in enumerate(basic):
        with cols[i % 3]:
            _widget(setting, values[setting["name"]], key_of(setting["name"]), on_change)
    lazy = {"key": advanced_key, "on_change": "rerun"} if advanced_key else {}
    advanced = st.expander("Advanced settings", **lazy)
    if advanced_key and not advanced.open:
        return
    with advanced:
        cols = st.columns(3)
        for i, setting in enumerate(s for s in settings() if s["advanced"]):
            with cols[i % 3]:
                _widget(setting, values[setting["name"]], key_of(setting["name"]), on_change)


def _widget(setting: dict[str, Any], value: Any, key: str, on_change: Changed | None) -> None:
    name = setting["name"]
    common: dict[str, Any] = dict(key=key, help=setting["help"])
    if on_change is not None:
        common.update(on_change=on_change, args=(name, key))
    label = name.replace("_", " ")
    if setting["kind"] == "bool":
        st.checkbox(label, value=bool(value), **common)
    elif setting["kind"] == "str":
        choices = list(setting["choices"])
        st.selectbox(label, choices, index=choices.index(value) if value in choices else 0, **common)
    elif setting["kind"] == "int":
        st.number_input(label, value=int(value), step=1, min_value=_bound(setting["min"], int),
                        max_value=_bound(setting["max"], int), **common)
    elif setting["kind"] == "float":
        st.number_input(label, value=float(value), min_value=_bound(setting["min"], float),
                        max_value=_bound(setting["max"], float), format="%g", step=_float_step(value),
                        **common)
    else:
        common["help"] += (' JSON, e.g. {"shift": 0.1, "rotate_degrees": 10, "noise": 0.05} for images or '
                           '{"jitter": 0.03, "scaling": 0.1} for sequences; {} is off.')
        st.text_input(label, value=json.dumps(value), **common)


def _object_settings() -> set[str]:
    return {s["name"] for s in describe() if s["kind"] == "dict"}


def _bound(value: Any, kind: type) -> Any:
    return None if value is None else kind(max(-JS_INT, min(JS_INT, value)))


def _float_step(value: float) -> float:
    return float(10 ** math.floor(math.log10(abs(value)))) if value else 0.01
