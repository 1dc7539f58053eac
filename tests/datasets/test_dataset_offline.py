"""Loaders never reach the network, missing packages say how to install them, the cache stays bounded."""
import importlib.util
import socket

import pytest

from runtime import datasets
from runtime.datasets import images
from runtime.datasets.cache import LoadCache
from dataset_cases import SUBSET


@pytest.fixture
def no_network(monkeypatch):
    """Sockets fail as on a machine without network; `attempts` records every try."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("Network is unreachable (blocked by the test)")
    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    datasets.CACHE.clear()   # a cached dataset would hide a loader that needs the network
    yield attempts
    datasets.CACHE.clear()


@pytest.mark.parametrize("name", list(datasets.DATASETS))
def test_every_dataset_loads_with_sockets_blocked(name, no_network):
    options = {"subset": SUBSET[name]} if SUBSET.get(name) else {}
    splits = datasets.load(name, **options)
    assert len(splits.y_train) > 0
    assert no_network == []


def test_missing_package_says_how_to_install(monkeypatch, no_network):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "palmerpenguins"
                        else real(name, *a))
    with pytest.raises(datasets.DatasetError, match="'palmerpenguins'.*not installed: pip install palmerpenguins==0.1.6"):
        datasets.load("penguins")


def test_missing_file_in_an_installed_package_says_reinstall():
    from runtime.datasets.sources import package_file
    with pytest.raises(datasets.DatasetError, match="missing from the installed 'sklearn'.*--force-reinstall"):
        package_file("sklearn", "datasets/data/no_such_file.csv", "scikit-learn==1.9.1")


def test_fashion_mnist_without_files_or_network_explains_how_to_get_it(monkeypatch, tmp_path, no_network):
    monkeypatch.setattr(images, "FASHION_SYSTEM_DIR", tmp_path / "none")
    monkeypatch.setenv("LAYERBOARD_DATA", str(tmp_path / "data"))
    with pytest.raises(datasets.DatasetError) as caught:
        datasets.load("fashion_mnist")
    message = str(caught.value)
    assert "not available offline" in message and "apt-get install dataset-fashion-mnist" in message
    assert str(tmp_path / "data" / "fashion-mnist") in message
    assert len(no_network) == 1   # one download was tried, and its failure explained


def test_fashion_mnist_found_in_the_data_directory(monkeypatch, tmp_path, no_network):
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    for name in images.FASHION_SHA256:
        (folder / name).write_bytes((images.FASHION_SYSTEM_DIR / name).read_bytes())
    monkeypatch.setattr(images, "FASHION_SYSTEM_DIR", tmp_path / "none")
    monkeypatch.setenv("LAYERBOARD_DATA", str(tmp_path))
    assert len(datasets.load("fashion_mnist", subset=700).y_test) == 100
    assert no_network == []


def test_idx_reader_refuses_a_truncated_file():
    data = b"\0\0\x08\x03" + (2).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + bytes(100)
    with pytest.raises(datasets.DatasetError, match="truncated or padded.*needs 1584 bytes, the file has 116"):
        images.read_idx(data, "train-images")
    with pytest.raises(datasets.DatasetError, match="not an IDX file"):
        images.read_idx(b"PK\x03\x04", "train-images")


def test_second_load_is_the_cached_object():
    datasets.CACHE.clear()
    first = datasets.load("iris")
    assert datasets.load("iris") is first
    assert datasets.load("iris", seed=0) is first              # defaults spelled out: same key
    assert datasets.load("iris", seed=1) is not first


class Sized:
    def __init__(self, n):
        self.n = n

    def nbytes(self):
        return self.n


def test_cache_evicts_least_recent_by_count_and_by_bytes():
    cache = LoadCache(max_entries=2, max_bytes=100)
    a = cache.get_or_load("a", {}, lambda: Sized(10))
    cache.get_or_load("b", {}, lambda: Sized(10))
    assert cache.get_or_load("a", {}, lambda: Sized(99)) is a   # touch a: b is now the oldest
    cache.get_or_load("c", {}, lambda: Sized(10))
    assert len(cache) == 2 and cache.get_or_load("a", {}, lambda: Sized(1)) is a
    cache.get_or_load("big", {}, lambda: Sized(95))
    assert len(cache) == 1 and cache.total_bytes() == 95          # a and c went to make room


class FakeResponse:
    def __init__(self, data):
        self.data = data

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def read(self, limit):
        return self.data[:limit]


def test_fashion_mnist_download_is_checked_and_kept(monkeypatch, tmp_path):
    real = images.FASHION_SYSTEM_DIR
    asked = []

    def urlopen(url, timeout):
        asked.append(url)
        return FakeResponse((real / url.rsplit("/", 1)[1]).read_bytes())
    monkeypatch.setattr(images.urllib.request, "urlopen", urlopen)
    monkeypatch.setattr(images, "FASHION_SYSTEM_DIR", tmp_path / "none")
    monkeypatch.setenv("LAYERBOARD_DATA", str(tmp_path))
    datasets.CACHE.clear()
    assert len(datasets.load("fashion_mnist", subset=700).y_test) == 100
    assert sorted(p.name for p in (tmp_path / "fashion-mnist").iterdir()) == sorted(images.FASHION_SHA256)
    assert len(asked) == 4 and asked[0].startswith(images.FASHION_URL)
    datasets.CACHE.clear()
    datasets.load("fashion_mnist", subset=700)
    assert len(asked) == 4   # downloaded once: the second load reads the kept files


def test_fashion_mnist_corrupt_download_is_thrown_away(monkeypatch, tmp_path):
    monkeypatch.setattr(images.urllib.request, "urlopen", lambda url, timeout: FakeResponse(b"<html>moved</html>"))
    monkeypatch.setattr(images, "FASHION_SYSTEM_DIR", tmp_path / "none")
    monkeypatch.setenv("LAYERBOARD_DATA", str(tmp_path))
    datasets.CACHE.clear()
    with pytest.raises(datasets.DatasetError, match="download of train-images-idx3-ubyte.gz .* is corrupt"):
        datasets.load("fashion_mnist")
    assert not (tmp_path / "fashion-mnist").exists()
    datasets.CACHE.clear()
