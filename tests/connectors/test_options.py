"""Every connector declares the options it reads; the sources file is checked against them."""

from __future__ import annotations

import inspect
import re
import tomllib

import pytest

from connectors.errors import ConfigError
from connectors.registry import KINDS, module_for
from flows.config import config_from_mapping, load_config
from tests.connectors.support import ROOT

# one valid source per kind: the misspelled option is added to it
VALID = {
    "rss": {"url": "https://news.example.org/feed.xml"},
    "mastodon": {"instance": "https://mastodon.social", "hashtag": "ImranKhan"},
    "bluesky": {"query": "Imran Khan Trump"},
    "reddit": {"subreddit": "pakistan"},
    "youtube": {"query": "Imran Khan Trump", "api_key_env": "CLAIMWATCH_YOUTUBE_KEY"},
    "telegram": {"channel": "somechannel"},
    "factchecks": {"feed_url": "https://factcheck.example.org/rss.xml"},
}
_READ = re.compile(r"""options(?:\.get\(|\[|,)\s*["']([a-z_]+)["']""")  # also _int_option(name, options, "key")
_LOGIN = re.compile(r"""login_from_env\(\s*self,\s*["']([a-z_]+)["'],\s*["']([a-z_]+)["']""")


def _config(kind: str, **options):
    return config_from_mapping({"sources": [{"name": "s1", "kind": kind, **VALID[kind], **options}]},
                               "sources.toml")


def test_every_kind_has_a_valid_example():
    assert set(VALID) == set(KINDS)


@pytest.mark.parametrize("path", ["deploy/sources.example.toml", "flows/demo/sources.toml"])
def test_shipped_sources_files_load(path):
    cfg = load_config(ROOT / path)
    assert cfg.enabled_sources


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_options_map_names_to_types(kind):
    declared = module_for(kind).Source.OPTIONS
    assert declared
    for name, want in declared.items():
        assert re.fullmatch(r"[a-z][a-z_]*", name)
        for t in want if isinstance(want, tuple) else (want,):
            assert t in (str, int, float, bool, list, dict), (name, t)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_options_list_exactly_what_the_connector_reads(kind):
    module = module_for(kind)
    source = inspect.getsource(module.Source)
    read = set(_READ.findall(source))
    for pair in _LOGIN.findall(source):
        read |= set(pair)
    assert read == set(module.Source.OPTIONS)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_valid_options_load(kind):
    cfg = _config(kind)
    assert cfg.sources[0].options == VALID[kind]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_misspelled_option_is_refused_with_the_known_options(kind):
    with pytest.raises(ConfigError) as err:
        _config(kind, max_page=3)
    msg = str(err.value)
    assert "\n" not in msg
    assert "source 's1'" in msg and f"({kind})" in msg
    assert "unknown option 'max_page'" in msg
    known = msg.split("known options: ", 1)[1].split(", ")
    assert known == sorted([*module_for(kind).Source.OPTIONS, "budget", "enabled", "kind", "name"])
    assert "max_pages" in known


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_wrong_type_is_named(kind):
    with pytest.raises(ConfigError, match=r"option 'max_pages' must be an integer, got '3'"):
        _config(kind, max_pages="3")


def test_integer_options_refuse_fractions_and_booleans():
    with pytest.raises(ConfigError, match=r"option 'limit' must be an integer, got 2\.5"):
        _config("reddit", limit=2.5)
    with pytest.raises(ConfigError, match=r"option 'max_articles' must be an integer, got True"):
        _config("rss", max_articles=True)


def test_boolean_option_refuses_a_string():
    with pytest.raises(ConfigError, match=r"option 'fetch_articles' must be true or false, got 'yes'"):
        _config("rss", fetch_articles="yes")


def test_secret_env_names_are_options_but_secrets_are_not():
    assert {"handle_env", "app_password_env"} <= set(module_for("bluesky").Source.OPTIONS)
    with pytest.raises(ConfigError, match="unknown option 'api_key'"):
        _config("youtube", api_key="AIza-not-here")



def test_example_sources_file_shows_alerts_and_runner_options():
    path = ROOT / "deploy" / "sources.example.toml"
    cfg = load_config(path)
    assert cfg.alerts == {"spreading_threshold": 3, "window": "1h"} and cfg.alert_window_s == 3600
    assert {"kind", "catch_up_days", "catch_up_max_posts"} <= set(cfg.runner)
    assert (cfg.catch_up_days, cfg.catch_up_max_posts) == (3.0, 2000)
    text = path.read_text(encoding="utf-8")
    for commented in ("# address = ", "# n_workers = "):  # the dask keys, shown but not in use
        assert commented in text
        line = next(line for line in text.splitlines() if line.startswith(commented))
        runner = {"kind": "dask", **tomllib.loads(line.lstrip("# ").split("#")[0])}
        assert config_from_mapping({"runner": runner, "sources": [{"name": "s", "kind": "telegram",
                                                                   "channel": "abc"}]}).runner == runner


def test_example_youtube_searches_stay_under_the_daily_quota():
    runs_a_day = 24 * 4  # ingest-and-detect every 15 minutes
    cfg = load_config(ROOT / "deploy" / "sources.example.toml")
    per_key: dict[str, int] = {}
    for src in cfg.enabled_sources:
        if src.kind == "youtube" and src.options.get("query"):
            pages = src.options.get("max_pages", 1)
            videos_calls = -(-pages * src.options.get("limit", 50) // 50)
            key = src.options["api_key_env"]
            per_key[key] = per_key.get(key, 0) + runs_a_day * (100 * pages + videos_calls)
    assert per_key == {"CLAIMWATCH_YOUTUBE_KEY": 9696}
    assert all(units <= 10_000 for units in per_key.values())
    disabled = [s.name for s in cfg.sources if s.kind == "youtube" and s.options.get("query") and not s.enabled]
    assert disabled == ["yt-khan-trump-urdu"]
