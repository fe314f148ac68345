"""Quality figures of the matcher on the labelled posts, per language.

    .venv/bin/python bench/eval_labelled.py [--part labelled|train|test] [--half odd|even|all]
        [--set flag_threshold=50 ...] [--cv-stance K] [--errors]
    .venv/bin/python bench/eval_labelled.py --posts NEW_BATCH.jsonl [--errors] [--causes]

Parts (tests/rules/data/README.md): ``labelled`` is labelled_posts.jsonl (210 posts, the set the
cue lists were tuned on; ``--half`` splits it by post number), ``train`` is posts_train.jsonl plus
labelled_posts.jsonl (the stance model is fitted on them), ``test`` is the frozen
posts_test.jsonl. Every part prints aggregates only, per language (en, ur, roman-ur, mixed) and
for all: likely_misinformation precision and recall, debunk recall, the share of true_news,
lookalike and unrelated posts flagged, post label accuracy and the right claim at rank 1
(``rules.evaluate.post_figures``); ``labelled`` also prints the older summary line
(``rules.evaluate.score_labelled``).

``--cv-stance K`` (train parts only, needs scikit-learn) scores each post with a stance model
fitted on the other K-1 folds of the part (the committed model's C, cue weight and spreads_min_probability), so the stance
is out of sample; the catalogue, cue lists and thresholds stay as they are (tuned knowing the
train part). ``--errors`` (train parts only; refused for the frozen test part) lists every post
whose label, debunk or flag is wrong, with its rows, to read the train part's misses.
``--posts FILE`` scores a batch of labelled posts that belongs to no part yet, e.g. newly written
train posts scored as new posts before anything is tuned on them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rules.catalogue import load_catalogue  # noqa: E402
from rules.config import MatchConfig  # noqa: E402
from rules.evaluate import figures_of, post_figures, posts_frame, score_labelled  # noqa: E402
from rules.match import Matcher  # noqa: E402

DATA = ROOT / "tests/rules/data"
PARTS = {"labelled": ["labelled_posts.jsonl"], "train": ["posts_train.jsonl", "labelled_posts.jsonl"],
         "test": ["posts_test.jsonl"]}
LANGS = ("en", "ur", "roman-ur", "mixed", "all")


def read(names: list[str]) -> list[dict]:
    rows = []
    for name in names:
        rows += [json.loads(line) for line in (DATA / name).open(encoding="utf-8") if line.strip()]
    return rows


def table(figures: dict[str, dict[str, float]]) -> str:
    cols = [("posts", "posts", "{:.0f}"), ("flag P", "flag_precision", "{:.3f}"), ("flag R", "flag_recall", "{:.3f}"),
            ("debunk R", "debunk_recall", "{:.3f}"), ("true_news fl", "flagged_true_news", "{:.3f}"),
            ("lookalike fl", "flagged_lookalike", "{:.3f}"), ("unrelated fl", "flagged_unrelated", "{:.3f}"),
            ("true+unrel fl", "flagged_true_or_unrelated", "{:.3f}"), ("label acc", "label_accuracy", "{:.3f}"),
            ("rank1", "rank1", "{:.3f}")]
    lines = ["lang      " + " ".join(f"{c:>13}" for c, _, _ in cols)]
    for lang in LANGS:
        if lang in figures:
            f = figures[lang]
            lines.append(f"{lang:9} " + " ".join(f"{fmt.format(f[k]):>13}" for _, k, fmt in cols))
    f = figures["all"]
    lines.append(f"counts (all): flag gold {f['n_flag_gold']}, flagged {f['n_flagged']}, debunks {f['n_debunk']}, "
                 f"true_news {f['n_true_news']}, lookalike {f['n_lookalike']}, unrelated {f['n_unrelated']}, "
                 f"with a claim {f['n_with_claim']}")
    return "\n".join(lines)


def cv_matches(matcher: Matcher, rows: list[dict], k: int, grouping: str = "claim", min_probability=None,
               cue_decides=None, c=None, cue_weight=None):
    """Matches of every post with a stance model fitted on the other folds: each claim's posts in
    one fold (``grouping`` ``claim``), each writing batch (``batch``), or stratified by kind
    (``none``)."""
    import polars as pl
    from threadpoolctl import threadpool_limits

    sys.path.insert(0, str(ROOT / "bench"))
    from fit_stance import fit_spec, folds, texts

    from rules.stance_model import MODEL_PATH, StanceModel

    threadpool_limits(1)
    committed = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    fit = committed["fit"]
    kinds = [r["kind"] for r in rows]
    out = []
    for tr, te in folds(rows, k, grouping, kinds):
        train = [rows[i] for i in tr if rows[i].get("stance")]
        norm, raw = texts(train)
        spec = fit_spec(norm, raw, [r["stance"] for r in train], fit["C"] if c is None else c,
                        fit["cue_weight"] if cue_weight is None else cue_weight)
        spec["spreads_min_probability"] = (fit.get("spreads_min_probability", 0.0) if min_probability is None
                                           else min_probability)
        spec["debunk_cue_decides"] = committed.get("debunk_cue_decides", True) if cue_decides is None else bool(cue_decides)
        spec["question_cue_decides"] = committed.get("question_cue_decides", False)
        matcher.stance_model = StanceModel(spec)
        out.append(matcher.match(posts_frame([rows[i] for i in te])))
    return pl.concat(out)


def print_errors(res, rows: list[dict]) -> None:
    by_post: dict[str, list[dict]] = {}
    for r in res.iter_rows(named=True):
        by_post.setdefault(r["post_id"], []).append(r)
    n = 0
    for r in rows:
        got = by_post.get(r["post_id"], [])
        mine = next((g for g in got if g["claim_id"] == r.get("claim_id")), None) if r.get("claim_id") else None
        flagged = {g["claim_id"] for g in got if g["label"] == "likely_misinformation"}
        pred = mine["label"] if mine else ("no_flag" if r.get("claim_id") else
                                           ("likely_misinformation" if flagged else "ok"))
        wrong_flag = flagged - ({r["claim_id"]} if r["label"] == "likely_misinformation" else set())
        if pred in (r["label"], "ok") and not wrong_flag:
            continue
        n += 1
        print(f"\n{r['post_id']} [{r['lang']}/{r.get('platform')}] {r['kind']} gold={r['label']}/{r.get('stance')} "
              f"claim={r.get('claim_id') or r.get('resembles')} -> {pred}")
        print("   " + " | ".join(x for x in (r.get("title"), r["text"]) if x)[:400])
        for g in got:
            print(f"   #{g['rank']} {g['claim_id']} {g['score']:.1f} {g['stance']} ents={g['entities_ok']} {g['label']}: "
                  f"{g['evidence'][:160]}")
    print(f"\n{n} wrong posts")


def miss_cause(row: dict, got: list[dict]) -> str | None:
    """Why a spreading post that should be flagged is not, or a debunk is not a ``debunk``
    (None when it is right). Causes, first that applies: ``ranking/floor`` (no row for the claim,
    or its score under the review threshold), ``flag on another claim`` (the post's one flag went
    to a better-ranked claim), ``entity guard`` (the claim's row fails a required entity),
    ``stance uncertain`` (read ``unclear``), ``stance wrong`` (read as another stance),
    ``true statement`` (closer to a true statement of the claim), ``hedge`` and ``score`` (under
    the flag threshold)."""
    want = {"likely_misinformation": "spreads", "debunk": "debunks"}.get(row["label"])
    if want is None or not row.get("claim_id"):
        return None
    mine = next((g for g in got if g["claim_id"] == row["claim_id"]), None)
    if mine and mine["label"] == row["label"]:
        return None
    if mine is None or mine["label"] == "no_flag" and mine["score"] < 35 and not mine["score_media"]:
        return "ranking/floor"
    if mine["stance"] == want and any(g["label"] == row["label"] for g in got if g is not mine):
        return "flag on another claim"
    if not mine["entities_ok"] and mine["stance"] == want:
        return "entity guard"
    if mine["stance"] == "unclear":
        return "stance uncertain"
    if mine["stance"] != want:
        return "stance wrong"
    if (mine["evidence"] or "").startswith("closer to true statement"):
        return "true statement"
    if want == "spreads" and mine["score"] >= 50:
        return "hedge or verdict"
    return "score"


def print_causes(res, rows: list[dict]) -> None:
    """Missed flags and debunks (train parts) counted by :func:`miss_cause`, per language."""
    from collections import Counter

    by_post: dict[str, list[dict]] = {}
    for r in res.iter_rows(named=True):
        by_post.setdefault(r["post_id"], []).append(r)
    for label, name in (("likely_misinformation", "missed flags"), ("debunk", "missed debunks")):
        counts: dict[str, Counter] = {}
        for r in rows:
            if r["label"] == label:
                cause = miss_cause(r, by_post.get(r["post_id"], []))
                if cause:
                    counts.setdefault(cause, Counter())[r["lang"]] += 1
        total = sum(sum(c.values()) for c in counts.values())
        print(f"\n{name}: {total} of {sum(r['label'] == label for r in rows)}")
        for cause, c in sorted(counts.items(), key=lambda kv: -sum(kv[1].values())):
            print(f"  {cause:22} {sum(c.values()):3}  " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", choices=tuple(PARTS), default="labelled")
    ap.add_argument("--posts", metavar="FILE",
                    help="score these labelled posts (same format) instead of a part: a new batch, read as new "
                         "posts before anything is tuned on it")
    ap.add_argument("--half", choices=("odd", "even", "all"), default="all")
    ap.add_argument("--set", action="append", default=[], help="key=value for MatchConfig")
    ap.add_argument("--cv-stance", type=int, default=0, metavar="K",
                    help="stance model fitted on the other K-1 folds of the part (train parts only)")
    ap.add_argument("--cv-groups", choices=("claim", "batch", "none"), default="claim",
                    help="with --cv-stance: keep each claim's (or writing batch's) posts in one fold; none: "
                         "stratified by kind")
    ap.add_argument("--spreads-min-probability", type=float, default=None, metavar="P",
                    help="with --cv-stance: the folds' models read spreads only at probability P or more")
    ap.add_argument("--debunk-cue-decides", type=int, choices=(0, 1), default=None,
                    help="with --cv-stance: 1 makes an explicit debunk cue turn a spreads/unclear reading into debunks")
    ap.add_argument("--c", type=float, default=None, help="with --cv-stance: C instead of the committed one")
    ap.add_argument("--cue-weight", type=float, default=None, help="with --cv-stance: cue weight instead of the committed one")
    ap.add_argument("--errors", action="store_true", help="list the wrong posts (train parts only)")
    ap.add_argument("--causes", action="store_true",
                    help="count the missed flags and debunks by cause (train parts only)")
    a = ap.parse_args()
    if (a.errors or a.cv_stance or a.causes) and a.part == "test":
        sys.exit("--errors, --causes and --cv-stance read posts one by one: not on the frozen test part")
    cfg = MatchConfig.from_mapping({k: json.loads(v) for k, v in (s.split("=", 1) for s in a.set)})
    cat = load_catalogue(ROOT / "rules/claims")
    part, names = a.part, PARTS[a.part]
    if a.posts:
        try:
            rows = read([str(Path(a.posts).resolve())])
        except (OSError, ValueError) as e:
            sys.exit(f"{a.posts}: cannot read labelled posts ({e}); give a JSON-lines file as tests/rules/data/README.md describes")
        test_ids = {r["post_id"] for r in read(PARTS["test"])}
        if any(r.get("post_id") in test_ids for r in rows):
            sys.exit(f"{a.posts}: holds posts of the frozen test part; score it with --part test (aggregates only)")
        if a.cv_stance:
            sys.exit("--cv-stance fits on the train part: not with --posts")
        part, names = Path(a.posts).name, [a.posts]
    else:
        rows = read(names)
    if a.half != "all":
        rows = [r for r in rows if (int("".join(ch for ch in r["post_id"] if ch.isdigit()) or 0) % 2 == 1) == (a.half == "odd")]
    matcher = Matcher(cat, cfg)
    if a.cv_stance:
        res = cv_matches(matcher, rows, a.cv_stance, a.cv_groups, a.spreads_min_probability, a.debunk_cue_decides,
                         a.c, a.cue_weight)
        print(f"part {part} ({', '.join(names)}), {len(rows)} posts, stance by {a.cv_stance}-fold CV "
              f"(grouped by {a.cv_groups})")
        print(table(figures_of(res, rows)))
        if a.errors:
            print_errors(res, rows)
        if a.causes:
            print_causes(res, rows)
        return
    if a.errors or a.causes:
        res = matcher.match(posts_frame(rows))
        if a.errors:
            print_errors(res, rows)
        if a.causes:
            print_causes(res, rows)
    if part == "labelled":
        res = score_labelled(matcher, rows, cat)
        print(f"{a.half}: " + " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in res.items()))
    print(f"part {part} ({', '.join(names)}), {len(rows)} posts")
    print(table(post_figures(matcher, rows)))


if __name__ == "__main__":
    main()
