"""The compiler's issues: each common mistake is named on its node, with the fix."""
import pytest
import torch

from runtime.compiler import CompileError, compile
from runtime.dataspec import DataSpec
from runtime.graph import Edge, Graph, Node

MNIST = DataSpec((1, 28, 28), output_size=10, class_names=tuple("0123456789"))


def chain(*layers, shape=(1, 28, 28)):
    nodes = [Node("in", "Input", {"shape": list(shape)})]
    for i, (type_name, params) in enumerate(layers):
        nodes.append(Node(f"n{i}", type_name, params))
    nodes.append(Node("out", "Output"))
    edges = [Edge(a.id, b.id) for a, b in zip(nodes, nodes[1:])]
    return Graph(nodes, edges)


def only_issue(compiled, code):
    found = [i for i in compiled.issues if i.code == code]
    assert found, f"no {code} issue in {compiled.issues}"
    return found[0]


def test_missing_flatten_is_named_with_the_fix():
    compiled = compile(chain(("Conv2d", {"out_channels": 4}), ("Linear", {"out_features": 10})), MNIST)
    issue = only_issue(compiled, "shape")
    assert issue.node_id == "n1"
    assert "receives [4, 26, 26]" in issue.message and "insert Flatten" in issue.message
    assert compiled.nodes["n0"].shape == (4, 26, 26)       # shapes before the mistake are still known
    assert not compiled.ok


def test_channel_mismatch_on_add_suggests_a_projection():
    g = chain(("Conv2d", {"out_channels": 8, "padding": 1}), ("Add", {}), ("Flatten", {}),
              ("Linear", {"out_features": "auto"}))
    g.edges.append(Edge("in", "n1"))                       # the skip connection carries 1 channel, not 8
    issue = only_issue(compile(g, MNIST), "shape")
    assert issue.node_id == "n1"
    assert "8 channels" in issue.message and "input 2 has 1" in issue.message and "1x1 Conv2d" in issue.message
    assert "out_channels=8 on input 2's" in issue.message and "sizes differ" not in issue.message


def test_add_with_the_shortcut_first_and_other_sizes_names_both_fixes():
    g = chain(("Conv2d", {"out_channels": 8}), ("Add", {}))
    g.edges.insert(0, Edge("in", "n1"))                    # the shortcut is input 1 this time
    message = only_issue(compile(g, MNIST), "shape").message
    assert "input 1 has 1 channels and input 2 has 8" in message
    assert "out_channels=8 on input 1's" in message and "(28×28 and 26×26)" in message


def test_sequence_fed_to_the_output_is_told_on_the_recurrent_layer_with_its_fix():
    g = chain(("GRU", {"hidden_size": 8, "output": "sequence"}), ("Linear", {"out_features": "auto"}),
              shape=(20, 3))
    issue = only_issue(compile(g, DataSpec((20, 3), output_size=4)), "output-shape")
    assert issue.node_id == "n0"                           # the layer whose setting is the fix, not the Output
    assert "receives [20, 4]" in issue.message and "each of 20 steps" in issue.message
    assert "set n0's output to \"last\", or add SequencePool after n0" in issue.message


def test_sequence_from_an_attention_layer_is_told_on_the_output_with_pooling():
    g = chain(("LSTM", {"hidden_size": 8, "output": "sequence"}), ("TransformerEncoderLayer", {"nhead": 2}),
              ("Linear", {"out_features": "auto"}), shape=(20, 3))
    issue = only_issue(compile(g, DataSpec((20, 3), output_size=4)), "output-shape")
    assert issue.node_id == "out"                          # the LSTM's "last" would starve the encoder
    assert "receives [20, 4]" in issue.message and "add SequencePool" in issue.message
    assert '"last"' not in issue.message


def test_classifier_width_must_match_the_classes_and_names_the_layer():
    g = chain(("Flatten", {}), ("Linear", {"out_features": 84}), ("ReLU", {}), ("Dropout", {}))
    issue = only_issue(compile(g, MNIST), "output-shape")
    assert "10 classes" in issue.message and "n1's out_features to 10" in issue.message


