"""Candidates and pair features: which claims each post is compared with, and how alike they are.

1. **Candidates**: the post's terms (:class:`rules.index.Tokens`) times the BM25 matrix, one
   sparse product for the batch; each post keeps its ``candidates`` best claims; every copy of a
   duplicate claim joins (:mod:`rules.duplicates`); a post that links a known media item of a
   claim, or that outside evidence ties to a claim (``media`` matches from images or video), gets
   that claim too.
2. **Ranking features** (:data:`FEATURES`, cheap, for every candidate): BM25 raw / relative to the
   post's best / relative to the claim's own maximum; IDF-weighted word coverage of the claim and
   of the post (best field, text only, title only, relative to the post's best); a sorted-token
   ratio (``rapidfuzz`` ``ratio`` over pre-sorted tokens via ``process.cpdist``) and a character
   4-gram TF-IDF cosine.
3. **Label features** (:data:`CALIBRATION_FEATURES`, costly, for the pairs that may be reported):
   ``token_set_ratio``, ``ratio`` and ``partial_ratio`` over every field of the claim (best field
   kept), coverage shrunk by a prior of :data:`SHRINK_TERMS` typical words, the post's length.

Long posts and transcripts (over ``max_fuzzy_chars``) are scored on the window with most of the
claim's words. The result is a dict of arrays, one entry per pair: ``post`` and ``claim``
(positions in the batch and the index), ``bm25``, each feature, ``best_field`` (the field with
the best coverage, for the evidence), ``media`` (direct media evidence), ``media_score`` and
``media_evidence`` (``(post, claim) -> text``).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from rapidfuzz import fuzz, process

from rules.index import ClaimIndex, binary_matrix
from rules.posts import PostBatch

# feature order of the fitted ranking model (see bench/fit_weights.py)
FEATURES = (
    "bm25_norm", "bm25_rel", "bm25_log", "tsort", "cov_claim", "cov_post", "cov_claim_text",
    "cov_claim_title", "cov_post_text", "cov_post_title", "cov_claim_rel", "cov_post_rel", "tsort_rel",
    "ngram_cos", "ngram_rel",
)
# the label score: features that do not depend on the catalogue's size or shape
CALIBRATION_FEATURES = ("tsr", "tsort", "ratio", "partial", "cov_claim_s", "cov_post_s", "post_terms")
SHRINK_TERMS = 3.0

MediaMatches = dict[tuple[int, int], tuple[float, str]]  # (post, claim) -> (score_media 0-100, evidence)


class Scorer:
    """Pair features of one index under one configuration (``candidates``, ``max_fuzzy_chars``,
    ``workers`` of :class:`rules.config.MatchConfig`)."""

    def __init__(self, index: ClaimIndex, candidates: int, max_fuzzy_chars: int, workers: int) -> None:
        self.index = index
        self.candidates_per_post = candidates
        self.max_fuzzy_chars = max_fuzzy_chars
        self.workers = workers

    # ------------------------------------------------------------ candidates

    def candidates(self, norm: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[list[int]], np.ndarray]:
        """``(post, claim, bm25)`` of each post's best claims by BM25, the posts' known term ids
        and their number of distinct terms."""
        ix = self.index
        terms = [ix.tokens.terms(t) for t in norm]
        v = ix.tokens.vocab
        q_ids = [[v[x] for x in ts if x in v] for ts in terms]
        n_terms = np.array([len(set(ts)) for ts in terms], dtype=np.int64)
        if len(ix) == 0:
            e = np.empty(0, dtype=np.int64)
            return e, e, np.empty(0), q_ids, n_terms
        q = binary_matrix(q_ids, ix.bm25.shape[0])
        s = (q @ ix.bm25).tocsr()
        k = self.candidates_per_post
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

    def pairs(self, batch: PostBatch, media_matches: MediaMatches | None = None) -> dict[str, Any]:
        """Candidates plus direct media evidence, with their ranking features."""
        ix = self.index
        norm = batch.norm
        pp, cc, bm, q_ids, n_terms = self.candidates(norm)
        pp, cc, bm = ix.duplicates.expand(pp, cc, bm)
        evidence: MediaMatches = {}
        for r, ks in enumerate(batch.keys):
            for key in sorted(ks):
                for c in ix.media.get(key, ()):
                    evidence.setdefault((r, c), (100.0, f"known media {key}"))
        for pc, (score, text) in (media_matches or {}).items():
            if pc in evidence:
                old_score, old_text = evidence[pc]
                evidence[pc] = (max(old_score, score), "; ".join(t for t in (old_text, text) if t))
            else:
                evidence[pc] = (score, text)
        if evidence:
            existing = set(zip(pp.tolist(), cc.tolist()))
            extra = [pc for pc in evidence if pc not in existing]
            if extra:  # known media in link order first, then outside evidence in its given order
                pp = np.concatenate([pp, np.asarray([p for p, _ in extra], dtype=np.int64)])
                cc = np.concatenate([cc, np.asarray([c for _, c in extra], dtype=np.int64)])
                bm = np.concatenate([bm, np.zeros(len(extra))])
            media = np.fromiter(((int(p), int(c)) in evidence for p, c in zip(pp, cc)), dtype=bool, count=len(pp))
            media_score = np.array([evidence[(int(p), int(c))][0] if m else 0.0 for p, c, m in zip(pp, cc, media)],
                                   dtype=np.float64)
        else:
            media = np.zeros(len(pp), dtype=bool)
            media_score = np.zeros(len(pp), dtype=np.float64)
        feats = self.features(norm, q_ids, pp, cc, bm, n_terms)
        feats.update(post=pp, claim=cc, bm25=bm, media=media, media_score=media_score)
        feats["media_evidence"] = {pc: text for pc, (_, text) in evidence.items()}
        return feats

    # ------------------------------------------------------------ helpers

    def field_pairs(self, pp: np.ndarray, cc: np.ndarray, start: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """One row per (pair, claim field): ``fp`` post, ``ff`` field, ``fc`` claim, ``pair``;
        ``seg`` is each pair's first row, ``has`` whether it has any field. ``start``: first
        field of each claim in another field table (default: the claims' own fields)."""
        start = self.index.field_start if start is None else start
        starts = start[cc]
        counts = start[cc + 1] - starts
        fp = np.repeat(pp, counts)
        offs = np.arange(len(fp)) - np.repeat(np.cumsum(counts) - counts, counts)
        return {"fp": fp, "ff": np.repeat(starts, counts) + offs, "fc": np.repeat(cc, counts),
                "pair": np.repeat(np.arange(len(pp)), counts), "seg": np.cumsum(counts) - counts,
                "has": counts > 0}

    @staticmethod
    def per_pair_max(fields: dict[str, np.ndarray], values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        res = np.zeros(len(fields["seg"]))
        v = values if mask is None else np.where(mask, values, 0.0)
        if len(v):
            red = np.maximum.reduceat(v, np.minimum(fields["seg"], len(v) - 1))
            res[fields["has"]] = red[fields["has"]]
        return res

    def fuzzy_text(self, norm: str, claim: int) -> str:
        limit = self.max_fuzzy_chars
        if len(norm) <= limit:
            return norm
        return self.index.window(norm, claim, max(8, limit // 6))[:limit]

    def post_texts(self, norm: list[str], fields: dict[str, np.ndarray], sort_tokens: bool) -> list[str]:
        limit = self.max_fuzzy_chars
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
                t = self.fuzzy_text(norm[fp[i]], int(fc[i]))
                out[i] = " ".join(sorted(t.split())) if sort_tokens else t
        return out

    def cpdist(self, scorer: Callable[..., float], a: list[str], b: list[str]) -> np.ndarray:
        return np.asarray(process.cpdist(a, b, scorer=scorer, workers=self.workers, dtype=np.float32),
                          dtype=np.float64) / 100

    # ------------------------------------------------------------ features

    def features(self, norm: list[str], q_ids: list[list[int]], pp: np.ndarray, cc: np.ndarray,
                 bm: np.ndarray, n_terms: np.ndarray) -> dict[str, Any]:
        """Ranking features of every pair (see :data:`FEATURES`)."""
        ix = self.index
        n_pairs = len(pp)
        out: dict[str, Any] = {}
        if n_pairs == 0:
            for f in FEATURES:
                out[f] = np.empty(0)
            out["best_field"] = np.empty(0, dtype=np.int64)
            return out
        best_bm = np.zeros(len(norm))
        np.maximum.at(best_bm, pp, bm)
        out["bm25_norm"] = np.minimum(bm / ix.bm25_self[cc], 1.0)
        out["bm25_rel"] = bm / np.maximum(best_bm[pp], 1e-9)
        out["bm25_log"] = np.log1p(bm)
        pg = ix.post_grams(norm)
        out["ngram_cos"] = np.asarray(pg[pp].multiply(ix.grams[cc]).sum(axis=1)).ravel()
        best_g = np.zeros(len(norm))
        np.maximum.at(best_g, pp, out["ngram_cos"])
        out["ngram_rel"] = out["ngram_cos"] - best_g[pp]

        fields = self.field_pairs(pp, cc)
        fp, ff = fields["fp"], fields["ff"]
        sorted_posts = self.post_texts(norm, fields, sort_tokens=True)
        sorted_fields = ix.field_sorted_array[ff].tolist()
        tsort = self.cpdist(fuzz.ratio, sorted_posts, sorted_fields)
        out["tsort"] = self.per_pair_max(fields, tsort)
        kinds = ix.field_kind[ff]

        qb = binary_matrix(q_ids, ix.field_terms.shape[1])
        known_idf = np.asarray(qb @ ix.idf).ravel()
        n_unknown = np.maximum(0, n_terms - np.array([len(set(q)) for q in q_ids]))
        out["post_terms"] = np.log1p(n_terms)[pp]
        post_total = known_idf + n_unknown * ix.unknown_idf + 1e-9
        overlap = np.asarray(qb[fp].multiply(ix.field_terms[ff]).sum(axis=1)).ravel()
        cov_claim_f = overlap / ix.field_terms_total[ff]
        cov_post_f = overlap / post_total[fp]
        out["cov_claim"] = self.per_pair_max(fields, cov_claim_f)
        out["cov_post"] = self.per_pair_max(fields, cov_post_f)
        # the same, shrunk towards 0 for very short posts and claim fields (a prior of
        # SHRINK_TERMS typical words), for the label score
        prior = SHRINK_TERMS * ix.typical_idf
        out["cov_claim_s"] = self.per_pair_max(fields, overlap / (ix.field_terms_total[ff] + prior))
        out["cov_post_s"] = self.per_pair_max(fields, overlap / (post_total[fp] + prior))
        out["cov_claim_text"] = self.per_pair_max(fields, cov_claim_f, kinds == 0)
        out["cov_claim_title"] = self.per_pair_max(fields, cov_claim_f, kinds == 1)
        out["cov_post_text"] = self.per_pair_max(fields, cov_post_f, kinds == 0)
        out["cov_post_title"] = self.per_pair_max(fields, cov_post_f, kinds == 1)
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

    def label_features(self, norm: list[str], feats: dict[str, Any], sel: np.ndarray) -> dict[str, np.ndarray]:
        """Fuzzy scores of the label model, for the selected pairs only (the costly scorers)."""
        pp, cc = feats["post"][sel], feats["claim"][sel]
        out = {k: feats[k][sel] for k in ("cov_claim", "cov_post", "cov_claim_s", "cov_post_s", "tsort", "post_terms")}
        if len(pp) == 0:
            for f in ("tsr", "ratio", "partial"):
                out[f] = np.empty(0)
            return out
        fields = self.field_pairs(pp, cc)
        posts = self.post_texts(norm, fields, sort_tokens=False)
        texts = [self.index.field_text[f] for f in fields["ff"].tolist()]
        out["tsr"] = self.per_pair_max(fields, self.cpdist(fuzz.token_set_ratio, posts, texts))
        out["ratio"] = self.per_pair_max(fields, self.cpdist(fuzz.ratio, posts, texts))
        out["partial"] = self.per_pair_max(fields, self.cpdist(fuzz.partial_ratio, texts, posts))
        return out
