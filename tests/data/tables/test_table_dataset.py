"""Table datasets in the library: import, load, edit cells with undo, change types and roles, split."""

from __future__ import annotations

import numpy as np
import pytest

from studio.core.errors import Cancelled, InvalidInputError
from studio.core.jobs import JobState
from studio.data.tables.dataset import (
    add_demo_table,
    import_table,
    load_table_dataset,
    resplit,
    set_cells,
    set_column,
)
from studio.data.tables.demos import DEMO_TABLES
from studio.data.tables.errors import TableError
from studio.data.tables.schema import ColumnType, Role
from studio.store.datasets import delete_dataset, list_datasets
from studio.store.gc import check_library, clean_library

PENGUINS = DEMO_TABLES["penguins"].path


def test_import_keeps_the_file_and_loads_the_same_rows_with_stratified_splits(library):
    progress = []
    imported = import_table(library, "penguins", PENGUINS, targets=["species"],
                            state=JobState(on_progress=lambda f, m: progress.append(f)))
    data = load_table_dataset(library, "penguins")
    assert data.table.num_rows == imported.rows == 344
    assert data.schema.targets[0].name == "species" and data.schema.task == "classification"
    assert library.blobs.path(_source_blob(library, data.id)).read_bytes() == PENGUINS.read_bytes()
    counts = data.split_counts()
    assert sum(counts.values()) == 344 and counts["train"] > counts["val"] > 0 and counts["test"] > 0
    species = np.asarray(data.table.column("species").to_pylist(), dtype=object)
    for split in ("train", "test"):
        assert set(species[data.rows(split)]) == set(species)  # every class in every split
    assert progress == sorted(progress) and progress[-1] == 1.0
    with library.session() as s:
        summary = next(d for d in list_datasets(s) if d.name == "penguins")
    assert (summary.kind, summary.samples) == ("table", 344)


def test_a_second_dataset_with_the_same_name_is_refused_before_reading(library):
    import_table(library, "t", DEMO_TABLES["xor"].path)
    with pytest.raises(InvalidInputError, match="already exists"):
        import_table(library, "t", PENGUINS)


def test_cancelled_import_leaves_no_dataset_and_no_blob(library):
    state = JobState()
    state.cancel()
    with pytest.raises(Cancelled):
        import_table(library, "penguins", PENGUINS, state=state)
    with library.session() as s:
        assert list_datasets(s) == []
    assert check_library(library).blob_files == 0


def test_edit_a_target_cell_and_undo_it(library):
    add_demo_table(library, "penguins", "p")
    before = load_table_dataset(library, "p").table.column("species")[5].as_py()
    previous = set_cells(library, "p", [(5, "species", "Gentoo"), (6, "species", None)])
    data = load_table_dataset(library, "p")
    assert data.table.column("species")[5].as_py() == "Gentoo"
    assert data.table.column("species")[6].as_py() is None
    assert previous[0] == (5, "species", before)
    set_cells(library, "p", [(7, "species", "Gentoo"), (7, "species", "Chinstrap")])  # the last one wins
    assert load_table_dataset(library, "p").table.column("species")[7].as_py() == "Chinstrap"
    set_cells(library, "p", previous)
    data = load_table_dataset(library, "p")
    assert data.table.column("species")[5].as_py() == before
    with library.session() as s:
        from studio.store.models import TableEdit
        assert s.query(TableEdit).count() == 1  # back to the original: only row 7's edit is left


def test_only_target_cells_can_be_edited_and_values_must_fit(library, tmp_path):
    add_demo_table(library, "penguins", "p")
    with pytest.raises(TableError, match="only target cells"):
        set_cells(library, "p", [(0, "island", "Nowhere")])
    with pytest.raises(TableError, match="no row"):
        set_cells(library, "p", [(10_000, "species", "Adelie")])
    numbers = tmp_path / "numbers.csv"
    numbers.write_text("x,y\n" + "".join(f"{i * 1.5},{i * 0.5}\n" for i in range(30)))
    import_table(library, "numbers", numbers, targets=["y"])
    with pytest.raises(TableError, match="not a valid value"):
        set_cells(library, "numbers", [(0, "y", "lots")])
    counts = tmp_path / "counts.csv"
    counts.write_text("x,n\n" + "".join(f"{i * 1.5},{i * 100}\n" for i in range(30)))
    import_table(library, "counts", counts, targets=["n"], types={"n": ColumnType.NUMBER})
    set_cells(library, "counts", [(0, "n", 1000.0)])
    assert load_table_dataset(library, "counts").table.column("n")[0].as_py() == 1000
    with pytest.raises(TableError, match="not a valid value"):
        set_cells(library, "counts", [(0, "n", 1000.5)])
    set_cells(library, "numbers", [(0, "y", "2.5")])
    assert load_table_dataset(library, "numbers").table.column("y")[0].as_py() == 2.5


def test_change_a_column_type_and_role(library):
    add_demo_table(library, "penguins", "p")
    schema = set_column(library, "p", "island", role=Role.IGNORE)
    assert schema.column("island").role is Role.IGNORE
    assert load_table_dataset(library, "p").schema.column("island").role is Role.IGNORE
    with pytest.raises(TableError, match="cannot be a number"):
        set_column(library, "p", "sex", type=ColumnType.NUMBER)
    with pytest.raises(TableError, match="needs a target"):
        set_column(library, "p", "species", role=Role.FEATURE)
    assert load_table_dataset(library, "p").schema.column("species").role is Role.TARGET


def test_resplit_changes_splits_and_drops_the_old_splits_file(library):
    add_demo_table(library, "penguins", "p")
    first = load_table_dataset(library, "p").splits
    codes = resplit(library, "p", (0.5, 0.25, 0.25), seed=3)
    data = load_table_dataset(library, "p")
    assert np.array_equal(codes, data.splits) and not np.array_equal(first, codes)
    assert abs(data.split_counts()["train"] - 172) <= 3
    assert check_library(library).healthy


def test_doctor_keeps_table_files_and_delete_removes_them(library):
    dataset_id = add_demo_table(library, "penguins", "p")
    clean_library(library)
    assert load_table_dataset(library, "p").table.num_rows == 344  # nothing of it was "orphaned"
    assert check_library(library).blob_files == 3
    delete_dataset(library, dataset_id)
    assert check_library(library).blob_files == 0


def test_an_image_dataset_is_not_a_table(library):
    from studio.store.datasets import create_dataset

    with library.transaction() as s:
        create_dataset(s, "pictures")
    with pytest.raises(InvalidInputError, match="not a table"):
        load_table_dataset(library, "pictures")


def _source_blob(library, dataset_id: int) -> str:
    from studio.store.models import TableData

    with library.session() as s:
        return s.get(TableData, dataset_id).source_blob


def test_images_are_not_mixed_into_a_table_dataset(library, tmp_path):
    from PIL import Image

    from studio.store.importers import import_files

    dataset_id = add_demo_table(library, "xor", "x")
    picture = tmp_path / "a.png"
    Image.new("RGB", (8, 8)).save(picture)
    with pytest.raises(InvalidInputError, match="holds tables, not images"):
        import_files(library, dataset_id, [picture])
