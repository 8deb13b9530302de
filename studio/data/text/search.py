"""Finding texts by their words: the SQLite FTS5 index of migration 0004.

    ids = search_texts(session, dataset_id, 'great "special effects" act*', limit=50)

What the user types is never passed to FTS5 as syntax: each word becomes a quoted term, so
quotes, brackets, AND/OR/NOT/NEAR, colons and stray asterisks are plain text and cannot cause a
syntax error. All words must occur (in any order); "words in quotes" must occur together; a word
ending in * matches as a prefix. Case and accents are ignored ("cafe" finds "Café").
"""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.orm import Session

from studio.store.models import TEXT_SEARCH_TABLE

DEFAULT_LIMIT = 100
_PIECES = re.compile(r'"([^"]*)"?|(\S+)')  # "a phrase" (closing quote optional) or a word
_WORD_CHAR = re.compile(r"\w")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SEARCH = text(f"""
    SELECT samples.id FROM {TEXT_SEARCH_TABLE}
    JOIN samples ON samples.id = {TEXT_SEARCH_TABLE}.rowid
    WHERE {TEXT_SEARCH_TABLE} MATCH :query AND samples.dataset_id = :dataset_id
    ORDER BY {TEXT_SEARCH_TABLE}.rank, samples.id
    LIMIT :limit
""")


def index_texts(s: Session, texts: list[tuple[int, str]]) -> None:
    """Add (sample id, text) pairs to the word index, in the caller's transaction (the one that
    inserts their rows). Deleting a sample removes its entry (a trigger)."""
    if texts:
        s.execute(text(f"INSERT INTO {TEXT_SEARCH_TABLE} (rowid, body) VALUES (:id, :body)"),
                  [{"id": sample_id, "body": body} for sample_id, body in texts])


def fts_query(user_query: str) -> str | None:
    """The FTS5 query for what the user typed; None when it holds no word to look for."""
    # Control characters end FTS5 strings early; a lone surrogate (pasted) cannot be sent to SQLite.
    cleaned = _CONTROL.sub(" ", user_query.encode("utf-8", "replace").decode("utf-8"))
    terms = []
    for match in _PIECES.finditer(cleaned):
        phrase, word = match.group(1), match.group(2)
        piece = phrase if phrase is not None else word
        prefix = phrase is None and word.endswith("*")
        piece = piece.rstrip("*") if prefix else piece
        if not _WORD_CHAR.search(piece):  # punctuation alone: the tokenizer would find no word
            continue
        terms.append('"' + piece.replace('"', '""') + '"' + ("*" if prefix else ""))
    return " ".join(terms) or None


def search_texts(s: Session, dataset_id: int, query: str, limit: int = DEFAULT_LIMIT) -> list[int]:
    """Ids of the dataset's texts holding every word of ``query``, best match first (BM25, ties
    by id); [] for a query without words."""
    match = fts_query(query)
    if match is None or limit < 1:
        return []
    rows = s.execute(_SEARCH, {"query": match, "dataset_id": int(dataset_id), "limit": int(limit)})
    return [sample_id for (sample_id,) in rows]
