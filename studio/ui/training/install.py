"""Adds the Train, Runs and Evaluate pages to the main window and routes between them.

    pages = install_training_pages(window, lib, review=labelling_controller.review)

- Runs "Resume" -> the Train page continues the run in a worker, live, and is shown.
- "Fine-tune from this run" (Runs, Evaluate) -> the Train page with starting weights = that run.
- Runs "Evaluate" -> the Evaluate page with that run selected.
- Evaluate "Show in Datasets" (a table run's row) -> the Datasets page at that row.
- A run ending on the Train page refreshes the Runs and Evaluate lists.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from studio.ui.common.style import icon
from studio.ui.training.evaluate_page import EvaluatePage
from studio.ui.training.runs_page import RunsPage
from studio.ui.training.train_page import TrainPage

if TYPE_CHECKING:
    from studio.store.library import Library
    from studio.ui.common.page import PageHost


@dataclass
class TrainingPages:
    train: TrainPage
    runs: RunsPage
    evaluate: EvaluatePage


def install_training_pages(
    window: PageHost, lib: Library, review: Callable[[int, Sequence[int]], None] | None = None,
) -> TrainingPages:
    def show_table_row(dataset_id: int, row: int) -> None:
        """Evaluate's "Show in Datasets": the table open on the Datasets page at that row."""
        datasets = getattr(window, "datasets", None)
        if datasets is not None and datasets.show_table_row(dataset_id, row):
            window.show_page("datasets")

    pages = TrainingPages(TrainPage(lib), RunsPage(lib), EvaluatePage(lib, review=review, show_row=show_table_row))
    window.add_page("train", "Train", icon("train"), pages.train)
    window.add_page("runs", "Runs", icon("runs"), pages.runs)
    window.add_page("evaluate", "Evaluate", icon("evaluate"), pages.evaluate)

    def resume(run_id: int) -> None:
        if pages.train.is_training():
            window.statusBar().showMessage("A run is already training on the Train page: stop it first.", 5000)
            return
        pages.train.start_worker(run_id, resume=True)
        window.show_page("train")

    def fine_tune(run_id: int, dataset_id: int | None) -> None:
        pages.train.fine_tune_from(run_id, dataset_id)
        window.show_page("train")

    def evaluate(run_id: int) -> None:
        pages.evaluate.select_run(run_id)
        window.show_page("evaluate")

    # the Train page starts on the dataset open on the Datasets page, and follows it
    datasets = getattr(window, "datasets", None)
    if datasets is not None:
        pages.train.prefer_dataset(datasets.current_id)
        datasets.dataset_changed.connect(pages.train.prefer_dataset)

    pages.runs.resume_requested.connect(resume)
    pages.runs.fine_tune_requested.connect(fine_tune)
    pages.runs.evaluate_requested.connect(evaluate)
    pages.evaluate.fine_tune_requested.connect(fine_tune)
    pages.train.run_started.connect(lambda _id: pages.runs.refresh())
    pages.train.run_finished.connect(lambda _id, _status: (pages.runs.refresh(), pages.evaluate.reload_runs()))
    return pages
