"""The library's schema: one typed DeclarativeBase. Changes go through Alembic migrations only."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from studio.core.run_status import RunStatus

SPLITS = ("train", "val", "test")
TEXT_SEARCH_TABLE = "text_search"  # FTS5 word index of text samples (migration 0004), not mapped here


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def is_unmapped_table(name: str) -> bool:
    """The FTS5 index and its shadow tables: built by a migration, not described by the models,
    so schema comparison (autogenerate, the drift test) must leave them alone."""
    return name == TEXT_SEARCH_TABLE or name.startswith(TEXT_SEARCH_TABLE + "_")


class Base(DeclarativeBase):
    pass


class Dataset(Base):
    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default="image")  # image | table | text
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    classes: Mapped[list[LabelClass]] = relationship(
        back_populates="dataset", cascade="all, delete-orphan", passive_deletes=True,
        order_by="LabelClass.position",
    )


class LabelClass(Base):
    __tablename__ = "classes"
    __table_args__ = (UniqueConstraint("dataset_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    colour: Mapped[str] = mapped_column(String(9), default="#888888")
    position: Mapped[int] = mapped_column(Integer, default=0)

    dataset: Mapped[Dataset] = relationship(back_populates="classes")


class Sample(Base):
    """One image or text (format "txt": UTF-8, width = characters). The bytes live in the blob store under ``blob``'s SHA-256."""

    __tablename__ = "samples"
    __table_args__ = (
        UniqueConstraint("dataset_id", "blob"),
        Index("ix_samples_dataset_class", "dataset_id", "class_id"),
        Index("ix_samples_dataset_split", "dataset_id", "split"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    blob: Mapped[str] = mapped_column(String(64), index=True)  # sha256 hex of the file bytes
    format: Mapped[str] = mapped_column(String(10), default="")  # png, jpeg, ...
    width: Mapped[int] = mapped_column(Integer, default=0)  # upright (after EXIF rotation)
    height: Mapped[int] = mapped_column(Integer, default=0)
    channels: Mapped[int] = mapped_column(Integer, default=3)
    byte_size: Mapped[int] = mapped_column(Integer, default=0)
    class_id: Mapped[int | None] = mapped_column(
        ForeignKey("classes.id", ondelete="SET NULL"), nullable=True
    )
    split: Mapped[str | None] = mapped_column(String(8), nullable=True)  # train | val | test
    source_path: Mapped[str] = mapped_column(Text, default="")
    labelled_by: Mapped[str] = mapped_column(String(20), default="")  # import | user | model | capture
    phash: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    label: Mapped[LabelClass | None] = relationship()


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int | None] = mapped_column(
        ForeignKey("datasets.id", ondelete="SET NULL"), nullable=True, index=True
    )
    parent_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("runs.id", ondelete="SET NULL"), nullable=True
    )
    name: Mapped[str] = mapped_column(String(200), default="")
    model: Mapped[str] = mapped_column(String(100), default="")
    spec: Mapped[dict] = mapped_column(JSON, default=dict)  # every setting the run was started with
    classes: Mapped[list] = mapped_column(JSON, default=list)  # class names, in output order
    status: Mapped[str] = mapped_column(String(20), default=RunStatus.QUEUED.value, index=True)  # a RunStatus
    device: Mapped[str] = mapped_column(String(60), default="")
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    epoch: Mapped[int] = mapped_column(Integer, default=0)  # epochs completed
    step: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[dict] = mapped_column(JSON, default=dict)  # final / best metrics
    notes: Mapped[str] = mapped_column(Text, default="")


class Metric(Base):
    __tablename__ = "metrics"
    __table_args__ = (Index("ix_metrics_run_name_step", "run_id", "name", "step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(Integer)
    epoch: Mapped[float] = mapped_column(Float, default=0.0)
    split: Mapped[str] = mapped_column(String(10), default="train")
    name: Mapped[str] = mapped_column(String(60))
    value: Mapped[float] = mapped_column(Float)
    time: Mapped[float] = mapped_column(Float, default=0.0)  # unix seconds


class Checkpoint(Base):
    __tablename__ = "checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    epoch: Mapped[int] = mapped_column(Integer)
    step: Mapped[int] = mapped_column(Integer, default=0)
    path: Mapped[str] = mapped_column(Text)  # relative to the library home
    metrics: Mapped[dict] = mapped_column(JSON, default=dict)
    is_best: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Prediction(Base):
    """A model's suggestion for a sample, kept apart from the human label."""

    __tablename__ = "predictions"
    __table_args__ = (UniqueConstraint("run_id", "sample_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"), index=True)
    class_name: Mapped[str] = mapped_column(String(200))
    confidence: Mapped[float] = mapped_column(Float)
    probs: Mapped[list | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Export(Base):
    __tablename__ = "exports"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("runs.id", ondelete="SET NULL"), nullable=True, index=True
    )
    format: Mapped[str] = mapped_column(String(20))
    path: Mapped[str] = mapped_column(Text)
    parity: Mapped[dict] = mapped_column(JSON, default=dict)  # agreement, max_prob_diff, n
    ok: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class TableData(Base):
    """A table dataset's rows: the file as imported and an Arrow IPC copy of what was read, both
    blobs (never one SQLite row per cell), with how it was read, its schema and its splits (one
    byte per row, a blob). The user's target edits are TableEdit rows, applied on load."""

    __tablename__ = "table_data"

    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True)
    source_blob: Mapped[str] = mapped_column(String(64), index=True)  # the imported file
    source_name: Mapped[str] = mapped_column(Text, default="")
    data_blob: Mapped[str] = mapped_column(String(64), index=True)  # Arrow IPC file of the parsed rows (memory-mapped)
    splits_blob: Mapped[str] = mapped_column(String(64), index=True)  # int8 per row: 0 train, 1 val, 2 test
    reading: Mapped[dict] = mapped_column(JSON, default=dict)  # data.tables.reading.TableSource
    schema: Mapped[dict] = mapped_column(JSON, default=dict)  # data.tables.schema.TableSchema
    rows: Mapped[int] = mapped_column(Integer, default=0)
    split_seed: Mapped[int] = mapped_column(Integer, default=0)


class TableEdit(Base):
    """One edited cell of a table dataset (a target value the user changed)."""

    __tablename__ = "table_edits"
    __table_args__ = (UniqueConstraint("dataset_id", "row", "column"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    row: Mapped[int] = mapped_column(Integer)
    column: Mapped[str] = mapped_column(Text)
    value: Mapped[str | None] = mapped_column(Text, nullable=True)  # the new cell as text; NULL = missing
    edited_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class BlobHold(Base):
    """A process writing blob files (an import, a capture) or relying on them: while it holds,
    no blob is removed, because its rows may not be committed yet. Released when it finishes;
    a hold whose process is gone is dropped by the next garbage collection."""

    __tablename__ = "blob_holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(40), default="")
    host: Mapped[str] = mapped_column(String(255), default="")
    pid: Mapped[int] = mapped_column(Integer)
    pid_started: Mapped[str] = mapped_column(String(40), default="")  # tells a reused pid apart
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class BlobTrash(Base):
    """A blob that lost a reference (its dataset was deleted): removed by the next garbage
    collection that finds it unreferenced and no hold in progress."""

    __tablename__ = "blob_trash"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    queued_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
