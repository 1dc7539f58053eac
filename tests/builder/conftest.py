"""Shared AppTest setup for the builder: each test gets its own data directory, and no run it
started outlives it."""
import pytest

from builder import run_control


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("LAYERBOARD_HOME", str(tmp_path))
    yield tmp_path
    for job in run_control.registry().jobs():
        job.stop()
        job.wait(30)
