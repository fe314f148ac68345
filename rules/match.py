"""Match posts against the claim catalogue: index -> fuzzy scores -> guards -> stance -> label.

For a batch of posts (a polars frame with ``post_id`` and ``text``; ``title``, ``transcript``,
``links`` and ``video_ids`` are used when present):

1. every post and claim field (text, title, each variant) goes through one normalisation
   (:mod:`rules.normalise`);
2. a BM25 index (``bm25s`` weights, applied to the whole batch as one sparse product) gives
   each post its ``candidates`` best claims;
3. a ranking model (logistic, fitted on CheckThat train by ``bench/fit_weights.py``) orders the
   candidates from cheap features: BM25, IDF-weighted word coverage, a sorted-token ratio and a
   character 4-gram cosine; :meth:`Matcher.rank` reports it;
4. for the pairs that may be reported, rapidfuzz scores every field of the claim
   (``process.cpdist``: token set ratio, ratio, partial ratio, best field kept) and a second,
   class-balanced logistic model gives the calibrated 0-100 ``score`` of :meth:`Matcher.match`;
   a link to or embed of a known video of the claim scores 100 on that evidence alone;
5. entity guards, stance (:mod:`rules.stance`) and the thresholds of
   :class:`~rules.config.MatchConfig` give the label.

Claims with an identical matching representation (duplicates, :meth:`Matcher.duplicate_groups`)
rank first in catalogue order, later copies right below; :meth:`Matcher.rank` gives every post
rows, ranking a post without a BM25 candidate by character 4-gram similarity.

What :meth:`Matcher.match` writes: for each post, its best ``max_claims_per_post`` claims whose
score is at least ``report_floor`` (or that it links by known media or fact-check URL). Rows
between ``report_floor`` and ``review_threshold`` carry label ``no_flag``: weak signal kept for
analysts; posts with nothing above the floor get no row.
"""

from __future__ import annotations

import math
import re
import sys
import threading
import time
from typing import Any, Callable

import bm25s
import numpy as np
import polars as pl
import snowballstemmer
from bm25s.tokenization import Tokenized
from rapidfuzz import fuzz, process
from scipy import sparse

from rules.catalogue import Catalogue
from rules.config import MatchConfig
from rules.media import MediaRule, known_media_from_claims
from rules.normalise import canonical_media, normalise_series, URL_PATTERN
from rules.schema import MATCHES_SCHEMA
from rules.stance import hedge_expr, is_fact_check_url, post_stance_expr

__all__ = ["Matcher", "MatchConfig"]

_STOP_RAW = (
    "a an the and or but if then else of to in on at by for with from as into onto about over under "
    "after before between through during is are was were be been being am do does did doing have has had "
    "having i me my we our you your he him his she her it its they them their this that these those there "
    "here what which who whom whose when where why how all any both each few more most other some such no "
    "nor only own same so than too very s t can will just don should now would could also via rt amp "
    "ka ki ke ko se ne hai hain mein par pe aur yeh woh wo bhi tha thi thay the ho hota hoti kar kiya "
    "liye lye jo ab to ki tou na "
    "کا کی کے کو سے نے ہے ہیں میں پر اور یہ وہ بھی تھا تھی تھے ہو کر کیا لیے جو اب تو نہ"
)
STOPWORDS = frozenset(normalise_series(_STOP_RAW.split()).to_list()) - {""}

# feature order of the fitted model (see bench/fit_weights.py)
FEATURES = (
    "bm25_norm", "bm25_rel", "bm25_log", "tsort", "cov_claim", "cov_post", "cov_claim_text",
    "cov_claim_title", "cov_post_text", "cov_post_title", "cov_claim_rel", "cov_post_rel", "tsort_rel",
    "ngram_cos", "ngram_rel",
)
# the label score: features that do not depend on the catalogue's size or shape
CALIBRATION_FEATURES = ("tsr", "tsort", "ratio", "partial", "cov_claim_s", "cov_post_s", "post_terms")
SHRINK_TERMS = 3.0
COMPOUNDS = True
ENTITY_BONUS = 1000.0  # ordering only: direct evidence, then rows whose entity guards hold, come first
DUPLICATE_STEP = 1e-3  # a later copy of a duplicate claim scores this much less per position below the first
FLAG_LABELS = ("likely_misinformation", "debunk")  # at most one row of a post carries one
LEAD_WORDS = 60
LONG_POST_WORDS = 150
STANCE_WINDOW_WORDS = 60
DEFAULT_CALIBRATION: dict[str, Any] = {
    "coef": [0.975063, 3.677843, 1.809744, -0.256317, 18.443967, 15.592043, 0.107402],
    "intercept": -8.982728,
}
# ranking model, fitted on the CheckThat 2020 train split (bench/fit_weights.py); see docs/matching.md
DEFAULT_MODEL: dict[str, Any] = {
    "mean": [0.182344, 0.415361, 1.88936, 0.427496, 0.259652, 0.110356, 0.177519, 0.22727, 0.104472, 0.080865, -0.424039, -0.192877, -0.129522, 0.136902, -0.284209],
    "scale": [0.08611, 0.191853, 0.281112, 0.065582, 0.12969, 0.062445, 0.093944, 0.153154, 0.063084, 0.062115, 0.206926, 0.138504, 0.084184, 0.083464, 0.158735],
    "coef": [-0.176387, 1.469985, 0.344493, -0.201202, -0.066971, 0.241201, 0.05889, -0.033846, -0.393011, 0.150204, 0.126645, 0.414273, 0.540826, 0.326043, 2.184488],
    "intercept": -10.098805,
}


_ENGLISH = snowballstemmer.stemmer("english")
_STEM_LOCK = threading.Lock()  # snowball stemmers keep state while stemming


def _stem(tok: str) -> str:
    if tok.isascii() and tok.isalpha():
        with _STEM_LOCK:
            return _ENGLISH.stemWord(tok)
    return tok


