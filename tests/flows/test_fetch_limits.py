"""What a run does with servers that misbehave: one layer (the HTTP client) decides every retry,
deadlines and budgets hold, and a stopped run leaves the dataset consistent."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

from flows.store import Store
from tests.loopback import LoopbackServer, Reply


def table(data_dir: Path, name: str) -> pl.DataFrame:
    files = sorted((data_dir / name).glob("date=*/*.parquet"))
    return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed") if files else pl.DataFrame()


def write_sources(path: Path, srv: LoopbackServer, sources: dict[str, str], settings: str = "",
                  runner: str = "", budgets: dict[str, int] | None = None) -> Path:
    text = f"[settings]\nallow_private_links = true\n{settings}\n"
    if runner:
        text += f"[runner]\n{runner}\n"
    for name, route in sources.items():
        text += f'[[sources]]\nname = "{name}"\nkind = "rss"\nurl = "{srv.url(route)}"\n'
        if budgets and name in budgets:
            text += f"budget = {budgets[name]}\n"
    path.write_text(text, encoding="utf-8")
    return path


FEED = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b'<item><title>Good news</title><link>https://news.example.org/a</link></item></channel></rss>')


def requests_to(srv: LoopbackServer, path: str) -> int:
    return sum(1 for r in srv.requests if r.path.split("?")[0] == path)


def test_the_http_client_is_the_one_layer_that_retries(prefect_harness, tmp_path):
    """A 429 asking for 100000 s, an encoding the client cannot read and a redirect loop are each
    given up by the client; nothing above it asks again in the same run."""
    import flows.pipeline as pipeline

    with LoopbackServer() as srv:
        srv.route("/busy", Reply(429, b"slow down", {"Retry-After": "100000"}))
        srv.route("/brotli", Reply(200, b"\x8b\x00\x80", {"Content-Encoding": "br"}))
        srv.route("/loop-a", Reply(302, headers={"Location": "/loop-b"}))
        srv.route("/loop-b", Reply(302, headers={"Location": "/loop-a"}))
        srv.route("/down", Reply(503, b"busy"))
        srv.route("/good", Reply(200, FEED, {"Content-Type": "application/rss+xml"}))
        sources = write_sources(tmp_path / "sources.toml", srv,
                                {"busy": "/busy", "brotli": "/brotli", "loop": "/loop-a", "down": "/down",
                                 "good": "/good"},
                                settings="retries = 1\nbackoff = 0\nmax_redirects = 3\nretry_after_max = 60")
        state = pipeline.run_pipeline(config=str(sources), data_dir=str(tmp_path / "data"), return_state=True)
        counts = {p: requests_to(srv, p) for p in ("/busy", "/brotli", "/loop-a", "/loop-b", "/down", "/good")}
    assert state.name == "Degraded"  # data written, some sources failed
    assert counts == {"/busy": 1, "/brotli": 1, "/loop-a": 2, "/loop-b": 2, "/down": 2, "/good": 1}
    health = {r["source"]: r["error"] for r in table(tmp_path / "data", "source_health").iter_rows(named=True)}
    assert "server asks to wait 100000s" in health["busy"]
    assert "unsupported Content-Encoding 'br'" in health["brotli"]
    assert "more than 3 redirects" in health["loop"]
    assert "HTTP 503 after 2 attempts" in health["down"]
    assert health["good"] is None


def test_the_task_level_fetch_retry_options_are_refused_with_what_replaces_them(tmp_path):
    from connectors.errors import ConfigError
    from flows.config import load_config

    path = tmp_path / "s.toml"
    path.write_text('[runner]\nfetch_retries = 1\n[[sources]]\nname = "a"\nkind = "rss"\nurl = "https://e.org/f"\n')
    with pytest.raises(ConfigError, match=r"\[runner\]: option 'fetch_retries' is no longer used: the HTTP client "
                                          r"is the one layer that retries"):
        load_config(path)


def test_a_missing_api_key_variable_stops_claimwatch_run_before_anything_is_fetched(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from flows.cli import app

    monkeypatch.delenv("CW_UNSET_YT_KEY", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / ".prefect"))
    with LoopbackServer() as srv:
        srv.route("/good", Reply(200, FEED, {"Content-Type": "application/rss+xml"}))
        sources = write_sources(tmp_path / "sources.toml", srv, {"good": "/good"})
        with sources.open("a", encoding="utf-8") as fh:
            fh.write(f'[[sources]]\nname = "yt-search"\nkind = "youtube"\nquery = "imran khan"\n'
                     f'api_key_env = "CW_UNSET_YT_KEY"\nbase_url = "{srv.url("/yt")}"\n')
        data_dir = tmp_path / "data"
        result = CliRunner().invoke(app, ["run", "--sources", str(sources), "--data-dir", str(data_dir)])
        assert srv.requests == []  # not even the good source was fetched
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == (
        f"claimwatch run: {sources}: source 'yt-search' (youtube): environment variable CW_UNSET_YT_KEY is not "
        "set (the YouTube Data API key named by api_key_env); export it, or set enabled = false for this source")
    assert not data_dir.exists()


def test_a_youtube_query_without_api_key_env_is_a_config_error():
    from connectors import youtube
    from connectors.errors import ConfigError

    with pytest.raises(ConfigError, match="set api_key_env to the name of the environment variable"):
        youtube.Source("yt", {"query": "imran khan"}, client=None)


# --- budgets and signals ------------------------------------------------------------------------


@pytest.mark.parametrize("settings, runner, error", [
    ("timeout = 20\ntotal_timeout = 120", "source_budget = 3",
     "timed out after 3 s: source budget of 3 s used up; nothing it fetched is stored this run; it is fetched "
     "again next run"),
    ("timeout = 20\ntotal_timeout = 3", "", "no complete answer within total_timeout = 3 s (connect, headers and body)"),
], ids=["source-budget", "total-timeout"])
def test_a_source_trickling_its_headers_is_cut_at_its_budget_and_the_run_goes_on(prefect_harness, tmp_path,
                                                                                  settings, runner, error):
    """The server sends one header byte every 0.5 s: a per-read timeout never fires; the source
    budget (or the request's total_timeout) ends it, and the good source is stored."""
    import time

    import flows.pipeline as pipeline

    with LoopbackServer() as srv:
        srv.route("/good", Reply(200, FEED, {"Content-Type": "application/rss+xml"}))
        srv.route("/drip", Reply(200, FEED, {"Content-Type": "application/rss+xml"}, trickle=0.5))
        sources = write_sources(tmp_path / "sources.toml", srv, {"good": "/good", "drip": "/drip"},
                                settings=settings, runner=runner, budgets={"good": 120})
        started = time.monotonic()
        state = pipeline.run_pipeline(config=str(sources), data_dir=str(tmp_path / "data"), return_state=True)
        fetch_took = time.monotonic() - started
        assert [r.path for r in srv.requests if r.path == "/drip"] == ["/drip"]  # not retried
    assert state.name == "Degraded" and "failed: drip" in state.message
    health = {r["source"]: r for r in table(tmp_path / "data", "source_health").iter_rows(named=True)}
    assert health["drip"]["status"] == "error"
    assert error in health["drip"]["error"]
    assert health["drip"]["duration_s"] < 6
    assert health["good"]["status"] == "ok" and health["good"]["new"] == 1
    cursors = Store(tmp_path / "data").read_cursors()
    assert "good" in cursors and "drip" not in cursors
    assert fetch_took < 60, fetch_took  # the whole run, Prefect and matching included


def test_the_run_budget_ends_fetching_before_the_run_ends(prefect_harness, tmp_path):
    import flows.pipeline as pipeline

    with LoopbackServer() as srv:
        srv.route("/good", Reply(200, FEED, {"Content-Type": "application/rss+xml"}))
        srv.route("/hang", Reply(200, FEED, delay=30))
        sources = write_sources(tmp_path / "sources.toml", srv, {"good": "/good", "hang": "/hang"},
                                settings="timeout = 60", runner="source_budget = 300")
        state = pipeline.run_pipeline(config=str(sources), data_dir=str(tmp_path / "data"), run_budget=5,
                                      return_state=True)
    health = {r["source"]: r for r in table(tmp_path / "data", "source_health").iter_rows(named=True)}
    assert re.match(r"timed out after \d s: run budget of 5 s \(fetching ends 1 s before it, to store and match\) "
                    r"used up", health["hang"]["error"])
    assert "raise [runner] run_budget" in health["hang"]["error"]
    assert health["good"]["status"] == "ok" and state.name == "Degraded"


def test_budget_options_are_checked():
    from connectors.errors import ConfigError
    from flows.config import config_from_mapping

    src = {"name": "a", "kind": "rss", "url": "https://e.org/f"}
    cfg = config_from_mapping({"runner": {"source_budget": 60, "run_budget": 600},
                               "sources": [src, {**src, "name": "b", "budget": 5}]})
    assert (cfg.run_budget, cfg.source_budget(cfg.sources[0]), cfg.source_budget(cfg.sources[1])) == (600, 60, 5)
    with pytest.raises(ConfigError, match="option 'budget' must be a positive number of seconds, got 0"):
        config_from_mapping({"sources": [{**src, "budget": 0}]})
    with pytest.raises(ConfigError, match=r"\[runner\]: option 'run_budget' must be a positive number"):
        config_from_mapping({"runner": {"run_budget": -1}, "sources": [src]})


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_sigterm_stops_a_hung_claimwatch_run_within_10_s_and_keeps_the_data_consistent(tmp_path):
    import contextlib
    import os
    import signal
    import subprocess
    import sys
    import time

    claimwatch = Path(sys.executable).with_name("claimwatch")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(tmp_path / ".prefect"), DO_NOT_TRACK="1", PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="150")
    data_dir = tmp_path / "data"
    with LoopbackServer() as srv:
        srv.route("/good", Reply(200, FEED, {"Content-Type": "application/rss+xml"}))
        srv.route("/hang", Reply(200, FEED, delay=600))  # accepts, then says nothing for 10 minutes
        sources = write_sources(tmp_path / "sources.toml", srv, {"good": "/good", "hang": "/hang"},
                                settings="timeout = 300\ntotal_timeout = 600")
        out_path, err_path = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
        with out_path.open("w") as out_file, err_path.open("w") as err_file:
            proc = subprocess.Popen([str(claimwatch), "run", "--sources", str(sources), "--data-dir", str(data_dir)],
                                    cwd=tmp_path, env=env, stdout=out_file, stderr=err_file, start_new_session=True)
        try:
            deadline = time.monotonic() + 200
            while {"/good", "/hang"} - {r.path for r in srv.requests}:
                assert proc.poll() is None and time.monotonic() < deadline, "the run never reached the servers"
                time.sleep(0.2)
            time.sleep(3)  # the good source is stored in memory by now; the other one hangs
            sent = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
            took = time.monotonic() - sent
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            with contextlib.suppress(ProcessLookupError):  # anything the run started (Prefect's server)
                os.killpg(proc.pid, signal.SIGKILL)
    out, err = out_path.read_text(), err_path.read_text()
    assert took < 10, f"still running {took:.1f} s after SIGTERM\n{err}"
    assert proc.returncode == 143, out + err
    assert "stopped by SIGTERM" in err
    posts = table(data_dir, "posts")
    assert posts["source"].to_list() == ["good"]
    cursors = Store(data_dir).read_cursors()
    assert "good" in cursors and "hang" not in cursors  # a cursor only for what was stored
    health = {r["source"]: r for r in table(data_dir, "source_health").iter_rows(named=True)}
    assert health["good"]["status"] == "ok"
    assert health["hang"]["error"].startswith("stopped after ") and "stopped by SIGTERM" in health["hang"]["error"]
    assert table(data_dir, "runs")["status"].to_list() == ["stopped"]
    assert not list(data_dir.rglob("*.tmp"))


