"""Score the entity guards on the spellings list (tests/rules/data/entity_spellings.jsonl).

    .venv/bin/python bench/eval_entities.py [--claims rules/claims] [--exact] [--show]

Each row names a concept (``group``: imran_khan, trump, london, death, ...) for a claim and says
whether a correct guard must count its text as naming it (``should_match``). The concept is
scored with the claim's ``required_entities`` group that holds its marker alias (imran_khan ->
the group with "imran khan", death -> "dead", ...); rows whose concept no group of the claim
guards are counted apart. ``--exact`` scores the old rule instead (every alias, whole phrase,
no context, no spelling variants), e.g. on an older catalogue with ``--claims``. ``--show``
lists the rows scored wrong (the list is written for scoring the guards, not for tuning them).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rules.catalogue import load_catalogue  # noqa: E402
from rules.entities import EntityGroup, EntityGuard  # noqa: E402
from rules.normalise import normalise, normalise_series  # noqa: E402

MARKERS = {
    "imran_khan": "imran khan", "trump": "trump", "faisal_mosque": "faisal mosque", "london": "london",
    "israel": "israel", "death": "dead", "asim_munir": "asim munir", "ispr": "ispr", "hospital": "hospital",
    "sohail_afridi": "sohail afridi", "drone": "drone", "india": "india", "pti": "pti",
    "foreign_office": "foreign office", "release": "release", "dogs": "dogs",
}


def _raw_groups(folder: Path) -> dict[str, list[EntityGroup]]:
    """Every claim's groups read straight from its YAML, each alias standing alone (the old rule)."""
    import yaml

    out = {}
    for f in sorted(folder.glob("*.yaml")):
        raw = yaml.safe_load(f.read_text(encoding="utf-8"))
        groups = []
        for g in raw.get("required_entities") or []:
            aliases = g if isinstance(g, list) else list(g.get("names") or []) + list(g.get("with_context") or [])
            groups.append(EntityGroup(tuple(aliases)))
        out[raw["claim_id"]] = groups
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--claims", default=str(ROOT / "rules" / "claims"))
    ap.add_argument("--data", default=str(ROOT / "tests" / "rules" / "data" / "entity_spellings.jsonl"))
    ap.add_argument("--exact", action="store_true", help="the old rule: any alias as a whole phrase")
    ap.add_argument("--show", action="store_true")
    a = ap.parse_args()
    groups_of = _raw_groups(Path(a.claims)) if a.exact else None
    cat = None if a.exact else load_catalogue(a.claims)
    rows = [json.loads(line) for line in Path(a.data).open(encoding="utf-8") if line.strip()]
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # tp fp fn tn
    unguarded: dict[str, int] = defaultdict(int)
    wrong = []
    for r in rows:
        marker = MARKERS.get(r["group"])
        claim_groups = groups_of[r["claim_id"]] if groups_of is not None else cat.get(r["claim_id"]).entity_groups
        groups = [g for g in claim_groups
                  if marker in normalise_series(list(g.names) + list(g.with_context)).to_list()]
        if not groups:
            unguarded[r["group"]] += 1
            continue
        g = groups[0]
        text = normalise(r["text"])
        if a.exact:
            aliases = sorted({x for x in normalise_series(list(g.names) + list(g.with_context)).to_list() if x},
                             key=len, reverse=True)
            got = bool(re.search(r"(?<!\S)(?:" + "|".join(map(re.escape, aliases)) + r")(?!\S)", text))
        else:
            got = EntityGuard([g]).check(text)[0]
        want = bool(r["should_match"])
        counts[r["group"]][(0 if got else 2) if want else (1 if got else 3)] += 1
        if got != want:
            wrong.append((r["id"], r["group"], want, r["text"]))
    total = [sum(c[i] for c in counts.values()) for i in range(4)]
    for name, c in sorted(counts.items()) + [("all", total)]:
        tp, fp, fn, tn = c
        n = tp + fp + fn + tn
        print(f"{name:14} rows={n:3} tp={tp:3} fp={fp:3} fn={fn:3} tn={tn:3} "
              f"precision={tp / (tp + fp) if tp + fp else 1:.3f} recall={tp / (tp + fn) if tp + fn else 1:.3f} "
              f"accuracy={(tp + tn) / n if n else 1:.3f}")
    if unguarded:
        print("not guarded by the claim (no group holds the concept): "
              + ", ".join(f"{k} {v}" for k, v in sorted(unguarded.items())))
    if a.show:
        for w in wrong:
            print(*w, sep="\t")


if __name__ == "__main__":
    main()
