"""Tables shipped inside scikit-learn and palmerpenguins, read as text (scikit-learn is never imported)."""
from __future__ import annotations

import csv
import gzip
import io
from typing import Any

import numpy as np

from runtime.datasets.raw import RawData
from runtime.datasets.registry import DATASETS
from runtime.datasets.sources import package_file

SKLEARN = ("sklearn", "scikit-learn==1.9.1")
IRIS_FEATURES = ("sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)")
WINE_FEATURES = ("alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium", "total_phenols",
                 "flavanoids", "nonflavanoid_phenols", "proanthocyanins", "color_intensity", "hue",
                 "od280/od315_of_diluted_wines", "proline")
CANCER_FEATURES = tuple(f"{stat} {m}" for stat in ("mean", "error", "worst") for m in (
    "radius", "texture", "perimeter", "area", "smoothness", "compactness", "concavity",
    "concave points", "symmetry", "fractal dimension"))
DIABETES_FEATURES = ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")
PENGUIN_NUMBERS = ("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g")
PENGUIN_CATEGORIES = ("island", "sex")


def _sklearn_classes(filename: str, dataset: str, features: tuple[str, ...]) -> RawData:
    """scikit-learn's CSV layout: a first line 'rows,features,class names...', then features and label."""
    path = package_file(SKLEARN[0], f"datasets/data/{filename}", SKLEARN[1])
    rows = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64)
    return RawData(rows[:, :-1], rows[:, -1].astype(np.int64), "table",
                   class_names=DATASETS[dataset].class_names, feature_names=features)


def load_iris(options: dict[str, Any]) -> RawData:
    return _sklearn_classes("iris.csv", "iris", IRIS_FEATURES)


def load_wine(options: dict[str, Any]) -> RawData:
    return _sklearn_classes("wine_data.csv", "wine", WINE_FEATURES)


def load_breast_cancer(options: dict[str, Any]) -> RawData:
    return _sklearn_classes("breast_cancer.csv", "breast_cancer", CANCER_FEATURES)


def load_diabetes(options: dict[str, Any]) -> RawData:
    """The raw (unscaled) measurements; the target is disease progression one year later."""
    x_path = package_file(SKLEARN[0], "datasets/data/diabetes_data_raw.csv.gz", SKLEARN[1])
    y_path = package_file(SKLEARN[0], "datasets/data/diabetes_target.csv.gz", SKLEARN[1])
    x = np.loadtxt(io.StringIO(gzip.decompress(x_path.read_bytes()).decode()), dtype=np.float64)
    y = np.loadtxt(io.StringIO(gzip.decompress(y_path.read_bytes()).decode()), dtype=np.float64)
    return RawData(x, y.reshape(-1, 1), "table", task="regression", feature_names=DIABETES_FEATURES)


def load_penguins(options: dict[str, Any]) -> RawData:
    """Species from measurements, island and sex; 'NA' marks missing values (filled in preparing)."""
    path = package_file("palmerpenguins", "data/penguins.csv", "palmerpenguins==0.1.6")
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    species = DATASETS["penguins"].class_names
    table: dict[str, np.ndarray] = {}
    for col in PENGUIN_NUMBERS:
        table[col] = np.array([float("nan") if r[col] == "NA" else float(r[col]) for r in rows])
    for col in PENGUIN_CATEGORIES:
        table[col] = np.array([None if r[col] == "NA" else r[col] for r in rows], dtype=object)
    y = np.array([species.index(r["species"]) for r in rows], dtype=np.int64)
    return RawData(table, y, "table", class_names=species)
