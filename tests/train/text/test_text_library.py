"""A text dataset in a real library: its texts tokenized from the blob store into the library's cache,
split by the dataset's own splits, and trained on."""

from __future__ import annotations

from sqlalchemy import select

from studio.data.samples import load_view
from studio.store.models import Dataset, LabelClass, Sample
from studio.train.text.encoders import load_tokenizer
from studio.train.text.fit import TextTrainSettings, fit_text, view_split
from studio.train.text.tokens import prepared_tokenizer, tokenize_dataset


def _text_dataset(lib, texts: list[str], labels: list[int]) -> int:
    """Samples as the text importer stores them: the UTF-8 bytes as a blob, every 4th one in val."""
    with lib.transaction() as s:
        ds = Dataset(name="reviews", kind="text")
        s.add(ds)
        s.flush()
        classes = [LabelClass(dataset_id=ds.id, name=name, position=i) for i, name in enumerate(("neg", "pos"))]
        s.add_all(classes)
        s.flush()
        for i, (text, label) in enumerate(zip(texts, labels)):
            data = text.encode("utf-8")
            s.add(Sample(dataset_id=ds.id, blob=lib.blobs.put(data), format="txt", width=len(text), height=0,
                         channels=0, byte_size=len(data), class_id=classes[label].id,
                         split="val" if i % 4 == 0 else "train", source_path="pasted"))
        return ds.id


def test_a_library_dataset_is_tokenized_once_and_trained_on_its_splits(library, tiny_encoder, rotten_tomatoes):
    texts = rotten_tomatoes[0][:30] + rotten_tomatoes[0][150:180]
    labels = rotten_tomatoes[1][:30] + rotten_tomatoes[1][150:180]
    dataset_id = _text_dataset(library, texts, labels)
    tokenizer = prepared_tokenizer(load_tokenizer(tiny_encoder), 48)
    with library.session() as s:
        view = load_view(s, dataset_id)
    tokens, tokenized = tokenize_dataset(library, view, tokenizer, 48)
    assert tokenized == 60 and any((library.cache_dir / "tokens").iterdir())
    assert [tokens.ids(i).tolist() for i in range(3)] == [tokenizer.encode(t).ids for t in texts[:3]]

    train, val = view_split(view, tokens, "train"), view_split(view, tokens, "val")
    assert (len(train), len(val)) == (45, 15)
    assert val.labels.tolist() == [labels[i] for i in range(0, 60, 4)]
    result = fit_text(tiny_encoder, view.classes, train, val, TextTrainSettings(epochs=1, batch_size=16, max_length=48))
    assert result.model.config.id2label == {0: "neg", 1: "pos"} and "val_accuracy" in result.history[0]

    with library.transaction() as s:  # one text is edited
        sample = s.scalars(select(Sample).where(Sample.dataset_id == dataset_id).order_by(Sample.id)).first()
        sample.blob = library.blobs.put(b"an edited review, much better than before")
    with library.session() as s:
        view = load_view(s, dataset_id)
    tokens, tokenized = tokenize_dataset(library, view, tokenizer, 48)
    assert tokenized == 1
    assert tokens.ids(0).tolist() == tokenizer.encode("an edited review, much better than before").ids
