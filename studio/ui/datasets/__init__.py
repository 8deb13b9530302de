"""The Datasets page: import, browse, label, split, problems."""
