"""Output that reads in an 80-column terminal: lists with a line per item and its long text (a run's
message, a dataset's source) wrapped in full below it, and figures never split from their names."""
from __future__ import annotations

import textwrap
from typing import Collection, Sequence

from rich.cells import cell_len
from rich.text import Text

GAP = "  "
NOTE_AT_LEAST = 20             # columns a note gets, less indented in a terminal too narrow for both
NAME_AND_FIGURE = "\u00a0"      # joins 'val/acc' to '0.8401': textwrap breaks lines at ASCII whitespace only


def item_lines(header: Sequence[str], rows: Sequence[Sequence[str | Text]], notes: Sequence[str], width: int, *,
               gives_way: int, right_aligned: Collection[int] = ()) -> list[Text]:
    """The header in bold, then a line per row with its note wrapped below it, indented past the first
    column. A note in a column of its own got a few characters' width in 80 columns and ran down 20 lines;
    here column `gives_way` narrows instead (its cells cut with '…') while the line is wider than `width`."""
    cells = [[Text(cell) if isinstance(cell, str) else cell for cell in row] for row in rows]
    widths = [max([cell_len(name), *(row[i].cell_len for row in cells)]) for i, name in enumerate(header)]
    spare = width - sum(widths) - len(GAP) * (len(widths) - 1)
    widths[gives_way] = max(min(widths[gives_way], widths[gives_way] + spare), cell_len(header[gives_way]))
    indent = " " * min(widths[0] + len(GAP), max(width - NOTE_AT_LEAST, 0))
    lines = [_line([Text(name, style="bold") for name in header], widths, right_aligned, width)]
    for row, note in zip(cells, notes):
        lines.append(_line(row, widths, right_aligned, width))
        paragraph = " ".join(note.split())        # torch's messages hold tabs and newlines
        lines += [Text(indent + part, style="dim") for part in wrap(paragraph, width - len(indent))]
    return lines


def _line(cells: Sequence[Text], widths: Sequence[int], right_aligned: Collection[int],
          line_width: int) -> Text:
    line = Text()
    for i, (cell, width) in enumerate(zip(cells, widths)):
        last = i == len(cells) - 1
        text = cell.copy()
        if i in right_aligned:
            text.pad_left(max(width - text.cell_len, 0))
        text.truncate(width, overflow="ellipsis", pad=not last)
        line.append_text(text)
        if not last:
            line.append(GAP)
    line.truncate(line_width, overflow="ellipsis")      # a terminal narrower still cuts the line, not wraps it
    return line


def wrap(text: str, width: int) -> list[str]:
    """`text` in lines of `width` at most, broken at spaces only: never inside a path with hyphens, nor
    between a figure and its name (`figures`); a word longer than a line is left for the terminal to fold."""
    return [line.replace(NAME_AND_FIGURE, " ")
            for line in textwrap.wrap(text, width, break_on_hyphens=False, break_long_words=False)]


def figures(values: dict[str, float]) -> str:
    """'val/loss 0.9921  val/acc 0.8401', each name tied to its figure for `wrap`."""
    return "  ".join(f"{name}{NAME_AND_FIGURE}{value:.4g}" for name, value in values.items())
