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


def claim_problems(claim, stem):
    """Everything wrong with one parsed claim file, as short messages (empty when it is fine)."""
    if not isinstance(claim, dict):
        return ["not a mapping"]
    problems = [f"missing field {f!r}" for f in sorted(REQUIRED_FIELDS - claim.keys())]
    if problems:
        return problems
    if claim["claim_id"] != stem or not re.fullmatch(r"[a-z0-9-]+", str(claim["claim_id"])):
        problems.append("claim_id must be [a-z0-9-]+ and equal the file name")
    if claim["status"] not in STATUSES:
        problems.append("status")
    for f in ("title", "text", "debunk_note"):
        if not (isinstance(claim[f], str) and claim[f].strip()):
            problems.append(f"{f} must be text")
    # an unquoted `false` in YAML becomes a boolean; verdicts must stay lower-case words
    if not (isinstance(claim["verdict"], str) and claim["verdict"] == claim["verdict"].lower()):
        problems.append("verdict must be a lower-case string")
    if claim["media_category"] not in MEDIA_CATEGORIES:
        problems.append("media_category")
    if not (isinstance(claim["variants"], list) and all(isinstance(v, str) and v for v in claim["variants"])):
        problems.append("variants must be a list of strings")
    groups = claim["required_entities"]

    def str_list(v):
        return isinstance(v, list) and v and all(isinstance(a, str) and a for a in v)

    def good_group(g):  # a list of aliases, or names / with_context (+ context) / exclude lists
        if isinstance(g, dict):
            return (set(g) <= {"names", "with_context", "context", "exclude"} and (g.get("names") or g.get("with_context"))
                    and all(str_list(v) for v in g.values()) and (not g.get("with_context") or g.get("context")))
        return str_list(g)

    if not (isinstance(groups, list) and groups and all(good_group(g) for g in groups)):
        problems.append("required_entities must be a non-empty list of alias lists or names/with_context/context mappings")
    if not isinstance(claim["known_media"], list):
        problems.append("known_media must be a list")
    if not (isinstance(claim["region"], list) and claim["region"]):
        problems.append("region must be a non-empty list")
    checks = claim["fact_checks"]
    if claim["status"] == "active" and not (isinstance(checks, list) and checks):
        problems.append("an active claim must cite at least one fact-check")
    for check in checks if isinstance(checks, list) else []:
        if not (isinstance(check, dict) and isinstance(check.get("publisher"), str) and check["publisher"].strip()):
            problems.append("fact-check without publisher")
            continue
        if not re.match(r"https://[^\s/]+\.[^\s/]+/\S+$", str(check.get("url", ""))):
            problems.append(f"fact-check url {check.get('url')!r} is not an https page address")
        if not (check.get("date") is None or isinstance(check["date"], dt.date)):
            problems.append("fact-check date must be YYYY-MM-DD or null")
        if not (isinstance(check.get("rating"), str) and check["rating"].strip()):
            problems.append("fact-check rating must be text")
    return problems


@pytest.mark.parametrize("path", claim_files(), ids=lambda p: p.stem)
def test_claim_file_has_every_required_field_and_cites_a_fact_check(path):
    assert claim_problems(load(path), path.stem) == []


def good_claim():
    return load(CLAIMS_DIR / "trump-khan-release-clip.yaml")


@pytest.mark.parametrize("change, problem", [
    (lambda c: c.pop("debunk_note"), "missing field 'debunk_note'"),
    (lambda c: c.update(verdict=False), "verdict must be a lower-case string"),
    (lambda c: c.update(fact_checks=[]), "an active claim must cite at least one fact-check"),
    (lambda c: c["fact_checks"][0].update(url="dawn.com/news/1870474"),
     "fact-check url 'dawn.com/news/1870474' is not an https page address"),
    (lambda c: c["fact_checks"][0].update(date="6 Nov 2024"), "fact-check date must be YYYY-MM-DD or null"),
    (lambda c: c.update(required_entities=["trump", "khan"]),
     "required_entities must be a non-empty list of alias lists or names/with_context/context mappings"),
    (lambda c: c.update(claim_id="Trump_Khan"), "claim_id must be [a-z0-9-]+ and equal the file name"),
])
def test_claim_check_reports_each_kind_of_bad_file(change, problem):
    claim = good_claim()
    change(claim)
    assert problem in claim_problems(claim, "trump-khan-release-clip")


def test_retired_claim_may_drop_its_fact_checks_but_active_may_not():
    claim = good_claim()
    claim.update(status="retired", fact_checks=[])
    assert claim_problems(claim, "trump-khan-release-clip") == []


def test_unquoted_false_verdict_in_yaml_is_caught():
    text = (CLAIMS_DIR / "faisal-mosque-drone-attack.yaml").read_text(encoding="utf-8")
    broken = yaml.safe_load(text.replace('verdict: "false"', "verdict: false"))
    assert "verdict must be a lower-case string" in claim_problems(broken, "faisal-mosque-drone-attack")


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
        names = group["names"] if isinstance(group, dict) else group
        assert any(URDU_SCRIPT.search(a) for a in names)
        assert any(a.isascii() for a in names)
    # "Khan" alone is not Imran Khan: the surname needs PTI, jail or release context
    assert "khan" in khan["with_context"] and "khan" not in khan["names"] and "pti" in khan["context"]


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