class _Tokens:
    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self._stem: dict[str, str | None] = {}
        # "pnbrock" -> terms of "pnb rock": two adjacent catalogue words written as one
        # (lower-case hashtags and handles); consulted for words outside the vocabulary only
        self.compounds: dict[str, tuple[str, ...]] = {}

    def learn_compounds(self, texts: list[str]) -> None:
        words = {w for t in texts for w in t.split()}
        found: dict[str, tuple[str, ...]] = {}
        for t in texts:
            ws = t.split()
            for a, b in zip(ws, ws[1:]):
                key = a + b
                if len(key) < 6 or key in words or key in found or a in STOPWORDS or b in STOPWORDS:
                    continue
                parts = tuple(self.terms(a + " " + b))
                if len(parts) == 2:
                    found[key] = parts
        self.compounds = found

    def terms(self, norm: str) -> list[str]:
        out = []
        cache = self._stem
        compounds = self.compounds
        for w in norm.split():
            s = cache.get(w, "\0")
            if s == "\0":
                s = None if (w in STOPWORDS or (len(w) < 2 and not w.isdigit())) else _stem(w)
                if len(cache) < 2_000_000:
                    cache[w] = s
            if s is not None:
                if compounds and s not in self.vocab and w in compounds:
                    out.extend(compounds[w])
                else:
                    out.append(s)
        return out

    def ids(self, norm: str, grow: bool) -> list[int]:
        v = self.vocab
        if grow:
            return [v.setdefault(t, len(v)) for t in self.terms(norm)]
        return [i for i in (v.get(t) for t in self.terms(norm)) if i is not None]


def _column(posts: pl.DataFrame, name: str, dtype: pl.DataType) -> pl.Series:
    if name in posts.columns:
        return posts.get_column(name)
    return pl.Series(name, [None] * posts.height, dtype=dtype)


