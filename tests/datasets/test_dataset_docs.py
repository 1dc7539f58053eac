"""docs/datasets.md keeps up with the registry: a section per dataset with its source, licence and citation."""
from pathlib import Path

import pytest

from runtime import datasets

DOC = (Path(__file__).resolve().parents[2] / "docs" / "datasets.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", list(datasets.DATASETS))
def test_every_dataset_has_a_documented_source_licence_and_citation(name):
    d = datasets.DATASETS[name]
    section = DOC.split(f"### `{name}`:", 1)[1].split("\n### ", 1)[0]
    assert f"**Source**: {d.source}" in section
    assert f"**Licence**: {d.licence}" in section
    assert f"**Cite**: {d.credits}" in section
    assert f"**Size**: {d.size}" in section
