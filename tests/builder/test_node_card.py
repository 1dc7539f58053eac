"""How a node and an edge read on the canvas."""
from builder import node_card
from builder.markdown import escape
from runtime.layers import LAYERS


def test_numbers_and_shapes_read_short():
    assert node_card.shape_text((16, 5, 5)) == "16×5×5"
    assert node_card.shape_text(()) == "1" and node_card.shape_text(None) == "?"
    assert [node_card.count_text(n) for n in (0, 61_706, 150_624, 11_689_512, 138_357_544_000)] == \
        ["0", "61,706", "150.6K", "11.7M", "138.4B"]


def test_key_params_show_the_first_and_the_changed_ones():
    conv = LAYERS["Conv2d"]
    assert node_card.key_params_text(conv, {"out_channels": 6, "kernel_size": 5}) == \
        "out_channels=6 · kernel_size=5"
    assert node_card.key_params_text(conv, {}) == f"out_channels={conv.param('out_channels').default}"
    assert node_card.key_params_text(LAYERS["Input"], {"shape": [1, 28, 28]}) == "shape=1×28×28"
    for recurrent in ("RNN", "LSTM", "GRU"):       # reading both ways doubles the width the card shows
        assert node_card.key_params_text(LAYERS[recurrent], {"hidden_size": 64, "bidirectional": True}) == \
            "hidden_size=64 · bidirectional=True"


def test_errors_show_in_full_and_warnings_in_one_line():
    error = "Linear expects a flat vector but receives [16, 5, 5]: insert Flatten before it."
    warning = "The output of relu9 does not reach the Output node, so it is not part of the model."
    card = node_card.node_content("fc", LAYERS["Linear"], {"out_features": 10}, None, None,
                                  [(error, "error"), (warning, "warning")], 0)
    assert error in card and warning not in card and warning[:20] in card
    assert card.count("<div") == 1 and "\n" not in card      # one HTML block: Markdown stays off


def test_styles_are_fresh_dicts_and_say_the_state():
    a = node_card.node_style("Convolution", None, False)
    b = node_card.node_style("Convolution", "error", True)
    assert a is not b and "boxShadow" not in a
    assert b["border"].startswith("3px solid #dc2626") and "boxShadow" in b
    assert node_card.node_style("Unknown family", "warning", False)["background"] == node_card.OTHER_COLOUR


def test_edge_labels_number_the_inputs_of_merges():
    assert node_card.edge_label((64, 8, 8), 2) == "#2 · 64×8×8"
    assert node_card.edge_label((10,), None) == "10"


def test_markdown_escape_keeps_text_as_typed():
    assert escape("[x](javascript:alert(1)) **b**") == r"\[x\]\(javascript\:alert\(1\)\) \*\*b\*\*"
