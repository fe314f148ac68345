"""One big RSS feed through ``claimwatch run``: time and memory of whole runs, against the goals.

    .venv/bin/python bench/bench_big_feed.py [--items 100000] [--max-items N] [--runs 3]
        [--etag | --no-etag]

A loopback server serves a synthetic feed of ``--items`` entries (bench/feeds.py, about 1 KB
an entry) and, with ``--etag`` (the default), answers a conditional GET naming its ETag with
``304`` as a real server does. ``claimwatch run`` fetches it ``--runs`` times into one fresh
data dir, with the source's settings as a user would leave them: the connector's default
``max_items`` (10,000 new entries per run; the rest are left for the next runs, which fetch the
whole feed again and take the next 10,000), or ``--max-items N`` (``--max-items 100000``: the
whole feed in the first run). Once every entry is delivered the next run sees an unchanged feed
(a ``304`` with ``--etag``, else a full download whose ids are all known).

For each run it prints the wall time of the whole process and its CPU time, the seconds from the
run's first progress line to "stored N new posts" (fetch, parse, de-duplicate, write), the peak
RSS of the claimwatch process when the posts were stored (VmHWM) and at its end, its RSS as
matching goes (VmRSS when each batch is done: first, last, highest), the posts
stored and left for the next run, whether the request was conditional, the run's seconds per
phase and the load average, then each run against the goals: a run of the 100,000-item feed in
<= 60 s and <= 500 MB RSS; a second run of an unchanged feed in <= 20 s.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.feeds import rss_feed  # noqa: E402
from tests.loopback import LoopbackServer, Reply  # noqa: E402


def status_mb(pid: int, field: str) -> float | None:
    """One memory line of the process's /proc status, in MB: ``VmHWM`` (peak resident set so
    far) or ``VmRSS`` (resident set now); None once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def run_once(cmd: list[str], env: dict[str, str], cwd: Path) -> dict[str, float | str | None]:
    started = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    marks: dict[str, float | None] = {"first": None, "stored": None, "stored_hwm": None}
    last_hwm = [None]

    def sample() -> None:
        while proc.poll() is None:
            last_hwm[0] = status_mb(proc.pid, "VmHWM") or last_hwm[0]
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    lines = []
    matching_rss: list[float | None] = []  # VmRSS at each "matched batch" line
    for line in proc.stderr:
        lines.append(line)
        now = time.monotonic()
        if marks["first"] is None and line.strip().startswith("run "):
            marks["first"] = now
        if "matched batch" in line:
            matching_rss.append(status_mb(proc.pid, "VmRSS"))
        if marks["stored"] is None and line.strip().startswith("stored ") and "new posts" in line:
            marks["stored"] = now
            marks["stored_hwm"] = status_mb(proc.pid, "VmHWM")
            marks["stored_line"] = line.strip()
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)  # the process's own CPU time and peak RSS
    proc.returncode = os.waitstatus_to_exitcode(status)
    sampler.join()
    wall = time.monotonic() - started
    if proc.returncode != 0:
        print("".join(lines[-20:]), out[-2000:], file=sys.stderr)
    fetch_store = (marks["stored"] - marks["first"]) if marks["first"] and marks["stored"] else None
    return {"exit": proc.returncode, "wall": wall, "fetch_store": fetch_store, "stored_hwm": marks["stored_hwm"],
            "end_hwm": usage.ru_maxrss / 1024, "cpu": usage.ru_utime + usage.ru_stime, "stored": marks.get("stored_line"),
            "time": next((ln.strip() for ln in (out + "".join(lines)).splitlines() if ln.strip().startswith("time:")), None),
            "left": next((ln.strip() for ln in lines if "left for the next run" in ln), None),
            "matching_rss": [x for x in matching_rss if x is not None]}


