"""The training defaults, now read from the typed settings in ``studio/train/spec.py`` (kept for
the callers that name these constants)."""

from __future__ import annotations

from studio.train.spec import (
           BASE_EPOCHS,
           LR_FINE_TUNE,
           LR_FROM_SCRATCH,
           MEANING_CHANGING,
           augment_text,
           default,
)

DEFAULT_AUGMENT: list[str] = list(default("augment"))
DEFAULT_EPOCHS: int = BASE_EPOCHS  # what "automatic" gives a dataset that is not small
DEFAULT_BATCH_SIZE: int = default("batch_size")

__all__ = ["DEFAULT_AUGMENT", "DEFAULT_BATCH_SIZE", "DEFAULT_EPOCHS", "LR_FINE_TUNE", "LR_FROM_SCRATCH",
           "MEANING_CHANGING", "augment_text"]