def test_auto_width_follows_the_dataset_and_needs_one():
    g = chain(("Flatten", {}), ("Linear", {"out_features": "auto"}))
    assert compile(g, MNIST).nodes["n1"].shape == (10,)
    assert compile(g, DataSpec((1, 28, 28), output_size=3)).nodes["n1"].shape == (3,)
    assert only_issue(compile(g), "auto-unresolved").node_id == "n1"


def test_image_dataset_fed_to_a_vector_network_gets_the_flatten_fix():
    g = chain(("Linear", {"out_features": 64}), ("Linear", {"out_features": "auto"}))
    assert "insert Flatten" in only_issue(compile(g, MNIST), "shape").message


def test_input_and_output_counts():
    g = chain(("ReLU", {}))
    g.nodes.append(Node("in2", "Input"))
    g.nodes = [n for n in g.nodes if n.type != "Output"]
    compiled = compile(g)
    assert {i.code for i in compiled.issues} >= {"input-count", "output-count"}


def test_cycle_unreachable_arity_and_dead_end():
    g = chain(("ReLU", {}), ("Tanh", {}))
    g.edges.append(Edge("n1", "n0"))                       # loop between n0 and n1
    g.nodes.append(Node("lonely", "Sigmoid"))              # no input at all
    g.nodes.append(Node("side", "ReLU"))
    g.edges.append(Edge("in", "side"))                     # a branch that goes nowhere
    compiled = compile(g)
    codes = {(i.node_id, i.code) for i in compiled.issues}
    assert ("n0", "cycle") in codes and ("n1", "cycle") in codes
    assert ("lonely", "arity") in codes
    dead = only_issue(compiled, "dead-end")
    assert dead.node_id == "side" and dead.severity == "warning"


def test_a_loop_names_the_edge_that_closes_it_and_only_its_nodes_turn_red():
    g = chain(("Conv2d", {"out_channels": 1, "padding": 1}), ("ReLU", {}), ("Add", {}))
    g.edges.append(Edge("in", "n2"))
    g.edges.append(Edge("n2", "n0"))                       # the Add's result fed back into the Conv2d
    issues = {i.node_id: i for i in compile(g).issues if i.code in ("cycle", "after-cycle")}
    assert {n for n, i in issues.items() if i.severity == "error"} == {"n0", "n1", "n2"}
    assert "remove the edge n2 → n0" in issues["n0"].message and "n0, n1, n2 form a loop" in issues["n0"].message
    assert issues["out"].code == "after-cycle" and issues["out"].severity == "warning"


def test_bad_parameters_say_what_they_accept():
    g = chain(("Conv2d", {"out_channels": 0, "kernel_size": "big", "stride": 2, "padding": "same"}))
    messages = [i.message for i in compile(g).issues if i.code == "bad-param"]
    assert any("out_channels must be a whole number from 1 to" in m and "but is 0" in m for m in messages)
    assert any("kernel_size must be" in m and "'big'" in m for m in messages)


def test_same_padding_with_stride_and_oversized_kernels_are_explained():
    g = chain(("Conv2d", {"padding": "same", "stride": 2}))
    assert "needs stride 1" in only_issue(compile(g), "bad-param").message
    g = chain(("MaxPool2d", {"kernel_size": 2}), ("Conv2d", {"kernel_size": 30}))
    assert "larger than its input" in only_issue(compile(g), "shape").message


def test_unknown_parameters_are_a_warning_not_an_error():
    compiled = compile(chain(("ReLU", {"inplace": True})))
    assert only_issue(compiled, "unknown-param").severity == "warning"
    assert compiled.ok


def test_token_ids_need_an_embedding_and_embeddings_need_ids():
    ids = DataSpec((12,), "int64", output_size=2, vocab_size=50)
    g = chain(("Linear", {"out_features": 4}), shape=(12,))
    assert "put an Embedding before it" in only_issue(compile(g, ids), "dtype").message
    g = chain(("Embedding", {"embedding_dim": 4, "num_embeddings": 100}), shape=(12,))
    assert "token ids" in only_issue(compile(g, DataSpec((12,), output_size=2)), "dtype").message


def test_weights_over_the_memory_budget_are_refused_without_allocating():
    g = chain(("Flatten", {}), ("Linear", {"out_features": 1 << 20}), ("Linear", {"out_features": 1 << 20}))
    compiled = compile(g)
    issue = only_issue(compiled, "too-large")
    assert "n2" in issue.message                           # names the biggest layer
    with pytest.raises(CompileError):
        compiled.build_module()


