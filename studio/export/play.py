"""What the Play page needs, without Qt: the models one can play with, and putting a tried image
into the run's dataset with the right label (so mistakes found while playing become data)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from studio.core.errors import InvalidInputError, NotFoundError
from studio.export.registry import list_exports, list_imported
from studio.export.table_model import run_model_kind
from studio.train.run_files import WEIGHTS_NAME, run_dir

KIND_NOTES = {"text": " - text model"}  # a run whose model takes texts, not images


@dataclass(frozen=True)
class ModelChoice:
    title: str       # shown in the model picker
    source: str      # what open_predictor takes: a run id, an imported name or a file path
    kind: str        # run | export | imported
    run_id: int | None = None
    needs_trust: bool = False  # TorchScript from elsewhere: ask before loading


def playable_models(lib) -> list[ModelChoice]:
    """Finished runs (newest first), then this library's exports, then imported models."""
    from studio.store.models import Dataset, Run

    choices: list[ModelChoice] = []
    with lib.session() as s:
        rows = s.execute(
            select(Run.id, Run.model, Run.status, Run.summary, Dataset.name)
            .join(Dataset, Dataset.id == Run.dataset_id, isouter=True).order_by(Run.id.desc())
        ).all()
    for run_id, model, status, summary, dataset in rows:
        if not (run_dir(lib, run_id) / WEIGHTS_NAME).is_file():
            continue
        accuracy = ((summary or {}).get("best") or {}).get("val_accuracy")
        shown = f", val {accuracy:.0%}" if isinstance(accuracy, (int, float)) else ""
        note = KIND_NOTES.get(run_model_kind(lib, run_id), "")
        choices.append(ModelChoice(f"Run {run_id}: {model} on {dataset or '?'} ({status}{shown}){note}",
                                   str(run_id), "run", run_id))
    for export in list_exports(lib):
        if Path(export["path"]).exists():  # a file, or a Hugging Face folder
            flag = "" if export["ok"] else " - PARITY FLAGGED"
            choices.append(ModelChoice(f"Export {export['format']} of run {export['run_id']}: {Path(export['path']).name}{flag}",
                                       export["path"], "export", export["run_id"]))
    for entry in list_imported(lib):
        choices.append(ModelChoice(f"Imported {entry['format']}: {entry['name']}", entry["name"], "imported"))
    return choices


def run_dataset_classes(lib, run_id: int | None) -> tuple[int | None, list[tuple[int, str]]]:
    """(dataset id, [(class id, name)]) of the dataset a run was trained on (None when gone)."""
    from studio.store.models import LabelClass, Run

    if run_id is None:
        return None, []
    with lib.session() as s:
        run = s.get(Run, run_id)
        if run is None or run.dataset_id is None:
            return None, []
        rows = s.execute(select(LabelClass.id, LabelClass.name).where(LabelClass.dataset_id == run.dataset_id)
                         .order_by(LabelClass.position, LabelClass.id)).all()
        return run.dataset_id, [(cid, name) for cid, name in rows]


def run_class_colours(lib, run_id: int | None) -> dict[str, str]:
    """{class name: colour} of the dataset a run was trained on (empty when gone)."""
    from studio.store.models import LabelClass, Run

    if run_id is None:
        return {}
    with lib.session() as s:
        run = s.get(Run, run_id)
        if run is None or run.dataset_id is None:
            return {}
        return dict(s.execute(select(LabelClass.name, LabelClass.colour).where(LabelClass.dataset_id == run.dataset_id)).all())


def add_to_dataset(lib, dataset_id: int, class_id: int, image: Path | bytes) -> int:
    """Store the image file (or encoded bytes, e.g. a pasted image) in the dataset labelled
    ``class_id``, as an import would; returns the sample id. Already there: it is just relabelled."""
    from studio.store.adding import add_image
    from studio.store.images import read_image_file

    if isinstance(image, bytes):
        name, source = "the pasted image", "play:pasted image"
    else:
        name, source = Path(image).name, os.path.abspath(image)
    try:
        data = image if isinstance(image, bytes) else read_image_file(image)
        return add_image(lib, dataset_id, data, class_id=class_id, source=source, relabel_existing=True)[0]
    except FileNotFoundError:
        raise NotFoundError(f"no such file: {source}") from None
    except InvalidInputError as exc:
        raise InvalidInputError(f"cannot add {name}: {exc.message}") from None
