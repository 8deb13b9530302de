"""Every bound on untrusted input in one place, each a named setting with a sensible default.

A limit is overridden by the environment variable ``STUDIO_`` + its name in upper case, e.g.
``STUDIO_MAX_IMAGE_PIXELS=200000000``. The README's "Limits" section lists them all.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, fields

from studio.core.errors import InvalidInputError

MiB = 1024 * 1024
GiB = 1024 * MiB

ENV_PREFIX = "STUDIO_"


@dataclass(frozen=True)
class Limits:
    # Decoding images
    image_formats: tuple[str, ...] = ("PNG", "JPEG", "MPO", "GIF", "BMP", "TIFF", "WEBP", "PPM")
    """Pillow formats that are decoded at all (MPO = JPEG from phones). Nothing else, e.g. EPS."""
    max_image_pixels: int = 100_000_000
    """Width x height of one image."""
    max_decoded_bytes: int = 256 * MiB
    """Memory of one decoded image in Pillow's mode (RGB takes 4 bytes a pixel, 16-bit grey 2)."""
    large_decode_bytes: int = 64 * MiB
    """Decodes bigger than this take a slot of ``large_decodes`` first."""
    large_decodes: int = 1
    """How many large decodes (or large file reads) run at once, across all import workers."""
    max_file_bytes: int = 256 * MiB
    """One image file (or zip entry, uncompressed) larger than this is refused unread."""
    # Zip archives
    max_zip_total_bytes: int = 8 * GiB
    """Sum of the uncompressed sizes of the entries of one zip that are imported."""
    max_zip_ratio: int = 100
    """Uncompressed / compressed size of one entry over 1 MiB (images barely compress)."""
    max_zip_entries: int = 1_000_000
    """Entries in one zip."""
    # Import
    import_workers: int = 0
    """Processes that read, hash and decode during an import (0 = one per CPU core, at most 8)."""
    import_pool_min_files: int = 200
    """Imports of fewer files decode in threads of the calling process (no process start-up)."""
    max_class_name_chars: int = 200
    """Length of a class (folder) name; files under a longer name are rejected, the rest imports."""
    # Models from elsewhere (predict, models import): their card and metadata are untrusted
    max_model_classes: int = 10_000
    """Outputs a model may name; a model declaring more is refused before any name is made."""
    max_model_image_size: int = 4096
    """Side in pixels a model (card or ONNX input) may ask its input to be resized to."""
    max_card_bytes: int = 8 * MiB
    """A model card (.json beside the file) or ONNX 'classes' metadata to parse."""
    # The training worker's pipes
    max_event_line_bytes: int = 16 * MiB
    """One JSON line the worker prints; a longer one is skipped, not buffered without end."""
    max_control_line_bytes: int = 4096
    """One control line ("stop", "pause", ...) read by the worker on stdin."""
    # Tables (CSV, TSV, Parquet)
    max_table_file_bytes: int = 4 * GiB
    """One table file; a larger one is refused unread."""
    max_table_rows: int = 10_000_000
    """Rows of one table (the read stops with a message when it gets past this)."""
    max_table_columns: int = 2_000
    """Columns of one table, counted from its header before any row is read."""
    max_table_categories: int = 50_000
    """Distinct values of one category column used for training (embedded above a few dozen)."""

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Limits:
        """Defaults, with each ``STUDIO_<NAME>`` variable that is set taking its place."""
        environ = os.environ if environ is None else environ
        changes = {}
        for f in fields(cls):
            raw = environ.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw.strip():
                changes[f.name] = _parse(f, raw)
        return dataclasses.replace(cls(), **changes)


def _parse(f: dataclasses.Field, raw: str):
    name = ENV_PREFIX + f.name.upper()
    if f.name == "image_formats":
        return tuple(part.strip().upper() for part in raw.split(",") if part.strip())
    try:
        value = int(raw.strip().replace("_", ""))
    except ValueError:
        raise InvalidInputError(f"{name} must be a whole number, not {raw!r}") from None
    if value < 0:
        raise InvalidInputError(f"{name} must not be negative ({value})")
    return value


_current: Limits | None = None


def limits() -> Limits:
    """The limits of this process (read from the environment once)."""
    global _current
    if _current is None:
        _current = Limits.from_env()
    return _current


def set_limits(new: Limits | None) -> None:
    """Replace the limits of this process (tests, import worker processes); None = re-read env."""
    global _current
    _current = new


def describe_limits() -> list[tuple[str, str, str]]:
    """(environment variable, default, description) of every limit, for the README and --help."""
    out = []
    defaults = Limits()
    for f in fields(Limits):
        value = getattr(defaults, f.name)
        shown = ",".join(value) if isinstance(value, tuple) else f"{value:_}"
        out.append((ENV_PREFIX + f.name.upper(), shown, _DOCS.get(f.name, "")))
    return out


# Attribute docstrings are not kept at run time; these mirror them for describe_limits().
_DOCS = {
    "image_formats": "Pillow formats decoded at all; any other file (EPS/PostScript, PDF, ...) is refused",
    "max_image_pixels": "width x height of one image",
    "max_decoded_bytes": "memory of one decoded image in its own mode (RGB 4 bytes/pixel, 16-bit grey 2)",
    "large_decode_bytes": "decodes or file reads above this size wait for a large-decode slot",
    "large_decodes": "large decodes at once, across all import worker processes",
    "max_file_bytes": "one image file or zip entry (uncompressed); larger ones are refused unread",
    "max_zip_total_bytes": "uncompressed bytes of all the entries of one zip",
    "max_zip_ratio": "uncompressed/compressed size of one zip entry over 1 MiB",
    "max_zip_entries": "entries in one zip",
    "import_workers": "import processes (0 = one per core, at most 8)",
    "import_pool_min_files": "smaller imports run in threads of the calling process (5x this where the pool cannot fork, e.g. the GUI)",
    "max_class_name_chars": "characters in a class (folder) name, and in a class name of a model from elsewhere",
    "max_model_classes": "classes (outputs) of a model from elsewhere (predict, models import)",
    "max_model_image_size": "input side in pixels a model card or ONNX file may ask for",
    "max_card_bytes": "size of a model card or of an ONNX file's class-list metadata",
    "max_event_line_bytes": "one JSON line from the training worker (longer lines are skipped)",
    "max_control_line_bytes": "one control line (stop, pause, resume) sent to the training worker",
    "max_table_file_bytes": "one CSV/TSV/Parquet file; larger ones are refused unread",
    "max_table_rows": "rows of one table",
    "max_table_columns": "columns of one table (counted from the header before any row is read)",
    "max_table_categories": "distinct values of one category column used for training",
}
