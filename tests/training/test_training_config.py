import dataclasses

import pytest

from runtime.datasets.augment import ImageAugment, SequenceAugment
from runtime.training import ConfigError, TrainConfig, describe


def test_round_trips_through_the_project_dict():
    cfg = TrainConfig(optimizer="sgd", lr=0.05, nesterov=True, schedule="cosine", warmup_epochs=1,
                      augment={"flip": True}, epochs=3)
    data = cfg.to_dict()
    assert TrainConfig.from_dict(data) == cfg
    assert data["optimizer"] == "sgd" and data["augment"] == {"flip": True}
    assert TrainConfig.from_dict({}) == TrainConfig()
    assert TrainConfig.from_dict(None) == TrainConfig()


def test_unknown_key_names_it_and_the_valid_ones():
    with pytest.raises(ConfigError) as e:
        TrainConfig.from_dict({"learning_rate": 0.1})
    assert "'learning_rate'" in str(e.value) and "lr" in str(e.value) and "batch_size" in str(e.value)


@pytest.mark.parametrize("key, value, words", [
    ("lr", -1.0, "'lr' must be from"),
    ("lr", "fast", "'lr' must be a number"),
    ("optimizer", "lion", "one of adam, adamw, sgd, rmsprop"),
    ("batch_size", 1.5, "whole number"),
    ("epochs", True, "must be a number"),
    ("nesterov", "yes", "true or false"),
    ("lr", float("nan"), "finite"),
    ("augment", [1], "object of settings"),
])
def test_bad_values_say_what_is_expected(key, value, words):
    with pytest.raises(ConfigError) as e:
        TrainConfig.from_dict({key: value})
    assert words in str(e.value) and repr(value) in str(e.value)


def test_bounds_read_as_numbers_a_person_types():
    with pytest.raises(ConfigError, match=r"'seed' must be from 0 to 9,223,372,036,854,775,807, but is -5"):
        TrainConfig.from_dict({"seed": -5})
    with pytest.raises(ConfigError, match=r"'epochs' must be from 1 to 100,000, but is 0"):
        TrainConfig.from_dict({"epochs": 0})
    with pytest.raises(ConfigError, match=r"'lr' must be from 1e-08 to 10, but is -1.0"):
        TrainConfig.from_dict({"lr": -1.0})


def test_not_an_object():
    with pytest.raises(ConfigError, match="JSON object"):
        TrainConfig.from_dict([1, 2])


def test_whole_floats_become_ints_and_replace_checks():
    assert TrainConfig.from_dict({"epochs": 3.0}).epochs == 3
    assert TrainConfig().replace(lr=0.5).lr == 0.5
    with pytest.raises(ConfigError):
        TrainConfig().replace(batch_size=0)


def test_describe_lists_every_setting_for_forms():
    rows = {r["name"]: r for r in describe()}
    assert set(rows) == set(TrainConfig().to_dict())
    assert rows["optimizer"]["choices"] == ("adam", "adamw", "sgd", "rmsprop")
    assert rows["lr"]["advanced"] is False and rows["momentum"]["advanced"] is True
    assert all(r["help"] for r in rows.values())


def test_the_help_of_a_setting_with_kinds_or_keys_names_each_of_them():
    """A student reads what each schedule does and which augmentation keys there are in the '?' help."""
    rows = {r["name"]: r for r in describe()}
    assert all(f"{choice}:" in rows["schedule"]["help"] for choice in rows["schedule"]["choices"] if choice != "none")
    keys = {f.name for kind in (ImageAugment, SequenceAugment) for f in dataclasses.fields(kind)} - {"enabled"}
    assert all(f'"{key}"' in rows["augment"]["help"] for key in keys), rows["augment"]["help"]
