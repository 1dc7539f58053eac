"""Every registered dataset: its files load, its counts are the published ones, its splits are sound.

Adding a dataset to DATASETS without adding it to EXPECTED fails `test_every_dataset_is_expected`.
"""
import importlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from runtime import datasets
from runtime.dataspec import DataSpec
from dataset_cases import EXPECTED, SUBSET

def raw_of(name):
    module, function = datasets.DATASETS[name].loader.split(":")
    loader = getattr(importlib.import_module(f"runtime.datasets.{module}"), function)
    return loader(datasets.options_for(name))


def load_small(name, **options):
    if SUBSET.get(name):
        options.setdefault("subset", SUBSET[name])
    return datasets.load(name, **options)


def test_every_dataset_is_expected():
    assert set(datasets.DATASETS) == set(EXPECTED)
    assert len(datasets.DATASETS) == 19


@pytest.mark.parametrize("name", list(EXPECTED))
def test_source_holds_the_published_counts(name):
    total, per_class, test_total = EXPECTED[name]
    raw = raw_of(name)
    assert len(raw.y) == total
    if per_class is not None:
        assert np.bincount(raw.y, minlength=len(per_class)).tolist() == per_class
        assert len(datasets.DATASETS[name].class_names) == len(per_class)
    assert (len(raw.test[1]) if raw.test else None) == test_total


@pytest.mark.parametrize("name", list(EXPECTED))
def test_loaded_shapes_match_the_cheap_spec(name):
    d = datasets.DATASETS[name]
    splits = load_small(name)
    spec = datasets.spec(name)
    assert isinstance(spec, DataSpec)
    assert splits.spec == spec
    for x, y in ((splits.x_train, splits.y_train), (splits.x_val, splits.y_val), (splits.x_test, splits.y_test)):
        assert tuple(x.shape[1:]) == spec.input_shape
        assert len(x) == len(y) > 0
        if d.kind == "text":
            assert x.dtype == torch.int64 and int(x.max()) < spec.vocab_size and int(x.min()) >= 0
        else:
            assert x.dtype == torch.float32 and torch.isfinite(x).all()
        if d.task == "classification":
            assert y.dtype == torch.int64 and y.dim() == 1
        else:
            assert y.dtype == torch.float32 and tuple(y.shape[1:]) == (spec.output_size,)
    if d.task == "classification":
        assert spec.output_size == len(d.class_names) == len(splits.class_names)
        assert torch.bincount(splits.y_train, minlength=spec.output_size).min() > 0   # every class trains
    assert len(splits.preview) > 0


@pytest.mark.parametrize("name", [n for n, d in datasets.DATASETS.items() if d.kind != "text"])
def test_normalization_uses_the_training_split(name):
    splits = load_small(name)
    axis = 1 if splits.x_train.dim() == 4 else splits.x_train.dim() - 1
    dims = [d for d in range(splits.x_train.dim()) if d != axis]
    mean = splits.x_train.double().mean(dim=dims)
    std = splits.x_train.double().std(dim=dims, unbiased=False)
    assert torch.allclose(mean, torch.zeros_like(mean), atol=1e-4)
    assert torch.all(((std - 1).abs() < 1e-3) | (std == 0))   # std 0: a feature constant in training
    assert len(splits.normalization["mean"]) == splits.x_train.shape[axis]


def test_normalization_statistics_exclude_validation_and_test():
    splits = datasets.load("wine")
    raw = raw_of("wine").x
    mean, std = np.array(splits.normalization["mean"]), np.array(splits.normalization["std"])
    restored = splits.x_train.double().numpy() * std + mean
    # find each training row in the source, then compute the statistics of exactly those rows
    nearest = np.abs((restored[:, None, :] - raw[None]) / std).sum(-1).argmin(1)
    assert np.allclose(raw[nearest], restored, rtol=1e-5)
    assert np.allclose(raw[nearest].mean(0), mean) and np.allclose(raw[nearest].std(0), std)
    assert not np.allclose(raw.mean(0), mean)


def test_same_seed_same_split_other_seed_other_split():
    a = datasets.load("iris", seed=3)
    datasets.CACHE.clear()
    b = datasets.load("iris", seed=3)
    c = datasets.load("iris", seed=4)
    assert a is not b and torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.x_train, c.x_train)


def test_splits_are_disjoint_and_cover_the_data():
    splits = datasets.load("iris", val_fraction=0.2, test_fraction=0.2)
    rows = torch.cat([splits.x_train, splits.x_val, splits.x_test])
    assert len(rows) == 150 and len(torch.unique(rows, dim=0)) == len(torch.unique(
        torch.from_numpy(raw_of("iris").x), dim=0))
    assert splits.sizes() == {"train": 90, "val": 30, "test": 30}
    assert torch.bincount(splits.y_test).tolist() == [10, 10, 10]   # stratified


