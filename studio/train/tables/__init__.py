"""Feed-forward networks on tables: the network, its training on the Engine, and its scores."""

from studio.train.tables.fit import (
           TableFitResult,
           TableTrainSettings,
           evaluate_table,
           fit_table,
           predict_outputs,
)
from studio.train.tables.model import TableNet, TableNetConfig

__all__ = ["TableFitResult", "TableNet", "TableNetConfig", "TableTrainSettings", "evaluate_table", "fit_table",
           "predict_outputs"]
