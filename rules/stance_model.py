"""The learned stance model: character n-grams plus the cues of :mod:`rules.stance`.

A multinomial logistic regression over (a) sublinear TF-IDF of character n-grams of the
normalised post (2 to 5 characters inside each word padded with spaces, as scikit-learn's
``char_wb``), rows of unit length, (b) sublinear TF-IDF of its words and word pairs
(:func:`word_ngrams`: "koi aag nahi", "not a drone" read as pairs, which the n-grams inside each
word cannot), rows of unit length, and (c) the cue features below, each 0 or 1 times a weight.
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
from itertools import chain
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
import polars as pl
from scipy import sparse

from rules import stance as cues

MODEL_PATH = Path(__file__).resolve().parent / "stance_model.json"
NGRAMS = (2, 5)
WORD_NGRAMS = (1, 2)
LONG_WORD = 64  # longer words get their n-grams in Python (see StanceModel._word_ids)
STANCES = ("debunks", "mentions", "spreads", "unclear")

# cue features, in model order: name -> polars expression over the normalised text ``n`` and the
# raw text ``r`` (for question marks)
CUE_FEATURES = ("cue_spreads", "cue_debunks", "cue_mentions", "cue_unclear", "debunk_word", "negated_debunk",
                "not_debunk_phrase", "question_phrase", "question_mark", "mention_phrase", "meta_phrase",
                "direct_debunk", "hedge", "contrast")


def cue_exprs(n: pl.Expr, r: pl.Expr, st: pl.Expr | None = None) -> list[pl.Expr]:
    """The cue features as polars expressions named as in :data:`CUE_FEATURES` (``n``: the
    normalised text, ``r``: the raw text with nulls as "", for question marks; ``st``: a column
    holding ``rules.stance.post_stance_expr(n, r)``, computed once: polars would evaluate the
    expression once per feature that compares it)."""
    st = cues.post_stance_expr(n, r) if st is None else st
    return [
        (st == "spreads").alias("cue_spreads"), (st == "debunks").alias("cue_debunks"),
        (st == "mentions").alias("cue_mentions"), (st == "unclear").alias("cue_unclear"),
        n.str.contains(cues.DEBUNK_RE).alias("debunk_word"), n.str.contains(cues.NEGATED_RE).alias("negated_debunk"),
        n.str.contains(cues.NOT_DEBUNK_RE).alias("not_debunk_phrase"),
        n.str.contains(cues.QUESTION_RE).alias("question_phrase"), r.str.contains(r"[?؟]").alias("question_mark"),
        n.str.contains(cues.MENTION_RE).alias("mention_phrase"), n.str.contains(cues.META_RE).alias("meta_phrase"),
        n.str.contains(cues.DIRECT_RE).alias("direct_debunk"), cues.hedge_expr(n).alias("hedge"),
        n.str.contains(cues.CONTRAST_RE).alias("contrast"),
    ]


def cue_frame(norm: Sequence[str], raw: Sequence[str | None]) -> np.ndarray:
    """The cue features of many texts as a 0/1 matrix (texts x :data:`CUE_FEATURES`)."""
    df = pl.DataFrame({"n": list(norm), "r": [x or "" for x in raw]}, schema={"n": pl.String, "r": pl.String})
    n, r = pl.col("n"), pl.col("r")
    return cue_matrix(df.with_columns(cues.post_stance_expr(n, r).alias("st")).select(cue_exprs(n, r, pl.col("st"))))


def cue_matrix(frame: pl.DataFrame) -> np.ndarray:
    """The :data:`CUE_FEATURES` columns of a frame (made with :func:`cue_exprs`) as a 0/1 matrix."""
    return frame.select(CUE_FEATURES).to_numpy().astype(np.float64)


def char_ngrams(text: str) -> list[str]:
    """Character n-grams of each word padded with spaces (``char_wb``, :data:`NGRAMS`)."""
    out: list[str] = []
    lo, hi = NGRAMS
    for w in text.split():
        out.extend(_word_grams(w, lo, hi))
    return out


def word_ngrams(text: str) -> list[str]:
    """The words of a normalised text and each pair of adjacent words (:data:`WORD_NGRAMS`)."""
    w = text.split()
    return w + [f"{a} {b}" for a, b in zip(w, w[1:])]


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
        self.word_vocabulary: dict[str, int] = spec.get("word_vocabulary", {})
        self.word_idf = np.asarray(spec.get("word_idf", []), dtype=np.float64)
        self.cue_weight = float(spec["cue_weight"])
        self.classes = list(spec["classes"])
        self.coef = np.asarray(spec["coef"], dtype=np.float64)  # classes x (ngrams + cues)
        self.intercept = np.asarray(spec["intercept"], dtype=np.float64)
        # a post read as spreading with a lower probability than this is ``unclear`` (needs review)
        self.spreads_min_probability = float(spec.get("spreads_min_probability", 0.0))
        # an explicit debunk cue (not negated, not asked about, not a wish: ``cue_debunks``) makes a
        # reading of ``spreads`` or ``unclear`` a ``debunks``: a verdict word said outright is stronger
        # evidence than n-grams learnt from a few hundred posts (a ``mentions`` reading stays)
        self.debunk_cue_decides = bool(spec.get("debunk_cue_decides", False))
        # a question the cue lists find ("kya ye sach hai ke ...", "کیا یہ سچ ہے کہ") makes a
        # ``spreads`` reading ``unclear``: a sincere question is for review, never a flag
        self.question_cue_decides = bool(spec.get("question_cue_decides", False))
        self.info = {k: spec[k] for k in ("fitted_on", "fit") if k in spec}
        self._word_cache: dict[str, np.ndarray] = {}  # word -> vocabulary ids of its n-grams
        self._vocab_frame: pl.DataFrame | None = None  # the vocabulary as a frame (n-gram, id), made when needed
        if (list(spec["cue_features"]) != list(CUE_FEATURES) or tuple(spec["ngrams"]) != NGRAMS
                or tuple(spec.get("word_ngrams", ())) != WORD_NGRAMS):
            raise ValueError(f"{MODEL_PATH.name} was fitted with other features; refit it with bench/fit_stance.py")

    def clear_caches(self) -> None:
        """Forget the n-gram ids of the words seen (:mod:`rules.caches`)."""
        self._word_cache.clear()

    @classmethod
    def load(cls, path: str | Path = MODEL_PATH) -> "StanceModel":
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))

    cue_exprs = staticmethod(cue_exprs)
    cue_matrix = staticmethod(cue_matrix)

    def features(self, norm: Sequence[str], raw: Sequence[str | None],
                 cue_values: np.ndarray | None = None) -> sparse.csr_matrix:
        """The model's features of many texts; ``cue_values``: their :func:`cue_frame` when already
        computed (e.g. with other columns of the same texts, :func:`cue_exprs`)."""
        grams = self.gram_features(norm)
        words = self.word_features(norm)
        cue = sparse.csr_matrix((cue_frame(norm, raw) if cue_values is None else cue_values) * self.cue_weight)
        return sparse.hstack([grams, words, cue], format="csr")

    def word_features(self, norm: Sequence[str]) -> sparse.csr_matrix:
        """The sublinear TF-IDF of the words and word pairs (:func:`word_ngrams`) of many texts,
        rows of unit length (texts x word vocabulary)."""
        vocab = self.word_vocabulary
        indptr, indices = [0], []
        for text in norm:
            indices.extend(j for j in map(vocab.get, word_ngrams(text)) if j is not None)
            indptr.append(len(indices))
        counts = sparse.csr_matrix((np.ones(len(indices)), np.asarray(indices, dtype=np.int64), np.asarray(indptr)),
                                   shape=(len(norm), len(self.word_idf)))
        return _unit_rows(counts, self.word_idf)

    def gram_features(self, norm: Sequence[str]) -> sparse.csr_matrix:
        """The sublinear TF-IDF of the character n-grams of many texts, rows of unit length
        (texts x vocabulary; a text without a known n-gram is a row of zeros).

        Counted for the whole batch at once: each distinct word's n-gram ids are looked up once
        (and kept: :meth:`_word_ids`), then texts x words times words x n-grams gives the counts."""
        split = [text.split() for text in norm]
        flat = list(chain.from_iterable(split))
        n_texts, n_grams = len(norm), len(self.idf)
        if not flat:
            return sparse.csr_matrix((n_texts, n_grams), dtype=np.float64)
        words = {w: j for j, w in enumerate(dict.fromkeys(flat))}
        tokens = np.fromiter(map(words.__getitem__, flat), dtype=np.int64, count=len(flat))
        indptr = np.zeros(n_texts + 1, dtype=np.int64)
        np.cumsum([len(ws) for ws in split], out=indptr[1:])
        cache = self._word_cache
        per_word = list(map(cache.get, words))
        missing = [w for w, ids in zip(words, per_word) if ids is None]
        if missing:
            new = self._word_ids(missing)
            per_word = [new[w] if ids is None else ids for w, ids in zip(words, per_word)]
            if len(cache) + len(new) > 200_000:
                cache.clear()
            cache.update((w, ids) for w, ids in new.items() if len(w) <= LONG_WORD)
        w_indptr = np.zeros(len(per_word) + 1, dtype=np.int64)
        np.cumsum([len(a) for a in per_word], out=w_indptr[1:])
        word_grams = sparse.csr_matrix(
            (np.ones(int(w_indptr[-1])), np.concatenate(per_word), w_indptr), shape=(len(per_word), n_grams))
        text_words = sparse.csr_matrix((np.ones(len(tokens)), tokens, indptr), shape=(n_texts, len(per_word)))
        return _unit_rows((text_words @ word_grams).tocsr(), self.idf)

    def _word_ids(self, words: list[str]) -> dict[str, np.ndarray]:
        """Vocabulary ids of the n-grams (:func:`char_ngrams`) of each of many distinct words,
        repeats kept: every n-gram of every word in one frame, joined with the vocabulary (a long
        word in Python: polars slices a string from its start, so its n-grams would cost the
        square of its length)."""
        lo, hi = NGRAMS
        out = {w: np.array([j for j in map(self.vocabulary.get, _word_grams.__wrapped__(w, lo, hi)) if j is not None],
                           dtype=np.int32) for w in words if len(w) > LONG_WORD}
        if out:
            words = [w for w in words if len(w) <= LONG_WORD]
            if not words:
                return out
        padded = pl.DataFrame({"p": words}, schema={"p": pl.String}).with_row_index("k").with_columns(
            (pl.lit(" ") + pl.col("p") + pl.lit(" ")).alias("p"))
        size = pl.col("p").str.len_chars()
        grams = pl.concat([
            padded.filter(size >= n).select("k", "p", pl.int_ranges(0, size - n + 1).alias("i")).explode("i")
            .select("k", pl.col("p").str.slice(pl.col("i"), n).alias("g"))
            for n in range(lo, hi + 1)])
        if self._vocab_frame is None:
            self._vocab_frame = pl.DataFrame({"g": list(self.vocabulary), "j": list(self.vocabulary.values())},
                                             schema={"g": pl.String, "j": pl.Int32})
        hits = grams.join(self._vocab_frame, on="g", how="inner").select("k", "j").sort("k")
        k = hits.get_column("k").to_numpy()
        j = hits.get_column("j").to_numpy()
        bounds = np.searchsorted(k, np.arange(len(words) + 1)).tolist()
        out.update((w, j[bounds[i]:bounds[i + 1]]) for i, w in enumerate(words))
        return out

    def __getstate__(self) -> dict:
        state = dict(vars(self))
        state["_word_cache"] = {}  # a cache: never pickled
        state["_vocab_frame"] = None
        return state

    def scores(self, norm: Sequence[str], raw: Sequence[str | None], cue_values: np.ndarray | None = None) -> np.ndarray:
        """Class probabilities (texts x :attr:`classes`); ``cue_values``: see :meth:`features`."""
        if not len(norm):
            return np.empty((0, len(self.classes)))
        z = self.features(norm, raw, cue_values) @ self.coef.T + self.intercept
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, norm: Sequence[str], raw: Sequence[str | None], cue_values: np.ndarray | None = None) -> list[str]:
        """The stance of each normalised text (``raw``: the original texts, for question marks;
        ``cue_values``: see :meth:`features`)."""
        if not len(norm):
            return []
        if cue_values is None:
            cue_values = cue_frame(norm, raw)
        p = self.scores(norm, raw, cue_values)
        best = p.argmax(axis=1)
        out = [self.classes[i] for i in best]
        if self.spreads_min_probability > 0 and "spreads" in self.classes:
            k = self.classes.index("spreads")
            unsure = (best == k) & (p[:, k] < self.spreads_min_probability)
            out = ["unclear" if u else st for st, u in zip(out, unsure.tolist())]
        return cue_rules(out, cue_values, self.question_cue_decides, self.debunk_cue_decides)


def _unit_rows(counts: sparse.csr_matrix, idf: np.ndarray) -> sparse.csr_matrix:
    """Counts (texts x terms) as sublinear TF-IDF, rows of unit length (a row without a term
    stays zeros), as scikit-learn's ``TfidfVectorizer(sublinear_tf=True)`` gives them."""
    counts.sum_duplicates()
    counts.eliminate_zeros()
    w = (1.0 + np.log(counts.data)) * idf[counts.indices]
    rows = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
    norms = np.sqrt(np.bincount(rows, weights=w * w, minlength=counts.shape[0]))
    norms[norms == 0] = 1.0
    counts.data = w / norms[rows]
    return counts


