"""Every layer type, generated from the catalog: builds, runs, infers the true shape, passes
gradients to every parameter, and exports to code that computes the same outputs."""
import pytest
import torch

from runtime.codegen import generate
from runtime.compiler import compile
from runtime.layers import FAMILIES, LAYERS

from tests.runtime.catalog_cases import EXAMPLES, NO_MODULE, example_graph

MODULE_TYPES = sorted(t for t in LAYERS if t not in NO_MODULE)


def sample_input(type_name, batch=3):
    shape, _, params, dtype = EXAMPLES[type_name]
    if dtype == "int64":
        return torch.randint(0, params.get("num_embeddings", 10), (batch, *shape))
    return torch.randn(batch, *shape)


def test_every_layer_has_an_example_and_a_complete_declaration():
    assert sorted(EXAMPLES) == MODULE_TYPES
    for layer in LAYERS.values():
        assert layer.family in FAMILIES
        assert len(layer.doc) > 40, f"{layer.type} needs a paragraph for learners"
        for p in layer.params:
            assert p.help, f"{layer.type}.{p.name} has no help"
            assert p.normalize(p.default) is not None or p.auto


@pytest.mark.parametrize("type_name", MODULE_TYPES)
def test_layer_builds_runs_and_infers_its_true_shape(type_name):
    torch.manual_seed(0)
    compiled = compile(example_graph(type_name))
    assert compiled.ok, compiled.issues
    module = compiled.build_module()
    x = sample_input(type_name)
    if x.is_floating_point():
        x.requires_grad_(True)
    out = module(x)
    assert tuple(out.shape[1:]) == compiled.nodes["layer"].shape
    assert sum(p.numel() for p in module.parameters()) == compiled.nodes["layer"].num_params
    out.float().pow(2).sum().backward()
    for name, p in module.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), f"no gradient reaches {name}"


@pytest.mark.parametrize("type_name", MODULE_TYPES)
def test_code_export_computes_the_same_outputs(type_name):
    torch.manual_seed(0)
    compiled = compile(example_graph(type_name))
    module = compiled.build_module().eval()
    namespace = {}
    source = generate(compiled, f"{type_name} example", weights_file="w.safetensors",
                      weights_origin="the weights, from a test.")
    exec(compile_source(source), namespace)  # our own generated code
    exported = next(v for k, v in namespace.items() if k.endswith("Example"))().eval()
    exported.load_state_dict(module.state_dict())
    x = sample_input(type_name)
    torch.testing.assert_close(exported(x), module(x), rtol=0, atol=0)


def compile_source(source):
    import builtins
    return builtins.compile(source, "<generated>", "exec")
