"""The network with its preprocessing inside: raw column values in, predictions in the targets'
terms out - the graph an export writes (ONNX, TorchScript), so no Python encoder is needed beside it.

Inputs, in the order of ``raw_input_names(encoder)``:
  - ``numbers``: float64 [rows, number columns]: numbers as they are, yes/no as 1/0, dates as
    seconds since 1970-01-01 UTC; NaN = missing.
  - ``categories``: int64 [rows, category columns]: the 1-based position of the value in that
    column's ``categories`` list of the model card's encoder; 0 = a value the model never saw;
    -1 = missing.
Output: class probabilities [rows, classes] (in ``class_names`` order), or the targets in their
own units [rows, targets].
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch
from torch import nn

from studio.data.tables.encoding import (
    DATE_PARTS,
    TableEncoder,
    datetime_seconds,
    feature_values,
)
from studio.train.tables.model import TableNet

SECONDS_PER_DAY = 86_400.0
EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday; Monday = 0 as pyarrow's day_of_week


def raw_input_names(encoder: TableEncoder) -> tuple[list[str], list[str]]:
    """(number columns, category columns) in the order the raw model takes them."""
    numbers = [spec["name"] for spec in encoder.features if spec["method"] in ("standardise", "datetime")]
    categories = [spec["name"] for spec in encoder.features if spec["method"] in ("one_hot", "embed")]
    return numbers, categories


def raw_inputs(encoder: TableEncoder, table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """The raw model's two inputs for a table (what an exported model's caller prepares)."""
    numbers, categories = raw_input_names(encoder)
    specs = {spec["name"]: spec for spec in encoder.features}
    number_columns = [datetime_seconds(table.column(n)) if specs[n]["method"] == "datetime"
                      else feature_values(table.column(n), specs[n]["type"]) for n in numbers]
    category_columns = []
    for name in categories:
        column = pc.cast(table.column(name), pa.string())
        found = pc.index_in(pc.utf8_trim_whitespace(column), value_set=pa.array(specs[name]["categories"], pa.string()))
        index = pc.fill_null(pc.add(found, 1), 0).to_numpy(zero_copy_only=False).astype(np.int64)
        category_columns.append(np.where(column.is_null().to_numpy(zero_copy_only=False), -1, index))
    rows = table.num_rows
    return (np.stack(number_columns, axis=1) if number_columns else np.zeros((rows, 0))).astype(np.float64), \
        (np.stack(category_columns, axis=1) if category_columns else np.zeros((rows, 0), np.int64))


class RawTableModel(nn.Module):
    def __init__(self, net: TableNet, encoder: TableEncoder):
        super().__init__()
        self.net, self.specs, self.task = net, encoder.features, encoder.task
        numbers, categories = raw_input_names(encoder)
        self.number_index = {name: i for i, name in enumerate(numbers)}
        self.category_index = {name: i for i, name in enumerate(categories)}
        if encoder.task == "regression":
            self.register_buffer("target_mean", torch.tensor([t["mean"] for t in encoder.targets], dtype=torch.float64))
            self.register_buffer("target_std", torch.tensor([t["std"] for t in encoder.targets], dtype=torch.float64))

    def forward(self, numbers: torch.Tensor, categories: torch.Tensor) -> torch.Tensor:
        blocks, embedded = [], []
        for spec in self.specs:
            if spec["method"] in ("one_hot", "embed"):
                index = categories[:, self.category_index[spec["name"]]]
                if spec["method"] == "embed":
                    embedded.append(index.clamp(min=0))
                    continue
                known = torch.arange(1, len(spec["categories"]) + 1, device=index.device)
                blocks.append((index[:, None] == known[None, :]).to(torch.float32))
                missing = index < 0
            else:
                value = numbers[:, self.number_index[spec["name"]]]
                missing = torch.isnan(value)
                standard = torch.where(missing, torch.zeros_like(value), (value - spec["mean"]) / spec["std"])
                blocks.append(standard[:, None].to(torch.float32))
                if spec["method"] == "datetime" and spec["parts"]:
                    blocks.append(_cyclic_parts(value, missing, spec["parts"]))
            if spec["indicator"]:
                blocks.append(missing[:, None].to(torch.float32))
        rows = numbers.shape[0]
        numeric = torch.cat(blocks, dim=1) if blocks else torch.zeros((rows, 0), device=numbers.device)
        index = torch.stack(embedded, dim=1) if embedded else torch.zeros((rows, 0), dtype=torch.long, device=numbers.device)
        outputs = self.net(numeric, index)
        if self.task == "classification":
            return torch.softmax(outputs, dim=1)
        return outputs.to(torch.float64) * self.target_std + self.target_mean


def _cyclic_parts(seconds: torch.Tensor, missing: torch.Tensor, parts: list[str]) -> torch.Tensor:
    safe = torch.where(missing, torch.zeros_like(seconds), seconds)
    days = torch.floor(safe / SECONDS_PER_DAY)
    values = {"month": _month_of(days),
              "weekday": torch.remainder(days + EPOCH_WEEKDAY, 7),
              "hour": torch.floor(torch.remainder(safe, SECONDS_PER_DAY) / 3600)}
    out = []
    for part in parts:
        period, first = DATE_PARTS[part]
        angle = 2 * np.pi * (values[part] - first) / period
        out += [torch.where(missing, 0.0, torch.sin(angle)), torch.where(missing, 0.0, torch.cos(angle))]
    return torch.stack(out, dim=1).to(torch.float32)


def _month_of(days: torch.Tensor) -> torch.Tensor:
    """Month (1-12) of a day count since 1970-01-01, by H. Hinnant's civil-from-days (graph ops only)."""
    z = days + 719_468
    era = torch.floor(z / 146_097)
    day_of_era = z - era * 146_097
    year_of_era = torch.floor((day_of_era - torch.floor(day_of_era / 1_460) + torch.floor(day_of_era / 36_524)
                               - torch.floor(day_of_era / 146_096)) / 365)
    day_of_year = day_of_era - (365 * year_of_era + torch.floor(year_of_era / 4) - torch.floor(year_of_era / 100))
    shifted_month = torch.floor((5 * day_of_year + 2) / 153)
    return torch.where(shifted_month < 10, shifted_month + 3, shifted_month - 9)
