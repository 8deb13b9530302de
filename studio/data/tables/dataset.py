"""Table datasets in the library: import a file, load it back, change column types and roles,
edit target cells (with the previous values returned for undo), and split again.

    imported = import_table(lib, "penguins", "penguins.csv", targets=["species"], state=state)
    data = load_table_dataset(lib, "penguins")          # rows with edits applied, schema, splits
    train = data.table.take(data.rows("train"))

The imported file is kept as a blob, with an Arrow IPC copy of what was read (a load maps it
instead of parsing the CSV again) and the splits (one byte per row) as blobs too; the schema and
how the file was read are JSON on the ``table_data`` row; each edited cell is a ``table_edits`` row.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.feather as feather
from sqlalchemy import delete, insert, select

from studio.core.errors import InvalidInputError
from studio.core.jobs import JobState
from studio.data.tables.errors import TableError
from studio.data.tables.reading import TableSource, read_table, sniff
from studio.data.tables.schema import ColumnType, Role, TableSchema, infer_schema
from studio.data.tables.splits import SPLITS, split_rows
from studio.store.datasets import clean_name, create_dataset, get_dataset
from studio.store.gc import hold_blobs, queue_for_removal
from studio.store.models import TableData, TableEdit, utcnow
from studio.store.rows import IN_CHUNK

TABLE_KIND = "table"
READ_SHARE = 0.8  # of an import's progress: reading the file; the rest is storing it


@dataclass
class TableImport:
    dataset_id: int
    name: str
    rows: int
    schema: TableSchema
    notes: list[str] = field(default_factory=list)


@dataclass
class TableDataset:
    id: int
    name: str
    table: pa.Table  # the imported rows, with the user's target-cell edits applied
    schema: TableSchema
    splits: np.ndarray  # int8 per row: 0 train, 1 val, 2 test
    source: TableSource
    source_name: str

    def rows(self, split: str) -> np.ndarray:
        """Row indices of ``split`` ("train", "val" or "test")."""
        return np.flatnonzero(self.splits == SPLITS.index(split))

    def split_counts(self) -> dict[str, int]:
        counts = np.bincount(self.splits.astype(np.int64), minlength=len(SPLITS))
        return {name: int(counts[i]) for i, name in enumerate(SPLITS)}


# --- import --------------------------------------------------------------------------------


def import_table(lib, dataset_name: str, path: str | Path, *, targets: Sequence[str] | None = None,
                 ignore: Sequence[str] = (), types: dict[str, ColumnType] | None = None,
                 state: JobState | None = None) -> TableImport:
    """A new table dataset from a CSV/TSV/Parquet file (read streamed, with progress and cancel)."""
    path = Path(path)
    state = state or JobState()
    name = clean_name(dataset_name)
    with lib.session() as s:
        if _dataset_exists(s, name):
            raise InvalidInputError(f"a dataset named {name!r} already exists")
    source = sniff(path)
    table = read_table(path, _scaled(state, 0.0, READ_SHARE), source=source)
    schema = infer_schema(table, targets=list(targets or []) or None, ignore=list(ignore), types=types)
    codes = split_rows(table, schema)
    state.set_progress(READ_SHARE, "storing the table")
    stored: list[str] = []
    with hold_blobs(lib, "table import", uncommitted=stored):
        source_blob = lib.blobs.put_file(path, check=state.check_cancelled)
        stored.append(source_blob)
        data_blob = _put_rows(lib, table)
        stored.append(data_blob)
        splits_blob = lib.blobs.put(codes.astype(np.int8).tobytes())
        stored.append(splits_blob)
        state.check_cancelled()
        with lib.transaction() as s:
            dataset = create_dataset(s, name, kind=TABLE_KIND)
            s.add(TableData(dataset_id=dataset.id, source_blob=source_blob, source_name=path.name,
                            data_blob=data_blob, splits_blob=splits_blob, reading=source.to_json(),
                            schema=schema.to_json(), rows=table.num_rows, split_seed=0))
            dataset_id = dataset.id
        stored.clear()  # committed: nothing to collect
    state.set_progress(1.0, f"imported {table.num_rows:,} rows")
    return TableImport(dataset_id, name, table.num_rows, schema, list(schema.notes))


def add_demo_table(lib, key: str, name: str | None = None) -> int:
    """Import one of the tables that ship with the studio ("xor", "penguins"); its dataset id."""
    from studio.data.tables.demos import DEMO_TABLES

    demo = DEMO_TABLES[key]
    return import_table(lib, name or f"Demo {demo.name}", demo.path, targets=list(demo.targets)).dataset_id


def _dataset_exists(s, name: str) -> bool:
    from studio.store.models import Dataset

    return s.scalar(select(Dataset.id).where(Dataset.name == name)) is not None


def _put_rows(lib, table: pa.Table) -> str:
    """The parsed rows as an uncompressed Arrow IPC file: written at disk speed and read back
    memory-mapped (a million rows open without parsing or copying)."""
    fd, tmp = tempfile.mkstemp(suffix=".arrow.tmp", dir=lib.blobs.incoming())
    os.close(fd)
    try:
        feather.write_feather(table, tmp, compression="uncompressed")
        return lib.blobs.adopt(Path(tmp))
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_rows(path: Path) -> pa.Table:
    with pa.memory_map(str(path)) as source:
        return pa.ipc.open_file(source).read_all()


class _ScaledState(JobState):
    """A part of a job's progress: 0..1 here is ``start``..``stop`` of the parent's bar."""

    def __init__(self, parent: JobState, start: float, stop: float):
        super().__init__()
        self.parent, self.start, self.stop = parent, start, stop

    def set_progress(self, fraction: float, message: str | None = None) -> None:
        super().set_progress(fraction, message)
        self.parent.set_progress(self.start + (self.stop - self.start) * self.progress, message)

    def is_cancelled(self) -> bool:
        return self.parent.is_cancelled()

    def check_cancelled(self) -> None:
        self.parent.check_cancelled()


def _scaled(state: JobState, start: float, stop: float) -> JobState:
    return _ScaledState(state, start, stop)


# --- load ----------------------------------------------------------------------------------


def load_table_dataset(lib, dataset: str | int) -> TableDataset:
    """The dataset's rows (edits applied), schema, splits and how its file was read."""
    with lib.session() as s:
        row, ds_name, edits = _table_row(s, dataset)
        info = {c: getattr(row, c) for c in ("dataset_id", "data_blob", "splits_blob", "reading", "schema",
                                            "source_name")}
    table = _read_rows(lib.blobs.path(info["data_blob"]))
    table = _apply_edits(table, edits)
    splits = np.frombuffer(lib.blobs.read(info["splits_blob"]), dtype=np.int8).copy()
    return TableDataset(info["dataset_id"], ds_name, table, TableSchema.from_json(info["schema"]), splits,
                        TableSource.from_json(info["reading"]), info["source_name"])