def test_concat_follows_port_order_not_list_order():
    g = Graph([Node("in", "Input", {"shape": [4]}), Node("a", "Linear", {"out_features": 2}),
               Node("b", "Linear", {"out_features": 3}), Node("cat", "Concat"), Node("out", "Output")],
              [Edge("in", "a"), Edge("in", "b"), Edge("b", "cat", port=1), Edge("a", "cat", port=0),
               Edge("cat", "out")])
    compiled = compile(g)
    assert compiled.nodes["cat"].in_shapes == [(2,), (3,)]
    module = compiled.build_module()
    x = torch.randn(2, 4)
    torch.testing.assert_close(module(x), torch.cat([module.a(x), module.b(x)], dim=1))


def test_final_softmax_is_skipped_for_the_loss_and_kept_otherwise():
    g = chain(("Flatten", {}), ("Linear", {"out_features": "auto"}), ("Softmax", {}))
    compiled = compile(g, MNIST)
    assert compiled.final_activation == "Softmax"
    module = compiled.build_module()
    x = torch.randn(4, 1, 28, 28)
    torch.testing.assert_close(module(x).sum(dim=1), torch.ones(4))
    module.output_logits = True
    torch.testing.assert_close(module(x), module.n1(module.n0(x)))


def test_final_sigmoid_in_a_classifier_is_a_warning():
    g = chain(("Flatten", {}), ("Linear", {"out_features": "auto"}), ("Sigmoid", {}))
    assert only_issue(compile(g, MNIST), "final-sigmoid").node_id == "n2"


def test_module_children_are_named_by_node_id():
    g = chain(("Flatten", {}), ("Linear", {"out_features": 10}))
    g.nodes[2].id = "my classifier"
    g.edges[1].target = g.edges[2].source = "my classifier"
    module = compile(g).build_module()
    assert set(module.state_dict()) == {"my_classifier.weight", "my_classifier.bias"}
    assert module.node_ids == {"n0": "n0", "my_classifier": "my classifier"}


def test_softmax_dim_counts_sample_dimensions_not_the_batch():
    g = chain(("Softmax", {"dim": 0}), shape=(3, 5))
    module = compile(g).build_module()
    out = module(torch.randn(4, 3, 5))
    torch.testing.assert_close(out.sum(dim=1), torch.ones(4, 5))      # sums over the sample's dim 0
    assert "dim 2 does not exist" in only_issue(compile(chain(("Softmax", {"dim": 2}), shape=(3, 5))),
                                                "bad-param").message


@pytest.mark.parametrize("layer", ["MultiheadAttention", "TransformerEncoderLayer", "GRU"])
def test_a_sequence_layer_given_a_vector_or_an_image_gets_a_reshape_that_fits(layer):
    digits = DataSpec((64,), output_size=10)
    vector = only_issue(compile(chain((layer, {}), ("Linear", {"out_features": "auto"}), shape=(64,)), digits),
                        "shape")
    assert vector.node_id == "n0" and "receives [64]" in vector.message
    assert "Reshape it to (steps, features), e.g. [8, 8]" in vector.message and "Embedding" in vector.message
    assert "Linear projection" not in vector.message           # a Linear keeps a vector a vector
    image = only_issue(compile(chain((layer, {}), shape=(3, 8, 8)), DataSpec((3, 8, 8), output_size=10)),
                       "shape").message
    assert "Reshape it to [24, 8] (each row of pixels a step)" in image and "Conv2d" in image
    over_steps = {"output": "sequence"} if layer == "GRU" else {}
    fixed = chain(("Reshape", {"shape": [8, 8]}), (layer, over_steps), ("SequencePool", {}),
                  ("Linear", {"out_features": "auto"}), shape=(64,))
    assert compile(fixed, digits).ok                           # the fix it names compiles


def test_a_prime_width_is_reshaped_into_steps_of_one_feature():
    issue = only_issue(compile(chain(("LSTM", {}), shape=(13,)), DataSpec((13,), output_size=2)), "shape")
    assert "e.g. [13, 1]" in issue.message