class Matcher:
    """Ranks and labels posts against a :class:`~rules.catalogue.Catalogue`.

    Build once, reuse over many batches; the object pickles (for Dask workers). ``retired``
    claims are left out; ``imported`` claims are matched but never flagged
    ``likely_misinformation``.
    """

    def __init__(self, catalogue: Catalogue, config: MatchConfig | None = None,
                 model: dict[str, Any] | None = None, calibration: dict[str, Any] | None = None) -> None:
        self.config = config or MatchConfig()
        self.catalogue_version = catalogue.version
        m = model or DEFAULT_MODEL
        self._mean = np.asarray(m["mean"], dtype=np.float64)
        self._scale = np.asarray(m["scale"], dtype=np.float64)
        self._coef = np.asarray(m["coef"], dtype=np.float64)
        self._intercept = float(m["intercept"])
        cal = calibration or DEFAULT_CALIBRATION
        self._cal_coef = np.asarray(cal["coef"], dtype=np.float64)
        self._cal_intercept = float(cal["intercept"])
        claims = [c for c in catalogue if c.status != "retired"]
        self.claim_ids = [c.claim_id for c in claims]
        self._numeric_ids = all(cid.isdigit() for cid in self.claim_ids)
        self._active = np.array([c.status == "active" for c in claims], dtype=bool)
        n = len(claims)

        raw_fields: list[str] = []
        kinds: list[int] = []
        owner: list[int] = []
        for i, c in enumerate(claims):
            for kind, f in [(0, c.text), (1, c.title)] + [(2, v) for v in c.variants]:
                if f:
                    raw_fields.append(f)
                    kinds.append(kind)
                    owner.append(i)
        norm = normalise_series(raw_fields).to_list() if raw_fields else []
        keep: list[int] = []
        seen: set[tuple[int, str]] = set()
        for j, t in enumerate(norm):
            if t and (owner[j], t) not in seen:
                seen.add((owner[j], t))
                keep.append(j)
        self._field_text = [norm[j] for j in keep]
        self._field_sorted = [" ".join(sorted(t.split())) for t in self._field_text]
        self._field_kind = np.array([kinds[j] for j in keep], dtype=np.int8)
        field_owner = np.array([owner[j] for j in keep], dtype=np.int64)
        self._field_start = np.searchsorted(field_owner, np.arange(n + 1)).astype(np.int64)
        self._build_duplicates(n)

        self._tok = _Tokens()
        field_ids = [self._tok.ids(t, grow=True) for t in self._field_text]
        if COMPOUNDS:
            self._tok.learn_compounds(self._field_text)
        vocab_size = max(len(self._tok.vocab), 1)
        docs: list[list[int]] = [[] for _ in range(n)]
        for j, ids in enumerate(field_ids):
            docs[field_owner[j]].extend(ids)
        self._W = self._bm25_weights(docs, vocab_size, n)
        self._self_score = np.asarray(self._W.sum(axis=0)).ravel() + 1e-9
        df = np.zeros(vocab_size, dtype=np.float64)
        for d in docs:
            if d:
                df[np.unique(d)] += 1
        self._idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5))
        self._unknown_idf = math.log(1.0 + (n + 0.5) / 0.5)
        self._F = self._binary(field_ids, vocab_size).multiply(self._idf[None, :]).tocsr().astype(np.float32)
        self._gram_vocab: dict[str, int] = {}
        self._gram_cache: dict[str, list[int]] = {}
        claim_text = [" ".join(self._field_text[self._field_start[i]:self._field_start[i + 1]]) for i in range(n)]
        counts = self._gram_counts(claim_text, grow=True)
        gdf = np.bincount(counts.indices, minlength=counts.shape[1]).astype(np.float64)
        self._gram_idf = np.log((n + 1) / (gdf + 1)) + 1.0
        self._G = self._tfidf(counts)
        self._F_total = np.asarray(self._F.sum(axis=1)).ravel() + 1e-9
        self._typical_idf = float(np.median(self._idf[df > 0])) if (df > 0).any() else 1.0

        self._media: dict[str, list[int]] = {}
        self._fact_checks: dict[str, list[int]] = {}
        for i, c in enumerate(claims):
            for key in c.known_media:
                self._media.setdefault(key, []).append(i)
            for u in c.fact_check_urls:
                key = canonical_media(u)
                if key:
                    self._fact_checks.setdefault(key, []).append(i)
        cfg = self.config
        self._known_media = known_media_from_claims(claims, MediaRule(
            cfg.media_distance, cfg.media_min_quality, cfg.media_query_share, cfg.media_known_share,
            cfg.media_phash_distance))
        self._entities: list[list[re.Pattern[str]] | None] = []
        for c in claims:
            groups = []
            for g in c.required_entities:
                aliases = sorted({a for a in normalise_series(list(g)).to_list() if a}, key=len, reverse=True)
                if aliases:
                    groups.append(re.compile(r"(?<!\S)(?:" + "|".join(map(re.escape, aliases)) + r")(?!\S)"))
            self._entities.append(groups or None)

    # ------------------------------------------------------------ duplicates

    def _representation(self, i: int) -> tuple[tuple[int, tuple[str, ...]], ...]:
        a, b = self._field_start[i], self._field_start[i + 1]
        return tuple((int(self._field_kind[j]), tuple(w for w in self._field_text[j].split() if w not in STOPWORDS))
                     for j in range(a, b))

    def _build_duplicates(self, n: int) -> None:
        first: dict[tuple, int] = {}
        members: dict[int, list[int]] = {}
        for i in range(n):
            key = self._representation(i)
            head = first.setdefault(key, i)
            if head != i:
                members.setdefault(head, [head]).append(i)
        self._dup_group = np.full(n, -1, dtype=np.int64)
        self._dup_pos = np.zeros(n, dtype=np.int64)
        self._dup_members: list[np.ndarray] = []
        for g, ids in enumerate(members.values()):
            self._dup_members.append(np.asarray(ids, dtype=np.int64))
            self._dup_group[ids] = g
            self._dup_pos[ids] = np.arange(len(ids))

    def duplicate_groups(self) -> dict[str, str]:
        """Claims whose matching representation is identical, as ``claim_id -> canonical claim_id``.

        The representation is what the ranking features see: every field (text, title, each
        variant) after :mod:`rules.normalise` with stop words removed. The canonical claim is the
        first of its group in catalogue order (file order of a JSONL catalogue; sorted file order
        of a folder) and maps to itself; claims without a duplicate are left out. Retired claims
        are not matched and not grouped.
        """
        return {self.claim_ids[int(c)]: self.claim_ids[int(m[0])] for m in self._dup_members for c in m}

    def _with_duplicates(self, pp: np.ndarray, cc: np.ndarray, bm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Adds every copy of a candidate's duplicate group to the post's candidates."""
        if not self._dup_members or len(pp) == 0:
            return pp, cc, bm
        m = self._dup_group[cc] >= 0
        if not m.any():
            return pp, cc, bm
        have = set(zip(pp[m].tolist(), cc[m].tolist()))
        ep, ec, eb = [], [], []
        for p, c, b in zip(pp[m].tolist(), cc[m].tolist(), bm[m].tolist()):
            for o in self._dup_members[self._dup_group[c]].tolist():
                if (p, o) not in have:
                    have.add((p, o))
                    ep.append(p)
                    ec.append(o)
                    eb.append(b)
        if not ep:
            return pp, cc, bm
        return (np.concatenate([pp, np.asarray(ep, dtype=np.int64)]), np.concatenate([cc, np.asarray(ec, dtype=np.int64)]),
                np.concatenate([bm, np.asarray(eb, dtype=np.float64)]))

    def _order_duplicates(self, pp: np.ndarray, cc: np.ndarray, score: np.ndarray) -> np.ndarray:
        """Every copy in a duplicate group takes the group's best score for the post, less a step
        per position after the first in catalogue order: DUPLICATE_STEP, or less when another claim
        of the post scores closer below, so a copy never passes a claim outside its group."""
        if not self._dup_members or len(pp) == 0:
            return score
        g = self._dup_group[cc]
        m = g >= 0
        if not m.any():
            return score
        key = pp[m] * len(self._dup_members) + g[m]
        uniq, inv = np.unique(key, return_inverse=True)
        best = np.full(len(uniq), -np.inf)
        np.maximum.at(best, inv, score[m])
        # rows of each post by falling score; for every (post, group): the first row below the
        # group's best score that is not a copy of the group (gap 0 when there is none)
        n = len(pp)
        order = np.lexsort((-score, pp))
        ps, ss, gs = pp[order], score[order], g[order]
        pos = np.empty(n, dtype=np.int64)
        pos[order] = np.arange(n)
        same_post = ps[1:] == ps[:-1]
        idx = np.arange(n)

        def run_end(cont: np.ndarray) -> np.ndarray:
            ends = np.flatnonzero(np.r_[~cont, True])
            return ends[np.searchsorted(ends, idx)]

        tie_end = run_end(same_post & (ss[1:] == ss[:-1]))
        group_end = run_end(same_post & (gs[1:] == gs[:-1]))
        post_end = run_end(same_post)
        rows_m = np.flatnonzero(m)
        at_best = score[m] == best[inv]
        rep = np.empty(len(uniq), dtype=np.int64)
        rep[inv[at_best]] = pos[rows_m[at_best]]
        grp = uniq % len(self._dup_members)
        j = tie_end[rep] + 1
        hi = post_end[rep] + 1
        inside = j < hi
        jc = np.minimum(j, n - 1)
        j = np.where(inside & (gs[jc] == grp), group_end[jc] + 1, j)
        jc = np.minimum(j, n - 1)
        gap = np.where(j < hi, best - ss[jc], best)
        sizes = np.array([len(x) for x in self._dup_members], dtype=np.float64)
        step = np.minimum(DUPLICATE_STEP, np.maximum(gap, 0.0) / sizes[grp])
        out = score.astype(np.float64, copy=True)
        out[m] = best[inv] - step[inv] * self._dup_pos[cc[m]]
        return out

    # ------------------------------------------------------------ index

    @staticmethod
    def _binary(rows: list[list[int]], width: int) -> sparse.csr_matrix:
        lengths = np.fromiter((len(ids) for ids in rows), dtype=np.int64, count=len(rows))
        flat = np.fromiter((i for ids in rows for i in ids), dtype=np.int64, count=int(lengths.sum()))
        keys = np.unique(np.repeat(np.arange(len(rows), dtype=np.int64), lengths) * max(width, 1) + flat)
        r, indices = np.divmod(keys, max(width, 1))
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(np.bincount(r, minlength=len(rows)), out=indptr[1:])
        return sparse.csr_matrix((np.ones(len(indices), dtype=np.float32), indices.astype(np.int32), indptr),
                                 shape=(len(rows), width))

    @staticmethod
    def _bm25_weights(docs: list[list[int]], vocab_size: int, n: int) -> sparse.csr_matrix:
        if n == 0:
            return sparse.csr_matrix((vocab_size, 0))
        vocab = {str(i): i for i in range(vocab_size)}
        retriever = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
        retriever.index(Tokenized(ids=[d or [] for d in docs], vocab=vocab), show_progress=False,
                        create_empty_token=False)
        s = retriever.scores
        indptr = np.asarray(s["indptr"], dtype=np.int64)
        rows = len(indptr) - 1
        w = sparse.csr_matrix((np.asarray(s["data"], dtype=np.float64), np.asarray(s["indices"]), indptr),
                              shape=(rows, n))
        if rows < vocab_size:
            w = sparse.vstack([w, sparse.csr_matrix((vocab_size - rows, n))]).tocsr()
        return w[:vocab_size]

    def _grams(self, word: str, grow: bool) -> list[int]:
        ids = self._gram_cache.get(word)
        if ids is None:
            w = f"#{word}#"
            grams = sorted({w[i:i + 4] for i in range(max(1, len(w) - 3))})  # sorted: same ids, same float sums in every process
            v = self._gram_vocab
            ids = [v.setdefault(g, len(v)) for g in grams] if grow else [v[g] for g in grams if g in v]
            if len(self._gram_cache) < 1_000_000:
                self._gram_cache[word] = ids
        return ids

    def _gram_counts(self, texts: list[str], grow: bool) -> sparse.csr_matrix:
        cols: list[int] = []
        lengths = np.zeros(len(texts), dtype=np.int64)
        cache = self._gram_cache
        for r, t in enumerate(texts):
            before = len(cols)
            for w in t.split():
                ids = cache.get(w)
                if ids is None:
                    if w in STOPWORDS:
                        continue
                    ids = self._grams(w, grow)
                cols.extend(ids)
            lengths[r] = len(cols) - before
        rows = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
        width = max(len(self._gram_vocab), 1)
        m = sparse.csr_matrix((np.ones(len(cols)), (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64))),
                              shape=(len(texts), width))
        m.sum_duplicates()
        return m

    def _tfidf(self, counts: sparse.csr_matrix) -> sparse.csr_matrix:
        m = counts.copy()
        m.data = 1.0 + np.log(m.data)
        m = m.multiply(self._gram_idf[None, : m.shape[1]]).tocsr()
        norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel()) + 1e-9
        return (sparse.diags(1.0 / norms) @ m).tocsr().astype(np.float32)

    # ------------------------------------------------------------ posts

    def _prepare(self, posts: pl.DataFrame, cues: bool = True) -> dict[str, Any]:
        if "post_id" not in posts.columns or "text" not in posts.columns:
            raise ValueError(f"posts need columns post_id and text (got {', '.join(posts.columns) or 'none'})")
        text = _column(posts, "text", pl.String).cast(pl.String)
        title = _column(posts, "title", pl.String).cast(pl.String)
        transcript = _column(posts, "transcript", pl.String).cast(pl.String)
        frame = pl.DataFrame({"title": title, "text": text, "transcript": transcript})
        full = frame.select(
            pl.concat_str([pl.col("title").fill_null(""), pl.col("text").fill_null(""),
                           pl.col("transcript").fill_null("")], separator="\n").alias("full")
        ).to_series()
        norm = normalise_series(full)
        stance: list[str] = []
        hedge: list[bool] = []
        lead: list[str] = []
        if cues:
            stance, hedge, lead = self._cues(frame, text)
        if cues or self._media:
            urls = pl.DataFrame({"f": full}).select(pl.col("f").str.extract_all(r"(?i)" + URL_PATTERN)).to_series().to_list()
            prep = self._finish_prepare(posts, norm, stance, hedge, urls)
        else:  # ranking without known media needs no links
            prep = self._finish_prepare(posts, norm, stance, hedge, None)
        prep["lead_stance"] = lead
        return prep

    def _cues(self, frame: pl.DataFrame, text: pl.Series) -> tuple[list[str], list[bool], list[str]]:
        raw_for_stance = frame.select(
            pl.concat_str([pl.col("title").fill_null(""), pl.col("text").fill_null("")], separator="\n")
        ).to_series()
        norm = normalise_series(raw_for_stance)
        lead = norm.str.split(" ").list.head(LEAD_WORDS).list.join(" ")
        cues = pl.DataFrame({"n": norm, "r": text.fill_null(""), "lead": lead}).select(
            post_stance_expr(pl.col("n"), pl.col("r")).alias("stance"),
            post_stance_expr(pl.col("lead"), pl.col("r")).alias("lead_stance"),
            (pl.col("n").str.count_matches(" ") + 1).alias("words"),
            hedge_expr(pl.col("n")).alias("hedge"),
        ).with_columns(
            # a long article that calls the claim false only in passing mentions it
            pl.when((pl.col("stance") == "debunks") & (pl.col("lead_stance") != "debunks")
                    & (pl.col("words") >= LONG_POST_WORDS))
            .then(pl.lit("mentions")).otherwise(pl.col("stance")).alias("stance")
        )
        return (cues.get_column("stance").to_list(), cues.get_column("hedge").to_list(),
                cues.get_column("lead_stance").to_list())

    def _finish_prepare(self, posts: pl.DataFrame, norm: pl.Series, stance: list[str], hedge: list[bool],
                        urls: list[list[str] | None] | None) -> dict[str, Any]:
        if urls is None:
            return {"post_id": posts.get_column("post_id").cast(pl.String).to_list(), "norm": norm.to_list(),
                    "stance": stance, "hedge": hedge, "keys": [frozenset()] * posts.height}
        links = _column(posts, "links", pl.List(pl.String)).to_list()
        videos = _column(posts, "video_ids", pl.List(pl.String)).to_list()
        keys: list[set[str]] = []
        for u, l, v in zip(urls, links, videos):
            ks = set()
            for x in (u or []) + (l or []) + (v or []):
                if isinstance(x, str):
                    k = canonical_media(x.rstrip(".,;:!?…"))
                    if k:
                        ks.add(k)
            keys.append(ks)
        return {
            "post_id": posts.get_column("post_id").cast(pl.String).to_list(),
            "norm": norm.to_list(),
            "stance": stance,
            "hedge": hedge,
            "keys": keys,
        }

    def _candidates(self, norm: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[list[int]], np.ndarray]:
        terms = [self._tok.terms(t) for t in norm]
        v = self._tok.vocab
        q_ids = [[v[x] for x in ts if x in v] for ts in terms]
        n_terms = np.array([len(set(ts)) for ts in terms], dtype=np.int64)
        n_claims = len(self.claim_ids)
        if n_claims == 0:
            e = np.empty(0, dtype=np.int64)
            return e, e, np.empty(0), q_ids, n_terms
        q = self._binary(q_ids, self._W.shape[0])
        s = (q @ self._W).tocsr()
        k = self.config.candidates
        pp, cc, bb = [], [], []
        for r in range(s.shape[0]):
            a, b = s.indptr[r], s.indptr[r + 1]
            if a == b:
                continue
            data = s.data[a:b]
            idx = s.indices[a:b]
            if b - a > k:
                top = np.argpartition(-data, k - 1)[:k]
                data, idx = data[top], idx[top]
            pp.append(np.full(len(idx), r, dtype=np.int64))
            cc.append(idx.astype(np.int64))
            bb.append(data)
        if not pp:
            e = np.empty(0, dtype=np.int64)
            return e, e, np.empty(0), q_ids, n_terms
        return np.concatenate(pp), np.concatenate(cc), np.concatenate(bb), q_ids, n_terms

    def _fuzzy_text(self, norm: str, claim: int) -> str:
        limit = self.config.max_fuzzy_chars
        if len(norm) <= limit:
            return norm
        return self._window(norm, claim, max(8, limit // 6))[:limit]

    def _window(self, norm: str, claim: int, width: int) -> str:
        """The ``width`` words of ``norm`` holding most of the claim's words."""
        words = norm.split()
        if len(words) <= width:
            return norm
        a, b = self._field_start[claim], self._field_start[claim + 1]
        vocab = set(" ".join(self._field_text[a:b]).split()) - STOPWORDS
        hits = np.fromiter((w in vocab for w in words), dtype=np.int32, count=len(words))
        csum = np.concatenate([[0], np.cumsum(hits)])
        start = int(np.argmax(csum[width:] - csum[:-width]))
        inside = np.flatnonzero(hits[start:start + width])
        if len(inside):  # centre the claim's words in the window
            centre = start + (int(inside[0]) + int(inside[-1])) // 2
            start = max(0, min(len(words) - width, centre - width // 2))
        return " ".join(words[start:start + width])

    def _pairs(self, prep: dict[str, Any]) -> dict[str, np.ndarray]:
        norm = prep["norm"]
        pp, cc, bm, q_ids, n_terms = self._candidates(norm)
        pp, cc, bm = self._with_duplicates(pp, cc, bm)
        media = np.zeros(len(pp), dtype=bool)
        media_key: dict[tuple[int, int], str] = {}
        extra_p, extra_c = [], []
        prints = prep.get("prints") or {}
        existing = set(zip(pp.tolist(), cc.tolist())) if (self._media and any(prep["keys"])) or prints else set()
        for r, c in sorted(prints):
            media_key.setdefault((r, c), "")
            if (r, c) not in existing:
                existing.add((r, c))
                extra_p.append(r)
                extra_c.append(c)
        for r, ks in enumerate(prep["keys"]):
            for key in sorted(ks):
                for c in self._media.get(key, ()):
                    media_key.setdefault((r, c), key)
                    if (r, c) not in existing:
                        existing.add((r, c))
                        extra_p.append(r)
                        extra_c.append(c)
        if extra_p:
            pp = np.concatenate([pp, np.asarray(extra_p, dtype=np.int64)])
            cc = np.concatenate([cc, np.asarray(extra_c, dtype=np.int64)])
            bm = np.concatenate([bm, np.zeros(len(extra_p))])
        if media_key:
            media = np.fromiter(((int(p), int(c)) in media_key for p, c in zip(pp, cc)), dtype=bool, count=len(pp))
        else:
            media = np.zeros(len(pp), dtype=bool)
        feats = self._features(norm, q_ids, pp, cc, bm, n_terms)
        feats.update(post=pp, claim=cc, bm25=bm, media=media)
        feats["media_key"] = media_key
        return feats

    def _field_pairs(self, pp: np.ndarray, cc: np.ndarray) -> dict[str, np.ndarray]:
        starts = self._field_start[cc]
        counts = self._field_start[cc + 1] - starts
        fp = np.repeat(pp, counts)
        offs = np.arange(len(fp)) - np.repeat(np.cumsum(counts) - counts, counts)
        return {"fp": fp, "ff": np.repeat(starts, counts) + offs, "fc": np.repeat(cc, counts),
                "pair": np.repeat(np.arange(len(pp)), counts), "seg": np.cumsum(counts) - counts,
                "has": counts > 0}

    @staticmethod
    def _per_pair_max(fields: dict[str, np.ndarray], values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        res = np.zeros(len(fields["seg"]))
        v = values if mask is None else np.where(mask, values, 0.0)
        if len(v):
            red = np.maximum.reduceat(v, np.minimum(fields["seg"], len(v) - 1))
            res[fields["has"]] = red[fields["has"]]
        return res

    def _post_texts(self, norm: list[str], fields: dict[str, np.ndarray], sort_tokens: bool) -> list[str]:
        limit = self.config.max_fuzzy_chars
        if sort_tokens:
            base = [" ".join(sorted(t.split())) if len(t) <= limit else "" for t in norm]
        else:
            base = norm
        fp = fields["fp"].tolist()
        out = [base[p] for p in fp]
        long_posts = [i for i, t in enumerate(norm) if len(t) > limit]
        if long_posts:
            is_long = np.zeros(len(norm), dtype=bool)
            is_long[long_posts] = True
            fc = fields["fc"]
            for i in np.flatnonzero(is_long[fields["fp"]]).tolist():
                t = self._fuzzy_text(norm[fp[i]], int(fc[i]))
                out[i] = " ".join(sorted(t.split())) if sort_tokens else t
        return out

    def _field_sorted_array(self) -> np.ndarray:
        arr = self.__dict__.get("_field_sorted_arr")
        if arr is None:
            arr = self._field_sorted_arr = np.array(self._field_sorted, dtype=object)
        return arr

    def _cpdist(self, scorer: Callable[..., float], a: list[str], b: list[str]) -> np.ndarray:
        return np.asarray(process.cpdist(a, b, scorer=scorer, workers=self.config.workers, dtype=np.float32),
                          dtype=np.float64) / 100

    def _features(self, norm: list[str], q_ids: list[list[int]], pp: np.ndarray, cc: np.ndarray,
                  bm: np.ndarray, n_terms: np.ndarray) -> dict[str, np.ndarray]:
        n_pairs = len(pp)
        out: dict[str, np.ndarray] = {}
        if n_pairs == 0:
            for f in FEATURES:
                out[f] = np.empty(0)
            out["best_field"] = np.empty(0, dtype=np.int64)
            return out
        best_bm = np.zeros(len(norm))
        np.maximum.at(best_bm, pp, bm)
        out["bm25_norm"] = np.minimum(bm / self._self_score[cc], 1.0)
        out["bm25_rel"] = bm / np.maximum(best_bm[pp], 1e-9)
        out["bm25_log"] = np.log1p(bm)
        pg = self._tfidf(self._gram_counts([t[:20000] for t in norm], grow=False))
        out["ngram_cos"] = np.asarray(pg[pp].multiply(self._G[cc]).sum(axis=1)).ravel()
        best_g = np.zeros(len(norm))
        np.maximum.at(best_g, pp, out["ngram_cos"])
        out["ngram_rel"] = out["ngram_cos"] - best_g[pp]

        fields = self._field_pairs(pp, cc)
        fp, ff = fields["fp"], fields["ff"]
        sorted_posts = self._post_texts(norm, fields, sort_tokens=True)
        sorted_fields = self._field_sorted_array()[ff].tolist()
        tsort = self._cpdist(fuzz.ratio, sorted_posts, sorted_fields)
        out["tsort"] = self._per_pair_max(fields, tsort)
        kinds = self._field_kind[ff]

        qb = self._binary(q_ids, self._F.shape[1])
        known_idf = np.asarray(qb @ self._idf).ravel()
        n_unknown = np.maximum(0, n_terms - np.array([len(set(q)) for q in q_ids]))
        out["post_terms"] = np.log1p(n_terms)[pp]
        post_total = known_idf + n_unknown * self._unknown_idf + 1e-9
        overlap = np.asarray(qb[fp].multiply(self._F[ff]).sum(axis=1)).ravel()
        cov_claim_f = overlap / self._F_total[ff]
        cov_post_f = overlap / post_total[fp]
        out["cov_claim"] = self._per_pair_max(fields, cov_claim_f)
        out["cov_post"] = self._per_pair_max(fields, cov_post_f)
        # the same, shrunk towards 0 for very short posts and claim fields (a prior of
        # SHRINK_TERMS typical words), for the label score
        prior = SHRINK_TERMS * self._typical_idf
        out["cov_claim_s"] = self._per_pair_max(fields, overlap / (self._F_total[ff] + prior))
        out["cov_post_s"] = self._per_pair_max(fields, overlap / (post_total[fp] + prior))
        out["cov_claim_text"] = self._per_pair_max(fields, cov_claim_f, kinds == 0)
        out["cov_claim_title"] = self._per_pair_max(fields, cov_claim_f, kinds == 1)
        out["cov_post_text"] = self._per_pair_max(fields, cov_post_f, kinds == 0)
        out["cov_post_title"] = self._per_pair_max(fields, cov_post_f, kinds == 1)
        for name in ("cov_claim", "cov_post", "tsort"):
            best_post = np.zeros(len(norm))
            np.maximum.at(best_post, pp, out[name])
            out[name + "_rel"] = out[name] - best_post[pp]
        key = cov_claim_f + tsort * 1e-3
        best = np.full(n_pairs, -1, dtype=np.int64)
        pair_of_field = fields["pair"]
        order = np.lexsort((-key, pair_of_field))
        first = np.ones(len(order), dtype=bool)
        first[1:] = pair_of_field[order][1:] != pair_of_field[order][:-1]
        best[pair_of_field[order][first]] = ff[order][first]
        out["best_field"] = best
        return out

    def _label_features(self, norm: list[str], feats: dict[str, np.ndarray], sel: np.ndarray) -> dict[str, np.ndarray]:
        """Fuzzy scores of the label model, for the selected pairs only (the costly scorers)."""
        pp, cc = feats["post"][sel], feats["claim"][sel]
        out = {k: feats[k][sel] for k in ("cov_claim", "cov_post", "cov_claim_s", "cov_post_s", "tsort", "post_terms")}
        if len(pp) == 0:
            for f in ("tsr", "ratio", "partial"):
                out[f] = np.empty(0)
            return out
        fields = self._field_pairs(pp, cc)
        posts = self._post_texts(norm, fields, sort_tokens=False)
        texts = [self._field_text[f] for f in fields["ff"].tolist()]
        out["tsr"] = self._per_pair_max(fields, self._cpdist(fuzz.token_set_ratio, posts, texts))
        out["ratio"] = self._per_pair_max(fields, self._cpdist(fuzz.ratio, posts, texts))
        out["partial"] = self._per_pair_max(fields, self._cpdist(fuzz.partial_ratio, texts, posts))
        return out

    def _score(self, feats: dict[str, np.ndarray]) -> np.ndarray:
        if len(feats["post"]) == 0:
            return np.empty(0)
        x = np.column_stack([feats[f] for f in FEATURES])
        z = ((x - self._mean) / self._scale) @ self._coef + self._intercept
        return 100.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))

    def _calibrated(self, feats: dict[str, np.ndarray]) -> np.ndarray:
        if len(feats["cov_claim"]) == 0:
            return np.empty(0)
        x = np.column_stack([feats[f] for f in CALIBRATION_FEATURES])
        z = x @ self._cal_coef + self._cal_intercept
        return 100.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))

    def _batches(self, posts: pl.DataFrame, size: int, progress: Callable[[int, int], None] | None):
        total = posts.height
        for start in range(0, total, size):
            yield start, posts.slice(start, size)
            if progress:
                progress(min(start + size, total), total)

    def _tiebreak_key(self, cc: np.ndarray) -> np.ndarray:
        key = self.__dict__.get("_tiebreak")
        if key is None:
            key = self._tiebreak = self._tiebreak_positions()
        return key[cc]

    def _tiebreak_positions(self) -> np.ndarray:
        cc = np.arange(len(self.claim_ids))
        if self._numeric_ids:
            ids = np.array([int(x) for x in self.claim_ids], dtype=np.int64)
            return ids[cc]
        order = np.argsort(np.array(self.claim_ids, dtype=object), kind="stable")
        pos = np.empty(len(order), dtype=np.int64)
        pos[order] = np.arange(len(order))
        return pos[cc]

    # ------------------------------------------------------------ public API

    def rank(self, posts: pl.DataFrame, top_k: int = 10, batch_size: int = 2000,
             progress: Callable[[int, int], None] | None = None) -> pl.DataFrame:
        """Up to ``top_k`` claims for every post (a row for every post): columns
        ``post_id, claim_id, score, rank`` (1 = best; ties broken by the higher claim id, as
        integers when every id is a number; duplicate claims first in catalogue order, see
        :meth:`duplicate_groups`). A post without a BM25 candidate (empty, emoji only, words
        outside the vocabulary) gets ``top_k`` rows (or the whole catalogue) ranked by the
        character 4-gram cosine (0-1, low) instead."""
        if not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"top_k must be a positive integer (got {top_k!r})")
        parts = []
        for _, batch in self._batches(posts, batch_size, progress):
            prep = self._prepare(batch, cues=False)
            feats = self._pairs(prep)
            score = self._score(feats)
            pp, cc = feats["post"], feats["claim"]
            score = np.where(feats["media"], 100.0, score)
            missing = np.setdiff1d(np.arange(len(prep["post_id"])), pp)
            if len(missing) and len(self.claim_ids):
                fp, fc, fs = self._fallback([prep["norm"][i] for i in missing.tolist()], top_k)
                pp = np.concatenate([pp, missing[fp]])
                cc = np.concatenate([cc, fc])
                score = np.concatenate([score, fs])
            score = self._order_duplicates(pp, cc, score)
            parts.append(self._ranked(prep["post_id"], pp, cc, score, top_k))
        if not parts:
            return pl.DataFrame(schema={"post_id": pl.String, "claim_id": pl.String, "score": pl.Float64,
                                        "rank": pl.Int32})
        return pl.concat(parts)

    def _fallback(self, norm: list[str], top_k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``top_k`` claims for posts without a BM25 candidate (empty, emoji only, words outside
        the vocabulary), by the character 4-gram cosine over the whole catalogue (0-1, so far
        below a real candidate's score); claims sharing no 4-gram follow in tie-break order."""
        n = len(self.claim_ids)
        k = min(top_k, n)
        sims = (self._tfidf(self._gram_counts([t[:20000] for t in norm], grow=False)) @ self._G.T).tocsr()
        tb = self._tiebreak_key(np.arange(n))
        default = np.argsort(-tb, kind="stable")[:k]
        pp, cc, ss = [], [], []
        for r in range(len(norm)):
            a, b = sims.indptr[r], sims.indptr[r + 1]
            idx, val = sims.indices[a:b].astype(np.int64), np.asarray(sims.data[a:b], dtype=np.float64)
            keep = val > 0
            idx, val = idx[keep], val[keep]
            if len(idx) > k:
                top = np.argpartition(-val, k - 1)[:k]
                idx, val = idx[top], val[top]
            if len(idx) < k:
                extra = default[~np.isin(default, idx)][: k - len(idx)] if len(idx) else default[:k]
                if len(extra) < k - len(idx):
                    rest = np.setdiff1d(np.arange(n), np.concatenate([idx, extra]))
                    extra = np.concatenate([extra, rest[np.argsort(-tb[rest], kind="stable")][: k - len(idx) - len(extra)]])
                idx = np.concatenate([idx, extra])
                val = np.concatenate([val, np.zeros(len(extra))])
            pp.append(np.full(len(idx), r, dtype=np.int64))
            cc.append(idx)
            ss.append(val)
        return np.concatenate(pp), np.concatenate(cc), np.concatenate(ss)

    def _order(self, pp: np.ndarray, cc: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        order = np.lexsort((-self._tiebreak_key(cc), -score, pp))
        ps = pp[order]
        start = np.r_[0, np.flatnonzero(ps[1:] != ps[:-1]) + 1]
        first_of = np.repeat(start, np.diff(np.r_[start, len(ps)]))
        rank = np.arange(len(ps)) - first_of + 1
        return order, rank

    def _ranked(self, post_ids: list[str], pp: np.ndarray, cc: np.ndarray, score: np.ndarray, top_k: int) -> pl.DataFrame:
        order, rank = self._order(pp, cc, score)
        keep = rank <= top_k
        o = order[keep]
        claim_ids = self.__dict__.get("_claim_id_series")
        if claim_ids is None:
            claim_ids = self._claim_id_series = pl.Series("claim_id", self.claim_ids, dtype=pl.String)
        return pl.DataFrame({
            "post_id": pl.Series("post_id", post_ids, dtype=pl.String).gather(pp[o]),
            "claim_id": claim_ids.gather(cc[o]),
            "score": score[o],
            "rank": rank[keep].astype(np.int32),
        }, schema={"post_id": pl.String, "claim_id": pl.String, "score": pl.Float64, "rank": pl.Int32})

    def match(self, posts: pl.DataFrame, batch_size: int = 2000,
              progress: Callable[[int, int], None] | None = None, media: pl.DataFrame | None = None) -> pl.DataFrame:
        """Scored, guarded and labelled matches with exactly :data:`rules.schema.MATCHES_SCHEMA`
        (``run_id`` and ``flagged_at`` null; see the module docstring for which rows appear).

        ``media``: fingerprints of the posts' pictures and videos (rows of the ``media`` table);
        a post whose medium matches a claim's known copy (:mod:`rules.media`) gets that evidence."""
        evidence = self.media_evidence(media) if media is not None else None
        parts = [self._match_batch(b, evidence) for _, b in self._batches(posts, batch_size, progress)]
        parts = [p for p in parts if p.height]
        if not parts:
            return pl.DataFrame(schema=MATCHES_SCHEMA)
        return pl.concat(parts)

    def media_evidence(self, media: pl.DataFrame) -> dict[tuple[str, str], tuple[float, str]]:
        """``(post_id, claim_id) -> (score_media, evidence)`` for posts whose media match known copies."""
        if not len(self._known_media) or media is None or media.is_empty():
            return {}
        got = self._known_media.match(media)
        return {(r["post_id"], r["claim_id"]): (r["score_media"], r["evidence"]) for r in got.iter_rows(named=True)}

    def _match_batch(self, posts: pl.DataFrame, evidence: dict[tuple[str, str], tuple[float, str]] | None = None) -> pl.DataFrame:
        cfg = self.config
        prep = self._prepare(posts)
        if evidence:
            col = {cid: i for i, cid in enumerate(self.claim_ids)}
            row = {pid: r for r, pid in enumerate(prep["post_id"])}
            prep["prints"] = {(row[p], col[c]): v for (p, c), v in evidence.items() if p in row and c in col}
        feats = self._pairs(prep)
        pp, cc = feats["post"], feats["claim"]
        if len(pp) == 0:
            return pl.DataFrame(schema=MATCHES_SCHEMA)
        media = feats["media"]
        prints = prep.get("prints") or {}
        score_media = np.where(media, 100.0, 0.0)
        for i, (p, c) in enumerate(zip(pp.tolist(), cc.tolist())):
            if (p, c) in prints and not feats["media_key"].get((p, c)):
                score_media[i] = prints[(p, c)][0]
        fc_link = np.zeros(len(pp), dtype=bool)
        fc_key: dict[int, str] = {}
        if self._fact_checks:
            for i, (p, c) in enumerate(zip(pp.tolist(), cc.tolist())):
                for k in sorted(prep["keys"][p]):
                    if c in self._fact_checks.get(k, ()):
                        fc_link[i] = True
                        fc_key[i] = k
        order, rnk = self._order(pp, cc, self._order_duplicates(pp, cc, self._score(feats)))
        sel = np.sort(order[(rnk <= cfg.max_claims_per_post) | media[order] | fc_link[order]])
        lab = self._label_features(prep["norm"], feats, sel)
        score_sel = self._order_duplicates(pp[sel], cc[sel], np.where(media[sel], np.maximum(score_media[sel], self._calibrated(lab)), self._calibrated(lab)))
        ents_sel = np.array([self._entities_ok(prep["norm"][p], c) for p, c in zip(pp[sel].tolist(), cc[sel].tolist())],
                            dtype=bool)
        # direct evidence (known media, a link to the claim's fact check) first, then claims whose
        # required entities the post names, then the score
        evidence_sel = media[sel] | fc_link[sel]
        order2, rank2 = self._order(pp[sel], cc[sel], score_sel + ENTITY_BONUS * (ents_sel + 2.0 * evidence_sel))
        keep = (rank2 <= cfg.max_claims_per_post) & (
            (score_sel[order2] >= cfg.report_floor) | media[sel][order2] | fc_link[sel][order2])
        idx = sel[order2[keep]]
        rank = rank2[keep]
        score = np.zeros(len(pp))
        score[sel] = score_sel
        fuzzy = np.zeros(len(pp))
        fuzzy[sel] = lab["tsr"]
        pair_stance = self._pair_stances(prep, pp, cc, idx)
        flagged: set[int] = set()
        rows: dict[str, list[Any]] = {k: [] for k in MATCHES_SCHEMA}
        for i, r in zip(idx.tolist(), rank.tolist()):
            p, c = int(pp[i]), int(cc[i])
            text = prep["norm"][p]
            ents = self._entities_ok(text, c)
            stance = pair_stance.get(i, prep["stance"][p])
            if fc_link[i] or any(is_fact_check_url(k) for k in prep["keys"][p]):
                stance = "debunks"
            s = float(score[i])
            if s < cfg.review_threshold and not media[i] and not fc_link[i]:
                label = "no_flag"
            elif stance == "debunks":
                label = "debunk"
            elif stance == "mentions":
                label = cfg.mentions_label
            elif (stance == "spreads" and s >= cfg.flag_threshold and (ents or media[i]) and self._active[c]
                  and not prep["hedge"][p]):
                label = "likely_misinformation"
            else:
                label = "needs_review"
            if label in FLAG_LABELS:
                # one claim per post carries a flag: the best-ranked; the others are left for review
                if p in flagged:
                    label = "needs_review"
                flagged.add(p)
            rows["post_id"].append(prep["post_id"][p])
            rows["claim_id"].append(self.claim_ids[c])
            rows["score"].append(s)
            rows["rank"].append(r)
            rows["score_lexical"].append(round(float(feats["bm25_norm"][i]) * 100, 2))
            rows["score_fuzzy"].append(round(float(fuzzy[i]) * 100, 2))
            rows["score_media"].append(float(score_media[i]))
            rows["entities_ok"].append(ents)
            rows["stance"].append(stance)
            rows["label"].append(label)
            rows["evidence"].append(self._evidence(text, int(feats["best_field"][i]),
                                                   feats["media_key"].get((p, c)) or None, fc_key.get(i),
                                                   prints.get((p, c), (0, None))[1]))
            rows["catalogue_version"].append(self.catalogue_version)
            rows["run_id"].append(None)
            rows["flagged_at"].append(None)
        return pl.DataFrame(rows, schema=MATCHES_SCHEMA)

    def _entities_ok(self, text: str, claim: int) -> bool:
        groups = self._entities[claim]
        return groups is None or all(g.search(text) for g in groups)

    def _pair_stances(self, prep: dict[str, Any], pp: np.ndarray, cc: np.ndarray, idx: np.ndarray) -> dict[int, str]:
        """Stance of long posts from the words around the claim (a transcript that spreads the
        claim under a neutral title spreads it); an article that debunks only in passing, with
        no debunk in its lead, mentions the claim."""
        todo = [i for i in idx.tolist() if len(prep["norm"][int(pp[i])].split()) > STANCE_WINDOW_WORDS]
        if not todo:
            return {}
        windows = [self._window(prep["norm"][int(pp[i])], int(cc[i]), STANCE_WINDOW_WORDS) for i in todo]
        got = pl.DataFrame({"n": windows}).select(post_stance_expr(pl.col("n"), pl.col("n"))).to_series().to_list()
        out = {}
        for i, st in zip(todo, got):
            p = int(pp[i])
            if st == "debunks" and prep["lead_stance"][p] != "debunks" and len(prep["norm"][p].split()) >= LONG_POST_WORDS:
                st = "mentions"
            out[i] = st
        return out

    def _evidence(self, text: str, field: int, media_key: str | None, fc_key: str | None,
                  print_note: str | None = None) -> str:
        parts = []
        if print_note:
            parts.append(print_note)
        if media_key:
            parts.append(f"known media {media_key}")
        if fc_key:
            parts.append(f"links fact check {fc_key}")
        if field >= 0:
            post_words = set(text.split())
            words = [w for w in dict.fromkeys(self._field_text[field].split()) if w in post_words and w not in STOPWORDS]
            kind = ("text", "title", "variant")[int(self._field_kind[field])]
            if words:
                parts.append(f"words ({kind}): " + " ".join(words[:15]))
        return "; ".join(parts)


def progress_printer(label: str) -> Callable[[int, int], None]:
    """A progress callback that writes ``label: done/total (rate/s)`` to stderr."""
    t0 = time.perf_counter()

    def report(done: int, total: int) -> None:
        rate = done / max(time.perf_counter() - t0, 1e-9)
        print(f"\r{label}: {done}/{total} posts ({rate:,.0f}/s)", end="\n" if done >= total else "",
              file=sys.stderr, flush=True)

    return report
