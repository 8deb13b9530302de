"""Reading text samples back: one text, many texts in order, previews for lists, and length
statistics for a dataset summary (a text's length in characters is its sample's ``width``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from studio.core.errors import NotFoundError
from studio.data.text.reading import LONG_TEXT_CHARS
from studio.store.models import LabelClass, Sample
from studio.store.rows import IN_CHUNK

TEXT_FORMAT = "txt"
PREVIEW_CHARS = 120


@dataclass(frozen=True)
class TextPreview:
    id: int
    class_name: str | None
    split: str | None
    chars: int
    preview: str  # the start of the text on one line


@dataclass(frozen=True)
class TextLengths:
    texts: int
    shortest: int
    median: int
    longest: int
    long_texts: int  # over LONG_TEXT_CHARS


def read_text(lib, sample_id: int, *, dataset_id: int | None = None) -> str:
    """A text sample's text, as imported (surrounding whitespace removed)."""
    return read_texts(lib, [sample_id], dataset_id=dataset_id)[0]


def read_texts(lib, sample_ids: list[int], *, dataset_id: int | None = None) -> list[str]:
    """The texts of these samples, in the order given (only of ``dataset_id``'s when given)."""
    found: dict[int, str] = {}
    with lib.session() as s:
        for start in range(0, len(sample_ids), IN_CHUNK):  # SQLite caps the variables of one statement
            stmt = select(Sample.id, Sample.blob).where(Sample.id.in_(sample_ids[start : start + IN_CHUNK]),
                                                        Sample.format == TEXT_FORMAT)
            if dataset_id is not None:
                stmt = stmt.where(Sample.dataset_id == dataset_id)
            found.update(s.execute(stmt).all())
    missing = [i for i in sample_ids if i not in found]
    if missing:
        raise NotFoundError(f"no text sample with id {missing[0]}" + (" in this dataset" if dataset_id else ""))
    return [lib.blobs.read(found[i]).decode("utf-8") for i in sample_ids]


def text_starts(lib, sample_ids: list[int], chars: int) -> dict[int, str]:
    """The first ``chars`` characters of each of these texts, reading only that much of each file
    (a card or a list row shows a text's start; a 10 MB text is not read whole for it). Texts
    deleted meanwhile are left out."""
    blobs: dict[int, str] = {}
    with lib.session() as s:
        for start in range(0, len(sample_ids), IN_CHUNK):
            blobs.update(s.execute(select(Sample.id, Sample.blob).where(
                Sample.id.in_(sample_ids[start : start + IN_CHUNK]), Sample.format == TEXT_FORMAT)).all())
    starts = {}
    for sample_id in sample_ids:
        try:
            starts[sample_id] = _start_of(lib, blobs[sample_id], chars)[:chars].strip()
        except (KeyError, OSError):  # deleted since
            continue
    return starts


def one_line(text: str, most: int = PREVIEW_CHARS) -> str:
    flat = " ".join(text[: most * 2].split())
    return flat if len(flat) <= most else flat[: most - 1] + "…"


def text_previews(lib, dataset_id: int, sample_ids: list[int] | None = None, *, limit: int = 20,
                  preview_chars: int = PREVIEW_CHARS) -> list[TextPreview]:
    """The given samples in that order (or the dataset's first ``limit`` by id), with their class,
    split and the start of their text: a page of a list (each preview opens its blob file), so
    ``sample_ids`` holds at most a few hundred ids."""
    stmt = (select(Sample.id, LabelClass.name, Sample.split, Sample.width, Sample.blob)
            .outerjoin(LabelClass, LabelClass.id == Sample.class_id)
            .where(Sample.dataset_id == dataset_id, Sample.format == TEXT_FORMAT))
    stmt = stmt.where(Sample.id.in_(sample_ids)) if sample_ids is not None else stmt.order_by(Sample.id).limit(limit)
    with lib.session() as s:
        rows = {row[0]: row for row in s.execute(stmt)}
    order = sample_ids if sample_ids is not None else list(rows)
    return [TextPreview(i, rows[i][1], rows[i][2], rows[i][3], one_line(_start_of(lib, rows[i][4], preview_chars)))
            for i in order if i in rows]


def _start_of(lib, digest: str, chars: int) -> str:
    """The first ``chars`` characters without reading a 10 MB text whole."""
    with open(lib.blobs.path(digest), "rb") as fh:
        return fh.read(chars * 4 * 2).decode("utf-8", "ignore")


def text_lengths(s, dataset_id: int) -> TextLengths:
    where = (Sample.dataset_id == dataset_id, Sample.format == TEXT_FORMAT)
    count, shortest, longest, long_texts = s.execute(select(
        func.count(Sample.id), func.min(Sample.width), func.max(Sample.width),
        func.count(Sample.id).filter(Sample.width > LONG_TEXT_CHARS)).where(*where)).one()
    median = s.scalar(select(Sample.width).where(*where).order_by(Sample.width).offset(count // 2).limit(1)) if count else 0
    return TextLengths(count, shortest or 0, median or 0, longest or 0, long_texts)
