"""A whole ``claimwatch run`` on a big feed and a big catalogue, end to end, on loopback only.

    .venv/bin/python bench/bench_run.py [--items 10000] [--claims 14000] [--feeds 1] [--cold-only] [--again]
        [--data ../shared/data/checkthat2020] [--keep DIR] [--prefect] [--profile FILE]

It builds

* a loopback RSS 2.0 feed of ``--items`` items (or ``--feeds`` feeds sharing them, one source
  each: an RSS source stores at most ``max_items`` new items per run), served by a threaded HTTP server on
  127.0.0.1 (a free port) from this process. The items are tweets of the CheckThat! 2020
  train and dev sets (real claim-like text: every post finds BM25 candidates among the claims),
  each made unique by its item number, with a title (its first words), a link and a date one
  minute apart; without the CheckThat data, sentences of news words;
* a catalogue of ``--claims`` claims: the CheckThat claims (10,375), topped up with synthetic
  claims from :func:`rules.synthetic.synthetic_catalogue` (first half of one claim, second half
  of another) and written as a JSONL catalogue; ``--claims 7`` (or ``shipped``) uses the shipped
  catalogue of ``rules/claims`` instead;

then runs ``claimwatch run --sources ... --claims ... --data-dir ... --local`` as a subprocess,
twice, each into a new data dir (so both match N new posts): run 1 with an empty claim index
cache (``CLAIMWATCH_CACHE_DIR`` in the bench folder: the index is built and stored), run 2 with
the index cached by run 1 (what every later run of a catalogue version does); ``--cold-only``
stops after run 1. ``--again`` adds a run of the unchanged feed into the last data dir (no new
posts). ``--prefect`` runs the
Prefect flow instead, in Prefect's ephemeral mode (a temporary API per process).

Per run it prints: wall time from process start to exit, CPU time and peak RSS of the run's
process (``os.wait4``), the run's own seconds per phase (the ``time:`` line of its summary:
setup, fetch, store, media, match, report, wall and the process's CPU), how the claim index was had
(built or loaded, seconds),
and posts per second (new posts over wall time; matched posts over the match phase). Each line
carries the machine's 1-minute load average (the machine may be shared: compare ratios and CPU
seconds, not absolute wall seconds), and the goals are printed below as reference lines.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import random
import re
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CLAIMWATCH = Path(sys.executable).with_name("claimwatch")
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "checkthat2020"
START = datetime(2026, 11, 1, tzinfo=timezone.utc)
WORDS = ("khan trump release video court hearing adjourned minister party election rally claim report statement "
         "spokesman islamabad lahore karachi government opposition protest senate budget inflation flood relief "
         "cricket match verdict appeal bail jail interview press").split()

GOALS = [
    ("(10k, 14k)", "a run of 10,000 new posts against a 14k-claim catalogue spends <= 10 s in matching"),
    ("(100k, 7)", "the 100,000-item feed in <= 60 s wall and <= 500 MB RSS"),
    ("again", "a second run of an unchanged feed in <= 20 s (--again)"),
    ("200k index", "a 200k-claim index stays <= 1 GB RSS (bench/bench_index.py)"),
]


# ---------------------------------------------------------------- inputs


def post_texts(data: Path) -> list[str]:
    texts = []
    for split in ("train", "dev"):
        path = data / split / "posts.jsonl"
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    texts.append(json.loads(line)["text"])
    if texts:
        return texts
    rng = random.Random(7)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(12, 40))).capitalize() + "." for _ in range(1000)]


def rss_feed(n: int, texts: list[str], base: str = "https://news.example.pk", start: int = 0) -> bytes:
    """``n`` items numbered from ``start``, newest first; item ``i`` carries text
    ``texts[i % len(texts)]`` plus its number."""
    parts = ['<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Bench news</title>'
             f"<link>{base}</link><language>en</language>\n"]
    for i in range(start, start + n):
        text = f"{texts[i % len(texts)]} ({i})"
        title = " ".join(text.split()[:10])
        when = format_datetime(START + timedelta(minutes=n - i), usegmt=True)
        parts.append(f"<item><title>{escape(title)}</title><link>{base}/news/{i}</link>"
                     f'<guid isPermaLink="false">bench-{i}</guid><pubDate>{when}</pubDate>'
                     f"<description>{escape(text)}</description></item>\n")
    parts.append("</channel></rss>\n")
    return "".join(parts).encode("utf-8")


def write_catalogue(m: int, data: Path, folder: Path) -> Path | None:
    """The catalogue file for ``m`` claims (None: the shipped catalogue)."""
    if m <= 7:
        return None
    from rules.catalogue import Catalogue, load_jsonl
    from rules.synthetic import synthetic_catalogue

    base = list(load_jsonl(data / "claims.jsonl"))
    claims = base[:m]
    if m > len(claims):
        claims += list(synthetic_catalogue(Catalogue(base), m - len(base)))
    path = folder / f"claims-{m}.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for c in claims:
            f.write(json.dumps({"claim_id": c.claim_id, "text": c.text, "title": c.title}, ensure_ascii=False) + "\n")
    return path


class _Handler(http.server.BaseHTTPRequestHandler):
    bodies: dict[str, bytes] = {}

    def do_GET(self) -> None:  # noqa: N802
        body = self.bodies.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def serve(bodies: list[bytes]) -> tuple[_Server, list[str]]:
    paths = [f"/feed-{k + 1}.xml" for k in range(len(bodies))]
    handler = type("Handler", (_Handler,), {"bodies": dict(zip(paths, bodies))})
    server = _Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, [f"http://127.0.0.1:{server.server_address[1]}{p}" for p in paths]


def sources_file(folder: Path, urls: list[str], size: int) -> Path:
    path = folder / "sources.toml"
    text = f"""[settings]