GOAL_WALL, GOAL_RSS, GOAL_UNCHANGED = 60.0, 500.0, 20.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--max-items", type=int, default=None,
                    help="the source's max_items option (default: not set, the connector's default)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--etag", action=argparse.BooleanOptionalAction, default=True,
                    help="the server sends an ETag and answers If-None-Match naming it with 304")
    args = ap.parse_args()
    if args.items < 1 or args.runs < 1 or (args.max_items is not None and args.max_items < 1):
        ap.error("--items, --runs and --max-items must be at least 1")

    from connectors.rss import DEFAULT_MAX_ITEMS

    cap = args.max_items or DEFAULT_MAX_ITEMS
    data = rss_feed(args.items)
    print(f"feed: {args.items} entries, {len(data) / 1e6:.1f} MB; max_items = {cap}"
          f"{'' if args.max_items else ' (the default)'}; ETag: {'yes, 304 to If-None-Match' if args.etag else 'no'}")
    print(f"expected: {min(cap, args.items)} new posts in run 1"
          + (f", the next {cap} in each later run until all {args.items} are stored (run {-(-args.items // cap)})"
             if cap < args.items else "") + "; then the feed is unchanged")
    claimwatch = Path(sys.executable).with_name("claimwatch")
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-big-feed-") as tmp, LoopbackServer() as srv:
        tmp_path = Path(tmp)
        headers = {"Content-Type": "application/rss+xml", **({"ETag": '"v1"'} if args.etag else {})}
        srv.route("/feed.xml", Reply(200, data, headers, conditional=args.etag))
        sources = tmp_path / "sources.toml"
        sources.write_text(
            "[settings]\nallow_private_links = true\nmax_bytes = 300000000\ntotal_timeout = 300\n"
            f'[[sources]]\nname = "big"\nkind = "rss"\nurl = "{srv.url("/feed.xml")}"\n'
            + (f"max_items = {args.max_items}\n" if args.max_items else "") + "max_seen = 1000\n", encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update(PREFECT_HOME=str(tmp_path / ".prefect"), DO_NOT_TRACK="1",
                   PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="150")
        cmd = [str(claimwatch), "run", "--sources", str(sources), "--data-dir", str(tmp_path / "data")]
        delivered = 0
        for n in range(1, args.runs + 1):
            unchanged = delivered >= args.items  # every entry stored before this run
            asked = len(srv.requests)
            load = os.getloadavg()[0]
            r = run_once(cmd, env, tmp_path)
            load_end = os.getloadavg()[0]
            feed_requests = [q for q in srv.requests[asked:] if q.path == "/feed.xml"]
            conditional = any(q.headers.get("If-None-Match") == '"v1"' for q in feed_requests)
            m = re.search(r"stored (\d+) new posts", r["stored"] or "")
            stored = int(m.group(1)) if m else 0
            delivered += stored
            fs = f"{r['fetch_store']:.1f} s" if r["fetch_store"] is not None else "n/a"
            how = ("conditional GET, 304" if conditional and args.etag else
                   "conditional GET" if conditional else "full GET")
            print(f"run {n}: exit {r['exit']}, wall {r['wall']:.1f} s (CPU {r['cpu']:.1f} s), fetch/parse/store {fs}, "
                  f"peak RSS when stored {r['stored_hwm'] or 0:.0f} MB, at the end {r['end_hwm'] or 0:.0f} MB; "
                  f"{how}; {r['stored'] or 'no stored line'} ({delivered} of {args.items} in all); "
                  f"load average {load:.1f} -> {load_end:.1f}")
            if r["left"]:
                print(f"       {r['left']}")
            if r["time"]:
                print(f"       {r['time']}")
            if r["matching_rss"]:
                mr = r["matching_rss"]
                print(f"       RSS while matching (at each batch done): first {mr[0]:.0f} MB, last {mr[-1]:.0f} MB, "
                      f"highest {max(mr):.0f} MB over {len(mr)} batches")
            results.append((n, r, unchanged))
    print("against the goals:")
    for n, r, unchanged in results:
        if unchanged:
            ok = r["wall"] <= GOAL_UNCHANGED
            print(f"  run {n} (unchanged feed): {r['wall']:.1f} s wall, goal <= {GOAL_UNCHANGED:.0f} s: "
                  f"{'met' if ok else 'NOT met'}")
            continue
        ok_wall, ok_rss = r["wall"] <= GOAL_WALL, (r["end_hwm"] or 0) <= GOAL_RSS
        print(f"  run {n}: {r['wall']:.1f} s wall, goal <= {GOAL_WALL:.0f} s: {'met' if ok_wall else 'NOT met'}; "
              f"peak RSS {r['end_hwm'] or 0:.0f} MB, goal <= {GOAL_RSS:.0f} MB: {'met' if ok_rss else 'NOT met'}")
    if not any(unchanged for _, _, unchanged in results):
        left = "every entry was stored by the last run" if delivered >= args.items else \
            f"entries were still left after run {args.runs}"
        print(f"  unchanged feed: not reached ({left}); it takes --runs {-(-args.items // cap) + 1}"
              + (f", or --max-items {args.items} --runs 2" if cap < args.items else ""))


if __name__ == "__main__":
    main()
