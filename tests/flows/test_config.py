"""Sources file validation: every problem is one line naming the file, the source and the option."""

from __future__ import annotations

import pytest

from connectors.errors import ConfigError
from flows.config import DEMO_SOURCES, check_sources, load_config

GOOD = """
[settings]
user_agent = "claimwatch-test/0.1 (+mailto:desk@example.org)"
allow_private_links = true
timeout = 5

[matching]
flag_threshold = 70

[runner]
kind = "thread"
batch_size = 100

[alerts]
spreading_threshold = 2

[[sources]]
name = "masto"
kind = "mastodon"
instance = "https://mastodon.social"
hashtag = "ImranKhan"

[[sources]]
name = "off"
kind = "bluesky"
query = "x"
enabled = false
"""


def write(tmp_path, text):
    p = tmp_path / "sources.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_a_good_file_loads_with_its_tables(tmp_path):
    cfg = load_config(write(tmp_path, GOOD))
    assert [s.name for s in cfg.sources] == ["masto", "off"]
    assert [s.name for s in cfg.enabled_sources] == ["masto"]
    assert cfg.sources[0].options == {"instance": "https://mastodon.social", "hashtag": "ImranKhan"}
    assert cfg.matching == {"flag_threshold": 70}
    assert cfg.batch_size == 100 and cfg.spreading_threshold == 2
    http = cfg.http_settings()
    assert http.allow_private is True and http.timeout == 5
    assert http.user_agent.startswith("claimwatch-test")


def test_the_bundled_demo_sources_file_is_valid():
    cfg = load_config(DEMO_SOURCES)
    assert cfg.enabled_sources
    assert cfg.http_settings().allow_private is True
    check_sources(cfg)  # every connector accepts its options


def error_of(tmp_path, text) -> str:
    with pytest.raises(ConfigError) as info:
        cfg = load_config(write(tmp_path, text))
        check_sources(cfg)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(str(tmp_path / "sources.toml"))
    return msg


@pytest.mark.parametrize("text, expected", [
    ("[[sources]]\nname = 'a'\nkind = 'rss'\nurl = \n", "not valid TOML"),
    ("[[sources]]\nname = 'a'\nkind = 'myspace'\n", "source 'a': option 'kind' is 'myspace'; use one of:"),
    ("[[sources]]\nkind = 'rss'\nurl = 'https://x.org/feed'\n", "source #1: option 'name' is missing"),
    ("[[sources]]\nname = 'a'\nkind = 'rss'\nurl='https://x.org/f'\n[[sources]]\nname = 'a'\nkind = 'rss'\nurl='https://x.org/g'\n",
     "source 'a': option 'name' is used twice"),
    ("[[sources]]\nname = 'a'\nkind = 'rss'\nurl='https://x.org/f'\nenabled = 'yes'\n", "source 'a': option 'enabled' must be true or false"),
    ("[settings]\ntimeout = 'slow'\n[[sources]]\nname = 'a'\nkind = 'rss'\nurl='https://x.org/f'\n", "[settings]: option 'timeout' must be"),
    ("[settings]\nproxy = 'x'\n[[sources]]\nname = 'a'\nkind = 'rss'\nurl='https://x.org/f'\n", "[settings]: unknown option 'proxy'"),
    ("[runner]\nkind = 'spark'\n[[sources]]\nname = 'a'\nkind = 'rss'\nurl='https://x.org/f'\n", "[runner]: option 'kind' must be \"thread\" or \"dask\""),
    ("[alerts]\nspreading_threshold = 0\n[[sources]]\nname = 'a'\nkind = 'rss'\nurl='https://x.org/f'\n", "[alerts]: option 'spreading_threshold' must be at least 1"),
    ("[source]\nname = 'a'\n", "unknown table 'source'"),
    ("[settings]\ntimeout = 3\n", "no [[sources]] configured"),
    ("[[sources]]\nname = 'a'\nkind = 'rss'\nurl='https://x.org/f'\nenabled = false\n", "every source has enabled = false"),
    ("[[sources]]\nname = 'm'\nkind = 'mastodon'\nhashtag = 'x'\n", "source 'm'"),
])
def test_bad_files_give_one_line_naming_file_source_and_option(tmp_path, text, expected):
    assert expected in error_of(tmp_path, text)


def test_a_connector_option_error_names_the_option(tmp_path):
    msg = error_of(tmp_path, "[[sources]]\nname = 'm'\nkind = 'mastodon'\nhashtag = 'x'\n")
    assert "instance" in msg


def test_a_missing_file_says_so(tmp_path):
    with pytest.raises(ConfigError, match="sources file not found"):
        load_config(tmp_path / "nope.toml")


