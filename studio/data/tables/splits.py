"""Train / val / test for the rows of a table: stratified per class for classification, the same
sizes rule as image datasets (studio.store.splits), deterministic for a seed, numpy throughout so
a million rows split in milliseconds."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from studio.data.tables.schema import TableSchema
from studio.store.splits import _check_fractions, _group_sizes

SPLITS = ("train", "val", "test")  # the codes 0, 1, 2 that split_rows returns


def split_rows(table: pa.Table, schema: TableSchema, fractions: Sequence[float] = (0.8, 0.1, 0.1),
               seed: int = 0) -> np.ndarray:
    """int8 per row: 0 train, 1 val, 2 test. For classification each class (and the rows without
    a target, as one more group) is split on its own, so every split keeps the class balance."""
    fracs = _check_fractions(fractions)
    if schema.task == "classification":
        encoded = pc.dictionary_encode(pc.cast(table.column(schema.targets[0].name), pa.string())).combine_chunks()
        groups = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    else:
        groups = np.zeros(table.num_rows, dtype=np.int64)
    codes = np.empty(table.num_rows, dtype=np.int8)
    for group in np.unique(groups):
        rows = np.flatnonzero(groups == group)
        rows = rows[np.random.default_rng([seed, int(group) + 1]).permutation(len(rows))]
        n_train, n_val, _ = _group_sizes(len(rows), fracs)
        codes[rows[:n_train]] = 0
        codes[rows[n_train:n_train + n_val]] = 1
        codes[rows[n_train + n_val:]] = 2
    return codes
