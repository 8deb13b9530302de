"""The dialog that comes before a table import: what the file was sniffed as, its first rows with
the inferred column types and roles, and a row per column where the user picks the target(s),
the ignored columns and any type; every change is checked against the first rows at once.

``preview_table`` (no Qt) reads the sniffed file's first block only, so a 2 GB file previews as
fast as a small one; the import itself (``import_table``) runs as a job of the page afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSplitter,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.jobs import JobState
from studio.data.tables.errors import NotATableError, TableError
from studio.data.tables.reading import NULL_VALUES, TableSource, sniff
from studio.data.tables.schema import ColumnType, Role, TableSchema, infer_schema
from studio.data.tables.splits import split_rows
from studio.ui.common.workers import start_job
from studio.ui.datasets.table_model import TableModel, format_cell

TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".parquet", ".pq")
TABLE_FILE_FILTER = "Tables (*.csv *.tsv *.tab *.parquet *.pq);;All files (*)"
PREVIEW_BYTES = 1 << 20
PREVIEW_ROWS = 1000
EXAMPLES = 3
TYPE_BOX_WIDTH = 190
ROLE_BOX_WIDTH = 110
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "vertical bar"}
COLUMNS = ("Column", "Type", "Role", "Missing", "Examples", "Note")


def is_table_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() in TABLE_SUFFIXES


@dataclass
class TablePreview:
    path: Path
    source: TableSource
    table: pa.Table  # the first rows (at most PREVIEW_ROWS)

    def describe(self) -> str:
        if self.source.format == "parquet":
            return "Parquet file"
        delimiter = DELIMITER_NAMES.get(self.source.delimiter, repr(self.source.delimiter))
        header = "a header row" if self.source.header else "no header"
        return f"CSV text, {delimiter}-separated, {self.source.encoding.upper()}, {header}"


def preview_table(path: str | Path, state: JobState | None = None) -> TablePreview:
    """The sniffed format and the first rows of ``path``; a TableError says why it is no table."""
    path = Path(path)
    source = sniff(path)
    try:
        table = _first_rows_parquet(path) if source.format == "parquet" else _first_rows_csv(path, source)
    except pa.ArrowInvalid as exc:
        raise NotATableError(f"{path.name} cannot be read as a table: {str(exc).splitlines()[0][:200]}") from None
    if table.num_rows == 0:
        raise TableError(f"{path.name} has column names but no rows")
    return TablePreview(path, source, table.slice(0, PREVIEW_ROWS))


def _first_rows_csv(path: Path, source: TableSource) -> pa.Table:
    read = pacsv.ReadOptions(block_size=PREVIEW_BYTES, encoding=source.encoding,
                             autogenerate_column_names=not source.header)
    parse = pacsv.ParseOptions(delimiter=source.delimiter, newlines_in_values=True)
    convert = pacsv.ConvertOptions(null_values=NULL_VALUES, strings_can_be_null=True)
    with pacsv.open_csv(str(path), read_options=read, parse_options=parse, convert_options=convert) as reader:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return reader.schema.empty_table()
    return pa.Table.from_batches([batch])


def _first_rows_parquet(path: Path) -> pa.Table:
    batches = pq.ParquetFile(str(path)).iter_batches(batch_size=PREVIEW_ROWS)
    return pa.Table.from_batches([next(batches)])


class TableImportDialog(QDialog):
    """Open it with a path; it previews in a job. ``choices()`` after Import: what ``import_table``
    takes (name, targets, ignore, types)."""

    def __init__(self, path: str | Path, dataset_name: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.path = Path(path)
        self.preview: TablePreview | None = None
        self.schema: TableSchema | None = None
        self.setWindowTitle(f"Import {self.path.name}")
        self.format_label = QLabel("Reading the first rows…")
        self.format_label.setObjectName("table_format")
        self.name_edit = QLineEdit(dataset_name)
        self.name_edit.setObjectName("table_dataset_name")
        self.columns = QTableWidget(0, len(COLUMNS))
        self.columns.setObjectName("table_columns")
        self.columns.setHorizontalHeaderLabels(COLUMNS)
        self.columns.verticalHeader().setVisible(False)
        self.columns.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.columns.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.columns.horizontalHeader().setStretchLastSection(True)
        self.columns.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.rows_model = TableModel(self)
        self.rows_view = QTableView()
        self.rows_view.setObjectName("table_preview")
        self.rows_view.setModel(self.rows_model)
        self.rows_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.rows_view.verticalHeader().setDefaultSectionSize(22)
        self.rows_view.horizontalHeader().setDefaultSectionSize(120)
        self.rows_view.horizontalHeader().setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.message = QLabel()
        self.message.setObjectName("table_import_message")
        self.message.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.import_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.import_button.setText("Import")
        self.import_button.setEnabled(False)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.addRow("File:", QLabel(str(self.path)))
        form.addRow("Read as:", self.format_label)
        form.addRow("Dataset name:", self.name_edit)
        parts = QSplitter(Qt.Orientation.Vertical)
        parts.addWidget(self._titled("Columns: choose what to predict (target), what to ignore, and types",
                                     self.columns))
        parts.addWidget(self._titled(f"First rows (at most {PREVIEW_ROWS:,})", self.rows_view))
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(parts, 1)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.resize(900, 640)
        self.job = start_job(preview_table, self.path)
        self.job.finished.connect(self.show_preview)
        self.job.failed.connect(self._show_failure)

    @staticmethod
    def _titled(title: str, widget: QWidget) -> QWidget:
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 4, 0, 0)
        label = QLabel(title)
        label.setStyleSheet("color: #5b6670; font-weight: 600;")
        layout.addWidget(label)
        layout.addWidget(widget, 1)
        return box

    # --- preview ------------------------------------------------------------------------------
    def show_preview(self, preview: TablePreview) -> None:
        self.preview = preview
        self.format_label.setText(f"{preview.describe()} · {preview.table.num_columns} columns")
        names = preview.table.column_names
        self.columns.setRowCount(len(names))
        for row, name in enumerate(names):
            self.columns.setItem(row, 0, QTableWidgetItem(name))
            self.columns.setCellWidget(row, 1, self._type_box())
            self.columns.setCellWidget(row, 2, self._role_box(Role.TARGET if row == len(names) - 1 else Role.FEATURE))
            self.columns.setItem(row, 4, QTableWidgetItem(_examples(preview.table.column(name))))
        self.columns.resizeColumnsToContents()
        self.columns.setColumnWidth(1, TYPE_BOX_WIDTH)  # room for "automatic (identifier)"
        self.columns.setColumnWidth(2, ROLE_BOX_WIDTH)
        self.check_choices()

    def _show_failure(self, message: str) -> None:
        self.format_label.setText("not readable as a table")
        self._say(message, error=True)

    def _type_box(self) -> QComboBox:
        box = QComboBox()
        box.addItem("automatic", None)
        for column_type in ColumnType:  # item data: the plain value (Qt turns a str enum into str)
            box.addItem(column_type.value, column_type.value)
        box.activated.connect(lambda _i: self.check_choices())
        return box

    def _role_box(self, role: Role) -> QComboBox:
        box = QComboBox()
        for choice in Role:
            box.addItem(choice.value, choice.value)
        box.setCurrentIndex(box.findData(role.value))
        box.activated.connect(lambda _i: self.check_choices())
        return box

    # --- choices ------------------------------------------------------------------------------
    def set_choice(self, column: str, *, role: Role | None = None, column_type: ColumnType | None = None) -> None:
        """As picking in the column's boxes (for tests and scripts)."""
        row = self.preview.table.column_names.index(column)
        if role is not None:
            box = self.columns.cellWidget(row, 2)
            box.setCurrentIndex(box.findData(Role(role).value))
        if column_type is not None:
            box = self.columns.cellWidget(row, 1)
            box.setCurrentIndex(box.findData(ColumnType(column_type).value))
        self.check_choices()

    def choices(self) -> tuple[str, list[str], list[str], dict[str, ColumnType]]:
        """(dataset name, targets, ignored columns, types chosen by the user)."""
        targets, ignore, types = [], [], {}
        for row, name in enumerate(self.preview.table.column_names if self.preview else []):
            role = Role(self.columns.cellWidget(row, 2).currentData())
            (targets if role is Role.TARGET else ignore if role is Role.IGNORE else []).append(name)
            chosen = self.columns.cellWidget(row, 1).currentData()
            if chosen is not None:
                types[name] = ColumnType(chosen)
        return self.name_edit.text().strip(), targets, ignore, types

    def check_choices(self) -> bool:
        """Infer the schema of the first rows with the choices; show its types, notes or error."""
        if self.preview is None:
            return False
        _, targets, ignore, types = self.choices()
        try:
            if not targets:
                raise TableError("choose a target: the column to predict")
            self.schema = infer_schema(self.preview.table, targets=targets, ignore=ignore, types=types)
        except TableError as exc:
            self.schema = None
            self._say(str(exc), error=True)
            self.rows_model.set_table(pa.table({}), TableSchema([], 0, "classification"), [])
            return False
        self._show_inferred(self.schema)
        self.rows_model.set_table(self.preview.table, self.schema, split_rows(self.preview.table, self.schema))
        targets_text = ", ".join(c.name for c in self.schema.targets)
        self._say(f"{self.schema.task.capitalize()} of {targets_text}, from {len(self.schema.features)} "
                  f"feature column{'s' if len(self.schema.features) != 1 else ''}.", error=False)
        return True

    def _show_inferred(self, schema: TableSchema) -> None:
        for row, column in enumerate(schema.columns):
            box = self.columns.cellWidget(row, 1)
            box.setItemText(0, f"automatic ({column.type.value})")
            self.columns.setItem(row, 3, QTableWidgetItem(f"{column.missing:,}"))
            self.columns.setItem(row, 5, QTableWidgetItem(column.note))

    def _say(self, text: str, *, error: bool) -> None:
        self.message.setText(text)
        self.message.setStyleSheet("color: #b3261e" if error else "color: #2e6b30")
        self.import_button.setEnabled(not error and self.preview is not None)

    def done(self, result: int) -> None:
        self.job.cancel()
        super().done(result)


def _examples(column: pa.ChunkedArray) -> str:
    values = []
    for value in column.drop_null().to_pylist():
        text = format_cell(value)
        if text not in values:
            values.append(text)
        if len(values) == EXAMPLES:
            break
    return ", ".join(values)
