"""`make app`'s launcher (builder/serve.py): what its warm-up may and may not do before a page runs."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, sys
from builder import serve
serve.warm_up()
from builder import run_control
print(json.dumps({"modules": sorted(m for m in sys.modules if m.split(".")[0] in ("streamlit_flow", "torch", "plotly")
                                    and "." not in m),
                  "warm_registry": run_control._registry.cache_info().currsize}))
"""


def test_the_warm_up_imports_the_heavy_parts_but_not_the_canvas_component(tmp_path):
    # The component registers its files with the server only when it is imported during a page's
    # script run: imported by the warm-up thread, the page would get a 404 for the canvas.
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"LAYERBOARD_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.splitlines()[-1])
    assert found["modules"] == ["plotly", "torch"]
    assert found["warm_registry"] == 1          # the runs' fork server is started


def test_a_failing_warm_up_is_one_line_not_a_traceback(tmp_path):
    not_a_folder = tmp_path / "home"
    not_a_folder.write_text("a file where the data directory should be")
    done = subprocess.run([sys.executable, "-c", "from builder import serve; serve._warm_up_quietly()"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120,
                          env={"LAYERBOARD_HOME": str(not_a_folder), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0
    assert "warm-up skipped (FileExistsError" in done.stderr and "Traceback" not in done.stderr
