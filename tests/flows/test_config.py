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
