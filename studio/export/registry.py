"""Models brought in from elsewhere (`studio models import`) and the exports of this library.

Imported models are copied under ``<library>/models/<name>/`` and listed in
``<library>/models/index.json`` (no schema change needed). Exports are rows of the ``exports``
table; the file's SHA-256 is kept in the row so a file changed after export is not trusted.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from studio.core.errors import InvalidInputError, NotFoundError

INDEX_NAME = "index.json"


def models_dir(lib) -> Path:
    path = Path(lib.home) / "models"
    path.mkdir(exist_ok=True)
    return path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def list_imported(lib) -> list[dict[str, Any]]:
    index = models_dir(lib) / INDEX_NAME
    if not index.is_file():
        return []
    try:
        models = json.loads(index.read_text()).get("models", [])
    except (ValueError, AttributeError, RecursionError):
        raise InvalidInputError(f"the imported-models list {index} is damaged",
                                hint="fix or remove it; the model folders beside it are untouched") from None
    if not isinstance(models, list) or not all(isinstance(m, dict) and isinstance(m.get("name"), str) for m in models):
        raise InvalidInputError(f"the imported-models list {index} is damaged",
                                hint="fix or remove it; the model folders beside it are untouched")
    return models


def find_imported(lib, name: str) -> dict[str, Any] | None:
    return next((m for m in list_imported(lib) if m["name"] == name), None)


def _write_index(lib, models: list[dict[str, Any]]) -> None:
    index = models_dir(lib) / INDEX_NAME
    tmp = index.with_suffix(".tmp")
    tmp.write_text(json.dumps({"models": models}, indent=2))
    os.replace(tmp, index)


def slug(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    if not cleaned:
        raise InvalidInputError(f"cannot use {name!r} as a model name", hint="use letters, digits, - _ .")
    return cleaned


def add_imported(lib, name: str, files: list[Path], entry: dict[str, Any]) -> dict[str, Any]:
    """Copy ``files`` (model first, then its card) into models/<name>/ and record ``entry``."""
    name = slug(name)
    if find_imported(lib, name) is not None:
        raise InvalidInputError(f"a model named {name!r} is already imported", hint="choose another --name")
    target = _free_folder(models_dir(lib), name)
    try:
        for file in files:
            shutil.copy2(file, target / file.name)
    except OSError as exc:
        shutil.rmtree(target, ignore_errors=True)
        raise InvalidInputError(f"cannot copy {files[0].name} into the library ({exc})") from exc
    model_file = target / files[0].name
    record = {
        "name": name,
        "path": str(model_file.relative_to(lib.home)),
        "sha256": file_sha256(model_file),
        "imported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **entry,
    }
    _write_index(lib, list_imported(lib) + [record])
    return record


def _free_folder(parent: Path, name: str) -> Path:
    """A new folder for model ``name``: ``name``, else ``name-2``, ... A folder left by an import
    that was interrupted before it was recorded is not ours to delete, and must not block this one."""
    for attempt in range(1, 1000):
        target = parent / (name if attempt == 1 else f"{name}-{attempt}")
        try:
            target.mkdir()
            return target
        except FileExistsError:
            continue
    raise InvalidInputError(f"cannot find a free folder for model {name!r} in {parent}", hint="choose another --name")


def remove_imported(lib, name: str) -> None:
    models = list_imported(lib)
    entry = next((m for m in models if m["name"] == name), None)
    if entry is None:
        raise NotFoundError(f"no imported model named {name!r}")
    folder = (Path(lib.home) / entry["path"]).parent
    if folder.parent.resolve() == models_dir(lib).resolve():  # never outside models/, whatever the index says
        shutil.rmtree(folder, ignore_errors=True)
    _write_index(lib, [m for m in models if m["name"] != name])


def is_own_export(lib, path: Path) -> bool:
    """True when ``path`` is a TorchScript file this library exported and it is unchanged since."""
    from sqlalchemy import select

    from studio.store.models import Export

    resolved = str(Path(path).resolve())
    with lib.session() as s:
        rows = s.scalars(select(Export).where(Export.path == resolved)).all()
    if not rows:
        return False
    current = file_sha256(Path(path))
    return any(row.parity.get("file_sha256") == current for row in rows)


def list_exports(lib, run_id: int | None = None) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from studio.store.models import Export

    query = select(Export).order_by(Export.created_at.desc(), Export.id.desc())
    if run_id is not None:
        query = query.where(Export.run_id == run_id)
    with lib.session() as s:
        rows = s.scalars(query).all()
        return [
            {"id": r.id, "run_id": r.run_id, "format": r.format, "path": r.path, "parity": dict(r.parity or {}),
             "ok": bool(r.ok), "created_at": r.created_at}
            for r in rows
        ]