def test_the_scheduled_pipeline_gets_a_run_budget_that_ends_before_the_next_run():
    import yaml

    from flows import deployments as dep

    spec = dep.by_name(["ingest-and-detect"])[0]
    assert (spec.interval_seconds, spec.run_budget) == (900, 840)  # */15: 60 s to spare
    assert dep.flow_parameters(spec, spec.load_flow(), config="s.toml")["run_budget"] == 840
    nightly = dep.by_name(["compact-dataset"])[0]
    assert nightly.interval_seconds == 86400 and "run_budget" not in dep.flow_parameters(nightly, nightly.load_flow())
    declared = yaml.safe_load((Path(__file__).resolve().parents[2] / "deploy" / "prefect.yaml").read_text())
    ingest = next(d for d in declared["deployments"] if d["name"] == "ingest-and-detect")
    assert ingest["parameters"]["run_budget"] == spec.run_budget
    assert ingest["concurrency_limit"] == {"limit": 1, "collision_strategy": "CANCEL_NEW"}


# --- posts are written in batches as sources finish -----------------------------------------------


def _outcome(rows, cursor):
    from connectors.schema import posts_frame

    return {"table": "posts", "rows": posts_frame(rows), "cursor": cursor, "status": "ok"}


def test_posts_are_written_in_batches_as_sources_finish_with_their_cursors(tmp_path):
    from datetime import date

    from connectors.schema import make_post
    from flows.steps import PostWriter
    from flows.store import Store

    def post(i, source, same_as=None):  # same_as: another post's title and text under this id
        j = same_as or i
        return make_post("news", f"https://n.example/{i}", source=source, title=f"T{j}", text=f"text {j}")

    store = Store(tmp_path / "data")
    store.ensure()
    writer = PostWriter(store, "20260101T000000Z-abc", date(2026, 1, 1), batch_rows=3)
    a = _outcome([post(1, "a"), post(2, "a")], {"a": 1})
    writer.add("a", a)
    assert a["rows"] is None and a["items"] == 2 and store.read("posts").height == 0  # 2 < 3: still waiting
    assert store.read_cursors() == {}
    writer.add("b", _outcome([post(3, "b"), post(2, "b"), post(9, "b", same_as=1)], {"b": 1}))
    assert sorted(store.read("posts")["post_id"]) == [f"news:https://n.example/{i}" for i in (1, 2, 3)]
    assert store.read_cursors() == {"a": {"a": 1}, "b": {"b": 1}}  # saved with their posts
    writer.add("c", _outcome([post(4, "c"), post(3, "c"), post(10, "c", same_as=4)], {"c": 1}))
    writer.add("d", _outcome([], {"d": 1}))
    writer.flush()
    posts = store.read("posts")
    assert posts.height == 4 and posts["post_id"].n_unique() == 4
    assert writer.fetched == 8 and writer.written().height == 4
    # same id in another batch, or the same text under another id: dropped and counted
    assert writer.duplicates == {"b": 2, "c": 2}
    assert set(store.read_cursors()) == {"a", "b", "c", "d"}
    assert len(list((tmp_path / "data" / "posts").rglob("*.parquet"))) == 2  # one part file per batch
