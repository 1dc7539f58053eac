"""`make app`: `streamlit run app.py` with a warm start.

A fresh server spends seconds on the first page anyone opens: importing torch, Streamlit's
elements and the builder, the compiler's first shape inference (torch's meta kernels load lazily),
and starting the job registry's fork server. Here a background thread does that work while the
server comes up, so the first page opens as fast as the later ones. A page opened before the
thread is done waits for the same imports (Python imports each module once), never for more.

Usage: python -m builder.serve [streamlit run options, e.g. --server.port 8501]
"""
from __future__ import annotations

import sys
import threading
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app.py"
WARM_TEMPLATE = APP.parent / "runtime" / "templates" / "lenet5.json"


def warm_up() -> None:
    """Everything the first page needs but the canvas component: that one registers its files with
    the server only when imported during a page's script run, so the page imports it itself."""
    import torch

    torch.set_num_threads(1)                  # as app.py: one torch thread inside the server
    import pandas  # noqa: F401
    import plotly.graph_objects  # noqa: F401  (the charts; imported when a chart is first drawn)
    import pyarrow  # noqa: F401  (Streamlit serializes tables with it: the dataset preview)

    # the page's panels (only builder.canvas, and builder.page through it, import the component)
    from builder import inspector, node_card, palette, project_menu, run_control, summary, training_area  # noqa: F401
    from runtime.graph import load_project
    from runtime.projects import compile_project

    compile_project(load_project(WARM_TEMPLATE))
    run_control.registry()                    # starts the fork server the runs are forked from


def _warm_up_quietly() -> None:
    """The warm-up only saves time: when it fails (say the data directory cannot be written), the first
    page does the same work and explains the problem in the page, so here one line is enough."""
    try:
        warm_up()
    except Exception as e:                    # noqa: BLE001  (any failure: the page meets it again)
        print(f"Layerboard: warm-up skipped ({type(e).__name__}: {e}); the first page does it instead.",
              file=sys.stderr, flush=True)


def main() -> None:
    from streamlit.web import cli

    threading.Thread(target=_warm_up_quietly, name="warm-up", daemon=True).start()
    sys.argv = ["streamlit", "run", str(APP), *sys.argv[1:]]
    cli.main(prog_name="streamlit")


if __name__ == "__main__":
    main()
