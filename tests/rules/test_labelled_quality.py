"""Quality floors on the labelled posts (tests/rules/data/labelled_posts.jsonl) against the
shipped catalogue. Goal: precision >= 0.95 at recall >= 0.90, stance accuracy >= 0.90; the floors
below are what the matcher reaches today (see docs/matching.md). Every matches row counts: a
likely_misinformation row for a claim other than the post's gold claim is a false positive at any
rank."""

import json
from pathlib import Path

import pytest

from rules.catalogue import load_catalogue
from rules.evaluate import score_labelled
from rules.match import Matcher

ROOT = Path(__file__).resolve().parents[2]
LABELLED = ROOT / "tests/rules/data/labelled_posts.jsonl"


@pytest.fixture(scope="module")
def figures():
    if not LABELLED.is_file():
        pytest.skip(f"{LABELLED} not present")
    rows = [json.loads(line) for line in LABELLED.open(encoding="utf-8") if line.strip()]
    cat = load_catalogue(ROOT / "rules/claims")
    return score_labelled(Matcher(cat), rows, cat)


def test_likely_misinformation_is_precise(figures):
    assert figures["precision"] >= 0.95, figures
    assert figures["fp"] <= 3, figures


def test_likely_misinformation_recall_floor(figures):
    assert figures["recall"] >= 0.92, figures


def test_stance_accuracy(figures):
    assert figures["stance_accuracy"] >= 0.90, figures
    assert figures["stance_accuracy_matched"] >= 0.85, figures


# --- the frozen test part (tests/rules/data/posts_test.jsonl) -------------------------------------
# Floors just under what the shipped matcher reaches on it (docs/matching.md, "Train part and frozen
# test part": precision 0.878, recall 0.760, debunk recall 0.820, 3 of 134 true, look-alike or
# unrelated posts flagged), so a change that loses ground there fails here. The goals (precision
# 0.95, recall 0.88, debunk recall 0.85 per language, at most 2% flagged) are not met yet. Never
# tune on this file: it only checks.

TEST_PART = ROOT / "tests/rules/data/posts_test.jsonl"


@pytest.fixture(scope="module")
def test_part():
    from rules.evaluate import post_figures

    rows = [json.loads(line) for line in TEST_PART.open(encoding="utf-8") if line.strip()]
    return post_figures(Matcher(load_catalogue(ROOT / "rules/claims")), rows)


def test_the_frozen_test_part_keeps_its_figures(test_part):
    f = test_part["all"]
    assert f["flag_precision"] >= 0.85 and f["flag_recall"] >= 0.70, f
    assert f["debunk_recall"] >= 0.80, f
    assert f["flagged_true_or_unrelated"] <= 0.03 and f["flagged_true_news"] <= 0.02, f
    for lang in ("en", "ur", "roman-ur", "mixed"):
        assert test_part[lang]["debunk_recall"] >= 0.70, (lang, test_part[lang])
