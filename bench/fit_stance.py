"""Fit the stance model on the TRAIN part of the labelled posts and write rules/stance_model.json.

    .venv/bin/python bench/fit_stance.py [--cv 5] [--out rules/stance_model.json] [--check]

Train rows: tests/rules/data/posts_train.jsonl and tests/rules/data/labelled_posts.jsonl, every
post with a gold stance. The frozen test part (posts_test.jsonl) is never read here. Each
configuration of the small grid (C of the logistic regression, weight of the cue features) is
scored by K-fold cross-validation over the train rows (``--groups claim``: each claim's posts in
one fold); the best by mean recall over the four stances (then accuracy, then the stronger
regularisation) is refitted on all train rows and written. ``--check`` refits and exits 1 when the
result differs from the committed file beyond the solver's float noise in the last written digit
of a weight (``rules.stance_model.specs_agree``).

Needs scikit-learn (``pip install -c constraints.txt -e '.[train]'``); matching itself does not.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
from scipy import sparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rules.normalise import normalise_series  # noqa: E402
from rules.stance_model import (CUE_FEATURES, MODEL_PATH, NGRAMS, WORD_NGRAMS, char_ngrams, cue_frame,  # noqa: E402
                                cue_rules, word_ngrams)

DATA = ROOT / "tests" / "rules" / "data"
TRAIN = ("posts_train.jsonl", "labelled_posts.jsonl")
GRID_C = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
GRID_CUE = (0.0, 0.25, 0.5, 1.0, 2.0)
# a post is read as spreading only when the model's probability of spreads is at least the one of
# these that does best out of fold, counting a wrong spreads reading (a false flag) as costly as
# WRONG_SPREADS_COST right ones (a spreading post sent to review)
GRID_MIN_PROBABILITY = (0.0, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9)
WRONG_SPREADS_COST = 3
# an explicit debunk cue turns a spreads or unclear reading into debunks (rules.stance_model)
DEBUNK_CUE_DECIDES = True
# a question the cue lists find turns a spreads reading into unclear (rules.stance_model)
QUESTION_CUE_DECIDES = True


def cue_decides(pred: np.ndarray, cue: np.ndarray) -> np.ndarray:
    """``pred`` with the rules of :data:`QUESTION_CUE_DECIDES` and :data:`DEBUNK_CUE_DECIDES`
    applied (as the shipped model does)."""
    return np.asarray(cue_rules(pred.tolist(), cue, QUESTION_CUE_DECIDES, DEBUNK_CUE_DECIDES), dtype=pred.dtype)


def train_rows() -> list[dict]:
    rows = []
    for name in TRAIN:
        assert "test" not in name
        rows += [json.loads(line) for line in (DATA / name).open(encoding="utf-8") if line.strip()]
    return [r for r in rows if r.get("stance")]


GROUPINGS = ("claim", "batch", "none")


def batch_of(post_id: str) -> str:
    """The writing batch of a train post (tests/rules/data/README.md): the older labelled set, the
    first 407 train posts, the 190 written later, and each batch added since."""
    if post_id.startswith("l"):
        return "labelled"
    n = int(post_id[1:])
    for last, name in BATCHES:
        if n <= last:
            return name
    return "later"


# last post number of each writing batch of posts_train.jsonl, in order
BATCHES = ((407, "r0001-r0407"), (597, "r0408-r0597"), (681, "r0598-r0681"), (921, "r0682-r0921"), (1161, "r0922-r1161"), (1401, "r1162-r1401"), (1641, "r1402-r1641"), (1881, "r1642-r1881"), (2121, "r1882-r2121"), (10**9, "r2122-"))


def group_of(row: dict, grouping: str) -> str:
    """The fold group of a labelled post: its claim (``claim``; a post without one goes with the
    claim it resembles, else its own kind), its writing batch (``batch``) or itself (``none``)."""
    if grouping == "claim":
        return row.get("claim_id") or row.get("resembles") or row["kind"]
    if grouping == "batch":
        return batch_of(row["post_id"])
    return row["post_id"]


def folds(rows: list[dict], k: int, grouping: str = "claim", strata: list[str] | None = None):
    """Train/held-out index arrays of ``k`` folds over ``rows``. ``grouping`` ``claim`` or ``batch``
    keeps every group in one fold (GroupKFold: near-paraphrases of one story, or of one writing
    session, never sit on both sides, which plain K-fold on paraphrase-rich posts does and so
    overstates recall); ``none`` is stratified K-fold by ``strata`` (the stance), shuffled with a
    fixed seed."""
    from sklearn.model_selection import GroupKFold, StratifiedKFold

    if grouping == "none":
        y = strata if strata is not None else [r.get("stance") or r["kind"] for r in rows]
        return list(StratifiedKFold(k, shuffle=True, random_state=0).split(np.zeros(len(rows)), y))
    groups = [group_of(r, grouping) for r in rows]
    k = min(k, len(set(groups)))
    return list(GroupKFold(k).split(np.zeros(len(rows)), groups=groups))


def texts(rows: list[dict]) -> tuple[list[str], list[str]]:
    full = ["\n".join(x for x in (r.get("title"), r.get("text")) if x) for r in rows]
    return normalise_series(full).to_list(), [r.get("text") or "" for r in rows]


def vectorise(norm_train, norm_other=None):
    """The character n-gram and word n-gram vectorisers fitted on ``norm_train``, its features
    (the two side by side) and those of ``norm_other``."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vecs = [TfidfVectorizer(analyzer=a, min_df=2, sublinear_tf=True, dtype=np.float64) for a in (char_ngrams, word_ngrams)]
    grams = sparse.hstack([v.fit_transform(norm_train) for v in vecs], format="csr")
    other = sparse.hstack([v.transform(norm_other) for v in vecs], format="csr") if norm_other is not None else None
    return vecs, grams, other


