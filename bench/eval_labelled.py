"""Quality figures of the matcher on the labelled posts, per language.

    .venv/bin/python bench/eval_labelled.py [--part labelled|train|test] [--half odd|even|all]
        [--set flag_threshold=50 ...]

Parts (tests/rules/data/README.md): ``labelled`` is labelled_posts.jsonl (210 posts, the set the
cue lists were tuned on; ``--half`` splits it by post number), ``train`` is posts_train.jsonl plus
labelled_posts.jsonl (the stance model is fitted on them), ``test`` is the frozen
posts_test.jsonl. Every part prints aggregates only, per language (en, ur, roman-ur, mixed) and
for all: likely_misinformation precision and recall, debunk recall, the share of true_news,
lookalike and unrelated posts flagged, post label accuracy and the right claim at rank 1
(``rules.evaluate.post_figures``); ``labelled`` also prints the older summary line
(``rules.evaluate.score_labelled``).
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
from rules.evaluate import post_figures, score_labelled  # noqa: E402
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", choices=tuple(PARTS), default="labelled")
    ap.add_argument("--half", choices=("odd", "even", "all"), default="all")
    ap.add_argument("--set", action="append", default=[], help="key=value for MatchConfig")
    a = ap.parse_args()
    cfg = MatchConfig.from_mapping({k: json.loads(v) for k, v in (s.split("=", 1) for s in a.set)})
    cat = load_catalogue(ROOT / "rules/claims")
    rows = read(PARTS[a.part])
    if a.half != "all":
        rows = [r for r in rows if (int("".join(ch for ch in r["post_id"] if ch.isdigit()) or 0) % 2 == 1) == (a.half == "odd")]
    matcher = Matcher(cat, cfg)
    if a.part == "labelled":
        res = score_labelled(matcher, rows, cat)
        print(f"{a.half}: " + " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in res.items()))
    print(f"part {a.part} ({', '.join(PARTS[a.part])}), {len(rows)} posts")
    print(table(post_figures(matcher, rows)))


if __name__ == "__main__":
    main()