def cue_rules(stances: Sequence[str], cue_values: np.ndarray, question: bool, debunk: bool) -> list[str]:
    """``stances`` with the cue rules a model turns on, in the order it applies them: a question
    the cue lists find (:func:`question_cue_decides`), then an explicit debunk cue
    (:func:`debunk_cue_decides`). The fit applies the same to its folds."""
    out = list(stances)
    if question:
        out = question_cue_decides(out, cue_values)
    return debunk_cue_decides(out, cue_values) if debunk else out


def question_cue_decides(stances: Sequence[str], cue_values: np.ndarray) -> list[str]:
    """``stances`` where a question the cue lists find (``cue_unclear`` of ``cue_values``) turns a
    ``spreads`` reading into ``unclear`` (a model's ``question_cue_decides``)."""
    asked = (cue_values[:, CUE_FEATURES.index("cue_unclear")] > 0).tolist()
    return ["unclear" if a and st == "spreads" else st for st, a in zip(stances, asked)]


def debunk_cue_decides(stances: Sequence[str], cue_values: np.ndarray) -> list[str]:
    """``stances`` where an explicit debunk cue (``cue_debunks`` of ``cue_values``) turns a
    ``spreads`` or ``unclear`` reading into ``debunks`` (a model's ``debunk_cue_decides``; the fit
    applies the same rule to its folds)."""
    said = (cue_values[:, CUE_FEATURES.index("cue_debunks")] > 0).tolist()
    return ["debunks" if d and st in ("spreads", "unclear") else st for st, d in zip(stances, said)]


@lru_cache(maxsize=1)
def default_model() -> StanceModel:
    """The shipped model (read once per process)."""
    return StanceModel.load()


def specs_agree(a: object, b: object, rel: float = 1e-4, abs_: float = 1e-6) -> bool:
    """Two model specs (parsed JSON) are the same model: equal but for float noise. A refit on the
    same rows once gave one weight that differed in its last written digit, inside a full test
    suite run only (the cause was not pinned down: one solver thread, and a loaded machine gave
    the same bytes); anything else, an n-gram, a class, a setting or the train files' digests,
    must be equal."""
    if isinstance(a, float) or isinstance(b, float):
        if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or isinstance(a, bool) or isinstance(b, bool):
            return False
        return abs(a - b) <= max(abs_, rel * max(abs(a), abs(b)))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(specs_agree(x, y, rel, abs_) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(specs_agree(a[k], b[k], rel, abs_) for k in a)
    return type(a) is type(b) and a == b
