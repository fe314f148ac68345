"""Ranking measures of the CheckThat! 2020 lab (MAP@k, Recall@k, MRR) and a qrels reader.

Definitions (the lab's): claims ranked by score, ties broken by the higher claim id compared as
integers; AP@k = (1/|R|) * sum over ranks i <= k holding a relevant claim of P@i; MAP@k is the
mean over posts that have gold (a post missing from the ranking counts 0); MRR uses the first
relevant claim within the top 1000; Recall@k = relevant claims in the top k / |R|.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import polars as pl



class QrelsError(ValueError):
    """A qrels file is missing or malformed (raised by :func:`load_qrels`)."""


def load_qrels(path: str | os.PathLike) -> dict[str, set[str]]:
    """``post_id<TAB>claim_id`` lines (a ``post_id claim_id`` header is skipped) -> gold sets.
    Four-column TREC qrels (``post 0 claim 1``) are read too."""
    p = Path(path)
    if not p.is_file():
        raise QrelsError(f"{path}: no such qrels file")
    gold: dict[str, set[str]] = {}
    try:
        with p.open(encoding="utf-8", newline="") as fh:
            for n, row in enumerate(csv.reader(fh, delimiter="\t"), 1):
                if not row or not "".join(row).strip():
                    continue
                if len(row) == 1:
                    row = row[0].split()
                if n == 1 and row[0].strip().lower() in {"post_id", "tweet_id", "query_id", "qid"}:
                    continue
                if len(row) == 2:
                    post, claim = row
                elif len(row) == 4:
                    post, _, claim, rel = row
                    if rel.strip() in {"0", ""}:
                        continue
                else:
                    raise QrelsError(f"{path}:{n}: expected post_id<TAB>claim_id, got {len(row)} fields")
                gold.setdefault(post.strip(), set()).add(claim.strip())
    except UnicodeDecodeError:
        raise QrelsError(f"{path}: not UTF-8 text") from None
    if not gold:
        raise QrelsError(f"{path}: no relevance pairs")
    return gold


def rankings(ranked: pl.DataFrame) -> dict[str, list[str]]:
    """Ranked claim ids per post from a ``post_id, claim_id, score`` frame (lab tie-break)."""
    out: dict[str, list[tuple[float, str]]] = {}
    for pid, cid, score in ranked.select("post_id", "claim_id", "score").iter_rows():
        out.setdefault(pid, []).append((score, cid))
    return {pid: _sort(items) for pid, items in out.items()}


def _sort(items: list[tuple[float, str]]) -> list[str]:
    numeric = all(c.isdigit() for _, c in items)
    if numeric:
        return [c for _, c in sorted(items, key=lambda sc: (-sc[0], -int(sc[1])))]
    by_id = sorted(items, key=lambda sc: sc[1], reverse=True)
    return [c for _, c in sorted(by_id, key=lambda sc: -sc[0])]


def evaluate(ranked: pl.DataFrame, gold: dict[str, set[str]]) -> dict[str, float]:
    """MAP@1/3/5, Recall@1/5/10 and MRR of ``ranked`` against ``gold`` (see module docstring)."""
    runs = rankings(ranked)
    res = {k: 0.0 for k in ("MAP@1", "MAP@3", "MAP@5", "Recall@1", "Recall@5", "Recall@10", "MRR")}
    for pid, rel in gold.items():
        ranking = runs.get(pid, [])
        for k in (1, 3, 5):
            hits, total = 0, 0.0
            for i, c in enumerate(ranking[:k], 1):
                if c in rel:
                    hits += 1
                    total += hits / i
            res[f"MAP@{k}"] += total / len(rel)
        for k in (1, 5, 10):
            res[f"Recall@{k}"] += len(set(ranking[:k]) & rel) / len(rel)
        for i, c in enumerate(ranking[:1000], 1):
            if c in rel:
                res["MRR"] += 1 / i
                break
    n = len(gold)
    return {k: v / n for k, v in res.items()}


def score_labelled(matcher, rows: list[dict], catalogue) -> dict[str, float]:
    """Precision and recall of ``likely_misinformation`` and stance accuracy on labelled posts
    (format of ``tests/rules/data/labelled_posts.jsonl``).

    Every ``matches`` row counts, whatever its rank: a ``likely_misinformation`` row for the
    post's gold ``claim_id`` (when the gold label is ``likely_misinformation``) is a true
    positive; any other ``likely_misinformation`` row (another claim, or a post whose gold label
    is not ``likely_misinformation``) is a false positive; a gold ``likely_misinformation`` post
    with no such row for its claim is a false negative. ``stance_accuracy`` is the stance classifier's on every post
    with a gold stance (cues plus links to the gold claim's fact checks);
    ``stance_accuracy_matched`` is the end-to-end stance of the matcher's row for the gold claim
    (a post with no such row counts as wrong).
    """
    from rules.normalise import canonical_media
    from rules.stance import stance_of

    posts = pl.DataFrame(
        {
            "post_id": [r["post_id"] for r in rows],
            "text": [r.get("text") for r in rows],
            "title": [r.get("title") for r in rows],
            "links": [r.get("links") or [] for r in rows],
        },
        schema={"post_id": pl.String, "text": pl.String, "title": pl.String, "links": pl.List(pl.String)},
    )
    res = matcher.match(posts)
    by_pair = {(r["post_id"], r["claim_id"]): r for r in res.iter_rows(named=True)}
    flagged: dict[str, set[str]] = {}
    for pid, cid in res.filter(pl.col("label") == "likely_misinformation").select("post_id", "claim_id").iter_rows():
        flagged.setdefault(pid, set()).add(cid)
    tp = fp = fn = 0
    st_ok = st_match_ok = st_n = 0
    for r in rows:
        pred = flagged.get(r["post_id"], set())
        gold = r["label"] == "likely_misinformation"
        right = gold and r.get("claim_id") in pred
        tp += right
        fp += len(pred) - right
        fn += gold and not right
        if r.get("stance"):
            st_n += 1
            keys: set[str] = set()
            if r.get("claim_id") and r["claim_id"] in catalogue:
                keys = {canonical_media(u) for u in catalogue.get(r["claim_id"]).fact_check_urls} - {None}
            text = "\n".join(x for x in (r.get("title"), r.get("text")) if x)
            st_ok += stance_of(text, r.get("links") or [], keys) == r["stance"]
            row = by_pair.get((r["post_id"], r.get("claim_id")))
            st_match_ok += row is not None and row["stance"] == r["stance"]
    return {
        "posts": len(rows), "tp": tp, "fp": fp, "fn": fn,
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
        "stance_accuracy": st_ok / st_n if st_n else 1.0,
        "stance_accuracy_matched": st_match_ok / st_n if st_n else 1.0,
    }


NO_CLAIM_KINDS = ("true_news", "lookalike", "unrelated")
_SEVERITY = {"likely_misinformation": 3, "debunk": 2, "needs_review": 1, "no_flag": 0}


def post_figures(matcher, rows: list[dict]) -> dict[str, dict[str, float]]:
    """Quality figures of :meth:`rules.match.Matcher.match` on labelled posts, per language and
    for all (format of ``tests/rules/data/posts_train.jsonl``; ``labelled_posts.jsonl`` too).
    Aggregates only: nothing here names a post.

    - ``flag_precision`` / ``flag_recall``: of ``likely_misinformation``, counted over every
      matches row as in :func:`score_labelled` (a flag for another claim is a false positive);
    - ``debunk_recall``: gold ``debunk`` posts whose row for their claim is labelled ``debunk``;
    - ``flagged_<kind>`` for true_news, lookalike, unrelated and ``flagged_true_or_unrelated``
      (the three together): share of those posts with any ``likely_misinformation`` row;
    - ``label_accuracy``: a post with a claim takes its row's label for that claim (``no_flag``
      without one), a post without a claim its most severe label, compared with the gold label;
    - ``rank1``: posts with a claim whose rank-1 row is that claim.
    Counts (``n_*``) come with each share.
    """
    return figures_of(matcher.match(posts_frame(rows)), rows)


def posts_frame(rows: list[dict]) -> pl.DataFrame:
    """The posts of labelled rows as :meth:`rules.match.Matcher.match` takes them."""
    return pl.DataFrame(
        {"post_id": [r["post_id"] for r in rows], "text": [r.get("text") for r in rows],
         "title": [r.get("title") for r in rows], "links": [r.get("links") or [] for r in rows]},
        schema={"post_id": pl.String, "text": pl.String, "title": pl.String, "links": pl.List(pl.String)},
    )


def figures_of(res: pl.DataFrame, rows: list[dict]) -> dict[str, dict[str, float]]:
    """:func:`post_figures` from matches rows already computed for ``rows``."""
    by_post: dict[str, list[dict]] = {}
    for r in res.iter_rows(named=True):
        by_post.setdefault(r["post_id"], []).append(r)
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(r.get("lang") or "?", []).append(r)
        groups.setdefault("all", []).append(r)
    out = {}
    for lang, rs in groups.items():
        c = {k: 0 for k in ("tp", "fp", "fn", "debunk_ok", "debunk_n", "label_ok", "rank1_ok", "rank1_n")}
        kinds = {k: [0, 0] for k in NO_CLAIM_KINDS}
        for r in rs:
            got = by_post.get(r["post_id"], [])
            claim = r.get("claim_id")
            flagged = {g["claim_id"] for g in got if g["label"] == "likely_misinformation"}
            gold_flag = r["label"] == "likely_misinformation"
            right = gold_flag and claim in flagged
            c["tp"] += right
            c["fp"] += len(flagged) - right
            c["fn"] += gold_flag and not right
            mine = next((g for g in got if g["claim_id"] == claim), None) if claim else None
            if r["label"] == "debunk":
                c["debunk_n"] += 1
                c["debunk_ok"] += mine is not None and mine["label"] == "debunk"
            if claim:
                predicted = mine["label"] if mine else "no_flag"
                c["rank1_n"] += 1
                c["rank1_ok"] += any(g["rank"] == 1 and g["claim_id"] == claim for g in got)
            else:
                predicted = max((g["label"] for g in got), key=_SEVERITY.get, default="no_flag")
            c["label_ok"] += predicted == r["label"]
            if r.get("kind") in kinds:
                kinds[r["kind"]][0] += bool(flagged)
                kinds[r["kind"]][1] += 1
        f = {"posts": len(rs),
             "flag_precision": c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0,
             "flag_recall": c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0,
             "n_flag_gold": c["tp"] + c["fn"], "n_flagged": c["tp"] + c["fp"],
             "debunk_recall": c["debunk_ok"] / c["debunk_n"] if c["debunk_n"] else 1.0, "n_debunk": c["debunk_n"],
             "label_accuracy": c["label_ok"] / len(rs) if rs else 1.0,
             "rank1": c["rank1_ok"] / c["rank1_n"] if c["rank1_n"] else 1.0, "n_with_claim": c["rank1_n"]}
        for k, (hit, n) in kinds.items():
            f[f"flagged_{k}"] = hit / n if n else 0.0
            f[f"n_{k}"] = n
        hit = sum(v[0] for v in kinds.values())
        n = sum(v[1] for v in kinds.values())
        f["flagged_true_or_unrelated"] = hit / n if n else 0.0
        f["n_true_or_unrelated"] = n
        out[lang] = f
    return out
