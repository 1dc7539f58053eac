"""What the compiler needs to know about the data: sample shape and the width of the answer."""
from __future__ import annotations

from dataclasses import dataclass

TASKS = ("classification", "regression", "forecasting")


@dataclass(frozen=True)
class DataSpec:
    input_shape: tuple[int, ...]          # one sample, no batch dimension: (1, 28, 28), (150, 1), (64,)
    input_dtype: str = "float32"          # "int64" for token ids fed to an Embedding
    task: str = "classification"
    output_size: int | None = None        # width the model must output: classes, or regression targets
    vocab_size: int | None = None         # token ids are in [0, vocab_size) for text datasets
    class_names: tuple[str, ...] = ()

    @property
    def num_classes(self) -> int | None:
        return self.output_size if self.task == "classification" else None
