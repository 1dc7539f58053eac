"""Layerboard: draw a neural network, see its shapes, train it. `make app` serves this page."""
import streamlit as st
import torch

from builder import page

torch.set_num_threads(1)   # inside the server: two threads fight the server and collapse 10-100x here

st.set_page_config(page_title="Layerboard", page_icon="🧱", layout="wide")
page.render()
