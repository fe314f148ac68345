"""Time and memory of the claim index: built (cache empty) and loaded from the index cache.

    .venv/bin/python bench/bench_index.py [--claims 200000] [--data ../shared/data/checkthat2020]

The catalogue is the CheckThat claims topped up to ``--claims`` with synthetic ones
(:func:`rules.synthetic.synthetic_catalogue`, as bench/bench_matcher.py does for 200k). Each of
the two steps runs in its own process, so each peak RSS (``resource.getrusage`` maximum resident
set size) is that step's alone: the catalogue in memory, plus the index being built or loaded.
CPU seconds are printed beside wall seconds because the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "checkthat2020"

STEP = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
from rules.catalogue import Catalogue, load_jsonl
from rules.index_cache import IndexCache
from rules.match import Matcher
from rules.synthetic import synthetic_catalogue

def rss():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) / 1024 for l in f if l.startswith("VmRSS"))

base = list(load_jsonl({claims!r}))
m = {m}
cat = Catalogue(base[:m] + list(synthetic_catalogue(Catalogue(base), m - len(base))) if m > len(base) else base[:m])
before = rss()
cache = IndexCache({cache!r}, warn=print)
w, c = time.perf_counter(), time.process_time()
matcher = Matcher(cat, index_cache=cache)
print(json.dumps({{"how": cache.last, "wall": time.perf_counter() - w, "cpu": time.process_time() - c,
                  "before_mb": before, "after_mb": rss(),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "claims": len(matcher.claim_ids)}}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--claims", type=int, default=200_000)
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    a = ap.parse_args()
    claims = Path(a.data) / "claims.jsonl"
    if not claims.is_file():
        sys.exit(f"bench_index: {claims} not found; pass --data")
    with tempfile.TemporaryDirectory(prefix="bench-index-") as tmp:
        code = STEP.format(root=str(ROOT), claims=str(claims), m=a.claims, cache=tmp)
        for step in ("build (cache empty)", "load (cached)"):
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
            if out.returncode != 0:
                sys.exit(f"bench_index: {step} failed:\n{out.stderr[-3000:]}")
            r = json.loads(out.stdout.strip().splitlines()[-1])
            size = sum(p.stat().st_size for p in Path(tmp).glob("index-*")) / 1e6
            print(f"{a.claims:,} claims, {step}: index {r['how']} in {r['wall']:.1f} s wall / {r['cpu']:.1f} s CPU; "
                  f"RSS {r['before_mb']:,.0f} MB with the catalogue alone, {r['after_mb']:,.0f} MB after, "
                  f"peak {r['peak_mb']:,.0f} MB; cache file {size:,.0f} MB; load {os.getloadavg()[0]:.2f}", flush=True)
    print("goal: a 200k-claim index stays <= 1 GB RSS (peak, catalogue included)")


if __name__ == "__main__":
    main()
