"""Score the labelled posts: precision/recall of likely_misinformation and stance accuracy.

    .venv/bin/python bench/eval_labelled.py [--half odd|even|all] [--set flag_threshold=50 ...]

``odd``/``even`` split by the number in the post id (l001 odd): thresholds and cue lists were
tuned looking at the odd half; the even half is the held-out figure.
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
from rules.evaluate import score_labelled  # noqa: E402
from rules.match import Matcher  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--half", choices=("odd", "even", "all"), default="all")
    ap.add_argument("--set", action="append", default=[], help="key=value for MatchConfig")
    a = ap.parse_args()
    cfg = MatchConfig.from_mapping({k: json.loads(v) for k, v in (s.split("=", 1) for s in a.set)})
    cat = load_catalogue(ROOT / "rules/claims")
    rows = [json.loads(line) for line in (ROOT / "tests/rules/data/labelled_posts.jsonl").open(encoding="utf-8") if line.strip()]
    if a.half != "all":
        rows = [r for r in rows if (int("".join(ch for ch in r["post_id"] if ch.isdigit()) or 0) % 2 == 1) == (a.half == "odd")]
    res = score_labelled(Matcher(cat, cfg), rows, cat)
    print(f"{a.half}: " + " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in res.items()))


if __name__ == "__main__":
    main()
