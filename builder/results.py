"""Results of a run on the test split: figures, confusion matrix and per-class metrics, the worst
classified samples, a regression scatter or a forecast plot against the truth."""
from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st
import torch

from builder import charts, markdown, run_control, trained_model
from builder.projects import store
from runtime import datasets

WORST = 8
UNDEFINED = "—"
FIGURE_HELP = {"precision": "Of the test samples predicted as this class, the share that are this class. "
                            f"{UNDEFINED} when the model never predicted it (0/0).",
               "recall": "Of the test samples of this class, the share predicted as this class. "
                         f"{UNDEFINED} when the test split has none."}


def picture(x: torch.Tensor, normalization: dict[str, Any] | None) -> np.ndarray:
    """A normalized image sample (C, H, W) back to pixels in [0, 1], as (H, W) or (H, W, C) for st.image."""
    image = x.detach().cpu().numpy().astype(np.float32)
    if normalization:
        mean = np.asarray(normalization["mean"], dtype=np.float32).reshape(-1, 1, 1)
        std = np.asarray(normalization["std"], dtype=np.float32).reshape(-1, 1, 1)
        image = image * std + mean
    image = np.clip(image, 0.0, 1.0)
    return image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)


def worst_samples(probabilities: torch.Tensor, y: torch.Tensor, count: int = WORST) -> list[int]:
    """Indices of the test samples whose true class got the lowest probability, worst first."""
    true_p = probabilities[torch.arange(len(y)), y.long()]
    return torch.argsort(true_p)[:count].tolist()


def undefined_note(report: Any) -> str | None:
    """What an UNDEFINED figure in the per-class table means, when the table has one."""
    notes = []
    if None in report.precision:
        notes.append("precision: the model predicted that class for no test sample, so the share of those "
                     "predictions that were right is 0/0: undefined, not 0")
    if None in report.recall:
        notes.append("recall: the test split has no sample of that class")
    return f"{UNDEFINED} " + "; ".join(notes) + "." if notes else None


def _figure(value: float | None) -> str:
    """A per-class figure as text to 3 decimals; UNDEFINED for 0/0 (a dataframe shows a missing number
    as "None", whatever a pandas Styler says)."""
    return UNDEFINED if value is None else f"{value:.3f}"


def per_class_table(report: Any, class_names: list[str]) -> list[dict[str, Any]]:
    support = [sum(row) for row in report.confusion]
    return [{"class": name, "precision": _figure(p), "recall": _figure(r), "test samples": n}
            for name, p, r, n in zip(class_names, report.precision, report.recall, support)]


def finished_run(run_id: str | None, what: str) -> trained_model.Trained | None:
    """The run as a model once it has ended or been stopped; otherwise says when `what` (e.g.
    "results appear") will happen."""
    if run_id is None:
        st.caption(f"Train the network first: {what} here when a run ends or is stopped.")
        return None
    job = run_control.registry().job(run_id)
    if job is not None and job.live:
        st.info(f"The run is still training: {what} when it ends or is stopped.")
        return None
    try:
        shown = trained_model.with_weights(store(), run_id)
        if shown is None:
            return trained_model.load(store(), run_id)      # raises NotTrainedYet with what to do
        if shown != run_id:
            info, earlier = store().run(run_id), store().run(shown)
            st.info(f"{markdown.escape(info.name)} {info.status.replace('_', ' ')} before saving a checkpoint"
                    f" (Data & training says why), so this shows {markdown.escape(earlier.name)}, the latest "
                    "run with trained weights.")
        return trained_model.load(store(), shown)
    except trained_model.NotTrainedYet as e:
        st.info(str(e))
    except (ValueError, LookupError) as e:       # data, graph or checkpoint problems the user can act on
        st.error(f"Run {run_id} cannot be loaded: {e}")
    return None


def show(run_id: str | None) -> None:
    trained = finished_run(run_id, "results appear")
    if trained is None:
        return
    evaluation = trained.evaluation()
    st.markdown(f"**{markdown.escape(trained.run.name)}** on the test split "
                f"({len(trained.splits.y_test):,} samples), checkpoint `{trained.checkpoint.stem}`")
    cols = st.columns(max(1, len(evaluation.metrics)))
    for col, (name, value) in zip(cols, evaluation.metrics.items()):
        col.metric(name, f"{value:.4f}")
    if trained.task == "classification":
        _classification(trained, evaluation)
    else:
        _regression(trained, evaluation)


def _classification(trained: trained_model.Trained, evaluation: Any) -> None:
    names = trained.splits.class_names or [str(i) for i in range(len(evaluation.report.confusion))]
    left, right = st.columns([1.3, 1])
    left.plotly_chart(charts.confusion_figure(evaluation.report.confusion, names), key="results_confusion",
                      config=charts.CONFIG)
    right.dataframe(per_class_table(evaluation.report, names), hide_index=True,
                    column_config={name: st.column_config.TextColumn(help=text, alignment="right")
                                   for name, text in FIGURE_HELP.items()})
    note = undefined_note(evaluation.report)
    if note:
        right.caption(note)
    st.markdown("**Worst classified test samples** (lowest probability for the true class)")
    y = trained.splits.y_test
    worst = worst_samples(evaluation.probabilities, y)
    kind = datasets.kind_of(trained.splits.name)
    captions = [f"true {names[int(y[i])]} · predicted {names[int(evaluation.predictions[i])]} "
                f"({float(evaluation.probabilities[i].max()):.0%})" for i in worst]
    x = trained.splits.x_test
    if kind == "image":
        cols = st.columns(len(worst))
        for col, i, caption in zip(cols, worst, captions):
            col.image(picture(x[i], trained.splits.normalization), caption=caption, width="stretch")
    elif kind == "text" and trained.splits.text_encoder is not None:
        for i, caption in zip(worst, captions):
            words = trained.splits.text_encoder.decode(x[i].tolist())
            st.markdown(f"*{markdown.escape(caption)}*: {markdown.escape(words[:300])}")
    elif kind == "sequence":
        samples = [(x[i].tolist(), caption) for i, caption in zip(worst[:4], captions)]
        st.plotly_chart(charts.sequence_figure(samples), key="results_worst_sequences", config=charts.CONFIG)
    else:
        features = trained.splits.feature_names or [f"x{j}" for j in range(x.shape[-1])]
        st.dataframe([{"result": c, **dict(zip(features, x[i].tolist()))} for i, c in zip(worst, captions)],
                     hide_index=True)


def _regression(trained: trained_model.Trained, evaluation: Any) -> None:
    truth = trained.denormalize(trained.splits.y_test.reshape(evaluation.predictions.shape).float())
    predicted = trained.denormalize(evaluation.predictions)
    truth, predicted = truth[:, 0].tolist(), predicted[:, 0].tolist()
    if trained.task == "forecasting":
        st.plotly_chart(charts.forecast_figure(truth, predicted), key="results_forecast", config=charts.CONFIG)
    else:
        st.plotly_chart(charts.scatter_figure(truth, predicted), key="results_scatter", config=charts.CONFIG)
