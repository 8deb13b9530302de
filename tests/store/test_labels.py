"""Labelling in the store (no Qt): classes, labels with exact undo data, splits, suggestions,
duplicates and problem classes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import insert, select

from studio.core.errors import InvalidInputError, NotFoundError
from studio.store import classes as store_classes
from studio.store import duplicates as store_duplicates
from studio.store import labelling as store_labelling
from studio.store import problems as store_problems
from studio.store import suggestions as store_suggestions
from studio.store.models import Dataset, LabelClass, Prediction, Run, Sample


def make_dataset(lib, name="ds", n=0, **sample_kw) -> int:
    with lib.transaction() as s:
        ds = Dataset(name=name)
        s.add(ds)
        s.flush()
        if n:
            s.execute(insert(Sample), [
                {"dataset_id": ds.id, "blob": f"{name}-{i:08d}", "source_path": f"/x/{i}.png", **sample_kw}
                for i in range(n)
            ])
        return ds.id


def ids_of(lib, dataset_id) -> list[int]:
    with lib.session() as s:
        return list(s.scalars(select(Sample.id).where(Sample.dataset_id == dataset_id).order_by(Sample.id)))


def labels_of(lib, ids) -> dict[int, tuple[int | None, str]]:
    with lib.session() as s:
        rows = s.execute(select(Sample.id, Sample.class_id, Sample.labelled_by).where(Sample.id.in_(ids)))
        return {r[0]: (r[1], r[2]) for r in rows}


def png_bytes(array: np.ndarray, **save_kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG", **save_kw)
    return buf.getvalue()


# --------------------------------------------------------------------------- classes

def test_add_class_gets_distinct_colours_and_positions(library):
    ds = make_dataset(library)
    with library.transaction() as s:
        a = store_classes.add_class(s, ds, " cat ")
        b = store_classes.add_class(s, ds, "dog")
        c = store_classes.add_class(s, ds, "bird", colour="#ABCDEF")
    assert (a.name, a.position, b.position, c.position) == ("cat", 0, 1, 2)
    assert a.colour != b.colour and c.colour == "#abcdef"
    with library.session() as s:
        assert [r.name for r in store_classes.list_classes(s, ds)] == ["cat", "dog", "bird"]


@pytest.mark.parametrize("name, colour, message", [
    ("", None, "must not be empty"),
    ("   ", None, "must not be empty"),
    ("x" * 201, None, "at most 200"),
    ("CAT", None, "already exists"),
    ("ok", "red", "#rrggbb"),
])
def test_add_class_rejects_bad_input_and_keeps_the_rest(library, name, colour, message):
    ds = make_dataset(library)
    with library.transaction() as s:
        store_classes.add_class(s, ds, "cat")
    with pytest.raises(InvalidInputError, match=message), library.transaction() as s:
        store_classes.add_class(s, ds, name, colour=colour)
    with library.session() as s:
        assert [r.name for r in store_classes.list_classes(s, ds)] == ["cat"]


def test_add_class_to_missing_dataset(library):
    with pytest.raises(NotFoundError), library.transaction() as s:
        store_classes.add_class(s, 999, "cat")


def test_rename_recolour_reorder_return_what_undo_needs(library):
    ds = make_dataset(library)
    with library.transaction() as s:
        a, b, c = (store_classes.add_class(s, ds, n).id for n in ("a", "b", "c"))
        assert store_classes.rename_class(s, a, "apple") == "a"
        old_colour = s.get(LabelClass, b).colour
        assert store_classes.recolour_class(s, b, "#010203") == old_colour
        assert store_classes.reorder_classes(s, ds, [c, a, b]) == [a, b, c]
    with library.session() as s:
        assert [(r.name, r.position) for r in store_classes.list_classes(s, ds)] == [("c", 0), ("apple", 1), ("b", 2)]
    with library.transaction() as s:
        with pytest.raises(InvalidInputError, match="already exists"):
            store_classes.rename_class(s, b, "APPLE")
        with pytest.raises(InvalidInputError, match="every class"):
            store_classes.reorder_classes(s, ds, [a, b])
        with pytest.raises(NotFoundError):
            store_classes.rename_class(s, 12345, "x")


def test_find_class_by_name_or_id(library):
    ds = make_dataset(library)
    other = make_dataset(library, "other")
    with library.transaction() as s:
        cat = store_classes.add_class(s, ds, "Cat").id
        foreign = store_classes.add_class(s, other, "dog").id
    with library.session() as s:
        assert store_classes.find_class(s, ds, "cat").id == cat
        assert store_classes.find_class(s, ds, str(cat)).id == cat
        with pytest.raises(NotFoundError, match="classes: Cat"):
            store_classes.find_class(s, ds, "horse")
        with pytest.raises(NotFoundError):
            store_classes.find_class(s, ds, str(foreign))  # a class of another dataset is not found by id


def test_merge_moves_samples_and_undo_restores_class_and_labels(library):
    ds = make_dataset(library, n=6)
    ids = ids_of(library, ds)
    with library.transaction() as s:
        cat, kitten = store_classes.add_class(s, ds, "cat").id, store_classes.add_class(s, ds, "kitten").id
        store_labelling.set_labels(s, ds, ids[:2], cat)
        store_labelling.set_labels(s, ds, ids[2:4], kitten, by="import")
    before = labels_of(library, ids)
    with library.transaction() as s:
        removal = store_classes.merge_classes(s, kitten, cat)
    with library.session() as s:
        assert [(r.name, r.count) for r in store_classes.list_classes(s, ds)] == [("cat", 4)]
    assert labels_of(library, ids[2:4]) == {ids[2]: (cat, "import"), ids[3]: (cat, "import")}
    with library.transaction() as s:
        store_classes.undo_removal(s, removal)
    assert labels_of(library, ids) == before
    with library.session() as s:
        assert [(r.id, r.name, r.count) for r in store_classes.list_classes(s, ds)] == [(cat, "cat", 2), (kitten, "kitten", 2)]
    with library.transaction() as s, pytest.raises(InvalidInputError, match="itself"):
        store_classes.merge_classes(s, cat, cat)


def test_delete_class_unlabels_its_samples_and_undo_restores(library):
    ds = make_dataset(library, n=5)
    ids = ids_of(library, ds)
    with library.transaction() as s:
        cat = store_classes.add_class(s, ds, "cat", colour="#123456").id
        dog = store_classes.add_class(s, ds, "dog").id
        store_labelling.set_labels(s, ds, ids[:3], cat)
        store_labelling.set_labels(s, ds, ids[3:], dog)
        assert store_classes.class_sample_count(s, cat) == 3
    before = labels_of(library, ids)
    with library.transaction() as s:
        removal = store_classes.delete_class(s, cat)
    assert [labels_of(library, ids)[i][0] for i in ids] == [None, None, None, dog, dog]
    with library.transaction() as s:
        store_classes.undo_removal(s, removal)
    assert labels_of(library, ids) == before
    with library.session() as s:
        restored = s.get(LabelClass, cat)
        assert (restored.name, restored.colour, restored.position) == ("cat", "#123456", 0)


# --------------------------------------------------------------------------- labels & splits

def test_set_labels_returns_previous_and_restore_is_exact(library):
    ds = make_dataset(library, n=4, labelled_by="import")
    ids = ids_of(library, ds)
    with library.transaction() as s:
        a, b = store_classes.add_class(s, ds, "a").id, store_classes.add_class(s, ds, "b").id
        store_labelling.set_labels(s, ds, ids[:2], a, by="import")
    before = labels_of(library, ids)
    with library.transaction() as s:
        prev = store_labelling.set_labels(s, ds, ids, b)
    assert dict(prev) == {ids[0]: a, ids[1]: a, ids[2]: None, ids[3]: None}
    assert all(v == (b, "user") for v in labels_of(library, ids).values())
    with library.transaction() as s:
        again = store_labelling.set_labels(s, ds, ids, b)  # nothing changes -> nothing to undo
        assert dict(again) == {}
        store_labelling.restore_labels(s, prev)
    assert labels_of(library, ids) == before
    with library.transaction() as s:
        store_labelling.set_labels(s, ds, ids[:1], None)
    assert labels_of(library, ids[:1]) == {ids[0]: (None, "")}


def test_set_labels_bad_input_changes_nothing(library):
    ds = make_dataset(library, n=3)
    other = make_dataset(library, "other", n=1)
    ids, foreign = ids_of(library, ds), ids_of(library, other)
    with library.transaction() as s:
        cat = store_classes.add_class(s, ds, "cat").id
        other_cls = store_classes.add_class(s, other, "x").id
    with pytest.raises(NotFoundError, match="not in this dataset"), library.transaction() as s:
        store_labelling.set_labels(s, ds, ids + foreign, cat)
    with pytest.raises(InvalidInputError, match="another dataset"), library.transaction() as s:
        store_labelling.set_labels(s, ds, ids, other_cls)
    with pytest.raises(NotFoundError), library.transaction() as s:
        store_labelling.set_labels(s, ds, ids, 9999)
    with pytest.raises(InvalidInputError, match="whole numbers"), library.transaction() as s:
        store_labelling.set_labels(s, ds, ["abc"], cat)
    assert all(v[0] is None for v in labels_of(library, ids).values())


def test_bulk_label_of_25000_samples_is_exact(library):
    """More ids than one statement takes: chunks still label every sample and restore exactly."""
    ds = make_dataset(library, n=25_000)
    ids = ids_of(library, ds)
    with library.transaction() as s:
        a, b = store_classes.add_class(s, ds, "a").id, store_classes.add_class(s, ds, "b").id
        store_labelling.set_labels(s, ds, ids[::2], a)
    with library.transaction() as s:
        prev = store_labelling.set_labels(s, ds, ids, b)
    assert len(prev) == 25_000
    with library.session() as s:
        assert [r.count for r in store_classes.list_classes(s, ds)] == [0, 25_000]
    with library.transaction() as s:
        store_labelling.restore_labels(s, prev)
    with library.session() as s:
        assert [r.count for r in store_classes.list_classes(s, ds)] == [12_500, 0]


def test_set_splits_and_restore(library):
    ds = make_dataset(library, n=4)
    ids = ids_of(library, ds)
    with library.transaction() as s:
        store_labelling.set_splits(s, ds, ids[:2], "train")
        prev = store_labelling.set_splits(s, ds, ids, "test")
    assert prev == {ids[0]: "train", ids[1]: "train", ids[2]: None, ids[3]: None}
    with library.transaction() as s:
        store_labelling.restore_splits(s, prev)
        with pytest.raises(InvalidInputError, match="split must be one of"):
            store_labelling.set_splits(s, ds, ids, "holdout")
    with library.session() as s:
        got = dict(s.execute(select(Sample.id, Sample.split).where(Sample.id.in_(ids))).all())
    assert got == {ids[0]: "train", ids[1]: "train", ids[2]: None, ids[3]: None}


def test_labelling_order_puts_unlabelled_first(library):
    ds = make_dataset(library, n=5)
    ids = ids_of(library, ds)
    with library.transaction() as s:
        cat = store_classes.add_class(s, ds, "cat").id
        store_labelling.set_labels(s, ds, [ids[0], ids[2]], cat)
    with library.session() as s:
        assert store_labelling.labelling_order(s, ds) == [ids[1], ids[3], ids[4], ids[0], ids[2]]
        assert store_labelling.labelling_order(s, ds, [ids[2], ids[4], ids[0], 99999]) == [ids[4], ids[2], ids[0]]


# --------------------------------------------------------------------------- suggestions

@pytest.fixture
def predicted(library):
    """6 samples: 2 labelled cat, 1 labelled dog, 3 unlabelled; a run's predictions for all."""
    ds = make_dataset(library, n=6)
    ids = ids_of(library, ds)
    with library.transaction() as s:
        cat, dog = store_classes.add_class(s, ds, "cat").id, store_classes.add_class(s, ds, "dog").id
        store_labelling.set_labels(s, ds, ids[:2], cat)
        store_labelling.set_labels(s, ds, ids[2:3], dog)
        run = Run(dataset_id=ds, name="r1", status="completed", classes=["cat", "dog"])
        s.add(run)
        s.flush()
        guesses = [("cat", 0.9), ("dog", 0.95), ("dog", 0.6), ("cat", 0.99), ("dog", 0.4), ("bird", 0.8)]
        s.execute(insert(Prediction), [
            {"run_id": run.id, "sample_id": sid, "class_name": n, "confidence": c}
            for sid, (n, c) in zip(ids, guesses)
        ])
        run_id = run.id
    return library, ds, ids, cat, dog, run_id


