"""Fine-tuning on the Engine: a tiny random BERT with the real MiniLM tokenizer on real movie reviews,
which layers learn at which rate, and one smoke test on the real MiniLM."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from studio.core.errors import Cancelled, InvalidInputError
from studio.core.jobs import JobState
from studio.train.engine import Engine, Events
from studio.train.events import Unfrozen
from studio.train.text.encoders import load_tokenizer
from studio.train.text.fit import (
    TextSplit,
    TextTrainSettings,
    fit_text,
    predict_probabilities,
)
from studio.train.text.model import (
    TextUnfreezer,
    build_text_classifier,
    freeze_encoder,
    text_optimizer,
)
from studio.train.text.tokens import (
    prepared_tokenizer,
    token_cache_folder,
    tokenize_cached,
    tokenize_texts,
)

CLASSES = ["neg", "pos"]


def _blob(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _tokenize(cache_root, folder, texts: list[str], max_length: int):
    tokenizer = prepared_tokenizer(load_tokenizer(folder), max_length)
    by_blob = {_blob(t): t for t in texts}
    return tokenize_cached(token_cache_folder(cache_root, 1, tokenizer, max_length), tokenizer,
                           [_blob(t) for t in texts], by_blob.__getitem__)


def _splits(tokens, labels: list[int], val_every: int = 5) -> tuple[TextSplit, TextSplit]:
    rows = np.arange(len(labels))
    is_val = rows % val_every == 0
    labels_np = np.array(labels)
    return (TextSplit(tokens.subset(rows[~is_val]), labels_np[~is_val]),
            TextSplit(tokens.subset(rows[is_val]), labels_np[is_val]))


def test_the_head_learns_at_the_runs_rate_and_the_body_at_a_fraction(tiny_encoder):
    model, head = build_text_classifier(tiny_encoder, CLASSES)
    assert head == {"classifier.weight", "classifier.bias"}  # the tiny folder has its pooler: only these are new
    assert model.config.id2label == {0: "neg", 1: "pos"}
    optimizer = text_optimizer(model, head, lr=1e-3, body_lr_mult=0.05, weight_decay=0.01)
    rates = {id(p): (g["lr"], g["head"]) for g in optimizer.param_groups for p in g["params"]}
    names = dict(model.named_parameters())
    assert len(rates) == len(names)  # each parameter in exactly one group
    for name, param in names.items():
        assert rates[id(param)] == ((1e-3, True) if name in head else (pytest.approx(5e-5), False))


def test_the_unfreezer_lets_the_encoder_join_after_n_epochs(tiny_encoder):
    model, head = build_text_classifier(tiny_encoder, CLASSES)
    freeze_encoder(model, head, True)
    assert {n for n, p in model.named_parameters() if p.requires_grad} == head
    said = []
    unfreezer = TextUnfreezer(model, head, after=1, frozen=True, emit=said.append)
    engine = Engine(lambda _engine, _batch: {"loss": 0.0, "n": 1})
    unfreezer.attach(engine)
    engine.on(Events.EPOCH_COMPLETED, lambda e: said.append(("trainable", e.state.epoch, sum(
        p.requires_grad for p in model.parameters()))))
    engine.run([0], max_epochs=2)
    total = len(list(model.parameters()))
    assert said == [("trainable", 1, 2), Unfrozen(epoch=2), ("trainable", 2, total)]


def test_a_small_run_learns_real_reviews_and_reuses_the_token_cache(tmp_path, tiny_encoder, rotten_tomatoes):
    texts, labels = rotten_tomatoes
    tokens, tokenized = _tokenize(tmp_path, tiny_encoder, texts, 64)
    assert tokenized == 300
    settings = TextTrainSettings(epochs=10, batch_size=16, max_length=64, lr=5e-3, body_lr_mult=1.0)
    train, val = _splits(tokens, labels)
    epochs = []
    first = fit_text(tiny_encoder, CLASSES, train, val, settings, on_epoch=epochs.append)
    losses = [row["train_loss"] for row in first.history]
    assert epochs == first.history and len(losses) == 10
    assert losses[-1] < 0.5 * losses[0]
    assert {"val_loss", "val_accuracy", "train_accuracy"} <= set(first.history[-1])

    tokens_again, tokenized = _tokenize(tmp_path, tiny_encoder, texts, 64)
    assert tokenized == 0
    second = fit_text(tiny_encoder, CLASSES, *_splits(tokens_again, labels), settings)
    assert second.history == first.history  # same ids from the cache, same seed: the same run

    probabilities = predict_probabilities(second.model, val.texts, second.pad_id)
    assert probabilities.shape == (len(val), 2) and np.allclose(probabilities.sum(1), 1, atol=1e-5)
    typed = tokenize_texts(prepared_tokenizer(load_tokenizer(tiny_encoder), 64), texts[::5])  # as in Play
    assert np.allclose(predict_probabilities(second.model, typed, second.pad_id), probabilities, atol=1e-5)


def test_a_frozen_encoder_trains_only_the_head(tmp_path, tiny_encoder, rotten_tomatoes):
    texts, labels = rotten_tomatoes[0][:64], rotten_tomatoes[1][:64]
    tokens, _ = _tokenize(tmp_path, tiny_encoder, texts, 32)
    result = fit_text(tiny_encoder, CLASSES, TextSplit(tokens, np.array(labels)), None,
                      TextTrainSettings(epochs=1, batch_size=16, max_length=32, freeze="encoder"))
    saved = load_file(str(tiny_encoder / "model.safetensors"))
    state = result.model.state_dict()
    assert all(torch.equal(state[f"bert.{name}"], weights) for name, weights in saved.items())
    assert len(result.history) == 1 and "val_loss" not in result.history[0]


def test_bad_settings_and_a_cancelled_run_stop_cleanly(tmp_path, tiny_encoder):
    tokens, _ = _tokenize(tmp_path, tiny_encoder, ["good", "bad", "fine", "awful"], 16)
    split = TextSplit(tokens, np.array([1, 0, 1, 0]))
    with pytest.raises(InvalidInputError, match="freeze must be one of"):
        fit_text(tiny_encoder, CLASSES, split, settings=TextTrainSettings(freeze="body"))
    with pytest.raises(InvalidInputError, match="at least two classes"):
        fit_text(tiny_encoder, ["pos"], TextSplit(tokens, np.zeros(4, dtype=np.int64)))
    state = JobState()
    state.cancel()
    with pytest.raises(Cancelled):
        fit_text(tiny_encoder, CLASSES, split, settings=TextTrainSettings(epochs=3, batch_size=2), state=state)


@pytest.mark.slow
def test_minilm_takes_a_couple_of_fine_tuning_steps(tmp_path, minilm_folder, rotten_tomatoes):
    texts, labels = rotten_tomatoes[0][:16] + rotten_tomatoes[0][150:166], rotten_tomatoes[1][:16] + rotten_tomatoes[1][150:166]
    tokens, _ = _tokenize(tmp_path, minilm_folder, texts, 32)
    result = fit_text(minilm_folder, CLASSES, TextSplit(tokens, np.array(labels)), None,
                      TextTrainSettings(epochs=1, batch_size=16, max_length=32))
    assert len(result.history) == 1 and np.isfinite(result.history[0]["train_loss"])
    assert result.head == {"classifier.weight", "classifier.bias"}


def test_a_classifier_saved_for_other_classes_gets_a_new_head(tmp_path, tiny_encoder):
    from transformers import AutoModelForSequenceClassification

    three = AutoModelForSequenceClassification.from_pretrained(str(tiny_encoder), num_labels=3)
    three.save_pretrained(tmp_path / "three-classes")
    model, head = build_text_classifier(tmp_path / "three-classes", CLASSES)
    assert model.classifier.out_features == 2 and head == {"classifier.weight", "classifier.bias"}


@pytest.mark.gpu
def test_a_run_on_the_gpu_trains_in_mixed_precision(tmp_path, tiny_encoder, rotten_tomatoes):
    from studio.train.text.fit import amp_dtype

    assert amp_dtype(torch.device("cuda"), None) in (torch.bfloat16, torch.float16)
    texts, labels = rotten_tomatoes[0][:32] + rotten_tomatoes[0][150:182], rotten_tomatoes[1][:32] + rotten_tomatoes[1][150:182]
    tokens, _ = _tokenize(tmp_path, tiny_encoder, texts, 32)
    split = TextSplit(tokens, np.array(labels))
    result = fit_text(tiny_encoder, CLASSES, split, split,
                      TextTrainSettings(epochs=2, batch_size=16, max_length=32, lr=5e-3, body_lr_mult=1.0, device="cuda"))
    assert next(result.model.parameters()).is_cuda
    assert all(np.isfinite(row["train_loss"]) and np.isfinite(row["val_loss"]) for row in result.history)
    probabilities = predict_probabilities(result.model, tokens, result.pad_id)
    assert probabilities.shape == (64, 2) and np.allclose(probabilities.sum(1), 1, atol=1e-3)


def test_a_saved_classifier_is_kept_only_for_the_same_classes(tmp_path, tiny_encoder):
    from transformers import AutoModelForSequenceClassification

    for saved_classes in (["good", "bad"], CLASSES):
        trained = AutoModelForSequenceClassification.from_pretrained(
            str(tiny_encoder), num_labels=2, id2label=dict(enumerate(saved_classes)))
        with torch.no_grad():
            trained.classifier.weight.fill_(5.0)
        trained.save_pretrained(tmp_path / saved_classes[0])
        model, head = build_text_classifier(tmp_path / saved_classes[0], CLASSES)
        assert head == {"classifier.weight", "classifier.bias"}
        kept = bool((model.classifier.weight == 5.0).all())
        assert kept == (saved_classes == CLASSES)
        if not kept:
            assert float(model.classifier.weight.detach().std()) < 0.1 and not model.classifier.bias.any()
