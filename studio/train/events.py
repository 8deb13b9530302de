"""The training worker's events, typed: what the engine sends, the CLI prints and the GUI plots.

On the wire each event is one JSON object with an "event" key naming its kind (the JSON-lines
protocol in studio.train.protocol); in code it is one of the dataclasses below (slotted: the GUI
reads every step of a run through from_dict, so making one is kept cheap).

    line = Step(step=10, epoch=1, loss=0.3, lr=1e-3, samples_per_s=900.0).to_json()
    event = from_json(line)       # Step(...), or None for a line that is not a known event
    event = from_dict(obj)        # the same from an already parsed object

Reading is lenient in one way only: keys this module does not know are ignored (a newer worker may
send more). An object of an unknown kind, or missing a field its kind requires, gives None, so a
reader skips it instead of failing on it. No torch and no Qt here: every layer can import it.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar

from studio.core.run_status import RunStatus

# a field's metadata: left out of the JSON object while it is None (as the worker always did)
OMIT_IF_NONE = {"omit_if_none": True}


@dataclass(kw_only=True, slots=True)
class WorkerEvent:
    kind: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"event": self.kind}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.metadata.get("omit_if_none"):
                continue
            out[f.name] = value.value if isinstance(value, RunStatus) else value
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=str)


@dataclass(kw_only=True, slots=True)
class Started(WorkerEvent):
    """The worker has the run and its device; data and model come next."""

    kind: ClassVar[str] = "start"
    run_id: int
    model: str
    device: str
    epochs: int
    batch_size: int
    image_size: int
    resume: bool = False
    unit: str = ""  # what the samples are when not images (image size 0): "texts"; tables leave it "" (rows)


@dataclass(kw_only=True, slots=True)
class DataReady(WorkerEvent):
    """The images are decoded and split; training starts next."""

    kind: ClassVar[str] = "data"
    run_id: int | None = None
    dataset: str = ""
    classes: list[str]
    train_samples: int
    val_samples: int
    resumed_from_epoch: int | None = None
    notes: list[str] = field(default_factory=list)  # said once to the user (e.g. a held-out validation split)
    head_replaced: bool | None = None  # fine-tuning: whether the classifier head was new
    steps_per_epoch: int | None = field(default=None, metadata=OMIT_IF_NONE)


@dataclass(kw_only=True, slots=True)
class CacheProgress(WorkerEvent):
    """Decoding the images into the tensor cache (once per dataset, size and channels)."""

    kind: ClassVar[str] = "cache"
    fraction: float
    message: str = ""


@dataclass(kw_only=True, slots=True)
class DownloadProgress(WorkerEvent):
    """Downloading pretrained weights."""

    kind: ClassVar[str] = "download"
    bytes: int
    total: int | None = None


@dataclass(kw_only=True, slots=True)
class Step(WorkerEvent):
    """Every ``log_every`` training steps."""

    kind: ClassVar[str] = "step"
    step: int
    epoch: int  # the epoch in progress, from 1
    loss: float
    lr: float | None = None
    samples_per_s: float | None = None
    gpu_mem_mb: float | None = field(default=None, metadata=OMIT_IF_NONE)  # peak CUDA memory; absent off CUDA


@dataclass(kw_only=True, slots=True)
class EpochCompleted(WorkerEvent):
    """An epoch ended and was validated."""

    kind: ClassVar[str] = "epoch"
    epoch: int
    step: int  # the epoch's last step
    train_loss: float
    train_accuracy: float | None = field(default=None, metadata=OMIT_IF_NONE)  # None: a regression
    val_loss: float
    val_accuracy: float | None = field(default=None, metadata=OMIT_IF_NONE)
    scores: dict[str, float] | None = field(default=None, metadata=OMIT_IF_NONE)  # more val metrics: val_f1, val_r2...
    eta_s: float | None = field(default=None, metadata=OMIT_IF_NONE)
    seconds: float | None = field(default=None, metadata=OMIT_IF_NONE)  # the epoch with its validation
    train_seconds: float | None = field(default=None, metadata=OMIT_IF_NONE)


@dataclass(kw_only=True, slots=True)
class Unfrozen(WorkerEvent):
    """The backbone was unfrozen (--unfreeze-after): every layer learns from this epoch."""

    kind: ClassVar[str] = "unfreeze"
    epoch: int


@dataclass(kw_only=True, slots=True)
class CheckpointSaved(WorkerEvent):
    kind: ClassVar[str] = "checkpoint"
    run_id: int
    epoch: int
    step: int
    path: str
    is_best: bool = False


@dataclass(kw_only=True, slots=True)
class Paused(WorkerEvent):
    kind: ClassVar[str] = "paused"
    run_id: int


@dataclass(kw_only=True, slots=True)
class Resumed(WorkerEvent):
    kind: ClassVar[str] = "resumed"
    run_id: int


@dataclass(kw_only=True, slots=True)
class Finished(WorkerEvent):
    """The last event of a run, whatever ended it: completed, stopped or failed (with ``error``)."""

    kind: ClassVar[str] = "done"
    run_id: int
    status: RunStatus
    error: str | None = field(default=None, metadata=OMIT_IF_NONE)
    metrics: dict[str, Any] = field(default_factory=dict)  # the best epoch's metrics
    epochs: int | None = field(default=None, metadata=OMIT_IF_NONE)
    steps: int | None = field(default=None, metadata=OMIT_IF_NONE)
    notes: list[str] | None = field(default=None, metadata=OMIT_IF_NONE)
    model_path: str | None = field(default=None, metadata=OMIT_IF_NONE)

    def __post_init__(self) -> None:
        self.status = RunStatus(self.status)  # ValueError for a status no run has

    @property
    def failed(self) -> bool:
        return self.status == RunStatus.FAILED


EVENT_TYPES: dict[str, type[WorkerEvent]] = {cls.kind: cls for cls in (
    Started, DataReady, CacheProgress, DownloadProgress, Step, EpochCompleted, Unfrozen, CheckpointSaved,
    Paused, Resumed, Finished)}


# per kind: (every field name, the names an object must have); worked out once, as the GUI reads
# every event of a run through from_dict
_FIELD_NAMES = {kind: (tuple(f.name for f in fields(cls)),
                       frozenset(f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING))
                for kind, cls in EVENT_TYPES.items()}


def from_dict(obj: dict[str, Any]) -> WorkerEvent | None:
    """The typed event for a parsed JSON object; None when it is not a complete known event."""
    kind = obj.get("event") if isinstance(obj, dict) else None
    if kind not in _FIELD_NAMES:
        return None
    names, required = _FIELD_NAMES[kind]
    known = {name: obj[name] for name in names if name in obj}
    if not required <= known.keys():
        return None
    try:
        return EVENT_TYPES[kind](**known)
    except (TypeError, ValueError):
        return None


def from_json(line: str | bytes) -> WorkerEvent | None:
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return from_dict(obj) if isinstance(obj, dict) else None
