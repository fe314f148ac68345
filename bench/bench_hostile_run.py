"""33 hostile sources beside one good one through ``claimwatch run``: wall time and peak RSS.

    .venv/bin/python bench/bench_hostile_run.py

A loopback server plays the hostile kinds of tests/connectors/test_hostile.py and more:
compression bombs (1 GB of zeros in about 1 MB of gzip or deflate), 200 MB bodies without a
length, JSON nested 100,000 deep, bad UTF-8, wrong types, XXE, billion laughs, parameter
entities, redirect loops, an HTML page, an unknown Content-Encoding, cut bodies, a 429 asking
for a day, 10 MB single lines, binary garbage. It prints the run's wall time, the peak RSS of
the claimwatch process (VmHWM), the exit code and one line per source from the summary.
Goal: <= 150 s and <= 600 MB, one clear line per bad source, the good one stored.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.feeds import rss_feed  # noqa: E402
from tests.loopback import LoopbackServer, Reply  # noqa: E402

MB = 1024 * 1024
RSS = {"Content-Type": "application/rss+xml"}
JSON = {"Content-Type": "application/json"}


def bomb(wbits: int) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, wbits)
    block = bytes(MB)
    return b"".join([*(c.compress(block) for _ in range(1024)), c.flush()])


def hostile() -> dict[str, tuple[str, Reply | list[Reply]]]:
    """name -> (kind, reply); kind "rss" unless it says "mastodon" or "reddit"."""
    gz, df = bomb(31), bomb(15)
    deep = b"[" * 100_000 + b"]" * 100_000
    line = b"x" * (10 * MB)
    laughs = (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
              b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;">]>'
              b'<rss version="2.0"><channel><item><title>&d;</title></item></channel></rss>')
    xxe = (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           b'<rss version="2.0"><channel><item><title>&x;</title></item></channel></rss>')
    pe = (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY % r SYSTEM "http://169.254.169.254/x.dtd"> %r;]>'
          b'<rss version="2.0"><channel/></rss>')
    chunk = b"<item>" + b"x" * (64 * 1024 - 6)
    bad_utf8 = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
                + "".join(f"<item><title>Caf\xe9 {i}</title><link>https://bad.example/{i}</link></item>" for i in range(50))
                + "</channel></rss>").encode("latin-1")
    jf = lambda items: json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": items}).encode()  # noqa: E731
    return {
        "gzip-bomb": ("rss", Reply(200, gz, {**RSS, "Content-Encoding": "gzip"})),
        "gzip-bomb-2": ("rss", Reply(200, gz, {**RSS, "Content-Encoding": "x-gzip"})),
        "deflate-bomb": ("rss", Reply(200, df, {**RSS, "Content-Encoding": "deflate"})),
        "json-bomb": ("mastodon", Reply(200, gz, {**JSON, "Content-Encoding": "gzip"})),
        "stream-200mb": ("rss", Reply(200, headers=RSS, stream=lambda: (chunk for _ in range(3200)))),
        "chunked-200mb": ("rss", Reply(200, headers=RSS, chunked=True, stream=lambda: (chunk for _ in range(3200)))),
        "declared-huge": ("rss", Reply(200, b"", {**RSS, "Content-Length": "999999999999"}, truncate_to=0)),
        "deep-json-feed": ("rss", Reply(200, b'{"version": "https://jsonfeed.org/version/1.1", "items": ' + deep + b"}", JSON)),
        "deep-json-mastodon": ("mastodon", Reply(200, deep, JSON)),
        "deep-json-reddit": ("reddit", Reply(200, b'{"data": {"children": ' + deep + b"}}", JSON)),
        "bad-utf8": ("rss", Reply(200, bad_utf8, RSS)),
        "bad-utf8-json": ("mastodon", Reply(200, b'[{"id": "1", "content": "\xff\xfe"}]', JSON)),
        "wrong-types-feed": ("rss", Reply(200, jf([1, "x", None, {"id": [1], "url": {"a": 1}, "title": 5}]), JSON)),
        "items-not-list": ("rss", Reply(200, json.dumps({"version": "https://jsonfeed.org/version/1", "items": {"a": 1}}).encode(), JSON)),
        "wrong-types-mastodon": ("mastodon", Reply(200, b'[{"id": 5, "created_at": 7, "content": ["x"], "account": "me"}]', JSON)),
        "wrong-types-reddit": ("reddit", Reply(200, b'{"data": {"children": [{"data": {"id": [], "title": {}}}]}}', JSON)),
        "xxe": ("rss", Reply(200, xxe, RSS)),
        "xxe-utf16": ("rss", Reply(200, xxe.decode().replace('version="1.0"', 'version="1.0" encoding="utf-16"').encode("utf-16"), RSS)),
        "billion-laughs": ("rss", Reply(200, laughs, RSS)),
        "parameter-entity": ("rss", Reply(200, pe, RSS)),
        "redirect-loop": ("rss", Reply(302, headers={"Location": "/redirect-loop"})),
        "redirect-chain": ("rss", Reply(302, headers={"Location": "/redirect-loop"})),
        "html-page": ("rss", Reply(200, b"<!doctype html><html><body>Sign in</body></html>", {"Content-Type": "text/html"})),
        "html-api": ("mastodon", Reply(200, b"<html><body>consent</body></html>", {"Content-Type": "text/html"})),
        "brotli": ("rss", Reply(200, b"\x8b\x00\x80", {**RSS, "Content-Encoding": "br"})),
        "cut-body": ("rss", Reply(200, rss_feed(200), RSS, truncate_to=5000)),
        "corrupt-gzip": ("rss", Reply(200, b"not gzip at all", {**RSS, "Content-Encoding": "gzip"})),
        "retry-after-a-day": ("rss", Reply(429, b"slow down", {"Retry-After": "86400"})),
        "gone": ("rss", Reply(410, b"gone")),
        "long-line-feed": ("rss", Reply(200, b'<?xml version="1.0"?><rss version="2.0"><channel><item><title>Big</title>'
                                        b"<link>https://x.example/a</link><description>" + line
                                        + b"</description></item></channel></rss>", RSS)),
        "long-line-garbage": ("rss", Reply(200, b"<" * (10 * MB), RSS)),
        "binary-garbage": ("rss", Reply(200, os.urandom(2 * MB), RSS)),
        "empty": ("rss", Reply(200, b"", RSS)),
    }


def main() -> None:
    cases = hostile()
    claimwatch = Path(sys.executable).with_name("claimwatch")
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as tmp, LoopbackServer() as srv:
        tmp_path = Path(tmp)
        text = "[settings]\nallow_private_links = true\nretries = 1\nbackoff = 0.1\n"
        for name, (kind, reply) in cases.items():
            srv.route(f"/{name}", reply)
            if kind == "rss":
                text += f'[[sources]]\nname = "{name}"\nkind = "rss"\nurl = "{srv.url("/" + name)}"\n'
            elif kind == "mastodon":
                srv.route(f"/{name}/api/v1/timelines/tag/x", reply)
                text += f'[[sources]]\nname = "{name}"\nkind = "mastodon"\ninstance = "{srv.url("/" + name)}"\nhashtag = "x"\n'
            else:
                srv.route(f"/{name}/r/x/new.json", reply)
                text += (f'[[sources]]\nname = "{name}"\nkind = "reddit"\nsubreddit = "x"\n'
                         f'base_url = "{srv.url("/" + name)}"\n')
        srv.route("/good", Reply(200, rss_feed(50), RSS))
        text += f'[[sources]]\nname = "good"\nkind = "rss"\nurl = "{srv.url("/good")}"\n'
        (tmp_path / "sources.toml").write_text(text, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update(PREFECT_HOME=str(tmp_path / ".prefect"), DO_NOT_TRACK="1",
                   PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="150")
        cmd = [str(claimwatch), "run", "--sources", str(tmp_path / "sources.toml"), "--data-dir", str(tmp_path / "data")]
        print(f"{len(cases)} hostile sources and 1 good one")
        started = time.monotonic()
        proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)  # the process's own CPU time and peak RSS
        wall = time.monotonic() - started
        print(f"exit {os.waitstatus_to_exitcode(status)}, wall {wall:.1f} s (CPU {usage.ru_utime + usage.ru_stime:.1f} s), "
              f"peak RSS {usage.ru_maxrss / 1024:.0f} MB")
        errors = [ln for ln in out.splitlines() if ln.startswith("  ") and ": " in ln]
        print("\n".join(errors[-len(cases) - 2:]))
        print("\n".join(ln for ln in out.splitlines() if ln.strip().startswith("good ")))


if __name__ == "__main__":
    main()
