"""A person training in the browser: open a template, set a setting, press Train, read the charts."""
from __future__ import annotations

import json
import re
import time

from playwright.sync_api import Error as PlaywrightError

from driver import CANVAS, App

TABS = '[data-testid="stTabs"]'


class TrainApp(App):
    def open(self, query: str = "") -> None:
        """Opens the page without waiting for quiet: a fresh session opens the latest project, which
        may be another page's, with a live run refreshing it every second."""
        self.page.goto(self.url + query)
        self.page.wait_for_selector(CANVAS, timeout=30_000)
        self.main().get_by_role("button", name="Templates").wait_for(timeout=30_000)

    def open_template(self, stem: str) -> None:
        """Opens the template of that file name (runtime/templates/<stem>.json) from the gallery."""
        # The header bar overlaps the top row of buttons: reach the button with the keyboard.
        self.main().get_by_role("button", name="Templates").focus()
        self.page.keyboard.press("Enter")
        gallery = self.page.locator('[data-testid="stPopoverBody"]')
        gallery.locator(f".st-key-template_{stem} button").click()
        self.settle()

    def tab(self, name: str, settle: bool = True) -> None:
        """Opens a tab; `settle=False` while a run refreshes the page (it never goes quiet then)."""
        tab = self.page.locator(TABS).get_by_role("tab", name=name, exact=True)
        tab.click()
        self.wait_for(lambda: tab.get_attribute("aria-selected") == "true", 10, f"the {name} tab")
        if settle:
            self.settle()

    def reload(self) -> None:
        self.page.reload()
        self.page.wait_for_selector(CANVAS, timeout=30_000)

    def panel(self):
        """The visible tab panel."""
        return self.page.locator('[data-testid="stTabs"] [role="tabpanel"]:visible')

    def set_setting(self, label: str, value) -> None:
        box = self.panel().get_by_label(label, exact=True)
        box.fill(str(value))
        box.press("Enter")
        self.settle()

    def add_live(self, layer_type: str) -> None:
        """Adds a layer from the palette while a run refreshes the page every second (so the page never
        goes quiet for `settle`): waits for the new node on the canvas instead."""
        before = set(self.node_ids())
        sidebar = self.page.locator('[data-testid="stSidebar"]')
        search = sidebar.get_by_placeholder("conv, pool, attention…")
        search.fill(layer_type)
        search.press("Enter")
        sidebar.get_by_role("button", name=layer_type, exact=True).click()
        self.wait_for(lambda: set(self.node_ids()) - before, 30, f"a new {layer_type} node on the canvas")

    def press(self, name: str, settle: bool = True) -> None:
        """Clicks a button of the visible tab. A DOM click: the page scrolls inside its main area, and
        a button scrolled near the top sits under Streamlit's header bar, which takes mouse clicks."""
        self.panel().get_by_role("button", name=name, exact=True).dispatch_event("click")
        if settle:
            self.settle()

    def wait_for(self, condition, timeout: float = 60.0, what: str = "the condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.25)
        raise TimeoutError(f"waited {timeout:.0f} s for {what}")

    def chart_last_step(self, title: str, trace: int = 0) -> int:
        """The last step (x) the first trace of the Plotly chart titled `title` reaches, 0 when empty
        (the furthest one while a redraw briefly shows the old chart beside the new)."""
        charts = self.panel().locator(".js-plotly-plot")
        counts = [0]
        for i in range(charts.count()):
            try:
                found = json.loads(charts.nth(i).evaluate(
                    "e => JSON.stringify({title: (e._fullLayout && e._fullLayout.title && e._fullLayout.title.text)"
                    " || '', n: (e.data || []).map(t => (t.x && t.x.length) ? t.x[t.x.length - 1] : 0)})",
                    timeout=2000))
            except PlaywrightError:        # the chart was redrawn while being read
                continue
            if re.sub(r"<[^>]+>", "", found["title"]) == title and len(found["n"]) > trace:
                counts.append(found["n"][trace])
        return max(counts)

    def _text(self, locator) -> str:
        try:
            return locator.first.inner_text(timeout=2000) if locator.count() else ""
        except PlaywrightError:            # redrawn by the live view while being read
            return ""

    def progress_text(self) -> str:
        return self._text(self.panel().locator('[data-testid="stProgress"]'))

    def status_line(self) -> str:
        """`run 1 · running`: the bold line above the live charts."""
        return self._text(self.panel().locator('[data-testid="stMarkdownContainer"]')
                          .filter(has_text=re.compile(r"^run \d")))

    def draw(self, points: list[tuple[float, float]]) -> None:
        """Draws one stroke through `points` (fractions of the drawing pad) on the playground's pad."""
        pad = self.panel().locator("canvas").last
        pad.wait_for(state="visible", timeout=30_000)
        pad.scroll_into_view_if_needed()
        self.page.wait_for_timeout(500)                # the pad's script binds its mouse handlers
        box = pad.bounding_box()
        at = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
        mouse = self.page.mouse
        mouse.move(*at[0])
        mouse.down()
        for x, y in at[1:]:
            mouse.move(x, y, steps=10)
        mouse.up()
        self.settle()

    def download(self, button: str) -> bytes:
        """Clicks a download button in the visible tab and returns the file's bytes."""
        with self.page.expect_download() as info:
            self.panel().get_by_role("button", name=button, exact=True).click()
        return open(info.value.path(), "rb").read()

    def show(self, locator) -> None:
        """Scrolls `locator` into view (the page scrolls inside the main area, so screenshots need it)."""
        locator.first.scroll_into_view_if_needed()
