"""Feed-forward networks on tables: the network, its training on the Engine, its scores and predictions."""

from studio.train.tables.fit import TableFitResult, TableTrainSettings, evaluate_table, fit_table, predict_outputs
from studio.train.tables.model import TableNet, TableNetConfig
from studio.train.tables.predict import predict_table

__all__ = ["TableFitResult", "TableNet", "TableNetConfig", "TableTrainSettings", "evaluate_table", "fit_table",
           "predict_outputs", "predict_table"]
