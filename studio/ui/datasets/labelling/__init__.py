"""Labelling (issue 5): classes, labels and splits with undo, labelling mode, webcam capture,
problems (duplicates, small classes) and model suggestions.

``LabellingController`` (controller.py) is the one entry point for changes: it holds the app
session's QUndoStack and emits what changed; ``LabellingWorkspace`` (workspace.py) puts the views
around the Datasets page's grid. Another page opens samples for review with
``window.labelling.review(dataset_id, sample_ids)``.
"""
