"""The builder in a real browser: time to an interactive page, and canvas event -> updated shapes.

Serves `streamlit run app.py` as the browser tests do (tests/e2e), opens ResNet-18 (71 nodes,
tests/fixtures/reference/resnet18.json) and, interleaved, LeNet-5 (14 nodes, the template) in
headless Chromium at 1280x800, and measures:
- open: navigation start -> first node drawn on the canvas -> page idle (no script run for 0.8 s);
- change: a node deleted with the canvas's node menu (the first max-pool, pool1, so every later
  shape grows) -> the new shape shown on a downstream node (conv2). Both ends are taken inside the
  canvas's frame (performance.now() of the click, and of the DOM mutation that shows the new
  text), so the figure is what a person sees, without the test driver's own latency;
- the same change once more under a Chrome trace: the CPU time of the page's main thread (the
  canvas's frame shares it) from the click to the new state in the frame, and from there to the
  new shape shown. CPU time, unlike wall time, barely moves with the load of a shared machine.
With --baseline DIR, the same runs against another checkout of the app too (e.g. one made with
`git worktree add /tmp/base HEAD~1`), served beside this one on the same data directory, the two
alternating in each round: an A/B on the same machine at the same load.
Usage: .venv/bin/python bench/bench_canvas.py [--rounds 5] [--baseline DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "e2e")]

from conftest import CHROMIUM, CHROMIUM_FLAGS, AppServer  # noqa: E402  (the browser tests' harness)
from driver import CANVAS, App  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

WATCH = """([nodeId, text]) => {
  window.__bench = {};
  const note = (what) => { if (window.__bench[what] === undefined) {
    window.__bench[what] = performance.now(); performance.mark(`bench-${what}`); } };
  document.addEventListener('click', () => note('click'), true);
  window.addEventListener('message', (m) => {
    if (window.__bench.click !== undefined && m.data && m.data.type === 'streamlit:render') note('args');
  });
  new MutationObserver(() => {     // attributes too: React Flow shows a measured node by its style
    const node = document.querySelector(`.react-flow__node[data-id="${nodeId}"]`);
    if (node && node.innerText.includes(text)) note('shown');
  }).observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
}"""
TRACE_CATEGORIES = ["devtools.timeline", "disabled-by-default-devtools.timeline", "blink.user_timing"]


def open_page(app: App) -> tuple[float, float]:
    """Seconds from navigation to the first drawn node, and to an idle page."""
    start = time.perf_counter()
    app.page.goto(app.url)
    app.page.frame_locator(CANVAS).locator(".react-flow__node").first.wait_for(timeout=60_000)
    drawn = time.perf_counter() - start
    app.settle()
    return drawn, time.perf_counter() - start - 0.8     # settle() waits 0.8 s of quiet after the last run


def change(app: App, new_shape: str, trace: Path | None = None) -> tuple[float, float]:
    """Milliseconds from the node-menu click that deletes pool1 to conv2's new shape on screen, and
    from that click to the new canvas state arriving in the canvas's frame (the server's part).
    With `trace`, the change runs under a Chrome trace written there."""
    frame = app.page.frame(url=lambda u: "streamlit_flow" in u)
    app.node("pool1").wait_for()
    app.settle()
    frame.evaluate(WATCH, ["conv2", new_shape])
    if trace:
        app.page.context.browser.start_tracing(page=app.page, path=str(trace), categories=TRACE_CATEGORIES)
    app.node("pool1").click(button="right")
    app.canvas.get_by_role("button", name="Delete Node").click()
    frame.wait_for_function("() => window.__bench.shown !== undefined", timeout=30_000)
    if trace:
        app.page.context.browser.stop_tracing()
    t = frame.evaluate("() => [window.__bench.shown - window.__bench.click, window.__bench.args - window.__bench.click]")
    app.settle()
    app.click_button("Undo")
    app.node("pool1").wait_for()
    return t


def main_thread_cpu(trace: Path) -> tuple[float, float]:
    """CPU milliseconds of the main thread that ran the canvas's frame: click -> new state in the
    frame, and new state -> shape shown (the browser's drawing)."""
    events = json.loads(trace.read_text())
    events = events["traceEvents"] if isinstance(events, dict) else events
    marks = {}
    for e in events:
        if e.get("name", "").startswith("bench-"):
            marks.setdefault(e["name"], e)
    click = marks["bench-click"]
    tasks = [e for e in events if e.get("name") == "RunTask" and e.get("ph") == "X"
             and (e.get("pid"), e.get("tid")) == (click["pid"], click["tid"])]

    def cpu(start: float, end: float) -> float:
        return sum(e.get("tdur", 0) for e in tasks if start <= e["ts"] < end) / 1000

    args, shown = marks["bench-args"]["ts"], marks["bench-shown"]["ts"]
    return cpu(click["ts"] - 5_000, args), cpu(args, shown)    # the click's own task began just before its mark


GRAPHS = {   # name: (project file, conv2's shape once pool1 is gone)
    "ResNet-18 (71 nodes)": ("tests/fixtures/reference/resnet18.json", "64×112×112"),
    "LeNet-5 (14 nodes)": ("runtime/templates/lenet5.json", "16×24×24"),
}


def report(name: str, opens: list, changes: list, cpu: list) -> str:
    warm, shown = opens[1:] or opens, [c[0] for c in changes]
    return (f"{name}: later opens -> first node drawn {statistics.median(o[0] for o in warm):.2f} s, "
            f"page idle {statistics.median(o[1] for o in warm):.2f} s (goal: interactive within 4 s); "
            f"canvas event -> updated shapes shown {statistics.median(shown):.0f} ms (goal 200 ms; all: "
            f"{', '.join(f'{c:.0f}' for c in shown)}), of which the new state reached the canvas after "
            f"{statistics.median(c[1] for c in changes):.0f} ms; main-thread CPU (traced): click -> new "
            f"state {statistics.median(c[0] for c in cpu):.0f} ms, new state -> shown "
            f"{statistics.median(c[1] for c in cpu):.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--baseline", type=Path, help="another checkout of the app, measured alternately")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="layerboard-bench-"))
    os.environ["LAYERBOARD_HOME"] = str(home)
    from builder.projects import store
    from runtime.graph import load_project
    ids = {name: store().save_project(load_project(ROOT / path))[0] for name, (path, _) in GRAPHS.items()}
    roots = {"this checkout": ROOT, **({"baseline": args.baseline.resolve()} if args.baseline else {})}
    servers = {variant: AppServer(home, root) for variant, root in roots.items()}
    runs = [(variant, name) for variant in roots for name in GRAPHS]
    opens, changes, cpu = ({run: [] for run in runs} for _ in range(3))
    loads = [os.getloadavg()[0]]
    try:
        for server in servers.values():
            server.start()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            for round_ in range(args.rounds):
                variants = list(roots)[round_ % len(roots):] + list(roots)[:round_ % len(roots)]
                for name, (_, new_shape) in GRAPHS.items():       # interleaved
                    for variant in variants:
                        context = browser.new_context(viewport={"width": 1280, "height": 800})
                        app = App(context.new_page(), f"{servers[variant].url}/?project={ids[name]}")
                        opens[variant, name].append(open_page(app))
                        changes[variant, name].append(change(app, new_shape))
                        change(app, new_shape, home / "trace.json")
                        cpu[variant, name].append(main_thread_cpu(home / "trace.json"))
                        context.close()
                loads.append(os.getloadavg()[0])
            browser.close()
    finally:
        for server in servers.values():
            server.stop()
    print(f"{args.rounds} rounds, graphs interleaved; the first open of all came right after the server started; "
          f"load average (1 min) {', '.join(f'{load:.1f}' for load in loads)} at the start and after each round "
          f"(2 cores)")
    first = next(iter(GRAPHS))
    print(f"first open after server start -> first node drawn: {opens['this checkout', first][0][0]:.2f} s")
    for variant, name in runs:
        label = name if len(roots) == 1 else f"{variant} ({roots[variant]}), {name}"
        print(report(label, opens[variant, name], changes[variant, name], cpu[variant, name]))
    names = list(GRAPHS)
    ratio = (statistics.median(c[0] for c in changes["this checkout", names[0]])
             / statistics.median(c[0] for c in changes["this checkout", names[1]]))
    print(f"{names[0]} / {names[1]}, canvas event -> shapes shown: {ratio:.2f}x")


if __name__ == "__main__":
    main()
