"""Ranking quality on the CheckThat! 2020 dev split (read from ../shared/data/checkthat2020;
skipped when that folder is absent). Goal MAP@5 >= 0.72."""

from pathlib import Path

import polars as pl
import pytest

from rules.catalogue import load_jsonl
from rules.evaluate import evaluate, load_qrels
from rules.match import Matcher

DATA = Path(__file__).resolve().parents[3] / "shared/data/checkthat2020"


@pytest.mark.slow
def test_dev_map_at_5():
    if not (DATA / "claims.jsonl").is_file():
        pytest.skip(f"CheckThat 2020 data not found at {DATA} (it is never copied into the repo)")
    m = Matcher(load_jsonl(DATA / "claims.jsonl"))
    posts = pl.read_ndjson(DATA / "dev/posts.jsonl", schema={"post_id": pl.String, "text": pl.String})
    res = evaluate(m.rank(posts, top_k=1000), load_qrels(DATA / "dev/qrels.tsv"))
    assert res["MAP@5"] >= 0.72, res
    assert res["Recall@10"] >= 0.90, res
