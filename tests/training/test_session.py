from pathlib import Path

import pytest
import torch

from runtime.graph import load_project
from runtime.training import ConfigError, TrainConfig
from runtime.training.session import GraphNotTrainable, make_augment, prepare

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "moons_mlp.json"
ROOT = Path(__file__).resolve().parents[2]


def test_prepare_loads_compiles_and_builds_with_the_seed():
    project = load_project(FIXTURE)
    a, b = prepare(project), prepare(project)
    assert a.config.epochs == 2 and a.splits.name == "moons" and a.augment is None
    assert all(torch.equal(x, y) for x, y in zip(a.model.parameters(), b.model.parameters()))
    other = prepare(project, overrides={"seed": 7})
    assert not torch.equal(next(other.model.parameters()), next(a.model.parameters()))
    assert a.trainer().fit().metrics["val/acc"] > 0.8


def test_a_project_without_dataset_or_with_graph_errors_is_refused_with_the_reason():
    project = load_project(FIXTURE)
    project.dataset = {}
    with pytest.raises(ConfigError, match="has no dataset"):
        prepare(project)
    with pytest.raises(GraphNotTrainable, match="cannot be trained on digits") as e:
        prepare(load_project(FIXTURE), {"name": "digits"})
    assert "fc1" in str(e.value)


def test_augmentation_follows_the_data_kind_and_checks_its_keys():
    project = load_project(FIXTURE)
    project.training["augment"] = {"jitter": 0.1}
    with pytest.raises(ConfigError, match="text or a table"):
        prepare(project)
    spec = prepare(load_project(ROOT / "runtime" / "templates" / "mlp.json")).splits.spec     # digits, (1, 8, 8)
    with pytest.raises(ConfigError, match="unknown key 'jitter'.*shift"):
        make_augment(TrainConfig(augment={"jitter": 0.1}), spec)
    with pytest.raises(ConfigError, match="'hflip' must be true or false"):
        make_augment(TrainConfig(augment={"hflip": 1}), spec)
    with pytest.raises(ConfigError, match=r"'rotate_degrees' must be between 0 and 180 \(the largest turn each "
                                          r"way, in degrees; .*\), but is -30\.$"):
        make_augment(TrainConfig(augment={"rotate_degrees": -30}), spec)
    with pytest.raises(ConfigError, match=r"'shift' must be between 0 and 0.5 \(.*can leave the frame\), but is 3\.$"):
        make_augment(TrainConfig(augment={"shift": 3}), spec)
    make_augment(TrainConfig(augment={"shift": 0.5, "rotate_degrees": 180, "noise": 0}), spec)    # the limits
    assert make_augment(TrainConfig(augment={"enabled": False, "shift": 0.2}), spec) is None
    augment = make_augment(TrainConfig(augment={"shift": 0.2, "noise": 0.1}), spec)
    x = torch.randn(4, 1, 8, 8)
    g = torch.Generator().manual_seed(0)
    out = augment(x, g)
    assert out.shape == x.shape and not torch.equal(out, x)
