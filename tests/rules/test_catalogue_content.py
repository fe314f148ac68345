"""The shipped claim catalogue, the labelled evaluation set and the demo labels are well formed."""

import csv
import datetime as dt
import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CLAIMS_DIR = ROOT / "rules" / "claims"
LABELLED = ROOT / "tests" / "rules" / "data" / "labelled_posts.jsonl"
EXPECTED = ROOT / "flows" / "demo" / "expected_labels.csv"

REQUIRED_FIELDS = {
    "claim_id", "status", "title", "text", "variants", "verdict", "media_category",
    "required_entities", "known_media", "fact_checks", "debunk_note", "region",
}
STATUSES = {"active", "imported", "retired"}
MEDIA_CATEGORIES = {
    None, "OriginalMediaContent", "TransformedContent", "EditedOrCroppedContent",
    "AuthenticMediaContent", "DecontextualizedContent", "StagedContent",
}
LABELS = {"likely_misinformation", "needs_review", "debunk", "no_flag"}
STANCES = {"spreads", "debunks", "mentions", "unclear"}
KINDS = {"spreads", "debunks", "mentions", "lookalike", "unrelated"}
URDU_SCRIPT = re.compile(r"[\u0600-\u06FF]")


def claim_files():
    return sorted(CLAIMS_DIR.glob("*.yaml"))


def load(path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def catalogue():
    return {load(p)["claim_id"]: load(p) for p in claim_files()}


def test_catalogue_has_the_trump_khan_claim_and_at_least_five_others():
    ids = set(catalogue())
    assert "trump-khan-release-clip" in ids
    assert len(ids - {"trump-khan-release-clip"}) >= 5


@pytest.mark.parametrize("path", claim_files(), ids=lambda p: p.stem)
def test_claim_file_has_every_required_field_with_the_right_type(path):
    claim = load(path)
    assert isinstance(claim, dict), f"{path.name} is not a mapping"
    missing = REQUIRED_FIELDS - claim.keys()
    assert not missing, f"{path.name} lacks {sorted(missing)}"
    assert claim["claim_id"] == path.stem
    assert re.fullmatch(r"[a-z0-9-]+", claim["claim_id"])
    assert claim["status"] in STATUSES
    for field in ("title", "text", "debunk_note"):
        assert isinstance(claim[field], str) and claim[field].strip(), field
    # an unquoted `false` in YAML turns into a boolean; verdicts must stay lower-case words
    assert isinstance(claim["verdict"], str) and claim["verdict"] == claim["verdict"].lower()
    assert claim["media_category"] in MEDIA_CATEGORIES
    assert isinstance(claim["variants"], list) and all(isinstance(v, str) and v for v in claim["variants"])
    assert claim["required_entities"], "at least one entity group"
    for group in claim["required_entities"]:
        assert isinstance(group, list) and group and all(isinstance(a, str) and a for a in group)
    assert isinstance(claim["known_media"], list)
    assert isinstance(claim["region"], list) and claim["region"]


@pytest.mark.parametrize("path", claim_files(), ids=lambda p: p.stem)
def test_active_claim_cites_at_least_one_fact_check_with_publisher_and_https_url(path):
    claim = load(path)
    if claim["status"] != "active":
        pytest.skip("only active claims must cite a fact-check")
    checks = claim["fact_checks"]
    assert isinstance(checks, list) and checks, f"{path.name} cites no fact-check"
    for check in checks:
        assert isinstance(check.get("publisher"), str) and check["publisher"].strip()
        assert re.match(r"https://[^\s/]+\.[^\s/]+/\S+$", check.get("url", "")), check
        assert check.get("date") is None or isinstance(check["date"], dt.date)
        assert isinstance(check.get("rating"), str) and check["rating"].strip()


def test_claim_ids_are_unique_across_files():
    ids = [load(p)["claim_id"] for p in claim_files()]
    assert len(ids) == len(set(ids))


def test_trump_khan_claim_has_variants_and_aliases_in_english_urdu_and_roman_urdu():
    claim = catalogue()["trump-khan-release-clip"]
    variants = claim["variants"]
    assert any(URDU_SCRIPT.search(v) for v in variants)
    assert any(re.search(r"\b(ne|ke|ko|kaha|rihai|rehaa)\b", v) for v in variants)
    assert claim["media_category"] == "EditedOrCroppedContent"
    trump, khan = claim["required_entities"]
    for group in (trump, khan):
        assert any(URDU_SCRIPT.search(a) for a in group)
        assert any(a.isascii() for a in group)


def labelled_rows():
    rows = []
    for number, line in enumerate(LABELLED.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            rows.append((number, json.loads(line)))
    return rows


def test_labelled_set_rows_are_complete_and_consistent():
    ids = set(catalogue())
    rows = labelled_rows()
    seen = set()
    for number, row in rows:
        where = f"line {number}"
        assert row["post_id"] not in seen, where
        seen.add(row["post_id"])
        assert isinstance(row["text"], str) and row["text"].strip(), where
        assert row["lang"] in {"en", "ur", "roman-ur"}, where
        assert row["kind"] in KINDS, where
        assert row["label"] in LABELS, where
        assert isinstance(row["links"], list), where
        if row["kind"] in {"lookalike", "unrelated"}:
            assert row["claim_id"] is None and row["stance"] is None and row["label"] == "no_flag", where
        else:
            assert row["claim_id"] in ids, where
            assert row["stance"] in STANCES, where
        if row["kind"] == "spreads":
            assert row["stance"] == "spreads" and row["label"] in {"likely_misinformation", "needs_review"}, where
        if row["kind"] == "debunks":
            assert row["stance"] == "debunks" and row["label"] == "debunk", where
        if row["kind"] == "mentions":
            assert row["stance"] in {"mentions", "unclear"}, where
            assert row["label"] in {"no_flag", "needs_review"}, where


def test_labelled_set_is_big_enough_and_covers_every_language_and_kind():
    rows = [row for _, row in labelled_rows()]
    assert len(rows) >= 200
    assert {row["lang"] for row in rows} == {"en", "ur", "roman-ur"}
    assert {row["kind"] for row in rows} >= {"spreads", "debunks", "mentions", "lookalike"}
    main = sum(row["claim_id"] == "trump-khan-release-clip" for row in rows)
    for claim_id in catalogue():
        assert sum(row["claim_id"] == claim_id for row in rows) <= main


def test_demo_expected_labels_name_known_claims_and_valid_labels():
    if not EXPECTED.exists():
        pytest.skip("no demo labels")
    ids = set(catalogue())
    with EXPECTED.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and list(rows[0].keys()) == ["url", "claim_id", "label", "stance", "note"]
    urls = [row["url"] for row in rows]
    assert len(urls) == len(set(urls))
    for row in rows:
        assert row["url"].startswith("http"), row
        assert row["label"] in LABELS, row
        if row["claim_id"]:
            assert row["claim_id"] in ids, row
            assert row["stance"] in STANCES, row
        else:
            assert row["stance"] == "" and row["label"] == "no_flag", row
