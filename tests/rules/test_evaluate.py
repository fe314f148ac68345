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


class _FixedMatcher:
    def __init__(self, rows):
        self.rows = rows

    def match(self, posts):
        return pl.DataFrame(self.rows, schema={"post_id": pl.String, "claim_id": pl.String, "rank": pl.Int32,
                                               "label": pl.String, "stance": pl.String})


def test_score_labelled_counts_every_flagged_row_not_only_rank_1():
    from rules.catalogue import Catalogue
    from rules.evaluate import score_labelled

    posts = [
        {"post_id": "a", "text": "x", "label": "likely_misinformation", "claim_id": "c1"},
        {"post_id": "b", "text": "y", "label": "likely_misinformation", "claim_id": "c1"},
        {"post_id": "c", "text": "z", "label": "no_flag", "claim_id": None},
    ]
    matcher = _FixedMatcher([
        # a: gold claim flagged at rank 1 -> tp
        {"post_id": "a", "claim_id": "c1", "rank": 1, "label": "likely_misinformation", "stance": "spreads"},
        # b: rank 1 is only needs_review, the flag sits on another claim at rank 2 -> fp and fn
        {"post_id": "b", "claim_id": "c1", "rank": 1, "label": "needs_review", "stance": "spreads"},
        {"post_id": "b", "claim_id": "c2", "rank": 2, "label": "likely_misinformation", "stance": "spreads"},
        # c: a post that should not be flagged, flagged at rank 3 -> fp
        {"post_id": "c", "claim_id": "c1", "rank": 1, "label": "no_flag", "stance": "spreads"},
        {"post_id": "c", "claim_id": "c3", "rank": 3, "label": "likely_misinformation", "stance": "spreads"},
    ])
    res = score_labelled(matcher, posts, Catalogue([]))
    assert (res["tp"], res["fp"], res["fn"]) == (1, 2, 1)
    assert res["precision"] == pytest.approx(1 / 3) and res["recall"] == pytest.approx(1 / 2)