def test_predictions_orders(predicted):
    lib, ds, ids, cat, dog, run = predicted
    with lib.session() as s:
        assert [r.run_id for r in store_suggestions.prediction_runs(s, ds)] == [run]
        by_conf = store_suggestions.suggestions_for(s, ds, run, order="confidence")
        assert [g.sample_id for g in by_conf] == [ids[3], ids[1], ids[0], ids[5], ids[2], ids[4]]
        assert [g.sample_id for g in store_suggestions.suggestions_for(s, ds, run, order="uncertainty")][:2] == [ids[4], ids[2]]
        dis = store_suggestions.suggestions_for(s, ds, run, order="disagreement")
        assert dis[0].sample_id == ids[1] and dis[0].disagrees  # labelled cat, model says dog at 0.95
        assert sum(g.disagrees for g in dis) == 1
        unl = store_suggestions.suggestions_for(s, ds, run, only="unlabelled")
        assert {g.sample_id for g in unl} == set(ids[3:])
        bird = next(g for g in unl if g.sample_id == ids[5])
        assert bird.class_id is None  # the model's class does not exist in the dataset
        with pytest.raises(InvalidInputError, match="order must be"):
            store_suggestions.suggestions_for(s, ds, run, order="random")
        with pytest.raises(NotFoundError):
            store_suggestions.suggestions_for(s, ds, 777)


