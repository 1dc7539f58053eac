"""Export: a verified ONNX file (with its verification figures and a passed/failed badge), a bundle zip,
the PyTorch code and the weights, each a download button. The trained run's weights are used when
there is one; otherwise the weights of the ONNX model the project was imported from, while they fit
the graph (runtime/initial_weights.py); otherwise freshly initialized weights."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st
from safetensors.torch import save as safetensors_bytes

from builder import markdown, run_control, trained_model
from builder.projects import file_stem, store
from builder.workspace import Workspace
from runtime import initial_weights
from runtime.codegen import generate
from runtime.compiler import Compiled
from runtime.graph import Project
from runtime.onnx.bundle import build_bundle
from runtime.onnx.errors import OnnxError
from runtime.onnx.project_export import VerifiedExport, export_project
from runtime.projects import compile_project

RESULT_KEY = "onnx_export"      # (source key, Exported or the error), kept across reruns


@dataclass
class Source:
    """What is exported: a project version, its compiled graph and (when trained) its weights."""
    key: str
    label: str
    project: Project
    compiled: Compiled
    weights: dict[str, Any] | None
    problem: str | None = None    # why the run's trained weights are not the ones exported


def source_for(ws: Workspace, run_id: str | None) -> Source:
    """The run's trained model when it has a checkpoint and is not training, else the canvas's graph (with
    its imported weights while they fit)."""
    job = run_control.registry().job(run_id) if run_id else None
    problem = None
    if run_id is not None and not (job is not None and job.live):
        try:
            # A run that diverged before its first checkpoint: the latest earlier run's trained weights.
            trained = trained_model.load(store(), trained_model.with_weights(store(), run_id) or run_id)
            project = trained.project.copy()          # as the run trained it: its dataset and settings
            project.dataset, project.training = dict(trained.run.dataset), dict(trained.run.config)
            return Source(f"{trained.run.id}:{trained.checkpoint.stem}:{trained.checkpoint.stat().st_mtime_ns}",
                          f"trained weights of {trained.run.name} ({trained.checkpoint.stem})",
                          project, trained.compiled, trained.weights())
        except trained_model.NotTrainedYet:
            pass
        except (ValueError, LookupError) as e:      # its data, graph or checkpoint is gone or does not fit
            problem = f"Run {run_id} cannot be loaded ({e}), so this exports the graph on the canvas."
    compiled = compile_project(ws.project)
    kept = initial_weights.find(store(), ws.project_id)
    if kept is not None and kept.fit(compiled):
        return Source(f"graph:{ws.token}:{ws.revision}:{kept.path}",
                      f"the graph on the canvas with the weights imported from {kept.source}",
                      ws.project, compiled, kept.weights, problem)
    fresh = "untrained (fresh weights)" if kept is None else \
        f"with fresh weights (those imported from {kept.source} no longer fit the edited graph)"
    return Source(f"graph:{ws.token}:{ws.revision}", f"the graph on the canvas, {fresh}", ws.project, compiled, None,
                  problem)


WEIGHTS_DOWNLOADED = "Layerboard's Export tab's other download (Weights), to keep beside this file."
WEIGHTS_NOT_YET = ("offered on Layerboard's Export tab (Weights) once the project has trained; this code was "
                   "exported untrained.")


def _classifier(compiled: Compiled) -> bool:
    return compiled.spec is not None and compiled.spec.task == "classification" and \
        (compiled.spec.output_size or 0) > 1


@dataclass
class Exported:
    onnx: VerifiedExport
    bundle: bytes | None          # None without a dataset: the bundle's train.py needs one


def export(source: Source) -> Exported:
    """Exports and verifies once; with a dataset, also the runnable bundle around that same file (runtime's
    build_bundle). A classifier's file outputs class probabilities."""
    probabilities = _classifier(source.compiled)
    if not source.project.dataset.get("name"):
        return Exported(export_project(source.project, source.compiled, source.weights,
                                       probabilities=probabilities), None)
    data, exported = build_bundle(source.project, source.weights, probabilities=probabilities)
    return Exported(exported, data)


def _export(source: Source) -> None:
    try:
        st.session_state[RESULT_KEY] = (source.key, export(source))
    except (OnnxError, ValueError) as e:          # ExportFailed, VerificationFailed, settings problems
        st.session_state[RESULT_KEY] = (source.key, e)


def show(ws: Workspace, run_id: str | None) -> None:
    source = source_for(ws, run_id)
    if source.problem:
        st.warning(markdown.escape(source.problem))
    st.markdown(f"Exports **{markdown.escape(source.label)}**.")
    if not source.compiled.ok:
        st.warning("The graph has errors: fix them (see the model summary) to export it.")
        return
    if _classifier(source.compiled) and source.compiled.final_activation is None:
        st.caption("The ONNX file outputs class probabilities (softmax applied); the PyTorch code returns the "
                   "raw scores (logits) it trained on: `torch.softmax(model(x), dim=-1)` gives the same numbers.")
    stem = file_stem(source.project, unnamed="model")
    onnx_col, files_col = st.columns([1.4, 1])
    with onnx_col:
        st.button("Export ONNX", key="export_onnx", type="primary", on_click=_export, args=(source,))
        kept = st.session_state.get(RESULT_KEY)
        if kept is not None and kept[0] == source.key:
            _show_result(source, kept[1], stem)
    with files_col:
        code = generate(source.compiled, source.project.name, weights_file=f"{stem}.safetensors",
                        weights_origin=WEIGHTS_DOWNLOADED if source.weights is not None else WEIGHTS_NOT_YET)
        st.download_button("PyTorch code (.py)", code, file_name=f"{stem}.py", mime="text/x-python",
                           key="download_code", width="stretch")
        if source.weights is not None:
            st.download_button("Weights (.safetensors)", safetensors_bytes(source.weights),
                               file_name=f"{stem}.safetensors", mime="application/octet-stream",
                               key="download_weights", width="stretch")
    with st.expander("See the code"):           # the width of the tab: in the right column lines were cut
        st.code(code, language="python", wrap_lines=True)


def _show_result(source: Source, result: Any, stem: str) -> None:
    if isinstance(result, Exported):
        v = result.onnx.verification
        badge = ":green-badge[verified: passed]" if v.passed else ":red-badge[verification: FAILED]"
        st.markdown(f"{badge} {markdown.escape(v.summary())}")
        cols = st.columns(3)
        cols[0].metric("max abs difference", f"{v.max_abs_diff:.2e}")
        cols[1].metric("max rel difference", f"{v.max_rel_diff:.2e}")
        cols[2].metric("tolerance", f"{v.tolerance:g}")
        st.download_button("Download ONNX (.onnx)", result.onnx.data, file_name=f"{stem}.onnx",
                           mime="application/octet-stream", key="download_onnx", type="primary")
        if result.bundle is not None:
            st.download_button("Download bundle (.zip)", result.bundle, file_name=f"{stem}.zip",
                               mime="application/zip", key="download_bundle",
                               help="model.onnx, model.py, weights, train.py with this run's settings, "
                                    "the data, and a README")
    else:
        figures = getattr(result, "verification", None)
        if figures is not None:
            st.markdown(f":red-badge[verification: FAILED] {markdown.escape(figures.summary())}")
        st.error(str(result))
