"""The shared text library (tests/train/text/text_runs.py) built once per test session for the Play
and predict tests in tests/export, tests/commands and tests/ui/models, which copy it per test:

    sys.path.insert(0, str(Path(__file__).resolve().parents[N] / "export"))
    from text_play_library import shared_text_library
    home, run_id = shared_text_library(tmp_path_factory)
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train" / "text"))
from text_runs import make_text_library


def shared_text_library(tmp_path_factory) -> tuple[Path, int]:
    """(home, run id) of a library with the "reviews" texts and a completed text run; built on
    first use under the session's temporary folder (about 13 s), then reused. Copy it before use."""
    root = tmp_path_factory.getbasetemp() / "text-play-library"
    done = root / "run-id"
    if not done.is_file():
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir()
        _home, run_id = make_text_library(root)
        done.write_text(str(run_id))
    return root / "library", int(done.read_text())
