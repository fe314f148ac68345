"""The learned stance model: character n-grams plus the cues of :mod:`rules.stance`.

A multinomial logistic regression over (a) sublinear TF-IDF of character n-grams of the
normalised post (2 to 5 characters inside each word padded with spaces, as scikit-learn's
``char_wb``), rows of unit length, and (b) the cue features below, each 0 or 1 times a weight.
It is fitted by ``bench/fit_stance.py`` (scikit-learn) on the train part of the labelled posts
only (``tests/rules/data/posts_train.jsonl`` and ``labelled_posts.jsonl``; never the frozen
``posts_test.jsonl``) and shipped as ``rules/stance_model.json``; this module applies it with
numpy alone, so matching needs no scikit-learn and gives the same answer in every process.

The model answers ``spreads``, ``debunks``, ``mentions`` or ``unclear`` for a text; a text it reads
as spreading with a probability under ``spreads_min_probability`` (chosen by cross-validation in
``bench/fit_stance.py``) is ``unclear``, so an unsure reading goes to review, never to a flag. The rules
around it stay (a link to a fact check debunks; a long article that debunks only after its lead
mentions; the window of a long post; hedges), see :mod:`rules.post_stance`.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
import polars as pl
from scipy import sparse

from rules import stance as cues

MODEL_PATH = Path(__file__).resolve().parent / "stance_model.json"
NGRAMS = (2, 5)
STANCES = ("debunks", "mentions", "spreads", "unclear")

# cue features, in model order: name -> polars expression over the normalised text ``n`` and the
# raw text ``r`` (for question marks)
CUE_FEATURES = ("cue_spreads", "cue_debunks", "cue_mentions", "cue_unclear", "debunk_word", "negated_debunk",
                "not_debunk_phrase", "question_phrase", "question_mark", "mention_phrase", "meta_phrase",
                "direct_debunk", "hedge")


def cue_frame(norm: Sequence[str], raw: Sequence[str | None]) -> np.ndarray:
    """The cue features of many texts as a 0/1 matrix (texts x :data:`CUE_FEATURES`)."""
    df = pl.DataFrame({"n": list(norm), "r": [x or "" for x in raw]}, schema={"n": pl.String, "r": pl.String})
    n, r = pl.col("n"), pl.col("r")
    st = cues.post_stance_expr(n, r)
    out = df.select(
        (st == "spreads").alias("cue_spreads"), (st == "debunks").alias("cue_debunks"),
        (st == "mentions").alias("cue_mentions"), (st == "unclear").alias("cue_unclear"),
        n.str.contains(cues.DEBUNK_RE).alias("debunk_word"), n.str.contains(cues.NEGATED_RE).alias("negated_debunk"),
        n.str.contains(cues.NOT_DEBUNK_RE).alias("not_debunk_phrase"),
        n.str.contains(cues.QUESTION_RE).alias("question_phrase"), r.str.contains(r"[?؟]").alias("question_mark"),
        n.str.contains(cues.MENTION_RE).alias("mention_phrase"), n.str.contains(cues.META_RE).alias("meta_phrase"),
        n.str.contains(cues.DIRECT_RE).alias("direct_debunk"), cues.hedge_expr(n).alias("hedge"),
    )
    return out.select(CUE_FEATURES).to_numpy().astype(np.float64)


def char_ngrams(text: str) -> list[str]:
    """Character n-grams of each word padded with spaces (``char_wb``, :data:`NGRAMS`)."""
    out: list[str] = []
    lo, hi = NGRAMS
    for w in text.split():
        out.extend(_word_grams(w, lo, hi))
    return out


@lru_cache(maxsize=200_000)
def _word_grams(word: str, lo: int, hi: int) -> tuple[str, ...]:
    w = f" {word} "
    grams = []
    for n in range(lo, hi + 1):
        if len(w) < n:
            break
        grams.extend(w[i:i + n] for i in range(len(w) - n + 1))
    return tuple(grams)


class StanceModel:
    """The fitted model (see the module docstring); :meth:`predict` labels many texts at once."""

    def __init__(self, spec: dict) -> None:
        self.vocabulary: dict[str, int] = spec["vocabulary"]
        self.idf = np.asarray(spec["idf"], dtype=np.float64)
        self.cue_weight = float(spec["cue_weight"])
        self.classes = list(spec["classes"])
        self.coef = np.asarray(spec["coef"], dtype=np.float64)  # classes x (ngrams + cues)
        self.intercept = np.asarray(spec["intercept"], dtype=np.float64)
        # a post read as spreading with a lower probability than this is ``unclear`` (needs review)
        self.spreads_min_probability = float(spec.get("spreads_min_probability", 0.0))
        self.info = {k: spec[k] for k in ("fitted_on", "fit") if k in spec}
        if list(spec["cue_features"]) != list(CUE_FEATURES) or tuple(spec["ngrams"]) != NGRAMS:
            raise ValueError(f"{MODEL_PATH.name} was fitted with other features; refit it with bench/fit_stance.py")

    @classmethod
    def load(cls, path: str | Path = MODEL_PATH) -> "StanceModel":
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))

    def features(self, norm: Sequence[str], raw: Sequence[str | None]) -> sparse.csr_matrix:
        vocab = self.vocabulary
        rows, cols, vals = [], [], []
        for r, text in enumerate(norm):
            counts: dict[int, int] = {}
            for g in char_ngrams(text):
                j = vocab.get(g)
                if j is not None:
                    counts[j] = counts.get(j, 0) + 1
            if not counts:
                continue
            idx = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
            w = (1.0 + np.log(tf)) * self.idf[idx]
            w /= math.sqrt(float(w @ w)) or 1.0
            rows.append(np.full(len(idx), r, dtype=np.int64))
            cols.append(idx)
            vals.append(w)
        n_grams = len(self.idf)
        grams = sparse.csr_matrix(
            (np.concatenate(vals) if vals else np.empty(0),
             (np.concatenate(rows) if rows else np.empty(0, dtype=np.int64),
              np.concatenate(cols) if cols else np.empty(0, dtype=np.int64))),
            shape=(len(norm), n_grams))
        cue = sparse.csr_matrix(cue_frame(norm, raw) * self.cue_weight)
        return sparse.hstack([grams, cue], format="csr")

    def scores(self, norm: Sequence[str], raw: Sequence[str | None]) -> np.ndarray:
        """Class probabilities (texts x :attr:`classes`)."""
        if not len(norm):
            return np.empty((0, len(self.classes)))
        z = self.features(norm, raw) @ self.coef.T + self.intercept
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, norm: Sequence[str], raw: Sequence[str | None]) -> list[str]:
        """The stance of each normalised text (``raw``: the original texts, for question marks)."""
        if not len(norm):
            return []
        p = self.scores(norm, raw)
        best = p.argmax(axis=1)
        out = [self.classes[i] for i in best]
        if self.spreads_min_probability > 0 and "spreads" in self.classes:
            k = self.classes.index("spreads")
            unsure = (best == k) & (p[:, k] < self.spreads_min_probability)
            out = ["unclear" if u else st for st, u in zip(out, unsure.tolist())]
        return out


@lru_cache(maxsize=1)
def default_model() -> StanceModel:
    """The shipped model (read once per process)."""
    return StanceModel.load()
