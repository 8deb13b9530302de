"""Tables (CSV/TSV/Parquet) as a kind of dataset: reading, column types and roles, splits, encoding.
No Qt and no store writes here; the store, the worker and the pages call these functions."""

from studio.data.tables.encoding import EncodedFeatures, TableEncoder, TableSplit, encode_splits
from studio.data.tables.reading import TableSource, read_table, sniff
from studio.data.tables.schema import ColumnInfo, ColumnType, Role, TableSchema, infer_schema
from studio.data.tables.splits import SPLITS, split_rows

__all__ = ["SPLITS", "ColumnInfo", "ColumnType", "EncodedFeatures", "Role", "TableEncoder", "TableSchema",
           "TableSource", "TableSplit", "encode_splits", "infer_schema", "read_table", "sniff", "split_rows"]
