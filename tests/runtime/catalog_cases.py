"""One small example per layer type: the input shape it receives and the parameters to try.
A layer added to the catalog without an example here fails test_every_layer_has_an_example."""

# type: (input shape, number of inputs, params, input dtype)
EXAMPLES = {
    "Linear": ((8,), 1, {"out_features": 5}, "float32"),
    "Identity": ((3, 4), 1, {}, "float32"),
    "Flatten": ((2, 3, 4), 1, {}, "float32"),
    "Reshape": ((12,), 1, {"shape": [3, -1]}, "float32"),
    "Permute": ((3, 5), 1, {"dims": [1, 0]}, "float32"),
    "Conv1d": ((3, 16), 1, {"out_channels": 4, "kernel_size": 3, "stride": 2}, "float32"),
    "Conv2d": ((3, 12, 12), 1, {"out_channels": 4, "padding": "same", "dilation": 2}, "float32"),
    "ConvTranspose2d": ((3, 6, 6), 1, {"out_channels": 2}, "float32"),
    "MaxPool1d": ((3, 16), 1, {}, "float32"),
    "MaxPool2d": ((3, 8, 8), 1, {"kernel_size": 3, "padding": 1}, "float32"),
    "AvgPool1d": ((3, 16), 1, {}, "float32"),
    "AvgPool2d": ((3, 8, 8), 1, {}, "float32"),
    "AdaptiveAvgPool1d": ((3, 16), 1, {"output_size": 4}, "float32"),
    "AdaptiveAvgPool2d": ((3, 8, 8), 1, {"output_size": 2}, "float32"),
    "RNN": ((7, 5), 1, {"hidden_size": 6, "output": "sequence"}, "float32"),
    "LSTM": ((7, 5), 1, {"hidden_size": 6, "num_layers": 2, "bidirectional": True, "dropout": 0.1}, "float32"),
    "GRU": ((7, 5), 1, {"hidden_size": 6, "bidirectional": True}, "float32"),
    "Embedding": ((7,), 1, {"embedding_dim": 4, "num_embeddings": 20}, "int64"),
    "MultiheadAttention": ((7, 8), 2, {"num_heads": 2}, "float32"),
    "TransformerEncoderLayer": ((7, 8), 1, {"nhead": 2, "dim_feedforward": 16, "causal": True}, "float32"),
    "TransformerDecoderLayer": ((7, 8), 2, {"nhead": 2, "dim_feedforward": 16}, "float32"),
    "PositionalEncoding": ((7, 8), 1, {"kind": "learned", "max_len": 10}, "float32"),
    "SequencePool": ((7, 8), 1, {"mode": "max"}, "float32"),
    "BatchNorm1d": ((6,), 1, {}, "float32"),
    "BatchNorm2d": ((3, 5, 5), 1, {}, "float32"),
    "LayerNorm": ((7, 8), 1, {}, "float32"),
    "GroupNorm": ((4, 5, 5), 1, {"num_groups": 2}, "float32"),
    "Dropout": ((6,), 1, {"p": 0.3}, "float32"),
    "Dropout2d": ((3, 4, 4), 1, {}, "float32"),
    "ReLU": ((6,), 1, {}, "float32"),
    "LeakyReLU": ((6,), 1, {"negative_slope": 0.2}, "float32"),
    "ELU": ((6,), 1, {}, "float32"),
    "GELU": ((6,), 1, {"approximate": "tanh"}, "float32"),
    "SiLU": ((6,), 1, {}, "float32"),
    "ReLU6": ((6,), 1, {}, "float32"),
    "Sigmoid": ((6,), 1, {}, "float32"),
    "Tanh": ((6,), 1, {}, "float32"),
    "Softmax": ((6,), 1, {}, "float32"),
    "LogSoftmax": ((6,), 1, {}, "float32"),
    "Softplus": ((6,), 1, {}, "float32"),
    "Mish": ((6,), 1, {}, "float32"),
    "Hardswish": ((6,), 1, {}, "float32"),
    "Add": ((3, 4, 4), 2, {}, "float32"),
    "Multiply": ((3, 4, 4), 2, {}, "float32"),
    "Concat": ((3, 4), 3, {"dim": -1}, "float32"),
}

# Types with no module of their own: the compiler's tests cover them.
NO_MODULE = {"Input": "the graph's entry: no module", "Output": "the graph's exit: no module"}


def example_graph(type_name):
    """Input -> the layer (fed `inputs` times by the Input) -> Output, as a Graph."""
    from runtime.graph import Edge, Graph, Node
    shape, inputs, params, dtype = EXAMPLES[type_name]
    nodes = [Node("x", "Input", {"shape": list(shape), "dtype": dtype}), Node("layer", type_name, dict(params)),
             Node("y", "Output")]
    edges = [Edge("x", "layer") for _ in range(inputs)] + [Edge("layer", "y")]
    return Graph(nodes, edges)
