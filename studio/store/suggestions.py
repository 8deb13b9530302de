"""A model's suggestions for a dataset: which runs stored predictions, the suggestions in review
order, and accepting them as labels (``labelled_by="model"``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from studio.core.errors import InvalidInputError, NotFoundError
from studio.store.classes import list_classes
from studio.store.labelling import LabelSnapshot, set_labels
from studio.store.models import LabelClass, Prediction, Run, Sample
from studio.store.rows import chunks, unique_ids


@dataclass(frozen=True)
class Suggestion:
    sample_id: int
    class_name: str  # the model's suggestion
    confidence: float
    class_id: int | None  # the suggestion's class in this dataset (None: no such class now)
    current_class_id: int | None
    current_class_name: str | None
    labelled_by: str

    @property
    def disagrees(self) -> bool:
        return self.current_class_id is not None and self.current_class_id != self.class_id


@dataclass(frozen=True)
class PredictionRun:
    run_id: int
    name: str
    status: str
    count: int


def prediction_runs(s: Session, dataset_id: int) -> list[PredictionRun]:
    """Runs that stored predictions for samples of this dataset, newest first."""
    rows = s.execute(
        select(Run.id, Run.name, Run.status, func.count(Prediction.id))
        .join(Prediction, Prediction.run_id == Run.id)
        .join(Sample, Sample.id == Prediction.sample_id)
        .where(Sample.dataset_id == dataset_id)
        .group_by(Run.id)
        .order_by(Run.id.desc())
    ).all()
    return [PredictionRun(rid, name or f"run {rid}", status, n) for rid, name, status, n in rows]


ORDERS = ("confidence", "uncertainty", "disagreement")


def suggestions_for(
    s: Session, dataset_id: int, run_id: int, order: str = "confidence", only: str = "all",
) -> list[Suggestion]:
    """The run's suggestions for this dataset's samples.

    order: "confidence" (most confident first), "uncertainty" (least confident first) or
    "disagreement" (labelled samples whose label differs from the model's first: likely label
    errors, most confident disagreements on top). only: "all", "unlabelled" or "labelled"."""
    if order not in ORDERS:
        raise InvalidInputError(f"order must be one of {', '.join(ORDERS)}, not {order!r}")
    if only not in ("all", "unlabelled", "labelled"):
        raise InvalidInputError(f"only must be all, unlabelled or labelled, not {only!r}")
    if s.get(Run, run_id) is None:
        raise NotFoundError(f"run {run_id} does not exist")
    classes = {c.name: c for c in list_classes(s, dataset_id)}
    by_id = {c.id: c.name for c in classes.values()}
    q = (
        select(Prediction.sample_id, Prediction.class_name, Prediction.confidence,
               Sample.class_id, Sample.labelled_by)
        .join(Sample, Sample.id == Prediction.sample_id)
        .where(Prediction.run_id == run_id, Sample.dataset_id == dataset_id)
    )
    if only == "unlabelled":
        q = q.where(Sample.class_id.is_(None))
    elif only == "labelled":
        q = q.where(Sample.class_id.is_not(None))
    out = []
    for sid, name, conf, cid, who in s.execute(q):
        suggested = classes.get(name)
        out.append(Suggestion(sid, name, float(conf), suggested.id if suggested else None,
                              cid, by_id.get(cid), who))
    if order == "confidence":
        out.sort(key=lambda g: (-g.confidence, g.sample_id))
    elif order == "uncertainty":
        out.sort(key=lambda g: (g.confidence, g.sample_id))
    else:
        out.sort(key=lambda g: (not g.disagrees, -g.confidence, g.sample_id))
    return out


def accept_suggestions(
    s: Session, run_id: int, sample_ids: Iterable[int], overwrite: bool = False,
) -> LabelSnapshot:
    """Label samples with the run's suggestion (labelled_by="model").

    Human labels are kept unless ``overwrite`` (the user explicitly accepted a disagreement);
    suggestions whose class no longer exists are skipped. Returns the previous labels."""
    ids = unique_ids(sample_ids)
    previous = LabelSnapshot()
    if not ids:
        return previous
    plan: dict[tuple[int, int], list[int]] = defaultdict(list)  # (dataset, class) -> samples
    for chunk in chunks(ids):
        rows = s.execute(
            select(Prediction.sample_id, Prediction.class_name, Sample.dataset_id, Sample.class_id)
            .join(Sample, Sample.id == Prediction.sample_id)
            .where(Prediction.run_id == run_id, Prediction.sample_id.in_(chunk))
        ).all()
        names = {}
        for sid, name, ds, cid in rows:
            if cid is not None and not overwrite:
                continue
            key = (ds, name)
            if key not in names:
                names[key] = s.scalar(select(LabelClass.id).where(
                    LabelClass.dataset_id == ds, LabelClass.name == name))
            target = names[key]
            if target is not None and target != cid:
                plan[(ds, target)].append(sid)
    for (ds, target), group in plan.items():
        previous.merge(set_labels(s, ds, group, target, by="model"))
    return previous