def _table_row(s, dataset: str | int) -> tuple[TableData, str, dict[str, dict[int, str | None]]]:
    ds = get_dataset(s, dataset)
    if ds.kind != TABLE_KIND:
        raise InvalidInputError(f"dataset {ds.name!r} holds {ds.kind}s, not a table")
    row = s.get(TableData, ds.id)
    if row is None:
        raise InvalidInputError(f"dataset {ds.name!r} has no rows yet", hint="import a CSV or Parquet file into it")
    edits: dict[str, dict[int, str | None]] = {}
    for edit in s.scalars(select(TableEdit).where(TableEdit.dataset_id == ds.id).order_by(TableEdit.id)):
        edits.setdefault(edit.column, {})[edit.row] = edit.value
    return row, ds.name, edits


def _apply_edits(table: pa.Table, edits: dict[str, dict[int, str | None]]) -> pa.Table:
    for name, cells in edits.items():
        if not cells or name not in table.column_names:
            continue  # nothing edited, or a column of an older schema
        index = table.column_names.index(name)
        column = table.column(index).combine_chunks()
        rows = np.fromiter(cells, dtype=np.int64, count=len(cells))
        values = _cast_cells(list(cells.values()), column.type, name)
        position = np.zeros(len(column), dtype=np.int64)
        position[rows] = np.arange(len(rows))
        mask = np.zeros(len(column), dtype=bool)
        mask[rows] = True
        table = table.set_column(index, name, pc.if_else(pa.array(mask), values.take(pa.array(position)), column))
    return table


def _cast_cells(texts: list[str | None], kind: pa.DataType, column: str) -> pa.Array:
    """Stored cell texts as the column's type; a value that is not one says which."""
    if pa.types.is_null(kind):
        kind = pa.string()
    texts_array = pa.array(texts, type=pa.string())
    try:
        return pc.cast(texts_array, kind)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        if pa.types.is_integer(kind):  # "1000.0" is a whole number; a safe cast still refuses 1000.5
            try:
                return pc.cast(pc.cast(texts_array, pa.float64()), kind)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                pass
        for text in texts:
            try:
                pc.cast(pa.array([text], type=pa.string()), kind)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise TableError(f"{text!r} is not a valid value for column {column!r} ({kind})") from None
        raise