def test_forecasting_split_keeps_time_order_and_targets_follow_windows():
    splits = datasets.load("airline", window=6)
    assert splits.spec.input_shape == (6, 1)
    # the target of window i is the last value of window i + 1
    assert torch.allclose(splits.y_train[:-1, 0], splits.x_train[1:, -1, 0])
    assert torch.allclose(splits.y_train[-1, 0], splits.x_val[0, -1, 0])   # validation comes after training
    assert splits.target_normalization == splits.normalization


def test_regression_targets_are_standardized_on_training_rows():
    splits = datasets.load("diabetes")
    assert abs(float(splits.y_train.mean())) < 1e-5
    mean, std = splits.target_normalization["mean"][0], splits.target_normalization["std"][0]
    assert float(splits.y_train[0, 0]) * std + mean == pytest.approx(splits.preview[0]["y"][0], rel=1e-5)
    assert mean != pytest.approx(float(raw_of("diabetes").y.mean()))   # training rows only


def test_penguins_fill_missing_values_and_one_hot_categories():
    splits = datasets.load("penguins")
    assert splits.feature_names == ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g",
                                    "island=Biscoe", "island=Dream", "island=Torgersen", "sex=female", "sex=male"]
    assert torch.isfinite(splits.x_train).all() and torch.isfinite(splits.x_test).all()


def test_official_test_split_is_kept():
    splits = datasets.load("gunpoint")
    assert len(splits.y_test) == 150 and len(splits.y_train) + len(splits.y_val) == 50
    with pytest.raises(datasets.DatasetError, match="no option 'test_fraction'"):
        datasets.load("gunpoint", test_fraction=0.3)


def test_subset_is_stratified_and_split_from_both_pools():
    splits = datasets.load("fashion_mnist", subset=1_400)
    assert sum(splits.sizes().values()) == 1_400
    assert len(splits.y_test) == 200
    assert torch.bincount(splits.y_test).tolist() == [20] * 10


def test_project_dataset_section_loads_with_keyword_arguments():
    section = {"name": "moons", "samples": 200, "noise": 0.1, "seed": 1}
    splits = datasets.load(**section)
    assert sum(splits.sizes().values()) == 200
    assert datasets.spec(**section).input_shape == (2,)


def test_unknown_dataset_and_option_messages_list_the_valid_ones():
    with pytest.raises(datasets.DatasetError, match="Unknown dataset 'mnsit'.*mnist, fashion_mnist"):
        datasets.load("mnsit")
    with pytest.raises(datasets.DatasetError, match="no option 'windw'.*window \\(default 12\\)"):
        datasets.spec("airline", windw=3)
    with pytest.raises(datasets.DatasetError, match="window must be a whole number from 1 to 134"):
        datasets.load("airline", window=500)
    with pytest.raises(datasets.DatasetError, match="val_fraction \\+ test_fraction is 0.9"):
        datasets.load("iris", val_fraction=0.5, test_fraction=0.4)


def test_spec_follows_options_without_loading(monkeypatch):
    monkeypatch.setattr(datasets, "_load_uncached", lambda *a: pytest.fail("spec() must not load data"))
    assert datasets.spec("co2", window=10).input_shape == (10, 1)
    assert datasets.spec("imdb", max_len=64, vocab_size=500) == DataSpec(
        (64,), "int64", "classification", 2, 500, ("negative", "positive"))
    assert datasets.spec("shapes_rgb", image_size=16).input_shape == (3, 16, 16)
    assert datasets.spec("diabetes").output_size == 1


BAD_VALUES = ("abc", -3, 2.5, None, True, [1])
VALID_AMONG_THEM = {("noise", 2.5)}   # named exceptions: values of the right kind and range


@pytest.mark.parametrize("name", list(EXPECTED))
def test_every_bad_option_value_is_a_dataset_error(name):
    """Whatever a project file says, a bad option is a message, never a traceback from deep inside."""
    for option, default in datasets.DATASETS[name].all_options().items():
        for value in BAD_VALUES:
            if value == default or (option == "subset" and value is None):
                continue
            try:
                load_small(name, **{option: value})
            except datasets.DatasetError as e:
                assert option in str(e) or "fraction" in str(e), (option, value, str(e))
            else:
                assert (option, value) in VALID_AMONG_THEM, f"{name} accepted {option}={value!r}"


def test_penguin_features_do_not_depend_on_the_subset():
    for seed in range(5):
        assert datasets.load("penguins", subset=12, seed=seed).x_train.shape[1] == 9


def test_registry_and_spec_import_no_heavy_package():
    code = ("import sys; from runtime import datasets; datasets.spec('penguins'); datasets.spec('imdb'); "
            "print(sorted(m for m in ('torch', 'numpy', 'sklearn', 'sktime', 'pandas', 'statsmodels', 'PIL') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "[]"
