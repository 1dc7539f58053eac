"""ONNX in and out: verified export, a runnable bundle, and import into an editable project.

export.py      any nn.Module -> ONNX model (exporter choice, dynamic axes, failing node named)
verify.py      onnx.checker + onnxruntime vs PyTorch, refused above 1e-4
project_export.py  a project + weights -> verified file with metadata_props
"""
