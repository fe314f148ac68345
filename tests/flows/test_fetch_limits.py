"""What a run does with servers that misbehave: one layer (the HTTP client) decides every retry,
deadlines and budgets hold, and a stopped run leaves the dataset consistent."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from tests.loopback import LoopbackServer, Reply


def table(data_dir: Path, name: str) -> pl.DataFrame:
    files = sorted((data_dir / name).glob("date=*/*.parquet"))
    return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed") if files else pl.DataFrame()


def write_sources(path: Path, srv: LoopbackServer, sources: dict[str, str], settings: str = "",
                  runner: str = "") -> Path:
    text = f"[settings]\nallow_private_links = true\n{settings}\n"
    if runner:
        text += f"[runner]\n{runner}\n"
    for name, route in sources.items():
        text += f'[[sources]]\nname = "{name}"\nkind = "rss"\nurl = "{srv.url(route)}"\n'
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
    assert state.is_completed()
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
