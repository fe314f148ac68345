"""Fit the matcher's logistic scoring model on CheckThat 2020 *train* and print it.

    .venv/bin/python bench/fit_weights.py [--data ../shared/data/checkthat2020] [--dev] [--cv 5] [--out model.json]

Features are those of rules.features.FEATURES over the BM25 candidates of each train post; the
label is 1 for a gold pair. Prints the model (paste into rules/scoring.py DEFAULT_MODEL) and the
train figures; --dev also scores the dev split once with the fitted model.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rules.catalogue import load_jsonl  # noqa: E402
from rules.evaluate import evaluate, load_qrels  # noqa: E402
from rules import scoring  # noqa: E402
from rules.features import CALIBRATION_FEATURES, FEATURES  # noqa: E402
from rules.match import Matcher  # noqa: E402
from rules.posts import prepare  # noqa: E402


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, iters: int = 50,
                 balanced: bool = False) -> tuple[np.ndarray, float]:
    n, d = x.shape
    sw = np.where(y > 0, 0.5 * n / max(y.sum(), 1), 0.5 * n / max(n - y.sum(), 1)) if balanced else np.ones(n)
    xa = np.column_stack([x, np.ones(n)])
    w = np.zeros(d + 1)
    reg = np.full(d + 1, l2)
    reg[-1] = 0.0
    for _ in range(iters):
        p = 1 / (1 + np.exp(-np.clip(xa @ w, -40, 40)))
        g = xa.T @ (sw * (p - y)) + reg * w
        h = (xa * (sw * p * (1 - p))[:, None]).T @ xa + np.diag(reg) + 1e-9 * np.eye(d + 1)
        step = np.linalg.solve(h, g)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1], float(w[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared/data/checkthat2020"))
    ap.add_argument("--dev", action="store_true", help="score the dev split once with the fitted model")
    ap.add_argument("--features", default=",".join(FEATURES))
    ap.add_argument("--l2", type=float, default=1.0)
    ap.add_argument("--calibration", action="store_true",
                    help="fit the label score: CALIBRATION_FEATURES only, balanced classes, raw features")
    ap.add_argument("--pairwise", action="store_true", help="fit on (gold - other) differences within a post")
    ap.add_argument("--cv", type=int, default=0, metavar="K",
                    help="also print K-fold cross-validated train MAP@5 (folds over posts; refit per fold)")
    ap.add_argument("--out")
    a = ap.parse_args()
    data = Path(a.data)
    cat = load_jsonl(data / "claims.jsonl")
    m = Matcher(cat)
    posts = pl.read_ndjson(data / "train/posts.jsonl", schema={"post_id": pl.String, "text": pl.String})
    gold = load_qrels(data / "train/qrels.tsv")
    t = time.perf_counter()
    prep = prepare(posts)
    f = m.scorer.pairs(prep)
    print(f"features for {posts.height} train posts, {len(f['post'])} pairs in {time.perf_counter() - t:.1f}s", file=sys.stderr)
    pids = prep.post_id
    y = np.array([m.claim_ids[c] in gold.get(pids[p], ()) for p, c in zip(f["post"], f["claim"])], dtype=float)
    found = sum(len({m.claim_ids[c] for p, c in zip(f["post"], f["claim"]) if pids[p] == pid} & g) for pid, g in gold.items())
    print(f"candidate recall: {found / sum(len(g) for g in gold.values()):.3f}", file=sys.stderr)
    if a.calibration:
        lab = m.scorer.label_features(prep.norm, f, np.arange(len(f["post"])))
        xc = np.column_stack([lab[k] for k in CALIBRATION_FEATURES])
        coef, b = fit_logistic(xc, y, l2=a.l2, balanced=True)
        print(json.dumps({"coef": [round(v, 6) for v in coef], "intercept": round(b, 6)}))
        return
    use = [x.strip() for x in a.features.split(",") if x.strip()]
    x = np.column_stack([f[k] for k in FEATURES])
    mean, scale = x.mean(0), x.std(0) + 1e-9
    xs = (x - mean) / scale
    cols = [FEATURES.index(k) for k in use]
    if a.pairwise:
        post = f["post"]
        diffs = []
        for p in np.unique(post[y > 0]):
            rows = np.flatnonzero(post == p)
            pos, neg = rows[y[rows] > 0], rows[y[rows] == 0]
            for i in pos:
                diffs.append(xs[i][cols] - xs[neg][:, cols])
        d = np.vstack(diffs)
        xd = np.vstack([d, -d])
        yd = np.r_[np.ones(len(d)), np.zeros(len(d))]
        w, _ = fit_logistic(xd, yd, l2=a.l2)
        z = xs[:, cols] @ w
        a1, b = fit_logistic(z[:, None], y, l2=0.0)
        coef_sub = w * a1[0]
    else:
        coef_sub, b = fit_logistic(xs[:, cols], y, l2=a.l2)
    coef = np.zeros(len(FEATURES))
    coef[cols] = coef_sub
    if a.cv > 1:
        fold = (np.arange(len(pids)) * 7919) % a.cv
        z = np.zeros(len(y))
        for k in range(a.cv):
            te = fold[f["post"]] == k
            mu, sd = x[~te].mean(0), x[~te].std(0) + 1e-9
            w, b0 = fit_logistic(((x[~te] - mu) / sd)[:, cols], y[~te], l2=a.l2)
            z[te] = ((x[te] - mu) / sd)[:, cols] @ w + b0
        ranked = scoring.ranked(m.index, pids, f["post"], f["claim"], z, 1000)
        res = evaluate(ranked, gold)
        print(f"train {a.cv}-fold CV " + " ".join(f"{k}={v:.4f}" for k, v in res.items()))
    model = {"mean": [round(v, 6) for v in mean], "scale": [round(v, 6) for v in scale],
             "coef": [round(v, 6) for v in coef], "intercept": round(b, 6)}
    print(json.dumps(model))
    if a.out:
        Path(a.out).write_text(json.dumps(model))
    fitted = Matcher(cat, model=model)
    res = evaluate(fitted.rank(posts, top_k=1000), gold)
    print("train " + " ".join(f"{k}={v:.4f}" for k, v in res.items()))
    if a.dev:
        dposts = pl.read_ndjson(data / "dev/posts.jsonl", schema={"post_id": pl.String, "text": pl.String})
        res = evaluate(fitted.rank(dposts, top_k=1000), load_qrels(data / "dev/qrels.tsv"))
        print("dev   " + " ".join(f"{k}={v:.4f}" for k, v in res.items()))


if __name__ == "__main__":
    main()
