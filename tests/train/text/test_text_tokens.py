"""Tokenize once: the cache holds each text's ids by blob, is memory-mapped, and re-tokenizes only edits."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from tokenizers import Tokenizer

from studio.train.text.tokens import (
    prepared_tokenizer,
    token_cache_folder,
    tokenize_cached,
    tokenize_texts,
    tokenizer_fingerprint,
)


def _blob(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class _Reader:
    """read_text over a dict of texts by blob, counting what the cache asked for."""

    def __init__(self, texts: list[str]):
        self.by_blob = {_blob(t): t for t in texts}
        self.asked: list[str] = []

    def __call__(self, blob: str) -> str:
        self.asked.append(blob)
        return self.by_blob[blob]


@pytest.fixture(scope="module")
def minilm_tokenizer(minilm_folder) -> Tokenizer:
    return Tokenizer.from_file(str(minilm_folder / "tokenizer.json"))


def test_plain_tokenizers_give_the_ids_transformers_gives(minilm_folder, minilm_tokenizer, rotten_tomatoes):
    from transformers import AutoTokenizer

    texts = rotten_tomatoes[0][:40] + ["a long review " * 200]
    # the shipped tokenizer.json pads every text to 128 and truncates there, unlike transformers
    assert {len(e.ids) for e in minilm_tokenizer.encode_batch(texts)} == {128}
    expected = AutoTokenizer.from_pretrained(str(minilm_folder))(texts, truncation=True, max_length=64)["input_ids"]
    assert [e.ids for e in prepared_tokenizer(minilm_tokenizer, 64).encode_batch(texts)] == expected


def test_texts_are_tokenized_once_and_read_memory_mapped(tmp_path, minilm_tokenizer, rotten_tomatoes):
    texts = rotten_tomatoes[0][:100]
    tokenizer = prepared_tokenizer(minilm_tokenizer, 64)
    blobs = [_blob(t) for t in texts]
    first, tokenized = tokenize_cached(tmp_path, tokenizer, blobs, _Reader(texts))
    assert tokenized == 100
    reader = _Reader(texts)
    again, tokenized = tokenize_cached(tmp_path, tokenizer, blobs, reader)
    assert tokenized == 0 and reader.asked == []
    assert isinstance(again.tokens, np.memmap)
    for row, text in enumerate(texts):
        assert again.ids(row).tolist() == first.ids(row).tolist() == tokenizer.encode(text).ids
    assert again.lengths.tolist() == [len(tokenizer.encode(t).ids) for t in texts]


def test_rows_come_in_the_order_asked_and_subsets_share_the_ids(tmp_path, minilm_tokenizer):
    texts = ["the first text", "a second, longer text than the first", "third"]
    tokenizer = prepared_tokenizer(minilm_tokenizer, 32)
    tokenize_cached(tmp_path, tokenizer, [_blob(t) for t in texts], _Reader(texts))
    backwards, _ = tokenize_cached(tmp_path, tokenizer, [_blob(t) for t in reversed(texts)], _Reader(texts))
    assert backwards.ids(0).tolist() == tokenizer.encode("third").ids
    picked = backwards.subset([2, 0])
    assert [picked.ids(i).tolist() for i in range(2)] == [tokenizer.encode(t).ids for t in ("the first text", "third")]


def test_editing_and_adding_texts_tokenizes_only_those(tmp_path, minilm_tokenizer, rotten_tomatoes):
    texts = rotten_tomatoes[0][:50]
    tokenizer = prepared_tokenizer(minilm_tokenizer, 64)
    tokenize_cached(tmp_path, tokenizer, [_blob(t) for t in texts], _Reader(texts))
    edited = [texts[0] + " (edited)"] + texts[1:] + ["a brand new review"]
    reader = _Reader(edited)
    result, tokenized = tokenize_cached(tmp_path, tokenizer, [_blob(t) for t in edited], reader)
    assert tokenized == 2
    assert sorted(reader.asked) == sorted([_blob(edited[0]), _blob(edited[-1])])
    assert [result.ids(i).tolist() for i in range(len(edited))] == [tokenizer.encode(t).ids for t in edited]
    assert len(list(tmp_path.glob("tokens-*.npy"))) == 1  # the earlier tokens file is gone
    # the text that was edited away left the cache: asking for it again tokenizes it again
    _, tokenized = tokenize_cached(tmp_path, tokenizer, [_blob(texts[0])], _Reader(texts))
    assert tokenized == 1


def test_long_texts_are_cut_at_max_length_and_counted(tmp_path, minilm_tokenizer):
    texts = ["short one", "word " * 5000, "another short one", "two " * 40]
    tokenizer = prepared_tokenizer(minilm_tokenizer, 16)
    result, _ = tokenize_cached(tmp_path, tokenizer, [_blob(t) for t in texts], _Reader(texts))
    assert result.truncated.tolist() == [False, True, False, True]
    assert result.truncated_count == 2
    assert result.lengths.max() == 16
    sep = minilm_tokenizer.token_to_id("[SEP]")
    assert result.ids(1)[-1] == sep  # cut before the end marker, which is kept


def test_the_cache_is_per_dataset_tokenizer_and_max_length(tmp_path, minilm_tokenizer):
    fingerprint = tokenizer_fingerprint(minilm_tokenizer)
    assert tokenizer_fingerprint(prepared_tokenizer(minilm_tokenizer, 64)) == fingerprint  # settings aside
    other = Tokenizer.from_str(minilm_tokenizer.to_str())
    other.add_tokens(["[STUDIO]"])
    assert tokenizer_fingerprint(other) != fingerprint
    folders = {token_cache_folder(tmp_path, dataset, minilm_tokenizer, length)
               for dataset, length in ((1, 64), (2, 64), (1, 128))}
    assert len(folders) == 3


def test_an_empty_list_of_texts_gives_an_empty_result(tmp_path, minilm_tokenizer):
    result, tokenized = tokenize_cached(tmp_path, prepared_tokenizer(minilm_tokenizer, 16), [], _Reader([]))
    assert (len(result), tokenized, result.truncated_count) == (0, 0, 0)


def test_long_real_reviews_get_exactly_the_ids_of_tokenizing_them_whole(tmp_path, minilm_tokenizer, imdb_long_reviews):
    # reviews of 2,000-14,000 characters: past 16 characters a token, only their head is tokenized first
    assert sum(len(t) > 128 * 16 for t in imdb_long_reviews) > 10
    for max_length in (32, 128):
        tokenizer = prepared_tokenizer(minilm_tokenizer, max_length)
        result, _ = tokenize_cached(tmp_path / str(max_length), tokenizer, [_blob(t) for t in imdb_long_reviews],
                                    _Reader(imdb_long_reviews))
        whole = [tokenizer.encode(t) for t in imdb_long_reviews]
        assert [result.ids(i).tolist() for i in range(len(whole))] == [e.ids for e in whole]
        assert result.truncated.tolist() == [bool(e.overflowing) for e in whole]


def test_a_ten_megabyte_text_is_kept_whole_and_cut_at_tokenization(tmp_path, minilm_tokenizer):
    text = "the film drags on and on, " * 400_000  # 10.4 MB
    tokenizer = prepared_tokenizer(minilm_tokenizer, 64)
    result, tokenized = tokenize_cached(tmp_path, tokenizer, [_blob(text), _blob("short")], _Reader([text, "short"]))
    assert tokenized == 2 and result.truncated.tolist() == [True, False]
    assert result.ids(0).tolist() == tokenizer.encode(text[:2000]).ids  # its first 64 tokens, end marker kept


def test_a_long_text_with_few_tokens_is_tokenized_whole(tmp_path, minilm_tokenizer):
    text = ("x" * 500 + " ") * 6 + "end"  # 3,000 characters, 7 tokens: over-long words are one [UNK] each
    tokenizer = prepared_tokenizer(minilm_tokenizer, 64)
    result, _ = tokenize_cached(tmp_path, tokenizer, [_blob(text)], _Reader([text]))
    assert result.ids(0).tolist() == tokenizer.encode(text).ids and len(result.ids(0)) == 9
    assert result.truncated_count == 0


def test_texts_tokenized_in_memory_match_the_cache(tmp_path, minilm_tokenizer, rotten_tomatoes):
    texts = rotten_tomatoes[0][:20] + ["the film drags on and on, " * 5000]
    tokenizer = prepared_tokenizer(minilm_tokenizer, 64)
    cached, _ = tokenize_cached(tmp_path, tokenizer, [_blob(t) for t in texts], _Reader(texts))
    in_memory = tokenize_texts(tokenizer, texts)
    assert [in_memory.ids(i).tolist() for i in range(21)] == [cached.ids(i).tolist() for i in range(21)]
    assert in_memory.truncated.tolist() == cached.truncated.tolist() == [False] * 20 + [True]


def test_tokenizing_reports_progress_and_a_cancel_leaves_no_cache(tmp_path, minilm_tokenizer):
    from studio.core.errors import Cancelled
    from studio.core.jobs import JobState

    texts = [f"review number {i}" for i in range(2500)]
    tokenizer = prepared_tokenizer(minilm_tokenizer, 16)
    said = []
    tokenize_cached(tmp_path / "done", tokenizer, [_blob(t) for t in texts], _Reader(texts),
                    JobState(on_progress=lambda _fraction, message: said.append(message)))
    assert said == ["tokenizing texts 0/2,500", "tokenizing texts 1,024/2,500", "tokenizing texts 2,048/2,500"]
    state = JobState()
    state.cancel()
    with pytest.raises(Cancelled):
        tokenize_cached(tmp_path / "cancelled", tokenizer, [_blob(t) for t in texts], _Reader(texts), state)
    assert not (tmp_path / "cancelled" / "index.npz").exists()


def test_a_damaged_cache_is_built_again(tmp_path, minilm_tokenizer):
    texts = ["one review", "another review"]
    tokenizer = prepared_tokenizer(minilm_tokenizer, 16)
    tokenize_cached(tmp_path, tokenizer, [_blob(t) for t in texts], _Reader(texts))
    next(tmp_path.glob("tokens-*.npy")).unlink()  # as if another process's rewrite had replaced it
    result, tokenized = tokenize_cached(tmp_path, tokenizer, [_blob(t) for t in texts], _Reader(texts))
    assert tokenized == 2 and result.ids(1).tolist() == tokenizer.encode("another review").ids
    (tmp_path / "index.npz").write_bytes(b"not an index")
    _, tokenized = tokenize_cached(tmp_path, tokenizer, [_blob(t) for t in texts], _Reader(texts))
    assert tokenized == 2
