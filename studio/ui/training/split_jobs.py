"""The jobs behind the Evaluate page's "Split the dataset…" (no Qt in here): count the samples
the dialog names, then split. Each takes a ``JobState`` last so ``run_job`` runs it off the GUI."""

from __future__ import annotations

from typing import TYPE_CHECKING

from studio.core.jobs import JobState

if TYPE_CHECKING:
    from studio.store.library import Library


def dataset_sample_count(lib: Library, dataset_id: int, state: JobState) -> int:
    """All samples of the dataset, whatever their split."""
    from studio.store.datasets import split_counts

    with lib.session() as s:
        return sum(split_counts(s, dataset_id).values())


def split_dataset_job(lib: Library, dataset_id: int, fractions: tuple[float, float, float], seed: int,
                      state: JobState) -> dict:
    """Assign the dataset's samples at random to train / val / test; the counts per split."""
    from studio.store.splits import auto_split

    with lib.transaction() as s:
        return auto_split(s, dataset_id, fractions=fractions, seed=seed)


def split_done_text(name: str, counts: dict) -> str:
    parts = " · ".join(f"{title} {counts.get(key, 0):,}" for key, title in
                       (("train", "train"), ("val", "validation"), ("test", "test")))
    return (f"Split “{name}”: {parts}. The selected run trained before this split and has seen most "
            "of the new test images: train a new run for an honest test score.")