# --- edits ---------------------------------------------------------------------------------


def set_cells(lib, dataset: str | int, edits: Iterable[tuple[int, str, object]]) -> list[tuple[int, str, object]]:
    """Change target cells (row, column, value; None = missing). Returns the previous values in the
    same shape, so ``set_cells(lib, dataset, previous)`` undoes the change."""
    edits = list({(int(r), str(c)): (int(r), str(c), v) for r, c, v in edits}.values())  # the last edit of a cell wins
    if not edits:
        return []
    with lib.session() as s:
        row, _, stored = _table_row(s, dataset)
        dataset_id, data_blob, schema = row.dataset_id, row.data_blob, TableSchema.from_json(row.schema)
    targets = {c.name for c in schema.targets}
    for r, column, _ in edits:
        if column not in targets:
            raise TableError(f"only target cells can be edited; {column!r} is not a target")
        if not 0 <= r < schema.rows:
            raise TableError(f"there is no row {r + 1} (the table has {schema.rows:,} rows)")
    columns = sorted({c for _, c, _ in edits})
    original = _read_rows(lib.blobs.path(data_blob)).select(columns)
    current = _apply_edits(original, {c: stored.get(c, {}) for c in columns})
    texts = [(r, c, _cell_text(v)) for r, c, v in edits]
    previous, new_rows, cleared = [], [], {c: [] for c in columns}
    for column in columns:  # every new value must fit its column before anything is written
        mine = [(r, t) for r, c, t in texts if c == column]
        _cast_cells([t for _, t in mine], original.column(column).type, column)
        rows = pa.array([r for r, _ in mine], pa.int64())
        was = current.column(column).take(rows).to_pylist()
        first = [_cell_text(v) for v in original.column(column).take(rows).to_pylist()]
        previous += [(r, column, v) for (r, _), v in zip(mine, was)]
        cleared[column] = [r for r, _ in mine]
        new_rows += [{"dataset_id": dataset_id, "row": r, "column": column, "value": t, "edited_at": utcnow()}
                     for (r, t), f in zip(mine, first) if t != f]  # back to the file's value: no edit row
    with lib.transaction() as s:
        for column, rows in cleared.items():
            for i in range(0, len(rows), IN_CHUNK):
                s.execute(delete(TableEdit).where(TableEdit.dataset_id == dataset_id, TableEdit.column == column,
                                                  TableEdit.row.in_(rows[i:i + IN_CHUNK])))
        if new_rows:
            s.execute(insert(TableEdit), new_rows)
    order = {(r, c): i for i, (r, c, _) in enumerate(edits)}
    return sorted(previous, key=lambda p: order[(p[0], p[1])])


def _cell_text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def set_column(lib, dataset: str | int, column: str, *, type: ColumnType | None = None,
               role: Role | None = None) -> TableSchema:
    """Change a column's type and/or role; the whole schema is checked again against the rows
    (a column of words cannot become a number, a table needs a target and a feature)."""
    data = load_table_dataset(lib, dataset)
    schema = data.schema
    current = schema.column(column)
    new_type = ColumnType(type) if type is not None else current.type
    new_role = Role(role) if role is not None else current.role
    targets = [c.name for c in schema.columns if c.role is Role.TARGET and c.name != column]
    ignore = [c.name for c in schema.columns if c.role is Role.IGNORE and c.name != column]
    (targets if new_role is Role.TARGET else ignore if new_role is Role.IGNORE else []).append(column)
    if not targets:
        raise TableError("a table needs a target column (what to predict)",
                         hint="make another column the target first")
    types = {c.name: c.type for c in schema.columns}
    types[column] = new_type
    updated = infer_schema(data.table, targets=targets, ignore=ignore, types=types)
    if updated.column(column).role is not new_role:
        reason = updated.column(column).note or f"a {new_type.value} column cannot be a {new_role.value}"
        raise TableError(f"column {column!r} cannot be a {new_role.value}: {reason}")
    with lib.transaction() as s:
        s.get(TableData, data.id).schema = updated.to_json()
    return updated


def resplit(lib, dataset: str | int, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0) -> np.ndarray:
    """Assign train/val/test again (stratified by the target for classification)."""
    data = load_table_dataset(lib, dataset)
    codes = split_rows(data.table, data.schema, fractions, seed)
    with hold_blobs(lib, "table split"):
        digest = lib.blobs.put(codes.astype(np.int8).tobytes())
        with lib.transaction() as s:
            row = s.get(TableData, data.id)
            old = row.splits_blob
            row.splits_blob, row.split_seed = digest, int(seed)
            if old != digest:
                queue_for_removal(s, [old])
    return codes


