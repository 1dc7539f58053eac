"""The first page opened after the server starts: `streamlit run app.py` against `make app`'s launcher.

`python -m builder.serve` (what `make app` runs) imports torch and the panels, compiles a graph and
starts the runs' fork server on a background thread while the server comes up. This bench starts a
fresh server of each kind on its own data directory holding LeNet-5, waits for its health endpoint,
waits `--delay` seconds more (a person reading the URL off the terminal), then opens the project in
a new headless-Chromium context at 1280x800 twice: seconds from navigation to the first node drawn
on the canvas, for the first open and for the second (the warm figure). Variants interleaved;
medians over rounds.
Usage: .venv/bin/python bench/bench_first_open.py [--rounds 3] [--delay 5]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "e2e")]

from conftest import CHROMIUM, CHROMIUM_FLAGS, free_port  # noqa: E402  (the browser tests' harness)
from driver import CANVAS  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from runtime.graph import load_project  # noqa: E402
from runtime.store import Store  # noqa: E402

LAUNCHERS = {"streamlit run app.py": ["-m", "streamlit", "run", str(ROOT / "app.py")],
             "python -m builder.serve": ["-m", "builder.serve"]}


def seconds_to_first_node(browser, url: str) -> float:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        start = time.perf_counter()
        page.goto(url)
        page.frame_locator(CANVAS).locator(".react-flow__node").first.wait_for(timeout=60_000)
        return time.perf_counter() - start
    finally:
        context.close()


def one_start(browser, launcher: list[str], delay: float) -> tuple[float, float, float]:
    """Seconds until the server answers, to the first node on the first open, and on the second."""
    home = Path(tempfile.mkdtemp(prefix="lb-first-open-"))
    project_id, _ = Store(home).save_project(load_project(ROOT / "runtime" / "templates" / "lenet5.json"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    start = time.perf_counter()
    server = subprocess.Popen([sys.executable, *launcher, "--server.address", "127.0.0.1", "--server.port", str(port),
                               "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                              cwd=ROOT, env={**os.environ, "LAYERBOARD_HOME": str(home)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.05)
        up = time.perf_counter() - start
        time.sleep(delay)
        page = f"{url}/?project={project_id}"
        return up, seconds_to_first_node(browser, page), seconds_to_first_node(browser, page)
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--delay", type=float, default=5.0, help="seconds between the server answering and the open")
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in LAUNCHERS}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        for _ in range(args.rounds):
            for name, launcher in LAUNCHERS.items():
                results[name].append(one_start(browser, launcher, args.delay))
                up, first, second = results[name][-1]
                print(f"  {name:<24} server up {up:.2f} s, first open {first:.2f} s, second {second:.2f} s "
                      f"(load {os.getloadavg()[0]:.1f})", flush=True)
        browser.close()
    print(f"\nmedians over {args.rounds} rounds, opened {args.delay:g} s after the server answered:")
    for name, rows in results.items():
        up, first, second = (statistics.median(r[i] for r in rows) for i in range(3))
        print(f"  {name:<24} server up {up:.2f} s, first open {first:.2f} s, second open {second:.2f} s")


if __name__ == "__main__":
    main()
