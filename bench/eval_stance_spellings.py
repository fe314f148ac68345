"""Score the debunk reading on the stance spellings list (tests/rules/data/stance_spellings.jsonl).

    .venv/bin/python bench/eval_stance_spellings.py [--show]

Each row is a short phrase in English, Urdu script, Roman Urdu or mixed text and says whether a
correct stance reader must call it a debunk (``should_debunk``). Two readers are scored, per
language: the cue lists alone (:func:`rules.stance.post_stances`) and the matcher's stance of a
post (the learned model with its cue rules, :func:`rules.post_stance.post_cues`). The list was
written before the stance cues and model were tuned on it; ``--show`` lists the wrong rows.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rules.normalise import normalise_series  # noqa: E402
from rules.post_stance import post_cues  # noqa: E402
from rules.stance import post_stances  # noqa: E402
from rules.stance_model import default_model  # noqa: E402

DATA = ROOT / "tests/rules/data/stance_spellings.jsonl"


def scores(rows: list[dict], got: list[bool]) -> str:
    tp = sum(g and r["should_debunk"] for r, g in zip(rows, got))
    fp = sum(g and not r["should_debunk"] for r, g in zip(rows, got))
    pos = sum(r["should_debunk"] for r in rows)
    neg = len(rows) - pos
    rec = tp / pos if pos else float("nan")
    return f"debunk recall {rec:.3f} ({tp}/{pos}), false debunks {fp}/{neg}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--show", action="store_true", help="list the rows read wrong")
    a = ap.parse_args()
    rows = [json.loads(line) for line in DATA.open(encoding="utf-8") if line.strip()]
    texts = pl.Series([r["text"] for r in rows])
    cue = [s == "debunks" for s in post_stances(normalise_series(texts), texts).to_list()]
    frame = pl.DataFrame({"title": [None] * len(rows), "text": texts}, schema={"title": pl.String, "text": pl.String})
    stance, _, _ = post_cues(frame, texts, default_model())
    model = [s == "debunks" for s in stance]
    for lang in ("en", "ur", "roman-ur", "mixed", "all"):
        idx = [i for i, r in enumerate(rows) if lang == "all" or r["lang"] == lang]
        sub = [rows[i] for i in idx]
        print(f"{lang:9} {len(sub):4} rows | cue lists: {scores(sub, [cue[i] for i in idx])} | "
              f"matcher stance: {scores(sub, [model[i] for i in idx])}")
    if a.show:
        for r, c, m, s in zip(rows, cue, model, stance):
            if c != r["should_debunk"] or m != r["should_debunk"]:
                print(f"{r['id']} [{r['lang']}] should_debunk={r['should_debunk']} cues={c} stance={s}: {r['text']}")


if __name__ == "__main__":
    main()
