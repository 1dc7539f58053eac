"""Training throughput with the page open and its charts refreshing every second, against the
headless CLI on the same project (LeNet-5 on MNIST, one torch thread each, as the app uses). The
app trains each run in its own process (runtime/job_worker.py), beside the server that serves the page.

Variants are interleaved (cli, page, cli, page, ...). Each run's throughput is the median of its
epochs' `samples_per_s` (the trainer's own figure: samples over the seconds spent in the training
loop) and its wall time from start to end as the store recorded it. It also reports the CPU that
the training process (the CLI's, or the run's own process under the app), the server process (its
own threads) and Chromium used while it ran, each as a share of one core (Linux /proc): on a busy
machine, throughput over that share tells the training's own speed from the CPU it was given.

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

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the live processes `pids` have used so far (threads included)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])          # utime, stime
    return total / TICKS


def descendants(root: int) -> list[int]:
    """The live processes below `root`."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError):
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def chromium(root: int) -> list[int]:
    """Chromium's processes below `root` (Playwright starts them)."""
    found = []
    for pid in descendants(root):
        try:
            if "chrom" in Path(f"/proc/{pid}/comm").read_text():
                found.append(pid)
        except FileNotFoundError:
            continue
    return found


def figures(home: Path, run_id: str | None = None) -> tuple[float, float]:
    """(median samples/s over epochs, wall seconds) of a run (the latest one in `home` by default)."""
    store = Store(home)
    info = store.run(run_id) if run_id else store.list_runs()[-1]
    speeds = [v for _, v in store.metrics(info.id, ["samples_per_s"]).get("samples_per_s", [])]
    store.close()
    return statistics.median(speeds), info.ended - info.started


def cli_run(home: Path, project: Path, epochs: int, batch_size: int) -> tuple[float, float, float]:
    """(samples/s, wall seconds, the share of a core the CLI's process used) of a headless run."""
    env = {**os.environ, "LAYERBOARD_HOME": str(home)}
    cli = subprocess.Popen([sys.executable, "-m", "runtime", "train", str(project), "--threads", "1", "--jsonl",
                            "--epochs", str(epochs), "--batch-size", str(batch_size)],
                           cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    samples = []                                          # (wall, CPU seconds) while it runs
    while cli.poll() is None:
        samples.append((time.perf_counter(), cpu_seconds([cli.pid])))
        time.sleep(0.25)
    if cli.returncode:
        raise RuntimeError(f"the CLI run failed with exit code {cli.returncode}")
    return (*figures(home), (samples[-1][1] - samples[0][1]) / (samples[-1][0] - samples[0][0]))


def page_run(browser, server: AppServer, epochs: int, batch_size: int) -> tuple[float, ...]:
    """(samples/s, wall seconds, and the shares of a core that the server, Chromium and the run's
    process used) of a run trained from the page."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        app = TrainApp(context.new_page(), server.url)
        app.open()
        app.open_template("lenet5")
        app.tab("Data & training")
        app.set_setting("epochs", epochs)
        app.set_setting("batch size", batch_size)
        browsers = chromium(os.getpid())
        workers = set(descendants(server.proc.pid))          # the fork server and its helpers
        before = time.perf_counter(), cpu_seconds([server.proc.pid]), cpu_seconds(browsers)
        app.press("Train", settle=False)
        app.show(app.panel().locator('[data-testid="stProgress"]'))     # charts in view, refreshing
        run_cpu: list[tuple[float, float]] = []                # (wall, CPU seconds) of the run's process

        def completed() -> bool:
            run = [p for p in descendants(server.proc.pid) if p not in workers]
            if run:
                run_cpu.append((time.perf_counter(), cpu_seconds(run)))
            return "completed" in app.status_line()
        app.wait_for(completed, 600, "the run to complete")
        seconds = time.perf_counter() - before[0]
        shares = ((cpu_seconds([server.proc.pid]) - before[1]) / seconds,
                  (cpu_seconds(browsers) - before[2]) / seconds,
                  (run_cpu[-1][1] - run_cpu[0][1]) / (run_cpu[-1][0] - run_cpu[0][0]))
        url = app.page.url
    finally:
        context.close()
    project_id = url.split("project=")[1].split("&")[0]
    store = Store(server.home)
    run_id = store.list_runs(project_id)[-1].id
    store.close()
    return (*figures(server.home, run_id), *shares)


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
    results: dict[str, list[tuple[float, ...]]] = {"cli": [], "page": []}
    loads = [os.getloadavg()[0]]
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            for r in range(args.rounds):
                results["cli"].append(cli_run(work / f"cli{r}", project, args.epochs, args.batch_size))
                results["page"].append(page_run(browser, server, args.epochs, args.batch_size))
                loads.append(os.getloadavg()[0])
                page = results["page"][-1]
                cli = results["cli"][-1]
                print(f"round {r + 1}: cli {cli[0]:,.0f} samples/s (CPU share of a core {cli[2]:.0%}), "
                      f"page {page[0]:,.0f} samples/s "
                      f"(CPU share of a core: run {page[4]:.0%}, server {page[2]:.0%}, Chromium {page[3]:.0%}), load average {loads[-1]:.1f}",
                      flush=True)
            browser.close()
    finally:
        server.stop()
    speed = {k: statistics.median(r[0] for r in v) for k, v in results.items()}
    wall = {k: statistics.median(r[1] for r in v) for k, v in results.items()}
    page_cpu = {name: statistics.median(r[i] for r in results["page"])
                for i, name in ((4, "run"), (2, "server"), (3, "chromium"))}
    cli_cpu = statistics.median(r[2] for r in results["cli"])
    print(json.dumps({"rounds": args.rounds, "epochs": args.epochs, "batch_size": args.batch_size,
                      "samples_per_s": speed, "wall_s": wall, "cli_cpu_share_of_a_core": cli_cpu,
                      "page_cpu_share_of_a_core": page_cpu,
                      "load_average_1min": [round(x, 1) for x in loads]}, indent=1))
    print(f"page / cli throughput: {speed['page'] / speed['cli']:.2f}x "
          f"(wall time cli / page: {wall['cli'] / wall['page']:.2f}x); per CPU second of the training "
          f"process: {speed['page'] / page_cpu['run'] / (speed['cli'] / cli_cpu):.2f}x")


if __name__ == "__main__":
    main()
