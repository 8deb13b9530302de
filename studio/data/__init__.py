"""Torch side of datasets: preprocessing contract, decoded tensor cache, splits, augmentation."""
