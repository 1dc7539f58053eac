"""The Projects menu's list: each saved project with when it was saved and its size."""
import time

from builder.project_menu import saved_facts
from runtime.store import ProjectInfo

NOW = time.mktime((2026, 12, 5, 14, 30, 0, 0, 0, -1))     # local time, as the list shows it


def entry(saved: tuple, nodes: int | None) -> ProjectInfo:
    at = time.mktime((*saved, 0, 0, -1))
    return ProjectInfo("p1", "Same name", at, at, 3, nodes)


def test_the_saved_lines_give_the_day_and_time_and_the_node_count():
    assert saved_facts(entry((2026, 12, 5, 9, 7, 0), 12), NOW) == ["today 09:07", "12 nodes"]
    assert saved_facts(entry((2026, 12, 4, 23, 59, 0), 1), NOW) == ["yesterday 23:59", "1 node"]
    assert saved_facts(entry((2026, 3, 1, 8, 0, 0), 0), NOW) == ["1 Mar 08:00", "no nodes"]
    assert saved_facts(entry((2025, 12, 24, 8, 0, 0), 5), NOW) == ["24 Dec 2025", "5 nodes"]
    assert saved_facts(entry((2026, 12, 5, 9, 7, 0), None), NOW) == ["today 09:07"]   # a body that is not JSON
