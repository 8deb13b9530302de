"""Text runs in the real worker process: kill -9 mid-epoch, then `studio runs resume` ends with the
very steps and metrics of an uninterrupted run (same length-bucketed batches, dropout and RNG)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from worker_processes import check_kill_9_then_resume

from studio.store.library import Library
from studio.train.runner import create_run
from studio.train.spec import TrainSpec

sys.path.insert(0, str(Path(__file__).resolve().parent / "text"))
from text_runs import DATASET, make_text_library


@pytest.mark.slow
def test_kill_9_mid_epoch_then_resume_ends_as_an_uninterrupted_text_run(tmp_path):
    home, _ = make_text_library(tmp_path, train=False)
    spec = TrainSpec(encoder=str(tmp_path / "tiny-bert"), max_length=48, batch_size=16, epochs=4, log_every=3)

    def new_run() -> int:
        lib = Library.open(home)
        try:
            return create_run(lib, DATASET, spec)
        finally:
            lib.close()

    check_kill_9_then_resume(home, new_run, kill_in_epoch=3, epochs=4)