def test_the_runner_table_picks_the_task_runner(tmp_path):
    from prefect.task_runners import ThreadPoolTaskRunner
    from prefect_dask import DaskTaskRunner

    from flows.runners import task_runner_from_config

    assert isinstance(task_runner_from_config(load_config(write(tmp_path, GOOD))), ThreadPoolTaskRunner)
    assert isinstance(task_runner_from_config({}), ThreadPoolTaskRunner)
    dask = task_runner_from_config({"runner": {"kind": "dask", "address": "tcp://10.0.0.5:8786"}})
    assert isinstance(dask, DaskTaskRunner) and dask.address == "tcp://10.0.0.5:8786"
    local = task_runner_from_config({"kind": "dask", "n_workers": 3})
    assert local.cluster_kwargs["n_workers"] == 3 and local.address is None
    with pytest.raises(ValueError, match="thread"):
        task_runner_from_config({"kind": "spark"})


# ---------------------------------------------------------------- [matching] and [alerts]

RSS = "[[sources]]\nname = 'a'\nkind = 'rss'\nurl = 'https://x.org/f'\n"


@pytest.mark.parametrize("matching, expected", [
    ("flag_threshold = 500", "[matching]: flag_threshold must be a number from 0 to 100"),
    ("flag_treshold = 70", "[matching]: unknown key(s) flag_treshold"),
])
def test_a_bad_matching_table_is_refused_when_the_file_is_loaded(tmp_path, matching, expected):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, f"[matching]\n{matching}\n{RSS}"))  # no source is built, nothing fetched
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(f"{tmp_path / 'sources.toml'}: [matching]: ")
    assert expected in msg


def test_alert_window_and_catch_up_limits_have_documented_defaults(tmp_path):
    cfg = load_config(write(tmp_path, RSS))
    assert (cfg.alert_window, cfg.alert_window_s, cfg.spreading_threshold) == ("1h", 3600, 3)
    assert (cfg.catch_up_days, cfg.catch_up_max_posts) == (3.0, 2000)
    cfg = load_config(write(tmp_path, "[alerts]\nwindow = '90m'\n[runner]\ncatch_up_days = 1\ncatch_up_max_posts = 0\n" + RSS))
    assert cfg.alert_window_s == 5400 and cfg.catch_up_days == 1.0 and cfg.catch_up_max_posts == 0


@pytest.mark.parametrize("table, expected", [
    ("[alerts]\nwindow = 'soon'", "[alerts]: option 'window': 'soon' is not a duration"),
    ("[alerts]\nwindow = 60", "[alerts]: option 'window' must be a string"),
    ("[runner]\ncatch_up_days = 0", "[runner]: option 'catch_up_days' must be positive"),
    ("[runner]\ncatch_up_max_posts = -1", "[runner]: option 'catch_up_max_posts' must not be negative"),
])
def test_bad_alert_and_catch_up_options(tmp_path, table, expected):
    assert expected in error_of(tmp_path, f"{table}\n{RSS}")


# ---------------------------------------------------------------- connector OPTIONS


class Source:
    """A connector that declares its options (this test module is registered as kind 'fake')."""

    OPTIONS = {"query": str, "limit": int, "ratio": (int, float), "tags": list}

    def __init__(self, name, options, client):
        self.name, self.options = name, options


@pytest.fixture
def fake_kind(monkeypatch):
    from connectors import registry

    monkeypatch.setitem(registry.KINDS, "fake", __name__)


FAKE = "[[sources]]\nname = 'x'\nkind = 'fake'\n"


def test_declared_options_of_the_right_type_load(tmp_path, fake_kind):
    cfg = load_config(write(tmp_path, FAKE + "query = 'q'\nlimit = 5\nratio = 0.5\ntags = ['a']\nenabled = true\n"))
    assert cfg.sources[0].options == {"query": "q", "limit": 5, "ratio": 0.5, "tags": ["a"]}


@pytest.mark.parametrize("option, expected", [
    ("max_page = 3", "source 'x' (fake): unknown option 'max_page'; known options: budget, enabled, kind, limit, name, query, ratio, tags"),
    ("limit = '50'", "source 'x' (fake): option 'limit' must be an integer, got '50'"),
    ("limit = true", "source 'x' (fake): option 'limit' must be an integer, got True"),
    ("ratio = 'high'", "source 'x' (fake): option 'ratio' must be a number, got 'high'"),
    ("query = 3", "source 'x' (fake): option 'query' must be a string, got 3"),
])
def test_unknown_and_wrongly_typed_options_are_refused(tmp_path, fake_kind, option, expected):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, FAKE + option + "\n"))
    assert str(info.value) == f"{tmp_path / 'sources.toml'}: {expected}"


def test_a_connector_without_options_keeps_accepting_what_it_accepted(tmp_path, monkeypatch, fake_kind):
    monkeypatch.delattr(Source, "OPTIONS")
    cfg = load_config(write(tmp_path, FAKE + "max_page = 3\n"))
    assert cfg.sources[0].options == {"max_page": 3}
