"""One way to predict with any model the studio knows: a run of this library, an exported or
imported ONNX / TorchScript / safetensors file. The CLI (`studio predict`) and the Play page both
go through ``open_predictor`` + ``Predictor.predict_file``, so they show the same numbers.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.errors import InvalidInputError, NotFoundError
from studio.core.limits import limits
from studio.export.cards import check_channels, check_class_count, check_classes, check_image_size, parse_json
from studio.export.images import decode_image, group_by_shape
from studio.export.loading import (
    card_path_for,
    is_torchscript,
    load_run,
    load_torchscript,
    load_weights_and_card,
    read_card,
    safe_torch_load,
)
from studio.train.card import IMAGENET_MEAN, IMAGENET_STD, ModelCard
from studio.train.spec import FromRun, parse_start

TORCHSCRIPT_SUFFIXES = {".pt", ".pth", ".ts", ".torchscript", ".jit"}
MAX_BATCH = 64


@dataclass
class FilePrediction:
    file: str
    top: list[tuple[str, float]] = field(default_factory=list)
    probabilities: np.ndarray | None = None
    latency_ms: float = 0.0
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        if self.error:
            return {"file": self.file, "error": self.error}
        return {
            "file": self.file,
            "top": [{"class": name, "probability": round(p, 6)} for name, p in self.top],
            "latency_ms": round(self.latency_ms, 3),
        }


def top_k(probs: np.ndarray, classes: list[str], k: int) -> list[tuple[str, float]]:
    order = np.argsort(-probs, kind="stable")[: max(1, k)]
    return [(classes[i] if i < len(classes) else f"class {i}", float(probs[i])) for i in order]


def resolve_device(device: str) -> str:
    import torch

    if device in ("auto", ""):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InvalidInputError("--device cuda: no CUDA GPU is available here", hint="use --device cpu")
    if device != "cpu" and not device.startswith("cuda"):
        raise InvalidInputError(f"unknown device {device!r}", hint="use cpu or cuda")
    return device


class Predictor(ABC):
    """Probabilities for uint8 H x W x C images; images of one shape are batched together."""

    kind = ""

    def __init__(self, classes: list[str], in_channels: int, device: str, label: str):
        self.classes = list(classes)
        self.in_channels = int(in_channels)
        self.device = device
        self.label = label

    @abstractmethod
    def predict_batch(self, batch: np.ndarray) -> np.ndarray:
        """uint8 N x H x W x C -> float32 N x K probabilities."""

    def predict(self, images: list[np.ndarray]) -> np.ndarray:
        out = np.zeros((len(images), len(self.classes)), dtype=np.float32)
        for indices in group_by_shape(images).values():
            for start in range(0, len(indices), MAX_BATCH):
                chunk = indices[start : start + MAX_BATCH]
                probs = self.predict_batch(np.stack([images[i] for i in chunk]))
                if probs.shape != (len(chunk), len(self.classes)):
                    raise InvalidInputError(f"{Path(self.label).name} gave outputs of shape {probs.shape} for "
                                            f"{len(chunk)} image(s); its {len(self.classes)} classes need ({len(chunk)}, {len(self.classes)})")
                out[chunk] = probs
        return out

    def decode(self, source: bytes | str | Path) -> np.ndarray:
        return decode_image(source, self.in_channels)

    def predict_image(self, image: np.ndarray, k: int = 5, name: str = "") -> FilePrediction:
        started = time.perf_counter()
        probs = self.predict([image])[0]
        latency = (time.perf_counter() - started) * 1000.0
        return FilePrediction(name, top_k(probs, self.classes, k), probs, latency)

    def predict_file(self, path: str | Path, k: int = 5) -> FilePrediction:
        """Decode + predict one file; a file that cannot be read gives a result with ``error``."""
        try:
            image = self.decode(path)
        except (InvalidInputError, NotFoundError) as exc:
            return FilePrediction(str(path), error=str(exc))
        return self.predict_image(image, k, str(path))


class TorchPredictor(Predictor):
    """A torch module taking uint8 N x H x W x C and returning probabilities (or (probs, logits))."""

    kind = "torch"

    def __init__(self, module, classes, in_channels, device, label, kind="torch"):
        super().__init__(classes, in_channels, device, label)
        self.module = module.to(device) if hasattr(module, "to") else module
        self.kind = kind

    def predict_batch(self, batch: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            out = self.module(torch.from_numpy(np.ascontiguousarray(batch)).to(self.device))
        probs = out[0] if isinstance(out, (tuple, list)) else out
        return probs.float().cpu().numpy()


class EngineClassifier:
    """The in-studio reference: the engine's own preprocessing (studio.data.preprocess) + the
    network, so the studio predicts exactly what training and evaluation compute."""

    def __init__(self, network, card: ModelCard):
        self.network = network
        self.card = card

    def to(self, device):
        self.network.to(device)
        return self

    def __call__(self, images):
        import torch

        from studio.data.preprocess import preprocess_batch

        x = preprocess_batch(images.permute(0, 3, 1, 2), self.card)
        logits = self.network(x).float()
        return torch.softmax(logits, dim=1), logits


class OnnxPredictor(Predictor):
    kind = "onnx"

    def __init__(self, path: Path, device: str):
        ort = import_onnxruntime()
        providers = ["CPUExecutionProvider"]
        if device.startswith("cuda"):
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise InvalidInputError(
                    "onnxruntime here has no CUDA support", hint="use --device cpu or pip install onnxruntime-gpu"
                )
            providers.insert(0, "CUDAExecutionProvider")
        options = ort.SessionOptions()
        # No busy-waiting worker threads after each run: on a desktop they would burn the cores
        # the GUI, training or a torch model beside them need (costs little latency).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3  # errors only: its warnings are not the user's business
        name = Path(path).name
        try:
            self.session = ort.InferenceSession(str(path), options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise InvalidInputError(f"cannot load {name} as ONNX ({_first_line(exc)})") from None
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise InvalidInputError(f"{name} does not take one image batch (it has {len(inputs)} input(s)"
                                    f"{f' of rank {len(inputs[0].shape)}' if len(inputs) == 1 else ''}; the studio feeds one 4-D batch)")
        inp = inputs[0]
        self.input_name = inp.name
        self.takes_uint8 = inp.type == "tensor(uint8)"
        if inp.type not in ("tensor(uint8)", "tensor(float)"):
            raise InvalidInputError(f"{name} takes {inp.type} input; the studio feeds uint8 or float32 images")
        what = f"{name} cannot be used"
        card = self._card(path)
        if self.takes_uint8:  # our convention: uint8 N x H x W x C, preprocessing inside
            channels = check_channels(inp.shape[3] if isinstance(inp.shape[3], int) else (card.in_channels if card else 3), what)
            self.preprocess = None
        else:  # a float N x C x H x W classifier made elsewhere: preprocess here, as its card says
            channels = check_channels(inp.shape[1] if isinstance(inp.shape[1], int) else 3, what)
            size = check_image_size(inp.shape[2] if isinstance(inp.shape[2], int) else (card.image_size if card else 224), what)
            from studio.export.wrapper import Preprocess

            mean, std = (card.mean, card.std) if card else (IMAGENET_MEAN, IMAGENET_STD)
            self.preprocess = Preprocess(size, mean, std, channels)
        classes = card.classes if card else self._classes_from_metadata(what)
        outputs = self.session.get_outputs()
        declared = outputs[0].shape[-1] if outputs and outputs[0].shape else None
        if isinstance(declared, int) and declared != len(classes):
            raise InvalidInputError(f"{what}: it outputs {declared:,} values but names {len(classes):,} classes")
        super().__init__(classes, channels, device, str(path))

    @staticmethod
    def _card(path: Path) -> ModelCard | None:
        return read_card(card_path_for(path)) if card_path_for(path).is_file() else None

    def _classes_from_metadata(self, what: str) -> list[str]:
        meta = self.session.get_modelmeta().custom_metadata_map
        if "classes" in meta:
            return check_classes(parse_json(meta["classes"], f"{what}: its 'classes' metadata"), what)
        outputs = self.session.get_outputs()
        count = outputs[0].shape[-1] if outputs and outputs[0].shape else None
        if not isinstance(count, int):
            raise InvalidInputError("this ONNX model does not say how many classes it has; put a model card .json beside it")
        check_class_count(count, what)  # before one name per output is made
        return [f"class {i}" for i in range(count)]

    def run_session(self, feed: np.ndarray) -> np.ndarray:
        try:
            out = self.session.run(None, {self.input_name: feed})[0]
        except Exception as exc:  # onnxruntime's own error types: one line for the user
            raise InvalidInputError(f"the ONNX model {Path(self.label).name} failed on this input ({_first_line(exc)})") from None
        return np.asarray(out, dtype=np.float32)

    def predict_batch(self, batch: np.ndarray) -> np.ndarray:
        if self.preprocess is None:
            return self.run_session(batch)
        import torch

        with torch.inference_mode():
            x = self.preprocess(torch.from_numpy(batch)).numpy()
        out = self.run_session(x)
        return out if out.ndim != 2 or _looks_like_probabilities(out) else _softmax(out)


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return (lines[0] if lines else type(exc).__name__)[:160]


def _looks_like_probabilities(out: np.ndarray) -> bool:
    return bool(out.min() >= 0 and np.allclose(out.sum(axis=1), 1.0, atol=1e-3))


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def import_onnxruntime():
    try:
        import onnxruntime
    except ImportError as exc:
        raise InvalidInputError(
            "ONNX needs onnxruntime, which is not installed", hint="pip install 'model-studio[onnx]'"
        ) from exc
    return onnxruntime


def _torchscript_predictor(path: Path, device: str, trusted: bool) -> Predictor:
    module = load_torchscript(path, device, trusted=trusted)
    card = read_card(card_path_for(path))
    if not hasattr(module, "preprocess"):
        # Not a studio export (those hold their preprocessing): a network made elsewhere takes
        # normalised float N x C x H x W, so add the card's preprocessing in front of it.
        from studio.export.wrapper import ImageClassifier

        module = ImageClassifier(module, card).eval()
    return TorchPredictor(module, card.classes, card.in_channels, device, str(path), kind="torchscript")


def refuse_table_export(path: Path) -> None:
    """A table or text model's export takes rows or texts, not images: say so rather than fail on its inputs."""
    card = card_path_for(path)
    if not card.is_file() or card.stat().st_size > limits().max_card_bytes:
        return
    try:
        data = parse_json(card.read_text(encoding="utf-8"), card.name)
    except (InvalidInputError, UnicodeDecodeError):
        return  # the image path below reports a broken card in its own words
    if isinstance(data, dict) and data.get("kind") == "table":
        raise InvalidInputError(f"{path.name} is an export of a table model: it predicts rows, not images",
                                hint=f"predict a CSV with its run (studio predict RUN data.csv) or with "
                                     f"{path.name}.example.py beside it; importing table models is not supported yet")
    if isinstance(data, dict) and data.get("kind") == "text":
        raise InvalidInputError(f"{path.name} is an export of a text model: it predicts texts, not images",
                                hint="predict texts with its run (studio predict RUN --text '...'), with its "
                                     "example script, or open its Hugging Face folder (--format hf)")


