"""A short simulated history of scheduled runs (bench/bench_history.py has the 300-run one):
catching up ends and the file count stays bounded."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_history.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_history", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_each_post_is_matched_once_and_files_stay_bounded_over_many_runs(tmp_path):
    history = load_bench().simulate(tmp_path, runs=12, new=6, refetch=6, compact_files=3)
    # no stored post is matched again: every run matches its new posts only
    assert [h["caught_up"] for h in history] == [0] * 12
    assert all(h["new"] == 6 for h in history)
    # 12 runs in one day partition: compacted whenever a table passed 3 files
    assert max(max(h["files"].values()) for h in history) <= 3


def test_without_matched_posts_catching_up_never_ends(tmp_path):
    """What the history looked like before: posts no claim scores for are checked again each run."""
    history = load_bench().simulate(tmp_path, runs=5, new=6, refetch=0, compact_files=0, record_matched=False)
    caught_up = [h["caught_up"] for h in history]
    assert caught_up[0] == 0 and all(b > a for a, b in zip(caught_up, caught_up[1:])), caught_up
    assert history[-1]["files"]["posts"] == 5
