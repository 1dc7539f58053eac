"""A person at the page: click the palette, drag between handles, wait for the app to settle."""
from __future__ import annotations

import time

from playwright.sync_api import FrameLocator, Page

CANVAS = 'iframe[title="streamlit_flow.streamlit_flow"]'


class App:
    def __init__(self, page: Page, url: str):
        self.page = page
        self.url = url

    def open(self, query: str = "") -> None:
        """Loads the page. The first page a server shows imports torch and the runtime: on a busy
        2-core machine that alone took 27 s, hence the generous wait."""
        self.page.goto(self.url + query)
        self.page.wait_for_selector(CANVAS, timeout=120_000)
        self.settle(timeout=60.0)

    def reload(self) -> None:
        self.page.reload()
        self.page.wait_for_selector(CANVAS, timeout=120_000)
        self.settle(timeout=60.0)

    @property
    def canvas(self) -> FrameLocator:
        return self.page.frame_locator(CANVAS)

    def settle(self, quiet: float = 0.8, timeout: float = 30.0) -> None:
        """Waits until no script run is in progress for `quiet` seconds (a click costs ~3 runs; a
        short run shows no status widget, but marks the elements it has not redrawn yet as stale)."""
        deadline = time.monotonic() + timeout
        calm_since = None
        while time.monotonic() < deadline:
            running = (self.page.locator('[data-testid="stStatusWidget"]').count() > 0
                       or self.page.locator('[data-stale="true"]').count() > 0)
            if running:
                calm_since = None
            elif calm_since is None:
                calm_since = time.monotonic()
            elif time.monotonic() - calm_since >= quiet:
                return
            time.sleep(0.1)
        raise TimeoutError("the app did not settle")

    def node(self, node_id: str):
        return self.canvas.locator(f'.react-flow__node[data-id="{node_id}"]')

    def node_text(self, node_id: str) -> str:
        return self.node(node_id).inner_text()

    def node_ids(self) -> list[str]:
        return self.canvas.locator(".react-flow__node").evaluate_all("els => els.map(e => e.dataset.id)")

    def add(self, layer_type: str) -> None:
        """Searches the palette for the layer, then clicks its entry."""
        sidebar = self.page.locator('[data-testid="stSidebar"]')
        search = sidebar.get_by_placeholder("conv, pool, attention…")
        if search.input_value() != layer_type:
            search.fill(layer_type)
            search.press("Enter")
            self.settle()
        sidebar.get_by_role("button", name=layer_type, exact=True).click()
        self.settle()

    def select(self, node_id: str) -> None:
        self.node(node_id).click()
        self.settle()

    def fit_view(self) -> None:
        """Presses the canvas's own "fit view" control, as a person does to see the whole graph."""
        self.canvas.locator(".react-flow__controls-fitview").click()
        time.sleep(0.3)

    def connect(self, source: str, target: str) -> None:
        """Drags from the source node's bottom handle to the target node's top handle."""
        start = self.canvas.locator(f'.react-flow__handle.source[data-nodeid="{source}"]').bounding_box()
        end = self.canvas.locator(f'.react-flow__handle.target[data-nodeid="{target}"]').bounding_box()
        mouse = self.page.mouse
        mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
        mouse.down()
        mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=15)
        mouse.up()
        self.settle()

    def edge_exists(self, source: str, target: str) -> bool:
        return self.canvas.locator(f'[data-testid="rf__edge-{source}->{target}"]').count() == 1

    def main(self):
        return self.page.locator('[data-testid="stMain"]')

    def set_field(self, label: str, value) -> None:
        """Types into the inspector's field for `label` (a number or a list like "1, 32, 32")."""
        field = self.main().get_by_label(label, exact=True)
        field.fill(str(value))
        field.press("Enter")
        self.settle()

    def click_button(self, name: str) -> None:
        self.main().get_by_role("button", name=name, exact=True).click()
        self.settle()

    def metric(self, label: str) -> str:
        box = self.main().locator('[data-testid="stMetric"]').filter(has_text=label)
        return box.locator('[data-testid="stMetricValue"]').inner_text()
