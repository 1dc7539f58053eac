"""Export: a verified ONNX file (with its verification figures and a passed/failed badge), a bundle zip,
the PyTorch code and the weights, each a download button. The trained run's weights are used when
there is one; otherwise the graph is exported with freshly initialized weights."""
from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass
from typing import Any

import streamlit as st
from safetensors.torch import save as safetensors_bytes

from builder import markdown, run_control, trained_model
from builder.projects import store
from builder.workspace import Workspace
from runtime.codegen import generate
from runtime.compiler import Compiled
from runtime.graph import Project
from runtime.onnx.errors import OnnxError, VerificationFailed
from runtime.onnx.project_export import VerifiedExport, export_project
from runtime.projects import compile_project

RESULT_KEY = "onnx_export"      # (source key, VerifiedExport or error text), kept across reruns


@dataclass
class Source:
    """What is exported: a project version, its compiled graph and (when trained) its weights."""
    key: str
    label: str
    project: Project
    compiled: Compiled
    weights: dict[str, Any] | None


def source_for(ws: Workspace, run_id: str | None) -> Source:
    """The run's trained model when it has a checkpoint and is not training, else the canvas's graph."""
    job = run_control.registry().job(run_id) if run_id else None
    if run_id is not None and not (job is not None and job.live):
        try:
            trained = trained_model.load(store(), run_id)
            return Source(f"{run_id}:{trained.checkpoint.stem}:{trained.checkpoint.stat().st_mtime_ns}",
                          f"trained weights of {trained.run.name} ({trained.checkpoint.stem})",
                          trained.project, trained.compiled, trained.weights())
        except trained_model.NotTrainedYet:
            pass
    return Source(f"graph:{ws.token}:{ws.revision}", "the graph on the canvas, untrained (fresh weights)",
                  ws.project, compile_project(ws.project), None)


def file_stem(project: Project) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", project.name).strip("_")[:60] or "model"


def _classifier(compiled: Compiled) -> bool:
    return compiled.spec is not None and compiled.spec.task == "classification" and \
        (compiled.spec.output_size or 0) > 1


def export_onnx(source: Source) -> VerifiedExport:
    """Exports and verifies; a classifier's file outputs class probabilities."""
    return export_project(source.project, source.compiled, source.weights,
                          probabilities=_classifier(source.compiled))


def bundle(source: Source, exported: VerifiedExport) -> bytes:
    """A zip a consumer needs nothing else for: the ONNX file, the PyTorch code, the weights, the
    project file and a README with the preprocessing and the verification figures."""
    stem = file_stem(source.project)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{stem}/model.onnx", exported.data)
        z.writestr(f"{stem}/model.py", generate(source.compiled, source.project.name))
        if source.weights is not None:
            z.writestr(f"{stem}/weights.safetensors", safetensors_bytes(source.weights))
        z.writestr(f"{stem}/project.json", source.project.to_json())
        z.writestr(f"{stem}/README.txt", "\n".join([
            f"{source.project.name}: exported by Layerboard from {source.label}.", "",
            exported.metadata.get("preprocessing", ""), "",
            f"Output: {exported.metadata.get('output', '')}; classes: {exported.metadata.get('class_labels', '[]')}",
            "", f"Verification: {exported.verification.summary()}", "",
            "metadata_props of model.onnx:", json.dumps(exported.metadata, indent=2), ""]))
    return buffer.getvalue()


def _export(source: Source) -> None:
    try:
        st.session_state[RESULT_KEY] = (source.key, export_onnx(source))
    except VerificationFailed as e:
        st.session_state[RESULT_KEY] = (source.key, e)
    except OnnxError as e:
        st.session_state[RESULT_KEY] = (source.key, e)


def show(ws: Workspace, run_id: str | None) -> None:
    source = source_for(ws, run_id)
    st.markdown(f"Exports **{markdown.escape(source.label)}**.")
    if not source.compiled.ok:
        st.warning("The graph has errors: fix them (see the model summary) to export it.")
        return
    stem = file_stem(source.project)
    onnx_col, files_col = st.columns([1.4, 1])
    with onnx_col:
        st.button("Export ONNX", key="export_onnx", type="primary", on_click=_export, args=(source,))
        kept = st.session_state.get(RESULT_KEY)
        if kept is not None and kept[0] == source.key:
            _show_result(source, kept[1], stem)
    with files_col:
        code = generate(source.compiled, source.project.name)
        st.download_button("PyTorch code (.py)", code, file_name=f"{stem}.py", mime="text/x-python",
                           key="download_code", width="stretch")
        if source.weights is not None:
            st.download_button("Weights (.safetensors)", safetensors_bytes(source.weights),
                               file_name=f"{stem}.safetensors", mime="application/octet-stream",
                               key="download_weights", width="stretch")
        with st.expander("See the code"):
            st.code(code, language="python")


def _show_result(source: Source, result: Any, stem: str) -> None:
    if isinstance(result, VerifiedExport):
        v = result.verification
        badge = ":green-badge[verified: passed]" if v.passed else ":red-badge[verification: FAILED]"
        st.markdown(f"{badge} {markdown.escape(v.summary())}")
        cols = st.columns(3)
        cols[0].metric("max abs difference", f"{v.max_abs_diff:.2e}")
        cols[1].metric("max rel difference", f"{v.max_rel_diff:.2e}")
        cols[2].metric("tolerance", f"{v.tolerance:g}")
        st.download_button("Download ONNX (.onnx)", result.data, file_name=f"{stem}.onnx",
                           mime="application/octet-stream", key="download_onnx", type="primary")
        st.download_button("Download bundle (.zip)", bundle(source, result), file_name=f"{stem}.zip",
                           mime="application/zip", key="download_bundle")
    else:
        figures = getattr(result, "verification", None)
        if figures is not None:
            st.markdown(f":red-badge[verification: FAILED] {markdown.escape(figures.summary())}")
        st.error(str(result))
