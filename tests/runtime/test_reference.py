"""Standard architectures drawn from the catalog have exactly their published parameter counts."""
from pathlib import Path

import pytest

from runtime.compiler import compile
from runtime.graph import load_project

REFERENCE = Path(__file__).parents[1] / "fixtures" / "reference"

PUBLISHED = {
    "lenet5_classic": 61_706,       # LeCun et al. 1998, on 1x32x32
    "vgg16": 138_357_544,           # Simonyan & Zisserman 2014 (torchvision's count)
    "resnet18": 11_689_512,         # He et al. 2015 (torchvision's count)
    "mobilenet_v2": 3_504_872,      # Sandler et al. 2018 (torchvision's count)
    "bert_base_encoder": 85_054_464,  # 12 encoder layers of BERT-base, embeddings excluded
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_reference_architecture_parameter_count(name):
    compiled = compile(load_project(REFERENCE / f"{name}.json").graph)
    assert compiled.ok, compiled.issues
    assert compiled.total_params == PUBLISHED[name]


def test_resnet18_classifies_into_1000_classes_from_a_7x7_map():
    compiled = compile(load_project(REFERENCE / "resnet18.json").graph)
    shapes = [compiled.nodes[n].shape for n in compiled.live]
    assert (512, 7, 7) in shapes and shapes[-1] == (1000,)
