"""Import against onnx's own operator test cases (the generators of onnx/backend/test/data/node,
which the wheel does not ship as files): each case's model with its inputs and expected outputs."""
from __future__ import annotations

import warnings

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

from runtime.compiler import compile
from runtime.onnx.errors import UnsupportedModel
from runtime.onnx.importer import import_model

# Cases that must import and reproduce onnx's expected output.
IMPORTED = [
    "test_averagepool_2d_precomputed_pads_count_include_pad", "test_averagepool_2d_precomputed_strides",
    "test_averagepool_1d_default", "test_averagepool_2d_default", "test_averagepool_2d_strides",
    "test_batchnorm_example", "test_conv_with_strides_padding", "test_conv_with_strides_no_padding",
    "test_convtranspose", "test_dropout_default", "test_dropout_default_ratio", "test_dropout_random_old",
    "test_elu", "test_elu_default", "test_flatten_axis1", "test_flatten_default_axis", "test_gelu_tanh_2",
    "test_gelu_default_2", "test_gemm_default_zero_bias", "test_gemm_default_no_bias",
    "test_gemm_default_scalar_bias", "test_gemm_default_single_elem_vector_bias",
    "test_gemm_default_vector_bias", "test_gemm_transposeB", "test_globalaveragepool",
    "test_globalaveragepool_precomputed", "test_hardswish", "test_identity", "test_leakyrelu",
    "test_leakyrelu_default", "test_logsoftmax_example_1", "test_logsoftmax_large_number",
    "test_logsoftmax_axis_1", "test_logsoftmax_axis_2",
    "test_logsoftmax_negative_axis", "test_logsoftmax_default_axis", "test_matmul_2d",
    "test_maxpool_2d_precomputed_pads", "test_maxpool_2d_precomputed_strides", "test_maxpool_1d_default",
    "test_maxpool_2d_default", "test_maxpool_2d_strides", "test_relu", "test_reshape_reordered_last_dims",
    "test_reshape_reduced_dims", "test_reshape_extended_dims", "test_reshape_negative_dim", "test_sigmoid",
    "test_softmax_example", "test_softmax_large_number", "test_softmax_axis_1",
    "test_softmax_axis_2", "test_softmax_negative_axis", "test_softmax_default_axis", "test_softplus",
    "test_tanh", "test_transpose_all_permutations_0", "test_transpose_all_permutations_1",
]
# Cases that must be refused, with the phrase the message must contain.
REFUSED = {
    "test_softmax_axis_0": "Softmax over the batch axis",
    "test_logsoftmax_axis_0": "LogSoftmax over the batch axis",
    "test_lstm_defaults": "LSTM x1",                     # ONNX's own time-major layout, not PyTorch's form
    "test_instancenorm_example": "InstanceNormalization x1",
    "test_gather_elements_0": "GatherElements x1",
    "test_conv_with_autopad_same": "auto_pad SAME_LOWER",
    "test_gemm_alpha": "alpha = beta = 1",
    "test_concat_2d_axis_0": "Concat with a stored constant",
    "test_clip_default_min": "Clip(0, 6)",
    "test_maxpool_3d_default": "3-D input",
    "test_flatten_axis0": "merges the batch axis",
    "test_batchnorm_example_training_mode": "3 outputs",
    "test_add_uint8": "element type UINT8",
}
COVERED = ("add", "averagepool", "batchnorm", "clip", "concat", "conv", "dropout", "elu", "flatten", "gather",
           "gelu", "gemm", "globalaveragepool", "gru", "hardswish", "identity", "layer_normalization", "leakyrelu",
           "logsoftmax", "lstm", "matmul", "maxpool", "mish", "mul", "relu", "reshape", "rnn", "sigmoid",
           "softmax", "softplus", "tanh", "transpose")


@pytest.fixture(scope="module")
def cases():
    from onnx.backend.test.case.node import collect_testcases
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # the generators divide by zero on purpose
        return {case.name: case for case in collect_testcases()}


def frozen(case) -> tuple[onnx.ModelProto, np.ndarray, np.ndarray]:
    """The case's model with every input after the first stored as a weight (as exporters write
    weights), its first input and its expected output."""
    model = onnx.ModelProto()
    model.CopyFrom(case.model)
    inputs, outputs = case.data_sets[0]
    for info, value in list(zip(model.graph.input, inputs))[1:]:
        model.graph.initializer.append(numpy_helper.from_array(np.asarray(value), info.name))
    del model.graph.input[1:]
    return model, np.asarray(inputs[0]), np.asarray(outputs[0])


def outputs_of(imported, x: np.ndarray) -> np.ndarray:
    module = compile(imported.project.graph).build_module()
    module.load_state_dict(imported.weights)
    with torch.no_grad():
        return module.eval()(torch.from_numpy(np.array(x))).numpy()


@pytest.mark.parametrize("name", IMPORTED)
def test_onnx_operator_cases_import_and_match(cases, name):
    model, x, expected = frozen(cases[name])
    imported = import_model(model, inputs=x)
    got = outputs_of(imported, x)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= 1e-4 * max(1.0, float(np.abs(expected).max()))


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_onnx_operator_cases_outside_the_catalog_are_refused(cases, name):
    model, x, _ = frozen(cases[name])
    with pytest.raises(UnsupportedModel, match=REFUSED[name].replace("(", r"\(").replace(")", r"\)")):
        import_model(model, inputs=x)


def test_no_operator_case_imports_wrongly(cases):
    """Every case of a covered operator either reproduces onnx's output or is refused: none imports
    into a graph that computes something else."""
    wrong, imported = [], 0
    for name, case in sorted(cases.items()):
        if not any(name.startswith(f"test_{op}") for op in COVERED) or "expanded" in name:
            continue
        model, x, expected = frozen(case)
        try:
            result = import_model(model, inputs=x)
        except UnsupportedModel:
            continue
        imported += 1
        got = outputs_of(result, x)
        if got.shape != expected.shape or np.abs(got - expected).max() > 1e-4 * max(1.0, np.abs(expected).max()):
            wrong.append(name)
    assert wrong == []
    assert imported >= len(IMPORTED)