def test_accept_suggestions_never_overwrites_human_labels_silently(predicted):
    lib, ds, ids, cat, dog, run = predicted
    before = labels_of(lib, ids)
    with lib.transaction() as s:
        prev = store_suggestions.accept_suggestions(s, run, ids)
    after = labels_of(lib, ids)
    assert after[ids[1]] == before[ids[1]]  # human "cat" kept although the model says dog
    assert after[ids[3]] == (cat, "model") and after[ids[4]] == (dog, "model")
    assert after[ids[5]] == (None, "")  # "bird" is no class of this dataset: skipped
    assert set(prev) == {ids[3], ids[4]}
    with lib.transaction() as s:
        store_labelling.restore_labels(s, prev)
        explicit = store_suggestions.accept_suggestions(s, run, [ids[1]], overwrite=True)
    assert labels_of(lib, ids)[ids[1]] == (dog, "model") and dict(explicit) == {ids[1]: cat}
    assert labels_of(lib, ids)[ids[3]] == (None, "")


# --------------------------------------------------------------------------- problems

def test_split_table_and_small_classes(library):
    ds = make_dataset(library, n=30)
    ids = ids_of(library, ds)
    with library.transaction() as s:
        big, small = store_classes.add_class(s, ds, "big").id, store_classes.add_class(s, ds, "small").id
        store_classes.add_class(s, ds, "empty")
        store_labelling.set_labels(s, ds, ids[:20], big)
        store_labelling.set_labels(s, ds, ids[20:25], small)
        store_labelling.set_splits(s, ds, ids[:16], "train")
        store_labelling.set_splits(s, ds, ids[16:18], "val")
        store_labelling.set_splits(s, ds, ids[18:20], "test")
        store_labelling.set_splits(s, ds, ids[20:25], "train")
    with library.session() as s:
        table = store_problems.split_table(s, ds)
        assert [r[1] for r in table.rows] == ["big", "small", "empty", "(unlabelled)"]
        assert table.rows[0][3] == {"train": 16, "val": 2, "test": 2}
        assert table.rows[3][3] == {None: 5}
        assert table.total() == 30 and table.total("train") == 21
        problems = {p.name: p.reasons for p in store_problems.small_classes(s, ds, min_count=10)}
    assert "big" not in problems
    assert problems["small"] == ("only 5 samples (at least 10 needed)", "no val sample", "no test sample")
    assert problems["empty"] == ("only 0 samples (at least 10 needed)",)


