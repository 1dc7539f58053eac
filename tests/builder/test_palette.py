"""Palette search: layers found by name come before those found in their explanation only."""
from builder.palette import matching
from runtime.layers import LAYERS


def types(layers) -> list[str]:
    return [layer.type for layer in layers]


def test_a_search_lists_name_matches_by_family_and_explanation_matches_apart():
    by_name, in_explanation = matching("Output")
    assert {family: types(layers) for family, layers in by_name.items()} == {"Input / Output": ["Output", "Input"]}
    assert {"Linear", "Conv2d"} <= set(types(in_explanation))      # their explanations mention the output
    assert "Output" not in types(in_explanation)


def test_type_matches_lead_their_family_and_every_word_must_match():
    by_name, _ = matching("conv")
    assert types(by_name["Convolution"])[:3] == ["Conv1d", "Conv2d", "ConvTranspose2d"]
    assert "MaxPool2d" in types(by_name["Convolution"])           # its family matches
    by_name, _ = matching("max pool 2d")
    assert {family: types(layers) for family, layers in by_name.items()} == {"Convolution": ["MaxPool2d"]}


def test_a_word_only_explanations_contain_is_still_found():
    by_name, in_explanation = matching("residual")
    assert by_name == {} and types(in_explanation) == ["Add"]


def test_no_query_lists_every_layer_by_family():
    by_name, in_explanation = matching("  ")
    assert sum(len(layers) for layers in by_name.values()) == len(LAYERS) and in_explanation == []
