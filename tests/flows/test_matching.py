"""The run's matcher: one per process and catalogue version, its index from the on-disk cache,
handed to match tasks as a small spec Prefect does not walk; phase timings in the summary."""

from __future__ import annotations

import dataclasses
import logging
import pickle

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from flows import execution, matching, steps
from flows.commands.run import format_summary
from flows.config import CLAIMS_DIR, load_config
from rules.catalogue import load_catalogue


@pytest.fixture
def fresh_matchers(monkeypatch):
    monkeypatch.setattr(matching, "_matchers", matching.OrderedDict())


def posts(*texts: str) -> pl.DataFrame:
    return pl.DataFrame({"post_id": [f"p{i}" for i in range(len(texts))], "text": list(texts)})


def test_the_index_cache_folder_comes_from_the_runner_table_then_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CLAIMWATCH_CACHE_DIR", str(tmp_path / "c"))
    assert matching.index_cache_dir({}) == tmp_path / "c" / "index"
    assert matching.index_cache_dir({"index_cache": str(tmp_path / "mine")}) == tmp_path / "mine"
    assert matching.index_cache_dir({"index_cache": ""}) is None
    monkeypatch.delenv("CLAIMWATCH_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert matching.index_cache_dir({}) == tmp_path / "xdg" / "claimwatch" / "index"


def test_a_sources_file_may_set_or_turn_off_the_index_cache(tmp_path):
    path = tmp_path / "sources.toml"
    path.write_text('[runner]\nindex_cache = ""\n\n[[sources]]\nname = "n"\nkind = "rss"\nurl = "https://example.org/f.xml"\n')
    assert load_config(path).runner["index_cache"] == ""
    path.write_text('[runner]\nindex_cache = 3\n\n[[sources]]\nname = "n"\nkind = "rss"\nurl = "https://example.org/f.xml"\n')
    with pytest.raises(Exception, match="index_cache"):
        load_config(path)


def test_the_spec_is_opaque_to_prefects_parameter_walk_and_pickles(tmp_path, fresh_matchers):
    from prefect.utilities.collections import visit_collection

    catalogue = load_catalogue(CLAIMS_DIR)
    spec = matching.MatcherSpec(catalogue, {"flag_threshold": 60}, tmp_path)
    assert not dataclasses.is_dataclass(spec)
    seen = []
    visit_collection(spec, lambda x: seen.append(x) or x, return_data=False)
    assert seen == [spec]  # the walk stops at the spec: no claim is visited
    again = pickle.loads(pickle.dumps(spec))
    assert again.key == spec.key and again.cache_dir == str(tmp_path)
    batch = posts("Trump promises to get Imran Khan out of jail, watch the video")
    assert_frame_equal(again.matcher().match(batch), spec.matcher().match(batch))
    assert again.matcher() is spec.matcher()  # one matcher per process and key


def test_each_process_builds_once_then_loads_the_cached_index(tmp_path, fresh_matchers, caplog):
    catalogue = load_catalogue(CLAIMS_DIR)
    said = []
    first = matching.matcher_for(matching.MatcherSpec(catalogue, {}, tmp_path), lambda m, level=0: said.append(m))
    assert said and said[0].startswith("claim index built")
    assert len(list(tmp_path.glob("index-*.cwidx"))) == 1
    matching._matchers.clear()  # as a new process (a later run, a Dask worker) would start
    second = matching.matcher_for(matching.MatcherSpec(catalogue, {}, tmp_path), lambda m, level=0: said.append(m))
    assert said[1].startswith("claim index loaded")
    batch = posts("Trump promises to get Imran Khan out of jail, watch the video", "weather in lahore")
    assert_frame_equal(first.match(batch), second.match(batch), check_exact=True)


def test_only_the_latest_matchers_stay_in_memory(tmp_path, fresh_matchers):
    catalogue = load_catalogue(CLAIMS_DIR)
    for threshold in (50, 60, 70):
        matching.matcher_for(matching.MatcherSpec(catalogue, {"flag_threshold": threshold}, None), lambda m, level=0: None)
    assert len(matching._matchers) == matching.KEEP_MATCHERS


def test_between_rounds_the_per_word_caches_are_emptied_and_answers_stay(tmp_path, fresh_matchers):
    from rules.caches import cache_sizes

    catalogue = load_catalogue(CLAIMS_DIR)
    batch = posts("Trump promises to get Imran Khan out of Adiala jail, watch the video",
                  "Trump ne kaha Imran Kahn ki rihai ke liye kaam karenge", "weather in lahore")
    for cache_dir in (None, tmp_path):  # index cache off: the matcher stays, emptied; on: it goes
        spec = matching.MatcherSpec(catalogue, {}, cache_dir)
        m = spec.matcher(lambda msg, level=0: None)
        before = m.match(batch)
        assert any(cache_sizes(m).values())
        matching.release(spec)
        # a forgotten matcher goes with its own caches; the module-wide ones are emptied
        left = cache_sizes(m) if cache_dir is None else cache_sizes()
        assert not any(left.values()), left
        assert (spec.matcher(lambda msg, level=0: None) is m) == (cache_dir is None)
        assert_frame_equal(spec.matcher().match(batch), before)


def test_malloc_arenas_are_limited_unless_the_environment_says(monkeypatch):
    import ctypes

    calls = []

    class Libc:
        def mallopt(self, param, value):
            calls.append((param, value))
            return 1

    monkeypatch.setattr(ctypes, "CDLL", lambda name: Libc())
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert matching.limit_malloc_arenas() is True and calls == [(-8, matching.MALLOC_ARENAS)]
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")  # the operator's choice stands (glibc read it at start)
    assert matching.limit_malloc_arenas() is False and len(calls) == 1
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    monkeypatch.setattr(ctypes, "CDLL", lambda name: object())  # not glibc: no mallopt
    assert matching.limit_malloc_arenas() is False


def test_a_run_records_seconds_per_phase_and_the_second_run_loads_the_index(tmp_path, monkeypatch, fresh_matchers):
    monkeypatch.setattr(execution, "event", lambda **kw: None)
    monkeypatch.setenv("CLAIMWATCH_CACHE_DIR", str(tmp_path / "cache"))
    lines = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    log = logging.getLogger("claimwatch.progress")
    monkeypatch.setattr(log, "disabled", False)  # Prefect's logging setup in an earlier test may disable it
    old_level = log.level
    log.setLevel(logging.INFO)  # setLevel, not the attribute: it also clears the logger's isEnabledFor cache
    log.addHandler(handler)
    try:
        with execution.use(execution.LocalExecutor()):
            first = steps.ingest_and_detect(data_dir=str(tmp_path / "a"), demo=True)
        matching._matchers.clear()
        with execution.use(execution.LocalExecutor()):
            second = steps.ingest_and_detect(data_dir=str(tmp_path / "b"), demo=True)
    finally:
        log.removeHandler(handler)
        log.setLevel(old_level)
    assert [line.split(" (")[0] for line in lines if line.startswith("claim index")] == [
        "claim index built", "claim index loaded"]
    for summary in (first, second):
        assert list(summary["phases"]) == ["setup", "fetch", "store", "media", "match", "report"]
        assert all(s >= 0 for s in summary["phases"].values())
        assert sum(summary["phases"].values()) == pytest.approx(summary["duration_s"], abs=1.0)
        assert summary["posts_matched"] == summary["posts_new"] == 27
        assert "time: setup " in format_summary(summary) and "(27 posts, " in format_summary(summary)
        assert "; cpu: setup " in format_summary(summary) and list(summary["phases_cpu"]) == list(summary["phases"])
    read = lambda d: pl.read_parquet(f"{d}/matches/**/*.parquet").drop("run_id", "flagged_at").sort("post_id", "claim_id")  # noqa: E731
    assert_frame_equal(read(tmp_path / "a"), read(tmp_path / "b"))


def test_a_run_reads_back_and_matches_its_posts_a_round_of_match_rows_at_a_time(tmp_path, monkeypatch):
    from flows.config import PipelineConfig

    monkeypatch.setattr(execution, "event", lambda **kw: None)
    with execution.use(execution.LocalExecutor()):
        whole = steps.ingest_and_detect(data_dir=str(tmp_path / "a"), demo=True)
    rounds, real = [], steps.run_posts

    def spy(store, run_id, ids, columns=None):
        out = real(store, run_id, ids, columns)
        if columns is None:  # a round of whole posts (the media step reads a few columns of all)
            rounds.append(out.height)
        return out

    monkeypatch.setattr(steps, "run_posts", spy)
    released, real_release = [], matching.release
    monkeypatch.setattr(matching, "release", lambda spec: released.append(spec.key) or real_release(spec))
    monkeypatch.setattr(PipelineConfig, "match_rows", property(lambda self: 10))
    with execution.use(execution.LocalExecutor()):
        split = steps.ingest_and_detect(data_dir=str(tmp_path / "b"), demo=True)
    assert rounds == [10, 10, 7]  # never the run's 27 new posts at once
    assert len(released) == 2  # the matcher's per-word caches are dropped between rounds
    assert split["posts_matched"] == whole["posts_matched"] == 27
    assert split["matches_new"] == whole["matches_new"] > 0 and split["flags"] == whole["flags"]
    # each round's rows are written before the next round is read: one part file per round
    assert len(list((tmp_path / "b" / "matched_posts").rglob("*.parquet"))) == 3
    read = lambda d, t: pl.read_parquet(f"{d}/{t}/**/*.parquet").drop("run_id", "flagged_at", "matched_at", strict=False)  # noqa: E731
    for table, key in (("matches", ["post_id", "claim_id"]), ("matched_posts", ["post_id"])):
        assert_frame_equal(read(tmp_path / "a", table).sort(key), read(tmp_path / "b", table).sort(key))
    assert read(tmp_path / "b", "matched_posts").height == 27
