"""ONNX in and out: verified export, a runnable bundle, and import into an editable project.

export.py          any nn.Module -> ONNX model: exporter choice, dynamic axes, failing node named
verify.py          onnx.checker (full) + onnxruntime vs PyTorch; refused above 1e-4, with the figures
project_export.py  a project + weights -> a verified file with metadata_props (labels, normalization)
bundle.py          zip: .onnx, safetensors, project, model.py, train.py (bundle_train.py), data, README
files.py           reading a foreign .onnx safely: size first, protobuf only, external data confined
importer.py        .onnx -> project graph + weights: fold, fuse, translate, compare with onnxruntime
operators.py       one translation per ONNX operator into a catalog layer
errors.py          the exceptions a user reads
"""