def digits_pngs(n: int) -> list[bytes]:
    from sklearn.datasets import load_digits

    images = load_digits().images[:n]
    return [png_bytes(np.kron((im * 15).astype(np.uint8), np.ones((4, 4), np.uint8))) for im in images]


def add_blob_samples(lib, ds, datas: list[bytes], class_ids=None, splits=None) -> list[int]:
    out = []
    with lib.transaction() as s:
        for i, data in enumerate(datas):
            digest = lib.blobs.put(data)
            img = Image.open(io.BytesIO(data))
            smp = Sample(dataset_id=ds, blob=digest, format="png", width=img.width, height=img.height,
                         class_id=class_ids[i] if class_ids else None,
                         split=splits[i] if splits else None)
            s.add(smp)
            s.flush()
            out.append(smp.id)
    return out


def test_near_duplicates_found_after_lazy_phash(library):
    from studio.core.jobs import JobState

    ds = make_dataset(library)
    base = digits_pngs(8)
    # a copy of image 0 with one pixel nudged, and image 1 re-saved with different metadata
    arr = np.array(Image.open(io.BytesIO(base[0])))
    arr[0, 0] = 255 - arr[0, 0]
    from PIL.PngImagePlugin import PngInfo

    meta = PngInfo()
    meta.add_text("comment", "copy")
    arr1 = np.array(Image.open(io.BytesIO(base[1])))
    datas = base + [png_bytes(arr), png_bytes(arr1, pnginfo=meta)]
    with library.transaction() as s:
        a, b = store_classes.add_class(s, ds, "a").id, store_classes.add_class(s, ds, "b").id
    classes = [a] * 8 + [b, a]
    splits = ["train"] * 9 + ["test"]
    ids = add_blob_samples(library, ds, datas, classes, splits)
    with library.session() as s:
        assert store_duplicates.find_near_duplicates(s, ds) == []  # no hashes yet
        assert len(store_duplicates.missing_phash_ids(s, ds)) == 10
    seen = []
    assert store_duplicates.compute_missing_phashes(library, ds, JobState(on_progress=lambda f, m: seen.append(f))) == 10
    assert seen and seen[-1] == 1.0
    with library.session() as s:
        assert store_duplicates.missing_phash_ids(s, ds) == []
        near = store_duplicates.find_near_duplicates(s, ds, max_distance=4)
        exact = store_duplicates.find_exact_duplicates(s, ds, library.blobs)
    near_sets = [set(g.sample_ids) for g in near]
    assert {ids[0], ids[8]} in near_sets and {ids[1], ids[9]} in near_sets
    first = near[0]
    assert set(first.sample_ids) == {ids[0], ids[8]} and first.conflicting_classes  # conflicts first
    assert [set(g.sample_ids) for g in exact] == [{ids[1], ids[9]}]
    assert exact[0].crosses_splits and not exact[0].conflicting_classes


