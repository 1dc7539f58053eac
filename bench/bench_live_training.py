"""Training throughput with the page open and its charts refreshing every second, against the
headless CLI on the same project (LeNet-5 on MNIST, one torch thread each, as the app uses).

Variants are interleaved (cli, page, cli, page, ...). Each run's throughput is the median of its
epochs' `samples_per_s` (the trainer's own figure: samples over the seconds spent in the training
loop) and its wall time from start to end as the store recorded it.

    .venv/bin/python bench/bench_live_training.py [--rounds 3] [--epochs 6] [--batch-size 64]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "e2e")]

from conftest import CHROMIUM, CHROMIUM_FLAGS, AppServer   # noqa: E402  the browser tests' server
from playwright.sync_api import sync_playwright            # noqa: E402
from train_driver import TrainApp                          # noqa: E402

from runtime.store import Store                            # noqa: E402

LENET5 = 1


def figures(home: Path, run_id: str | None = None) -> tuple[float, float]:
    """(median samples/s over epochs, wall seconds) of a run (the latest one in `home` by default)."""
    store = Store(home)
    info = store.run(run_id) if run_id else store.list_runs()[-1]
    speeds = [v for _, v in store.metrics(info.id, ["samples_per_s"]).get("samples_per_s", [])]
    store.close()
    return statistics.median(speeds), info.ended - info.started


def cli_run(home: Path, project: Path, epochs: int, batch_size: int) -> tuple[float, float]:
    env = {**os.environ, "LAYERBOARD_HOME": str(home)}
    subprocess.run([sys.executable, "-m", "runtime", "train", str(project), "--threads", "1", "--jsonl",
                    "--epochs", str(epochs), "--batch-size", str(batch_size)],
                   cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return figures(home)


def page_run(browser, server: AppServer, epochs: int, batch_size: int) -> tuple[float, float]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        app = TrainApp(context.new_page(), server.url)
        app.open()
        app.open_template(LENET5)
        app.tab("Data & training")
        app.set_setting("epochs", epochs)
        app.set_setting("batch size", batch_size)
        app.press("Train", settle=False)
        app.show(app.panel().locator('[data-testid="stProgress"]'))     # charts in view, refreshing
        app.wait_for(lambda: "completed" in app.status_line(), 600, "the run to complete")
        url = app.page.url
    finally:
        context.close()
    project_id = url.split("project=")[1].split("&")[0]
    store = Store(server.home)
    run_id = store.list_runs(project_id)[-1].id
    store.close()
    return figures(server.home, run_id)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_live_"))
    project = ROOT / "runtime" / "templates" / "lenet5.json"
    server = AppServer(work / "app")
    (work / "app").mkdir()
    server.start()
    results: dict[str, list[tuple[float, float]]] = {"cli": [], "page": []}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            for r in range(args.rounds):
                results["cli"].append(cli_run(work / f"cli{r}", project, args.epochs, args.batch_size))
                results["page"].append(page_run(browser, server, args.epochs, args.batch_size))
                print(f"round {r + 1}: cli {results['cli'][-1][0]:,.0f} samples/s, "
                      f"page {results['page'][-1][0]:,.0f} samples/s", flush=True)
            browser.close()
    finally:
        server.stop()
    speed = {k: statistics.median(s for s, _ in v) for k, v in results.items()}
    wall = {k: statistics.median(w for _, w in v) for k, v in results.items()}
    print(json.dumps({"rounds": args.rounds, "epochs": args.epochs, "batch_size": args.batch_size,
                      "samples_per_s": speed, "wall_s": wall}, indent=1))
    print(f"page / cli throughput: {speed['page'] / speed['cli']:.2f}x "
          f"(wall time cli / page: {wall['cli'] / wall['page']:.2f}x)")


if __name__ == "__main__":
    main()