def vocabularies(vecs) -> dict:
    """The two vectorisers' vocabularies and idf weights as a model spec holds them."""
    chars, words = vecs
    return {"vocabulary": dict(sorted(chars.vocabulary_.items(), key=lambda kv: kv[1])),
            "idf": [float(f"{v:.6g}") for v in chars.idf_],
            "word_ngrams": list(WORD_NGRAMS),
            "word_vocabulary": dict(sorted(words.vocabulary_.items(), key=lambda kv: kv[1])),
            "word_idf": [float(f"{v:.6g}") for v in words.idf_]}


def logistic(grams, cue, y, c: float, cue_weight: float):
    from sklearn.linear_model import LogisticRegression

    x = sparse.hstack([grams, sparse.csr_matrix(cue * cue_weight)], format="csr")
    return LogisticRegression(C=c, class_weight="balanced", max_iter=5000, tol=1e-6).fit(x, y)


def predict(model, grams, cue, cue_weight: float) -> np.ndarray:
    return model.predict(sparse.hstack([grams, sparse.csr_matrix(cue * cue_weight)], format="csr"))


def fit_spec(norm: list[str], raw: list[str], y, c: float, w: float) -> dict:
    """A model spec (as :class:`rules.stance_model.StanceModel` reads it) fitted on these rows."""
    cue = cue_frame(norm, raw)
    vecs, grams, _ = vectorise(norm)
    model = logistic(grams, cue, np.asarray(y), c, w)
    return {"ngrams": list(NGRAMS), "cue_features": list(CUE_FEATURES), "cue_weight": w,
            "classes": [str(k) for k in model.classes_], **vocabularies(vecs),
            "coef": model.coef_.tolist(), "intercept": model.intercept_.tolist()}


def main() -> None:
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # same result and no thread contention on a shared machine

    ap = argparse.ArgumentParser()
    ap.add_argument("--cv", type=int, default=7, help="folds (at most the number of groups)")
    ap.add_argument("--groups", choices=GROUPINGS, default="claim",
                    help="keep each claim's posts (or each writing batch) in one fold; none: stratified K-fold")
    ap.add_argument("--out", default=str(MODEL_PATH))
    ap.add_argument("--check", action="store_true", help="refit and compare with the committed model")
    ap.add_argument("--spreads-min-probability", type=float, default=None, metavar="P",
                    help="use P instead of the value chosen on the stance alone (e.g. chosen on the whole "
                         "matcher's flags with bench/eval_labelled.py --cv-stance 7)")
    ap.add_argument("--refit-only", action="store_true",
                    help="skip the grid: refit with the committed model's C and cue weight and its recorded CV figures")
    a = ap.parse_args()
    rows = train_rows()
    norm, raw = texts(rows)
    y = np.array([r["stance"] for r in rows])
    langs = np.array([r.get("lang") or "?" for r in rows])
    cue = cue_frame(norm, raw)
    if a.refit_only:
        old = json.loads(MODEL_PATH.read_text(encoding="utf-8"))["fit"]
        a.cv, a.groups = old["cv_folds"], old.get("cv_groups", "none")
        write(a, rows, norm, raw, y, cue, old["C"], old["cue_weight"], old["cv_accuracy"],
              old["cv_accuracy_per_language"], old["cv_recall_per_stance"], old.get("spreads_min_probability", 0.0),
              old.get("cv_spreads_min_probability"), old.get("cv_macro_recall"))
        return
    split = []
    for tr, te in folds(rows, a.cv, a.groups, list(y)):
        _, g_tr, g_te = vectorise([norm[i] for i in tr], [norm[i] for i in te])
        split.append((tr, te, g_tr, g_te))
    print(f"{len(split)} folds grouped by {a.groups}", file=sys.stderr)
    results = []
    for c in GRID_C:
        for w in GRID_CUE:
            pred = np.empty(len(y), dtype=object)
            for tr, te, g_tr, g_te in split:
                pred[te] = cue_decides(predict(logistic(g_tr, cue[tr], y[tr], c, w), g_te, cue[te], w), cue[te])
            acc = float((pred == y).mean())
            macro = float(np.mean([(pred[y == s] == s).mean() for s in sorted(set(y))]))
            results.append((acc, macro, c, w, pred))
            print(f"C={c:<5} cue_weight={w:<4} CV accuracy {acc:.3f}, macro recall {macro:.3f}", file=sys.stderr, flush=True)
    # the best mean recall over the four stances (each stance counts alike, so the rarer mentions
    # and unclear posts are not traded for spreads), then the better accuracy, then the stronger
    # regularisation
    acc, macro, c, w, pred = max(results, key=lambda t: (round(t[1], 3), round(t[0], 3), -t[2], t[3]))
    per_lang = {str(lang): round(float((pred[langs == lang] == y[langs == lang]).mean()), 3) for lang in sorted(set(langs))}
    per_class = {str(s): round(float((pred[y == s] == s).mean()), 3) for s in sorted(set(y))}
    print(f"chosen C={c} cue_weight={w}: CV accuracy {acc:.3f}, macro recall {macro:.3f}; per language {per_lang}; "
          f"recall per stance {per_class}")
    proba = np.zeros((len(y), 4))
    for tr, te, g_tr, g_te in split:
        m = logistic(g_tr, cue[tr], y[tr], c, w)
        proba[te] = m.predict_proba(sparse.hstack([g_te, sparse.csr_matrix(cue[te] * w)], format="csr"))
    classes = sorted(set(y))
    best, p_spreads = np.array(classes)[proba.argmax(axis=1)], proba[:, classes.index("spreads")]
    by_tau = {}
    for tau in GRID_MIN_PROBABILITY:
        read = (best == "spreads") & (p_spreads >= tau)
        by_tau[tau] = {"read_as_spreads": int(read.sum()), "right": int((y[read] == "spreads").sum()),
                       "spreads_sent_to_review": int(((best == "spreads") & (p_spreads < tau) & (y == "spreads")).sum())}
        print(f"spreads_min_probability {tau}: out-of-fold {by_tau[tau]}", file=sys.stderr)
    tau = max(by_tau, key=lambda t: (by_tau[t]["right"] - WRONG_SPREADS_COST * (by_tau[t]["read_as_spreads"]
                                                                            - by_tau[t]["right"]), -t))
    print(f"chosen spreads_min_probability {tau}: {by_tau[tau]}")
    if a.spreads_min_probability is not None:
        tau = a.spreads_min_probability
        print(f"spreads_min_probability {tau} as given")
    write(a, rows, norm, raw, y, cue, c, w, round(acc, 4), per_lang, per_class, tau,
          {str(t): v for t, v in by_tau.items()}, round(macro, 4))


