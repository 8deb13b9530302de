"""Text classification: encoders, the tokenization cache, length-bucketed batches, the model and its fit."""
