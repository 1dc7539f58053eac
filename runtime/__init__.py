"""Layerboard's runtime: graph -> PyTorch module, training, ONNX. Never imports Streamlit."""
