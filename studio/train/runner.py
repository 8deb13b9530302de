"""Creating and running a training run: the body of the worker process (and usable in-process).

    run_id = create_run(lib, "digits", {"model": "simple-cnn", "epochs": 5})
    result = run_training(lib, run_id, JobState(), emit=print)

The run row holds the full spec (defaults resolved), so the run can be resumed or repeated.
Each epoch end writes a resumable checkpoint and, when validation improved, the best weights
(model.safetensors) with their model card (model.json).

Here: the settings (resolved and checked) and the entry points. The run itself is
studio.train.training_run (the engine and its handlers), its data and model are prepared in
data_setup and model_setup.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from studio.core.jobs import JobState
from studio.core.run_status import RunStatus
from studio.data.samples import (
    check_trainable,
    find_dataset,
    load_view,
)
from studio.store.models import Run
from studio.train.engine import Engine
from studio.train.resolve import resolve_spec
from studio.train.run_context import Distributed, Emit, RunContext
from studio.train.spec import (
    TABLE,
    TEXT,
    FromRun,
    TrainSpec,
    parse_start,
)
from studio.train.training_run import TrainingError, TrainingRun  # noqa: F401 - TrainingError: callers catch it from here

if TYPE_CHECKING:
    from studio.store.library import Library

def create_run(lib: Library, dataset: str | int, spec: TrainSpec | dict[str, Any] | None = None, *, name: str = "") -> int:
    """Check the dataset and settings, store a queued run, return its id (nothing is trained yet).
    A table dataset gets a table run (studio.train.tables.run), a text dataset a text run
    (studio.train.text.run); the spec records the kind."""
    with lib.session() as s:
        kind = find_dataset(s, dataset).kind
    if kind == TABLE:
        from studio.train.tables.run import create_table_run

        settings = spec if isinstance(spec, TrainSpec) else TrainSpec.from_dict(dict(spec or {}), strict=True)
        return create_table_run(lib, dataset, settings, name)
    if kind == TEXT:
        from studio.train.text.run import create_text_run

        settings = spec if isinstance(spec, TrainSpec) else TrainSpec.from_dict(dict(spec or {}), strict=True)
        return create_text_run(lib, dataset, settings, name)
    with lib.session() as s:
        view = load_view(s, dataset)
    check_trainable(view)
    full = resolve_spec(lib, view, spec if isinstance(spec, TrainSpec) else dict(spec or {}))
    start = parse_start(full["pretrained"])
    parent = start.run_id if isinstance(start, FromRun) else None
    with lib.transaction() as s:
        run = Run(dataset_id=view.id, parent_run_id=parent, name=name or f"{view.name} {full['model']}",
                  model=full["model"], spec=full, classes=list(view.classes), status=RunStatus.QUEUED)
        s.add(run)
        s.flush()
        return run.id


# --- the run ----------------------------------------------------------------------------------

def run_training(
    lib: Library,
    run_id: int,
    state: JobState | None = None,
    emit: Emit | None = None,
    *,
    resume: bool = False,
    control: Callable[[Engine], None] | None = None,
) -> dict[str, Any]:
    """Train run ``run_id`` (or continue it from its last checkpoint with ``resume=True``).

    Returns the final {"run_id", "status", "metrics", ...}. Bad data or settings mark the run
    failed and raise TrainingError with the reason. ``emit`` gets each event as a dict (the JSON
    of studio.train.events). ``control(engine)`` is called once the engine exists, so a caller
    (the worker) can wire stop/pause to it."""
    ctx = RunContext(lib, run_id, state or JobState(), emit or (lambda _e: None), Distributed.from_env())
    return training_run_for(ctx).run(resume=resume, control=control)


def training_run_for(ctx: RunContext) -> TrainingRun:
    """The run of the right kind: what its spec recorded when it was created (image runs made
    before tables existed record none)."""
    with ctx.lib.session() as s:
        run = s.get(Run, ctx.run_id)
        kind = (run.spec or {}).get("kind") if run is not None else None
    if kind == TABLE:
        from studio.train.tables.run import TableTrainingRun

        return TableTrainingRun(ctx)
    if kind == TEXT:
        from studio.train.text.run import TextTrainingRun

        return TextTrainingRun(ctx)
    return TrainingRun(ctx)
