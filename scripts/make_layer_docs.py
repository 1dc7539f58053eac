"""Writes docs/layers.md from the layer catalog: python scripts/make_layer_docs.py
(tests/runtime/test_docs.py fails when the file is out of date)."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from runtime.layers import FAMILIES, LAYERS  # noqa: E402


def render() -> str:
    lines = ["# Layer reference", "",
             "Generated from the layer catalog (`runtime/layers/`) by `scripts/make_layer_docs.py`.",
             "Shapes are per sample, without the batch dimension. Sizes that follow from the input",
             "are inferred and never typed. Parameters marked *advanced* are folded away for beginners.", ""]
    for family in FAMILIES:
        lines += [f"## {family}", ""]
        for layer in (l for l in LAYERS.values() if l.family == family):
            lo, hi = layer.inputs
            arity = f"{lo}" if lo == hi else f"{lo} to {hi}"
            lines += [f"### {layer.type}", "", layer.doc, "", f"Inputs: {arity}.", ""]
            if layer.params:
                lines += ["| parameter | default | accepts | meaning |", "|---|---|---|---|"]
                for p in layer.params:
                    default = f"`{p.default!r}`".replace("'", '"')
                    note = " *(advanced)*" if p.advanced else ""
                    lines.append(f"| `{p.name}` | {default} | {p.accepts()} | {p.help}{note} |")
                lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    (ROOT / "docs" / "layers.md").write_text(render(), encoding="utf-8")
