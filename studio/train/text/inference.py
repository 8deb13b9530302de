"""A trained text classifier read back from its Hugging Face folder: what Evaluate, Play,
``studio predict`` and the export parity check run.

    classifier = load_text_run(lib, run_id)
    probabilities = classifier.probabilities(["a gripping, funny film", "dull"])  # (2, classes)

The folder is a run folder (model.safetensors + config.json + tokenizer files + model.json) or any
Hugging Face folder with a sequence-classification head. Weights load from safetensors only: a
``pytorch_model.bin`` is a pickle, which can run code, and is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from studio.core.errors import InvalidInputError, NotFoundError
from studio.train.card import ModelCard
from studio.train.run_files import CARD_NAME, WEIGHTS_NAME, run_dir
from studio.train.text.encoders import load_tokenizer
from studio.train.text.fit import predict_logits
from studio.train.text.tokens import TokenizedTexts, prepared_tokenizer, tokenize_texts

if TYPE_CHECKING:
    from studio.store.library import Library

DEFAULT_MAX_LENGTH = 128  # a folder without a card or a tokenizer limit


@dataclass
class TextClassifier:
    model: torch.nn.Module      # eval mode, on ``device``
    tokenizer: Any              # tokenizers.Tokenizer: no padding, truncation at max_length
    classes: list[str]
    max_length: int
    pad_id: int
    card: ModelCard | None      # None for a folder from elsewhere

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def tokenize(self, texts: Sequence[str]) -> TokenizedTexts:
        return tokenize_texts(self.tokenizer, list(texts))

    def logits(self, texts: Sequence[str] | TokenizedTexts) -> np.ndarray:
        tokens = texts if isinstance(texts, TokenizedTexts) else self.tokenize(texts)
        if len(tokens) == 0:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        return predict_logits(self.model, tokens, self.pad_id)

    def probabilities(self, texts: Sequence[str] | TokenizedTexts) -> np.ndarray:
        """One row of class probabilities per text, in order (texts cut at ``max_length`` tokens)."""
        return torch.softmax(torch.from_numpy(self.logits(texts)), dim=1).numpy()


def load_text_run(lib: Library, run_id: int, device: str | torch.device = "cpu") -> TextClassifier:
    """The best model of a finished or stopped text run."""
    folder = run_dir(lib, int(run_id))
    if not (folder / WEIGHTS_NAME).is_file():
        raise NotFoundError(f"run {run_id} has no trained model yet ({folder / WEIGHTS_NAME} is missing)")
    return load_text_folder(folder, device)


def load_text_folder(folder: str | Path, device: str | torch.device = "cpu") -> TextClassifier:
    """A Hugging Face folder with a sequence-classification head (safetensors weights) and its tokenizer."""
    import transformers
    from transformers import AutoModelForSequenceClassification

    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise NotFoundError(f"{folder} is not a Hugging Face model folder (no config.json)")
    if not any(folder.glob("*.safetensors")):
        pickled = [p.name for p in folder.glob("*.bin")]
        raise InvalidInputError(
            f"{folder} has no safetensors weights" + (f" ({', '.join(pickled)} is a pickle, which can run code "
                                                      "when loaded: it is never loaded)" if pickled else ""),
            hint="save the model with save_pretrained(safe_serialization=True)")
    card = ModelCard.load(folder / CARD_NAME) if (folder / CARD_NAME).is_file() else None
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()  # its bars would write to the worker's stderr
    try:
        model = AutoModelForSequenceClassification.from_pretrained(str(folder), use_safetensors=True)
    except (OSError, ValueError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise InvalidInputError(f"cannot load the text model in {folder} ({first})") from None
    labels = model.config.id2label or {}
    classes = card.classes if card is not None else [labels[k] for k in sorted(labels, key=int)]
    max_length = int(card.training.get("max_length", DEFAULT_MAX_LENGTH)) if card is not None else _folder_max_length(folder)
    tokenizer = prepared_tokenizer(load_tokenizer(folder), max_length)
    pad_id = int(model.config.pad_token_id or 0)
    return TextClassifier(model.to(device).eval(), tokenizer, list(classes), max_length, pad_id, card)


def _folder_max_length(folder: Path) -> int:
    import json

    config = folder / "tokenizer_config.json"
    limit = json.loads(config.read_text(encoding="utf-8")).get("model_max_length") if config.is_file() else None
    return int(limit) if isinstance(limit, int) and 2 <= limit <= 8192 else DEFAULT_MAX_LENGTH
