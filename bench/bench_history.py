"""A simulated history of scheduled runs: does a run stay as fast on day 3 as on day 1?

    .venv/bin/python bench/bench_history.py [--runs 300] [--new 40] [--refetch 40] [--compact-files 16]
        [--compare | --interleaved]
    .venv/bin/python bench/bench_history.py --dedupe

Each simulated run does what ``claimwatch run`` does with the dataset, without Prefect and
without the network, every 15 minutes of simulated time: store the catalogue's claims, store
``--new`` new posts plus ``--refetch`` posts already stored (a feed's overlap) and read the new
ones back, catch up stored posts not yet matched with this catalogue, match them with the real
matcher and the shipped catalogue, store ``matches`` and ``matched_posts``, ``source_health`` and
``runs``, save cursors, and count spreading posts for alerts. One synthetic post in ten repeats a catalogued claim; the others
match no claim, which is the case that made catching up run forever.

It prints the per-run wall time of the first and last 50 runs and their ratio (the baseline is
the same process's first runs), the posts caught up per run, and the part files per table. With
``--compare`` it runs the same history again as the dataset behaved before ``matched_posts`` and
automatic compaction (posts with no match caught up again every run; no compaction) so the two
can be read side by side.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.schema import make_post, posts_frame  # noqa: E402
from flows.matching import MatcherSpec  # noqa: E402
from flows.steps import _matcher, matched_rows, posts_to_catch_up, spreading_counts  # noqa: E402
from flows.store import Store  # noqa: E402
from rules.catalogue import load_catalogue  # noqa: E402

START = datetime(2026, 11, 1, tzinfo=timezone.utc)
WORDS = ("minister rally flood cricket budget court election market school hospital protest bridge "
         "festival train power water visa border police storm").split()


def _posts(first: int, n: int, at: datetime, claim_texts: list[str]) -> pl.DataFrame:
    rows = []
    for i in range(first, first + n):
        words = " ".join(WORDS[(i * k) % len(WORDS)] for k in (1, 3, 7, 11, 13))
        if i % 10 == 0:  # one post in ten repeats a catalogued claim
            words = f"{claim_texts[i // 10 % len(claim_texts)]} {words}"
        rows.append(make_post("mastodon", f"bench.example/{i}", text=f"post {i}: {words}", source="bench",
                              fetched_at=at, published_at=at - timedelta(minutes=5)))
    return posts_frame(rows)


def simulate(data_dir: str | Path, runs: int, new: int, refetch: int, compact_files: int,
             record_matched: bool = True, catch_up_days: float = 3, catch_up_max: int = 2000,
             start_run: int = 0) -> list[dict]:
    """Run the history (from run ``start_run`` on an existing data dir); one dict per run:
    seconds, caught_up, files per table."""
    catalogue = load_catalogue(Path(__file__).resolve().parents[1] / "rules" / "claims")
    matcher = _matcher(MatcherSpec(catalogue, {}, None))
    texts = [t for t in catalogue.frame()["text"].to_list() if t]
    out = []
    next_id = new * start_run
    for r in range(start_run, start_run + runs):
        now = START + timedelta(minutes=15 * r)
        run_id, day = f"{now:%Y%m%dT%H%M%SZ}-bench", now.date()
        t0, c0 = time.perf_counter(), time.process_time()
        store = Store(data_dir, compact_files=compact_files)
        store.check()
        store.write("claims", catalogue.frame(), run_id, day)
        fresh = _posts(next_id, new, now, texts)
        old = _posts(max(next_id - refetch, 0), min(refetch, next_id), now, texts)
        next_id += new
        posts = pl.concat([old, fresh]).with_columns(run_id=pl.lit(run_id))
        store.write("posts", posts, run_id, day)
        store.save_cursors({"bench": {"since": next_id}})
        # a run reads its new posts back from the store before matching them
        written = store.collect("posts", lambda: store.scan("posts", since=("run_id", run_id))
                                .filter(pl.col("run_id") == run_id))
        backlog = posts_to_catch_up(store, catalogue.version, now, catch_up_days, catch_up_max, exclude=written)
        to_match = pl.concat([written, backlog]) if backlog.height else written
        matches = matcher.match(to_match).with_columns(run_id=pl.lit(run_id), flagged_at=pl.lit(now))
        store.write("matches", matches, run_id, day)
        if record_matched:
            store.write("matched_posts", matched_rows(to_match, matches, catalogue.version, run_id, now), run_id, day)
        store.write("source_health", pl.DataFrame({"run_id": [run_id], "source": ["bench"], "status": ["ok"],
                                                   "new": [written.height]}), run_id, day)
        spreading_counts(store, now, 3600)
        store.write("runs", pl.DataFrame({"run_id": [run_id], "status": ["ok"], "posts_new": [written.height]}),
                    run_id, day)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        files = {t: len(store.files(t, check=False)) for t in ("posts", "matches", "matched_posts", "runs")}
        out.append({"run": r + 1, "seconds": seconds, "cpu": cpu, "caught_up": backlog.height, "new": written.height,
                    "files": files})
    return out


def interleaved(tmp: Path, runs: int, new: int, refetch: int, compact_files: int, young: int = 20) -> None:
    """The long history's runs alternate with runs on a young data dir (emptied every ``young``
    runs), so machine load hits both alike; prints the per-run time ratio long/young per window."""
    import shutil

    long_runs, young_runs = [], []
    for r in range(runs):
        long_runs += simulate(tmp / "long", 1, new, refetch, compact_files, start_run=r)
        if r % young == 0:
            shutil.rmtree(tmp / "young", ignore_errors=True)
        young_runs += simulate(tmp / "young", 1, new, refetch, compact_files, start_run=r % young)
    for lo, hi in ((0, 50), (runs - 50, runs)):
        a = statistics.median(h["seconds"] for h in long_runs[lo:hi])
        b = statistics.median(h["seconds"] for h in young_runs[lo:hi])
        ca = statistics.median(h["cpu"] for h in long_runs[lo:hi])
        cb = statistics.median(h["cpu"] for h in young_runs[lo:hi])
        print(f"  runs {lo + 1}-{hi}: long history {a:.3f} s per run ({ca:.3f} s CPU), young data dir "
              f"(<= {young} runs) {b:.3f} s ({cb:.3f} s CPU) in the same minutes; ratio {a / b:.2f} "
              f"(CPU {ca / cb:.2f})")
    print(f"  posts caught up per run (long): max {max(h['caught_up'] for h in long_runs)}; part files after "
          f"the last run: {long_runs[-1]['files']}; most at any time: "
          f"{ {t: max(h['files'][t] for h in long_runs) for t in long_runs[-1]['files']} }")


def report(label: str, history: list[dict]) -> float:
    n = min(50, len(history))
    head = [h["seconds"] for h in history[:n]]
    tail = [h["seconds"] for h in history[-n:]]
    ratio = statistics.median(tail) / statistics.median(head)
    cpu_head = statistics.median(h["cpu"] for h in history[:n])
    cpu_tail = statistics.median(h["cpu"] for h in history[-n:])
    print(f"{label}:")
    print(f"  per-run seconds, median of runs 1-{n}: {statistics.median(head):.3f} ({cpu_head:.3f} CPU); "
          f"of runs {len(history) - n + 1}-{len(history)}: {statistics.median(tail):.3f} ({cpu_tail:.3f} CPU); "
          f"ratio {ratio:.2f} (CPU {cpu_tail / cpu_head:.2f})")
    print(f"  posts caught up per run: first 5 runs {[h['caught_up'] for h in history[:5]]}, "
          f"last 5 runs {[h['caught_up'] for h in history[-5:]]}, max {max(h['caught_up'] for h in history)}")
    last = history[-1]["files"]
    most = {t: max(h["files"][t] for h in history) for t in last}
    print(f"  part files after the last run: {last}; most at any time: {most}")
    return ratio


def dedupe_cost(sizes=(10_000, 100_000, 1_000_000)) -> None:
    """Seconds to write 10 new posts into a posts table of each size (the key check reads the table)."""
    import datetime as dt

    print("write of 10 new posts into a table of N posts (median of 5):")
    base = None
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            store = Store(tmp, compact_files=0)
            ids = [f"mastodon:mastodon.social/{i:012d}" for i in range(n)]
            store.write("posts", pl.DataFrame({"post_id": ids, "content_hash": [f"{i:016x}" for i in range(n)]}),
                        "big", dt.date(2026, 1, 1))
            times = []
            for k in range(5):
                frame = pl.DataFrame({"post_id": [f"new{k}-{j}" for j in range(10)], "content_hash": ["h"] * 10})
                t0 = time.perf_counter()
                store.write("posts", frame, f"r{k}", dt.date(2026, 1, 2))
                times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        base = base or med
        print(f"  N = {n:>9,}: {med * 1000:7.1f} ms  (x{med / base:.1f} of N = {sizes[0]:,})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--new", type=int, default=40, help="new posts per run")
    ap.add_argument("--refetch", type=int, default=40, help="posts per run fetched again (already stored)")
    ap.add_argument("--compact-files", type=int, default=16)
    ap.add_argument("--compare", action="store_true",
                    help="also run the history as before matched_posts and automatic compaction")
    ap.add_argument("--dedupe", action="store_true", help="only time a write against tables of 10k, 100k, 1M posts")
    ap.add_argument("--interleaved", action="store_true",
                    help="alternate the history's runs with runs on a young data dir and print their ratio")
    args = ap.parse_args()
    if args.dedupe:
        dedupe_cost()
        return
    print(f"{args.runs} runs, 15 minutes apart; {args.new} new and {args.refetch} re-fetched posts per run; "
          f"shipped catalogue")
    with tempfile.TemporaryDirectory() as tmp:
        if args.interleaved:
            print(f"now (matched_posts, compact_files = {args.compact_files}), interleaved with a young data dir:")
            interleaved(Path(tmp), args.runs, args.new, args.refetch, args.compact_files)
            return
        report(f"now (matched_posts, compact_files = {args.compact_files})",
               simulate(Path(tmp) / "now", args.runs, args.new, args.refetch, args.compact_files))
        if args.compare:
            report("before (no matched_posts, no automatic compaction)",
                   simulate(Path(tmp) / "before", args.runs, args.new, args.refetch, 0, record_matched=False))


if __name__ == "__main__":
    main()
