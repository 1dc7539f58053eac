"""docs/layers.md is generated from the catalog and must not fall behind it."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_layer_reference_is_up_to_date():
    spec = importlib.util.spec_from_file_location("make_layer_docs", ROOT / "scripts" / "make_layer_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (ROOT / "docs" / "layers.md").read_text(encoding="utf-8") == module.render(), \
        "docs/layers.md is stale: run python scripts/make_layer_docs.py"
