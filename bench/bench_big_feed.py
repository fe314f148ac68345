"""One big RSS feed through ``claimwatch run``: time and memory of the fetch/parse/store side.

    .venv/bin/python bench/bench_big_feed.py [--items 100000] [--max-items 100000] [--runs 2]
        [--etag | --no-etag]

A loopback server serves a synthetic feed of ``--items`` entries (bench/feeds.py, about 1 KB
an entry); ``claimwatch run`` fetches it ``--runs`` times into a fresh data dir (the second run
sees the same, unchanged feed: a 304 with ``--etag``, else a full download whose ids are all
known). For each run it prints the wall time of the whole process, the seconds from the run's
first progress line to "stored N new posts" (fetch, parse, de-duplicate, write), the peak RSS
of the claimwatch process when the posts were stored (VmHWM) and at its end, and the posts
stored. Goals: 100,000 entries in <= 60 s and <= 500 MB for the fetch/parse/store
side; the unchanged second run <= 20 s.
"""

from __future__ import annotations

import argparse
import os
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


def hwm_mb(pid: int) -> float | None:
    """The process's peak resident set so far (VmHWM), in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
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
            last_hwm[0] = hwm_mb(proc.pid) or last_hwm[0]
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    lines = []
    for line in proc.stderr:
        lines.append(line)
        now = time.monotonic()
        if marks["first"] is None and line.strip().startswith("run "):
            marks["first"] = now
        if marks["stored"] is None and line.strip().startswith("stored ") and "new posts" in line:
            marks["stored"] = now
            marks["stored_hwm"] = hwm_mb(proc.pid)
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
            "time": next((ln.strip() for ln in (out + "".join(lines)).splitlines() if ln.strip().startswith("time:")), None)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--max-items", type=int, default=100_000, help="the source's max_items option")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--etag", action=argparse.BooleanOptionalAction, default=True,
                    help="the server sends an ETag (and answers If-None-Match with 304)")
    args = ap.parse_args()

    data = rss_feed(args.items)
    print(f"feed: {args.items} entries, {len(data) / 1e6:.1f} MB; max_items = {args.max_items}; "
          f"ETag: {'yes' if args.etag else 'no'}")
    claimwatch = Path(sys.executable).with_name("claimwatch")
    with tempfile.TemporaryDirectory(prefix="bench-big-feed-") as tmp, LoopbackServer() as srv:
        tmp_path = Path(tmp)
        headers = {"Content-Type": "application/rss+xml", **({"ETag": '"v1"'} if args.etag else {})}
        srv.route("/feed.xml", Reply(200, data, headers))
        sources = tmp_path / "sources.toml"
        sources.write_text(
            "[settings]\nallow_private_links = true\nmax_bytes = 300000000\ntotal_timeout = 300\n"
            f'[[sources]]\nname = "big"\nkind = "rss"\nurl = "{srv.url("/feed.xml")}"\nmax_items = {args.max_items}\n'
            f"max_seen = 1000\n", encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update(PREFECT_HOME=str(tmp_path / ".prefect"), DO_NOT_TRACK="1",
                   PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="150")
        cmd = [str(claimwatch), "run", "--sources", str(sources), "--data-dir", str(tmp_path / "data")]
        for n in range(1, args.runs + 1):
            if args.etag and n > 1:
                # the feed is unchanged: the server answers the conditional GET with 304 (the
                # loopback server replays replies; the request's If-None-Match is checked below)
                srv.route("/feed.xml", Reply(304, b"", {"ETag": '"v1"'}))
            r = run_once(cmd, env, tmp_path)
            if args.etag and n > 1 and srv.requests[-1].headers.get("If-None-Match") != '"v1"':
                print(f"run {n}: the request was not conditional; the 304 does not count")
            fs = f"{r['fetch_store']:.1f} s" if r["fetch_store"] is not None else "n/a"
            print(f"run {n}: exit {r['exit']}, wall {r['wall']:.1f} s (CPU {r['cpu']:.1f} s), fetch/parse/store {fs}, "
                  f"peak RSS when stored {r['stored_hwm'] or 0:.0f} MB, at the end {r['end_hwm'] or 0:.0f} MB; "
                  f"{r['stored']}")
            if r["time"]:
                print(f"       {r['time']}")


if __name__ == "__main__":
    main()