def write(a, rows, norm, raw, y, cue, c, w, acc, per_lang, per_class, tau=0.0, by_tau=None, macro=None) -> None:
    cue_only = float((np.array([s for s in cue[:, :4].argmax(axis=1)]) ==
                      np.array([["spreads", "debunks", "mentions", "unclear"].index(s) for s in y])).mean())
    print(f"cue lists alone on the same rows: accuracy {cue_only:.3f} (in-sample for labelled_posts.jsonl)")
    vecs, grams, _ = vectorise(norm)
    model = logistic(grams, cue, y, c, w)
    spec = {
        "ngrams": list(NGRAMS), "cue_features": list(CUE_FEATURES), "cue_weight": w,
        "classes": [str(k) for k in model.classes_],
        **vocabularies(vecs),
        "coef": [[float(f"{v:.6g}") for v in row] for row in model.coef_],
        "intercept": [float(f"{v:.6g}") for v in model.intercept_],
        "spreads_min_probability": tau,
        "debunk_cue_decides": DEBUNK_CUE_DECIDES,
        "question_cue_decides": QUESTION_CUE_DECIDES,
        "fitted_on": {name: {"sha256": hashlib.sha256((DATA / name).read_bytes()).hexdigest(),
                             "rows_with_stance": sum(1 for r in rows if r["post_id"] in
                                                     {json.loads(x)["post_id"] for x in (DATA / name).open(encoding="utf-8") if x.strip()})}
                      for name in TRAIN},
        "fit": {"C": c, "cue_weight": w, "class_weight": "balanced", "min_df": 2, "sublinear_tf": True,
                "cv_folds": a.cv, "cv_groups": a.groups, "cv_accuracy": acc, "cv_macro_recall": macro, "cv_accuracy_per_language": per_lang,
                "cv_recall_per_stance": per_class, "spreads_min_probability": tau,
                "cv_spreads_min_probability": by_tau, "scikit_learn": __import__("sklearn").__version__},
    }
    text = json.dumps(spec, ensure_ascii=False, separators=(",", ":")) + "\n"
    out = Path(a.out)
    if a.check:
        from rules.stance_model import specs_agree

        same = out.is_file() and specs_agree(json.loads(out.read_text(encoding="utf-8")), json.loads(text))
        print("the committed model is what the train data gives" if same else f"{out} differs from a refit")
        sys.exit(0 if same else 1)
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out} ({len(text) / 1024:.0f} KB, {len(spec['vocabulary'])} character n-grams, "
          f"{len(spec['word_vocabulary'])} words and word pairs)")


if __name__ == "__main__":
    main()
