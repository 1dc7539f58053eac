"""Widget values that outlive their tab. Only the open training tab is drawn (builder/training_area.py),
and Streamlit forgets the value of a widget that a script run did not draw: without this, the
Playground's input choice or the runs picked for comparison would reset whenever another tab was
opened. A widget keeps its value with `on_change=keep, args=(key,)` and starts from `kept(key, ...)`."""
from __future__ import annotations

from typing import Any

import streamlit as st

PREFIX = "kept_"


def keep(key: str) -> None:
    st.session_state[PREFIX + key] = st.session_state[key]


def keep_value(key: str, value: Any) -> None:
    """Keeps what a widget returned that has no value of its own in the session state (a component's result)."""
    st.session_state[PREFIX + key] = value


def kept(key: str, fallback: Any) -> Any:
    return st.session_state.get(PREFIX + key, fallback)
