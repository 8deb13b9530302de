"""Bounds on what a model file or model card from elsewhere may ask of the studio. A hostile or
broken file that exceeds one is refused with one clear line before anything is allocated."""

from __future__ import annotations

MAX_MODEL_CLASSES = 10_000  # outputs of a classifier; ImageNet-21k has ~21k, no studio dataset comes close
MAX_CLASS_NAME_CHARS = 200  # the length the library stores for a predicted class name
MAX_MODEL_IMAGE_SIZE = 4096  # side in pixels a model may ask its input to be resized to
MAX_CARD_BYTES = 8 * 1024 * 1024  # a model card (.json beside the file, or ONNX metadata) to parse
