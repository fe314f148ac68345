"""The lab's measures, tie-break included, and the qrels reader."""

import polars as pl
import pytest

from rules.evaluate import QrelsError, evaluate, load_qrels


def test_ap_uses_all_relevant_and_ties_go_to_the_higher_id():
    ranked = pl.DataFrame({"post_id": ["p"] * 3, "claim_id": ["2", "10", "3"], "score": [5.0, 5.0, 1.0]})
    res = evaluate(ranked, {"p": {"2", "3"}, "q": {"1"}})
    # order: 10 (tie, higher id), 2, 3 -> AP@5 for p = (1/2 + 2/3) / 2; q missing counts 0
    assert res["MAP@5"] == pytest.approx(((1 / 2 + 2 / 3) / 2) / 2)
    assert res["MAP@1"] == 0.0
    assert res["MRR"] == pytest.approx((1 / 2) / 2)
    assert res["Recall@5"] == pytest.approx(0.5)


def test_qrels_reader_accepts_header_two_and_four_columns_and_refuses_junk(tmp_path):
    p = tmp_path / "q.tsv"
    p.write_text("post_id\tclaim_id\n1\t394\n2\t670\n")
    assert load_qrels(p) == {"1": {"394"}, "2": {"670"}}
    p.write_text("1 0 394 1\n1 0 5 0\n")
    assert load_qrels(p) == {"1": {"394"}}
    p.write_text("a\tb\tc\n")
    with pytest.raises(QrelsError, match=r"q\.tsv:1"):
        load_qrels(p)
    with pytest.raises(QrelsError, match="no such qrels"):
        load_qrels(tmp_path / "missing.tsv")
