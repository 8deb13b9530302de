"""Word search over text samples (SQLite FTS5): the right ids on 100,000 texts, ranking, accents,
user-typed queries that are never an FTS syntax error, and the index following deletes."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import delete, text

from studio.data.text.importing import import_text_lines
from studio.data.text.search import index_texts, search_texts
from studio.store.datasets import create_dataset, delete_dataset
from studio.store.models import Sample, utcnow

COLOURS = ("red", "green", "blue", "amber", "violet", "teal", "ochre")
SIZES = ("tiny", "small", "medium", "large", "huge", "vast", "minute", "giant", "petite", "broad", "narrow")


def short_text(i: int) -> str:
    return f"item{i} is {COLOURS[i % 7]} and {SIZES[i % 11]}"


def add_indexed_texts(lib, dataset_id: int, texts: list[str]) -> list[int]:
    """Rows and index entries as the importer writes them, without a blob file per text (search
    never reads the files); returns the sample ids in order."""
    now = utcnow()
    with lib.transaction() as s:
        values = [{"dataset_id": dataset_id, "blob": hashlib.sha256(t.encode()).hexdigest(), "format": "txt",
                   "width": len(t), "height": 0, "channels": 0, "byte_size": len(t), "class_id": None,
                   "split": None, "source_path": "test", "labelled_by": "", "phash": None, "created_at": now}
                  for t in texts]
        s.connection().execute(Sample.__table__.insert(), values)
        first = s.execute(text("SELECT min(id) FROM samples WHERE dataset_id = :d"), {"d": dataset_id}).scalar()
        ids = list(range(first, first + len(texts)))
        index_texts(s, list(zip(ids, texts)))
    return ids


def test_the_right_ids_among_100000_short_texts(library, text_dataset):
    ids = add_indexed_texts(library, text_dataset, [short_text(i) for i in range(100_000)])
    with library.transaction() as s:
        other = create_dataset(s, "other texts", kind="text").id
    add_indexed_texts(library, other, ["red and large", "item77 red"])
    with library.session() as s:
        red_large = search_texts(s, text_dataset, "RED large", limit=100_000)
        assert sorted(red_large) == [ids[i] for i in range(100_000) if i % 7 == 0 and i % 11 == 3]
        assert search_texts(s, text_dataset, "item54321") == [ids[54321]]
        assert search_texts(s, text_dataset, "item9999*", limit=50) == [ids[9999]] + [ids[i] for i in range(99990, 100_000)]
        assert len(search_texts(s, text_dataset, "teal", limit=25)) == 25
        assert search_texts(s, text_dataset, "red purple") == []
        assert search_texts(s, other, "red") != [] and set(search_texts(s, other, "red")).isdisjoint(ids)


def test_more_occurrences_rank_first_and_accents_and_case_are_ignored(library, text_dataset):
    import_text_lines(library, text_dataset, ["a film about a Café", "film film film, a great film", "no match here",
                                              "the film was long and slow"])
    with library.session() as s:
        assert search_texts(s, text_dataset, "film") == [2, 1, 4]
        assert search_texts(s, text_dataset, "cafe") == [1] == search_texts(s, text_dataset, "CAFÉ")
        assert search_texts(s, text_dataset, '"long and slow"') == [4]
        assert search_texts(s, text_dataset, '"slow and long"') == []


@pytest.mark.parametrize("query", [
    '"', '""', '"unclosed phrase', "AND", "OR NOT", "film AND", "NEAR(film a)", "film NEAR", "(", ")", "*",
    "film*", "**film", "^film", "body:film", "-film", "+film", "film -", "a:b:c", "'single'", "\\", "%_",
    "😀 film", "фильм", "日本語", "\x00film", "film\x1bfilm", "\ud800film", "film\n\tfilm", " ", "",
])
def test_anything_a_user_types_is_searched_never_an_fts_syntax_error(library, text_dataset, query):
    import_text_lines(library, text_dataset, ["film and more", "a NEAR miss (not) film", "body: film"])
    with library.session() as s:
        found = search_texts(s, text_dataset, query)
    assert isinstance(found, list) and all(isinstance(i, int) for i in found)


def test_operator_words_are_plain_words(library, text_dataset):
    import_text_lines(library, text_dataset, ["cats and dogs", "cats or dogs", "cats not dogs"])
    with library.session() as s:
        assert search_texts(s, text_dataset, "and") == [1]
        assert search_texts(s, text_dataset, "cats OR") == [2]
        assert search_texts(s, text_dataset, "NOT dogs") == [3]


def test_the_index_follows_deleted_samples_and_datasets(library, text_dataset):
    import_text_lines(library, text_dataset, ["alpha one", "alpha two", "beta three"])
    with library.transaction() as s:
        s.execute(delete(Sample).where(Sample.id == 1))
    with library.session() as s:
        assert search_texts(s, text_dataset, "alpha") == [2]
    delete_dataset(library, text_dataset)
    with library.session() as s:
        assert s.execute(text("SELECT count(*) FROM text_search")).scalar() == 0
