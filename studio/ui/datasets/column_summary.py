"""The panel beside a table that describes its selected column: type and role (changeable), rows,
missing, distinct values, min / max / mean or the most frequent values, and a small histogram.

The histogram is one pyqtgraph curve created once (step mode, filled); each column only gets
``setData``. Categories are drawn as the same bars, one per frequent value, named on the x axis.
"""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from studio.data.tables.schema import ColumnInfo, ColumnType, Role
from studio.data.tables.summary import ColumnSummary

BAR_COLOUR = "#4e79a7"
COUNT_AXIS_WIDTH = 56
TYPE_TIPS = {
    ColumnType.NUMBER: "a quantity: normalised for training",
    ColumnType.CATEGORY: "one of a set of values: one-hot encoded or embedded",
    ColumnType.BOOLEAN: "yes / no",
    ColumnType.DATETIME: "a date or time",
    ColumnType.TEXT: "free text: not used for training",
    ColumnType.IDENTIFIER: "a different value on each row: not used for training",
}


class ColumnSummaryPanel(QWidget):
    """``change_requested(column, type | None, role | None)`` when the user picks another type or
    role; the owner writes it (and calls ``show_column`` again, or ``revert`` when refused)."""

    change_requested = Signal(str, object, object)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.column: ColumnInfo | None = None
        self.summary: ColumnSummary | None = None
        self.setMinimumWidth(260)
        self.setMaximumWidth(380)

        self.heading = QLabel("COLUMN")
        self.heading.setStyleSheet("color: #5b6670; font-weight: 600; letter-spacing: 1px;")
        self.name_label = QLabel("Select a column")
        self.name_label.setObjectName("column_name")
        self.name_label.setWordWrap(True)
        font = self.name_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.2)
        font.setBold(True)
        self.name_label.setFont(font)

        self.type_box = QComboBox()
        self.type_box.setObjectName("column_type")
        for column_type in ColumnType:  # item data: the plain value (Qt turns a str enum into str)
            self.type_box.addItem(column_type.value, column_type.value)
            self.type_box.setItemData(self.type_box.count() - 1, TYPE_TIPS[column_type], Qt.ItemDataRole.ToolTipRole)
        self.role_box = QComboBox()
        self.role_box.setObjectName("column_role")
        for role in Role:
            self.role_box.addItem(role.value, role.value)
        self.type_box.activated.connect(lambda _i: self._request(type_=ColumnType(self.type_box.currentData())))
        self.role_box.activated.connect(lambda _i: self._request(role=Role(self.role_box.currentData())))
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #5b6670")

        self.stats = QLabel()
        self.stats.setObjectName("column_stats")
        self.stats.setTextFormat(Qt.TextFormat.RichText)
        self.stats.setWordWrap(True)
        self.stats.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)

        self.plot = pg.PlotWidget(background="w")
        self.plot.setObjectName("column_histogram")
        self.plot.setMinimumHeight(150)
        self.plot.setMaximumHeight(220)
        self.plot.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.getPlotItem().setMenuEnabled(False)
        self.plot.getAxis("left").setWidth(COUNT_AXIS_WIDTH)  # counts up to a million, from the first paint
        self.bars = self.plot.plot([0, 1], [0], stepMode="center", fillLevel=0,
                                   brush=pg.mkBrush(BAR_COLOUR), pen=pg.mkPen(BAR_COLOUR))

        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Type:", self.type_box)
        form.addRow("Role:", self.role_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 0, 0, 0)
        layout.addWidget(self.heading)
        layout.addWidget(self.name_label)
        layout.addLayout(form)
        layout.addWidget(self.note)
        layout.addWidget(self.stats)
        layout.addWidget(self.plot)
        layout.addStretch(1)
        self.show_column(None)

    # --- what is shown ------------------------------------------------------------------------
    def show_column(self, column: ColumnInfo | None) -> None:
        """The column's name, type and role now; its numbers when ``show_summary`` brings them."""
        self.column, self.summary = column, None
        for box in (self.type_box, self.role_box):
            box.setEnabled(column is not None)
        self.plot.setVisible(False)  # until the summary is in: no empty axes meanwhile
        if column is None:
            self.name_label.setText("Select a column")
            self.note.setText("Click a column's header or one of its cells to see what it holds.")
            self.stats.setText("")
            return
        self.name_label.setText(column.name)
        self.revert()
        self.note.setText(column.note or TYPE_TIPS[column.type])
        self.stats.setText("<i>Computing…</i>")

    def revert(self) -> None:
        """The boxes show the column's type and role (after a refused change)."""
        if self.column is not None:
            self.type_box.setCurrentIndex(self.type_box.findData(self.column.type.value))
            self.role_box.setCurrentIndex(self.role_box.findData(self.column.role.value))

    def show_summary(self, name: str, summary: ColumnSummary) -> None:
        if self.column is None or self.column.name != name:
            return  # a late answer for a column the user has left
        self.summary = summary
        self.stats.setText(stats_html(summary))
        self.plot.setVisible(bool(summary.is_range or summary.top))
        if summary.is_range:
            self._draw_range(summary)
        else:
            self._draw_top(summary)

    def _draw_range(self, summary: ColumnSummary) -> None:
        self.bars.setData(summary.bin_edges, summary.histogram.astype(float), stepMode="center", fillLevel=0)
        axis = self.plot.getAxis("bottom")
        if summary.type is ColumnType.DATETIME:
            edges = summary.bin_edges
            axis.setTicks([[(edges[0], summary.format_value(edges[0])), (edges[-1], summary.format_value(edges[-1]))]])
        else:
            axis.setTicks(None)
        self.plot.enableAutoRange()

    def _draw_top(self, summary: ColumnSummary) -> None:
        counts = np.array([count for _, count in summary.top], dtype=float)
        if counts.size == 0:
            return  # nothing to draw: the plot is hidden
        self.bars.setData(np.arange(counts.size + 1) - 0.5, counts, stepMode="center", fillLevel=0)
        ticks = [(i, _short(value)) for i, (value, _) in enumerate(summary.top)]
        self.plot.getAxis("bottom").setTicks([ticks])
        self.plot.enableAutoRange()

    def _request(self, type_: ColumnType | None = None, role: Role | None = None) -> None:
        if self.column is None:
            return
        if (type_ is None or type_ is self.column.type) and (role is None or role is self.column.role):
            return
        self.change_requested.emit(self.column.name, type_, role)


def stats_html(summary: ColumnSummary) -> str:
    """Rows, missing, distinct, then min/max/mean or the most frequent values with counts."""
    rows = [("Rows", f"{summary.rows:,}"),
            ("Missing", f"{summary.missing:,}" + (f" ({summary.missing / summary.rows:.0%})" if summary.rows else "")),
            ("Distinct", f"{summary.distinct:,}")]
    if summary.is_range:
        rows += [("Min", summary.format_value(summary.minimum)), ("Max", summary.format_value(summary.maximum)),
                 ("Mean", summary.format_value(summary.mean))]
    else:
        rows += [(html.escape(_short(value, 24)), f"{count:,}") for value, count in summary.top]
        if summary.other:
            rows.append(("<i>other values</i>", f"{summary.other:,}"))
    cells = "".join(f"<tr><td style='color:#5b6670; padding-right:12px'>{label}</td>"
                    f"<td align='right'>{value}</td></tr>" for label, value in rows)
    return f"<table cellspacing='0' cellpadding='1'>{cells}</table>"


def _short(text: str, most: int = 10) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"
