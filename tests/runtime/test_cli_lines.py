"""runtime/cli/lines.py: lists and figures laid out for a narrow terminal."""
from runtime.cli.lines import figures, item_lines, wrap


def test_a_list_wider_than_the_terminal_cuts_its_lines_and_wraps_only_the_notes():
    header = ("name", "task", "size")
    rows = [("a_long_dataset_name", "classification", "40 train + 40 test series x 100 steps")]
    note = "sktime 1.2.0: sktime/data/Basic and\tmore words after a tab"
    lines = [line.plain for line in item_lines(header, rows, [note], 30, gives_way=2)]
    assert all(len(line) <= 30 for line in lines)
    assert lines[0].startswith("name") and lines[1].startswith("a_long_dataset_name  classif")
    assert lines[1].endswith("…") and " ".join(line.strip() for line in lines[2:]) == " ".join(note.split())


def test_figures_wrap_between_pairs_never_inside_one():
    text = "completed: trained 2 epochs. " + figures({"train/loss_epoch": 1.4751, "val/loss": 0.99213,
                                                    "val/acc": 0.84012, "test/acc": 0.829})
    for width in range(25, 90):
        lines = wrap(text, width)
        assert all(len(line) <= width for line in lines)
        assert " ".join(lines).split() == text.replace("\u00a0", " ").split()
        for line in lines:
            assert not line.endswith(("loss_epoch", "loss", "acc")) and not line[0].isdigit(), (width, lines)
