"""The English stemmer inside the matcher: Snowball in pure Python against PyStemmer's C build.

    .venv/bin/python bench/bench_stemmer.py [--data ../shared/data/checkthat2020] [--repeat 2]

``snowballstemmer`` uses PyStemmer (the same Snowball algorithms compiled) when it is installed,
which claimwatch's dependencies make it. This script matches the CheckThat train+dev tweets
against the CheckThat catalogue twice in one process, once with the pure-Python English stemmer
and once with PyStemmer's, and prints the matcher's CPU seconds for each, their ratio, and
whether the two outputs are identical (they must be: the algorithms are the same). The claim
index is built for each stemmer, since the index stems the claims with it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import rules.index as index  # noqa: E402
from rules.catalogue import load_jsonl  # noqa: E402
from rules.match import Matcher  # noqa: E402


def timed(stemmer, cat, posts: pl.DataFrame, repeat: int) -> tuple[float, float, pl.DataFrame]:
    index._ENGLISH = stemmer
    t = time.process_time()
    matcher = Matcher(cat)
    build = time.process_time() - t
    t = time.process_time()
    for _ in range(repeat):
        out = matcher.match(posts)
    return build, (time.process_time() - t) / repeat, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "checkthat2020")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    if not (args.data / "claims.jsonl").is_file():
        sys.exit(f"bench_stemmer: {args.data}/claims.jsonl not found; pass --data")
    try:
        import Stemmer
    except ImportError:
        sys.exit("bench_stemmer: PyStemmer is not installed; install claimwatch with its dependencies")
    from snowballstemmer.english_stemmer import EnglishStemmer

    cat = load_jsonl(args.data / "claims.jsonl")
    schema = {"post_id": pl.String, "text": pl.String}
    posts = pl.concat([pl.read_ndjson(args.data / s / "posts.jsonl", schema=schema) for s in ("train", "dev")])
    print(f"{posts.height} posts, {len(cat)} claims, matched {args.repeat} times each; CPU seconds of this process")
    pure_build, pure, a = timed(EnglishStemmer(), cat, posts, args.repeat)
    c_build, fast, b = timed(Stemmer.Stemmer("english"), cat, posts, args.repeat)
    print(f"pure-Python Snowball: index {pure_build:.2f} s, match {pure:.2f} s")
    print(f"PyStemmer:            index {c_build:.2f} s, match {fast:.2f} s")
    print(f"ratio (pure / PyStemmer): index x{pure_build / c_build:.2f}, match x{pure / fast:.2f}; "
          f"identical matches: {a.equals(b)}")


if __name__ == "__main__":
    main()