def open_predictor(source: str | int | Path, lib=None, device: str = "cpu", trust: bool = False):
    """A run id (needs ``lib``), an imported model's name, or a .onnx / .pt / .safetensors path.
    A table run gives a ``studio.export.table_model.TablePredictor`` (kind "table"), whose
    inputs are rows rather than images; a text run or a Hugging Face folder a
    ``studio.export.predict_texts.TextPredictor`` (kind "text"); everything else a ``Predictor``."""
    device = resolve_device(device)
    text = str(source)
    start = parse_start(text)  # a run id or a path, told apart once (studio/train/spec.py)
    if isinstance(start, FromRun) and lib is not None and not Path(text).exists():
        from studio.export.table_model import open_table_predictor, run_model_kind

        kind = run_model_kind(lib, start.run_id)
        if kind == "table":
            return open_table_predictor(lib, start.run_id, device)
        if kind == "text":
            from studio.export.predict_texts import open_text_run_predictor

            return open_text_run_predictor(lib, start.run_id, device)
        network, card = load_run(lib, start.run_id, device)
        return TorchPredictor(EngineClassifier(network, card), card.classes, card.in_channels, device, f"run {text}", "run")
    path = Path(text).expanduser()
    if not path.exists() and lib is not None:
        from studio.export.registry import find_imported

        entry = find_imported(lib, text)
        if entry is not None:
            path, trust = Path(lib.home) / entry["path"], trust or bool(entry.get("trusted"))
    from studio.export.predict_texts import hf_folder_of, open_text_folder_predictor, open_text_onnx_predictor, text_export_card

    text_folder = hf_folder_of(path)
    if text_folder is not None:  # a Hugging Face folder (or its config.json / weights): a text model
        return open_text_folder_predictor(text_folder, device)
    if path.is_dir():
        raise InvalidInputError(f"{path} is a folder without config.json: not a Hugging Face model folder")
    if not path.is_file():
        raise NotFoundError(f"no run, imported model or file named {text!r}")
    text_card = text_export_card(path)
    if text_card is not None:  # a text model's ONNX export, with its tokenizer.json beside it
        return open_text_onnx_predictor(path, text_card)
    suffix = path.suffix.lower()
    if lib is not None:
        from studio.export.table_model import open_exported_table_predictor, own_table_export_run

        table_run = own_table_export_run(lib, path)
        if table_run is not None:
            return open_exported_table_predictor(lib, path, table_run, device)
    refuse_table_export(path)
    if suffix == ".onnx":
        return OnnxPredictor(path, device)
    if suffix == ".safetensors":
        network, card = load_weights_and_card(path, card_path_for(path), device)
        return TorchPredictor(EngineClassifier(network, card), card.classes, card.in_channels, device, str(path), "safetensors")
    if suffix in TORCHSCRIPT_SUFFIXES:
        if is_torchscript(path):
            if lib is not None and not trust:
                from studio.export.registry import is_own_export

                trust = is_own_export(lib, path)
            return _torchscript_predictor(path, device, trust)
        safe_torch_load(path)  # a pickle that needs code is refused here, before anything runs
        network, card = load_weights_and_card(path, card_path_for(path), device)
        return TorchPredictor(EngineClassifier(network, card), card.classes, card.in_channels, device, str(path), "state-dict")
    raise InvalidInputError(
        f"{path.name}: unknown model format {suffix or '(no suffix)'}",
        hint="use a run id, .onnx, .pt (TorchScript or state dict) or .safetensors",
    )
