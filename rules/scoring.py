"""Scores and order: the two fitted logistic models, the rank order, the no-candidate fallback.

- The **ranking model** (:data:`DEFAULT_MODEL`, standardised :data:`rules.features.FEATURES`,
  fitted on CheckThat 2020 train by ``bench/fit_weights.py``) orders a post's candidates;
  :meth:`rules.match.Matcher.rank` reports it as ``score``.
- The **label model** (:data:`DEFAULT_CALIBRATION`, raw :data:`rules.features.CALIBRATION_FEATURES`,
  class-balanced) gives the calibrated 0-100 ``score`` of :meth:`rules.match.Matcher.match`.
- :func:`order` sorts pairs by post, falling score, then the claim tie-break (higher id first);
  :func:`ranked` turns that into ``post_id, claim_id, score, rank`` rows.
- :func:`fallback` ranks the whole catalogue by 4-gram cosine for a post without a BM25 candidate.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from rules.features import CALIBRATION_FEATURES, FEATURES
from rules.index import ClaimIndex

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
RANKED_SCHEMA = {"post_id": pl.String, "claim_id": pl.String, "score": pl.Float64, "rank": pl.Int32}


def _percent(z: np.ndarray) -> np.ndarray:
    return 100.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


class RankingModel:
    """Logistic model over standardised :data:`FEATURES`, 0-100."""

    def __init__(self, model: dict[str, Any] | None = None) -> None:
        m = model or DEFAULT_MODEL
        self.mean = np.asarray(m["mean"], dtype=np.float64)
        self.scale = np.asarray(m["scale"], dtype=np.float64)
        self.coef = np.asarray(m["coef"], dtype=np.float64)
        self.intercept = float(m["intercept"])

    def __call__(self, feats: dict[str, Any]) -> np.ndarray:
        if len(feats["post"]) == 0:
            return np.empty(0)
        x = np.column_stack([feats[f] for f in FEATURES])
        return _percent(((x - self.mean) / self.scale) @ self.coef + self.intercept)


class LabelModel:
    """Logistic model over raw :data:`CALIBRATION_FEATURES`, 0-100."""

    def __init__(self, calibration: dict[str, Any] | None = None) -> None:
        cal = calibration or DEFAULT_CALIBRATION
        self.coef = np.asarray(cal["coef"], dtype=np.float64)
        self.intercept = float(cal["intercept"])

    def __call__(self, feats: dict[str, np.ndarray]) -> np.ndarray:
        return _percent(self.logit(feats))

    def logit(self, feats: dict[str, np.ndarray]) -> np.ndarray:
        """The score before the logistic function (compares two near-certain matches)."""
        if len(feats[CALIBRATION_FEATURES[0]]) == 0:
            return np.empty(0)
        x = np.column_stack([feats[f] for f in CALIBRATION_FEATURES])
        return x @ self.coef + self.intercept


def order(index: ClaimIndex, pp: np.ndarray, cc: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pair order (by post, falling score, higher tie-break key first) and each pair's rank in
    that order (1 = best of its post)."""
    o = np.lexsort((-index.tiebreak[cc], -score, pp))
    ps = pp[o]
    start = np.r_[0, np.flatnonzero(ps[1:] != ps[:-1]) + 1]
    first_of = np.repeat(start, np.diff(np.r_[start, len(ps)]))
    rank = np.arange(len(ps)) - first_of + 1
    return o, rank


def ranked(index: ClaimIndex, post_ids: list[str], pp: np.ndarray, cc: np.ndarray, score: np.ndarray,
           top_k: int) -> pl.DataFrame:
    """The best ``top_k`` pairs of every post as ``post_id, claim_id, score, rank`` rows."""
    o, rank = order(index, pp, cc, score)
    keep = rank <= top_k
    o = o[keep]
    return pl.DataFrame({
        "post_id": pl.Series("post_id", post_ids, dtype=pl.String).gather(pp[o]),
        "claim_id": index.claim_id_series.gather(cc[o]),
        "score": score[o],
        "rank": rank[keep].astype(np.int32),
    }, schema=RANKED_SCHEMA)


def fallback(index: ClaimIndex, norm: list[str], top_k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``top_k`` claims for posts without a BM25 candidate (empty, emoji only, words outside
    the vocabulary), by the character 4-gram cosine over the whole catalogue (0-1, so far
    below a real candidate's score); claims sharing no 4-gram follow in tie-break order."""
    n = len(index)
    k = min(top_k, n)
    sims = (index.post_grams(norm) @ index.grams.T).tocsr()
    tb = index.tiebreak
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