user_agent = "claimwatch-bench/0.1 (+mailto:bench@example.org)"
allow_private_links = true
max_bytes = {max(size * 2, 20_000_000)}
timeout = 300
total_timeout = 1200

[runner]
# a loaded machine must not cut the measured run short (defaults: 840 s a run, 300 s a source)
run_budget = 3600
source_budget = 1200
"""
    for k, url in enumerate(urls, 1):
        text += f"""
[[sources]]
name = "bench-feed-{k}"
kind = "rss"
url = "{url}"
"""
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- one run

PHASES_RE = re.compile(r"^time: (.*)$", re.M)
PHASE_RE = re.compile(r"(\w+) ([\d.]+) s")
MATCHED_RE = re.compile(r"match [\d.]+ s \((\d+) posts")
INDEX_RE = re.compile(r"claim index (built|loaded)[^\n]* in ([\d.]+) s")


def run_once(cmd: list[str], env: dict[str, str], cwd: Path) -> dict[str, object]:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out: list[str] = []
    err: list[str] = []
    readers = [threading.Thread(target=lambda s=s, acc=acc: acc.extend(s)) for s, acc in ((proc.stdout, out), (proc.stderr, err))]
    for r in readers:
        r.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    for r in readers:
        r.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    stdout, stderr = "".join(out), "".join(err)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{stderr[-3000:]}\n{stdout[-2000:]}")
    found = PHASES_RE.search(stdout)
    wall_part, _, cpu_part = found.group(1).partition("; cpu: ") if found else ("", "", "")
    phases = {k: float(v) for k, v in PHASE_RE.findall(wall_part)}
    phases_cpu = {k: float(v) for k, v in PHASE_RE.findall(cpu_part)}
    new = re.search(r"^\s+total\s+(\d+) fetched\s+(\d+) new", stdout, re.M)
    matched = MATCHED_RE.search(stdout)
    index = INDEX_RE.search(stderr + stdout)
    return {"wall": wall, "rss_mb": usage.ru_maxrss / 1024, "cpu": usage.ru_utime + usage.ru_stime,
            "phases": phases, "phases_cpu": phases_cpu, "fetched": int(new.group(1)) if new else None, "new": int(new.group(2)) if new else None,
            "matched": int(matched.group(1)) if matched else 0,
            "index": f"index {index.group(1)} in {index.group(2)} s" if index else "index not needed",
            "stdout": stdout, "stderr": stderr}


def report(label: str, r: dict[str, object]) -> str:
    phases = r["phases"]
    cpu = r["phases_cpu"]
    shown = ", ".join(f"{k} {v:.1f} s" + (f" (cpu {cpu[k]:.1f})" if k in cpu else "") for k, v in phases.items()) \
        or "(the run printed no time: line)"
    rate = f"{r['new'] / r['wall']:,.0f} new posts/s over the wall time" if r["new"] else "no new posts"
    match_s = phases.get("match")
    if match_s and r["matched"]:
        rate += f"; {r['matched'] / match_s:,.0f} posts/s in matching ({r['matched']:,} posts)"
    return (f"{label}: wall {r['wall']:.1f} s, cpu {r['cpu']:.1f} s, peak RSS {r['rss_mb']:,.0f} MB, "
            f"fetched {r['fetched']}, new {r['new']}; phases: {shown}; {r['index']}; {rate}; "
            f"load {os.getloadavg()[0]:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=10_000, help="items in the feed (N)")
    ap.add_argument("--claims", default="14000", help="claims in the catalogue (M); 7 or 'shipped': the shipped catalogue")
    ap.add_argument("--again", action="store_true", help="one more run of the unchanged feed into the last data dir")
    ap.add_argument("--cold-only", action="store_true", help="only run 1 (empty index cache)")
    ap.add_argument("--feeds", type=int, default=1, help="split the N items over this many feeds (sources)")
    ap.add_argument("--data", default=str(DEFAULT_DATA), help="CheckThat! 2020 folder (claims.jsonl, train/, dev/)")
    ap.add_argument("--keep", default=None, help="build everything in this folder and keep it")
    ap.add_argument("--prefect", action="store_true",
                    help="run as a Prefect flow (a temporary API per run) instead of --local")
    ap.add_argument("--profile", default=None, help="py-spy record the run into this SVG/speedscope file")
    a = ap.parse_args()
    m = 7 if a.claims == "shipped" else int(a.claims)
    data = Path(a.data)
    if m > 7 and not (data / "claims.jsonl").is_file():
        sys.exit(f"bench_run: {data}/claims.jsonl not found; pass --data, or --claims 7 for the shipped catalogue")
    folder = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="bench-run-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        t = time.perf_counter()
        texts = post_texts(data)
        per = -(-a.items // a.feeds)
        bodies = [rss_feed(min(per, a.items - k * per), texts, base=f"https://news{k + 1}.example.pk", start=k * per)
                  for k in range(a.feeds)]
        body_size = sum(map(len, bodies))
        claims = write_catalogue(m, data, folder)
        print(f"inputs: {a.feeds} feed(s), {a.items:,} items ({body_size / 1e6:.1f} MB), catalogue "
              f"{'shipped rules/claims' if claims is None else f'{m:,} claims ({claims.name})'}, built in "
              f"{time.perf_counter() - t:.1f} s; {os.cpu_count()} CPUs", flush=True)
        server, urls = serve(bodies)
        sources = sources_file(folder, urls, max(map(len, bodies)))
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update(PREFECT_HOME=str(folder / "prefect-home"), DO_NOT_TRACK="1", CLAIMWATCH_CACHE_DIR=str(folder / "cache"))
        shutil.rmtree(folder / "cache", ignore_errors=True)

        def command(data_dir: Path) -> list[str]:
            if a.prefect:
                env.update(PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="300")
                params = dict(config=str(sources), data_dir=str(data_dir), claims_dir=str(claims) if claims else None)
                return [sys.executable, "-c", "from flows.pipeline import run_pipeline; from flows.commands.run import "
                        f"format_summary; print(format_summary(run_pipeline(**{params!r})))"]
            cmd = [str(CLAIMWATCH), "run", "--sources", str(sources), "--data-dir", str(data_dir), "--local"]
            return cmd + (["--claims", str(claims)] if claims is not None else [])

        runs = [("run 1, index cache empty", folder / "data-1"), ("run 2, index cached", folder / "data-2")]
        if a.cold_only:
            runs = runs[:1]
        if a.again:
            runs.append((f"run {len(runs) + 1}, unchanged feed again", runs[-1][1]))
        shutil.rmtree(folder / "data-1", ignore_errors=True)
        shutil.rmtree(folder / "data-2", ignore_errors=True)
        for i, (label, data_dir) in enumerate(runs):
            cmd = command(data_dir)
            run_cmd = cmd
            if a.profile and i == 0:
                fmt = {".json": "speedscope", ".txt": "raw"}.get(Path(a.profile).suffix, "flamegraph")
                run_cmd = [str(Path(sys.executable).with_name("py-spy")), "record", "-o", a.profile, "-f", fmt,
                           "-r", "40", "--threads", "--subprocesses", "--", *cmd]
            r = run_once(run_cmd, env, ROOT)
            print(report(f"{label} (N={a.items:,}, M={m:,})", r), flush=True)
        server.shutdown()
        print("goals:")
        for key, goal in GOALS:
            print(f"  {key:<11} {goal}")
        print(f"command: {' '.join(cmd)}")
    finally:
        if not a.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