def test_compute_phash_skips_unreadable_blobs_and_can_be_cancelled(library):
    from studio.core.errors import Cancelled
    from studio.core.jobs import JobState

    ds = make_dataset(library)
    ids = add_blob_samples(library, ds, digits_pngs(3))
    with library.transaction() as s:
        s.add(Sample(dataset_id=ds, blob="0" * 64, format="png"))  # its file is missing
    state = JobState()
    state.cancel()
    with pytest.raises(Cancelled):
        store_duplicates.compute_missing_phashes(library, ds, state)
    assert store_duplicates.compute_missing_phashes(library, ds) == 3
    with library.session() as s:
        assert len(store_duplicates.missing_phash_ids(s, ds)) == 1
        assert all(s.get(Sample, i).phash for i in ids)


def test_light_queries_for_views(library):
    ds = make_dataset(library, n=3)
    ids = ids_of(library, ds)
    with library.transaction() as s:
        a = store_classes.add_class(s, ds, "a", colour="#000001").id
        b = store_classes.add_class(s, ds, "b", colour="#000002").id
        store_classes.reorder_classes(s, ds, [b, a])
        store_labelling.set_labels(s, ds, ids[:1], a)
        store_labelling.set_splits(s, ds, ids[1:2], "val")
    with library.session() as s:
        assert store_classes.class_order(s, ds) == [(b, "b"), (a, "a")]
        assert store_classes.class_styles(s, ds) == {a: ("a", "#000001"), b: ("b", "#000002")}
        assert store_labelling.label_states(s, ids) == {ids[0]: (a, None, "user"), ids[1]: (None, "val", ""),
                                          ids[2]: (None, None, "")}


def test_lazy_phash_equals_the_importers_and_imagehash(library):
    import imagehash

    data = digits_pngs(1)[0]
    assert store_duplicates.phash_of(data) == str(imagehash.phash(Image.open(io.BytesIO(data))))
