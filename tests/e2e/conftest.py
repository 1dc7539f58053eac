"""Drives the real app in headless Chromium (see shared/notes/browser-testing.md).

`app_url` serves `streamlit run app.py` on 127.0.0.1 and a free port with its own data directory;
`page` opens it at 1280x800 and, when the test ends, fails on any Streamlit exception box or
console error. `shoot(name[, locator])` keeps a screenshot (of the page, or of one element) under
test-artifacts/e2e/<test>/.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """The app of this checkout (or of `root`, another one: a benchmark's baseline) served as `make app`
    serves it (`python -m builder.serve`: `streamlit run app.py` with a warm start; older checkouts,
    `streamlit run app.py`); restartable on the same data directory and port."""

    def __init__(self, home: Path, root: Path = ROOT):
        self.home, self.root = home, root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = home / "server.log"

    def start(self) -> None:
        env = {**os.environ, "LAYERBOARD_HOME": str(self.home), "PYTHONUNBUFFERED": "1"}
        launcher = (["-m", "builder.serve"] if (self.root / "builder" / "serve.py").exists()
                    else ["-m", "streamlit", "run", str(self.root / "app.py")])
        self.proc = subprocess.Popen(
            [sys.executable, *launcher, "--server.address", "127.0.0.1",
             "--server.port", str(self.port), "--server.headless", "true",
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
            cwd=self.root, env=env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("streamlit did not answer /_stcore/health within 60 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@pytest.fixture
def server(tmp_path):
    srv = AppServer(tmp_path)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.errors = errors
    folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.name)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    shots = iter(range(1, 1000))
    pg.shoot = lambda name, target=None: (target or pg).screenshot(path=str(folder / f"{next(shots):02d}-{name}.png"))
    yield pg
    try:
        pg.shoot("final")
        assert pg.locator('[data-testid="stException"]').count() == 0, "a Streamlit exception box is shown"
        assert not errors, f"browser console errors: {errors}"
    finally:
        context.close()
