"""Catalogue loading: validation errors name file, claim and field; ids are unique; status edits."""

import json

import pytest
import yaml

from rules.catalogue import CatalogueError, find_claim_file, load_catalogue, load_jsonl, set_status
from rules.schema import CLAIMS_SCHEMA

GOOD = {
    "claim_id": "abc", "status": "active", "title": "T", "text": "Trump frees Khan", "variants": ["v"],
    "verdict": "False", "media_category": None, "required_entities": [["trump"], ["imran khan", "ik"]],
    "known_media": ["https://youtu.be/dQw4w9WgXcQ"], "debunk_note": "n", "region": ["PK"],
    "fact_checks": [{"publisher": "P", "url": "https://example.org/fc", "date": "2024-11-20", "rating": "False"}],
}


def write(d, name, obj):
    p = d / name
    p.write_text(yaml.safe_dump(obj, allow_unicode=True), encoding="utf-8")
    return p


def test_a_valid_folder_loads_with_imported_subfolder_and_a_frame_of_the_schema(tmp_path):
    write(tmp_path, "abc.yaml", GOOD)
    (tmp_path / "imported").mkdir()
    write(tmp_path / "imported", "def.yaml", {**GOOD, "claim_id": "def", "status": "imported", "fact_checks": []})
    cat = load_catalogue(tmp_path)
    assert len(cat) == 2
    frame = cat.frame()
    assert frame.schema == CLAIMS_SCHEMA
    row = frame.filter(frame["claim_id"] == "abc").row(0, named=True)
    assert row["known_media"] == ["youtube:dQw4w9WgXcQ"] and row["verdict"] == "false"
    assert row["fact_check_urls"] == ["https://example.org/fc"] and row["catalogue_version"] == cat.version


def test_bad_required_entities_names_file_claim_and_field(tmp_path):
    write(tmp_path, "x.yaml", {**GOOD, "required_entities": ["trump", "khan"]})
    with pytest.raises(CatalogueError, match=r"x\.yaml: claim 'abc': field 'required_entities': must be a list of groups; a group is a list of aliases or a mapping"):
        load_catalogue(tmp_path)


@pytest.mark.parametrize("field,value,message", [
    ("status", "draft", "field 'status'"), ("claim_id", "Bad Id", "field 'claim_id'"),
    ("known_media", ["not a url"], "field 'known_media'"), ("variants", "one", "field 'variants'"),
    ("fact_checks", [], "field 'fact_checks'"), ("required_entites", [], "field 'required_entites': unknown"),
])
def test_each_bad_field_is_named(tmp_path, field, value, message):
    write(tmp_path, "x.yaml", {**GOOD, field: value})
    with pytest.raises(CatalogueError, match=message) as exc:
        load_catalogue(tmp_path)
    assert "\n" not in str(exc.value)


def test_duplicate_ids_name_both_files(tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    write(tmp_path, "b.yaml", GOOD)
    with pytest.raises(CatalogueError, match=r"duplicate claim id 'abc' in .*a\.yaml and .*b\.yaml"):
        load_catalogue(tmp_path)


def test_broken_yaml_and_empty_folder_are_clear(tmp_path):
    with pytest.raises(CatalogueError, match="no claim files"):
        load_catalogue(tmp_path)
    (tmp_path / "x.yaml").write_text("claim_id: [unclosed", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"x\.yaml: not valid YAML"):
        load_catalogue(tmp_path)
    with pytest.raises(CatalogueError, match="no such catalogue"):
        load_catalogue(tmp_path / "missing")


def test_jsonl_import_with_extra_fields_and_a_claim_with_no_title(tmp_path):
    p = tmp_path / "c.jsonl"
    p.write_text(json.dumps({"claim_id": 1, "text": "one", "title": None}) + "\n\n"
                 + json.dumps({"claim_id": "2", "text": "two", "title": "Two", "publisher": "x"}) + "\n")
    cat = load_jsonl(p)
    assert [c.claim_id for c in cat] == ["1", "2"] and cat.get("1").title is None


def test_jsonl_bad_line_names_file_and_line(tmp_path):
    p = tmp_path / "c.jsonl"
    p.write_text(json.dumps({"claim_id": "1", "text": "one"}) + "\n{oops\n")
    with pytest.raises(CatalogueError, match=r"c\.jsonl:2: not valid JSON"):
        load_jsonl(p)
    p.write_text(json.dumps({"claim_id": "1"}) + "\n")
    with pytest.raises(CatalogueError, match=r"c\.jsonl:1: claim '1': field 'text'"):
        load_jsonl(p)


def test_version_is_stable_and_follows_content(tmp_path):
    write(tmp_path, "abc.yaml", GOOD)
    v1 = load_catalogue(tmp_path).version
    assert load_catalogue(tmp_path).version == v1
    write(tmp_path, "abc.yaml", {**GOOD, "text": "changed"})
    assert load_catalogue(tmp_path).version != v1


def test_set_status_changes_only_the_status_line_atomically(tmp_path):
    p = write(tmp_path, "abc.yaml", GOOD)
    original = p.read_text(encoding="utf-8")
    assert find_claim_file(tmp_path, "abc") == p
    set_status(tmp_path, "retired", claim_id="abc")
    after = p.read_text(encoding="utf-8")
    assert yaml.safe_load(after)["status"] == "retired"
    assert after.replace("status: retired", "status: active") == original
    assert not [f for f in tmp_path.iterdir() if f.name.endswith(".tmp")]
    with pytest.raises(CatalogueError, match="status must be one of"):
        set_status(p, "gone")
    with pytest.raises(CatalogueError, match="no claim file for 'nope'"):
        find_claim_file(tmp_path, "nope")


def test_the_shipped_catalogue_loads():
    cat = load_catalogue("rules/claims")
    assert "trump-khan-release-clip" in cat


def test_media_category_must_be_a_schema_org_media_review_term(tmp_path):
    write(tmp_path, "x.yaml", {**GOOD, "media_category": "EditedOrCropedContent"})
    with pytest.raises(CatalogueError) as err:
        load_catalogue(tmp_path)
    msg = str(err.value)
    assert msg.startswith(f"{tmp_path / 'x.yaml'}: claim 'abc': field 'media_category': must be one of ") or \
        "x.yaml: claim 'abc': field 'media_category': must be one of " in msg
    for term in ("DecontextualizedContent", "EditedOrCroppedContent", "OriginalMediaContent",
                 "SatireOrParodyContent", "StagedContent", "TransformedContent"):
        assert term in msg
    assert "'EditedOrCropedContent'" in msg and "\n" not in msg


def test_media_category_null_or_a_valid_term_loads(tmp_path):
    write(tmp_path, "a.yaml", {**GOOD, "media_category": None})
    write(tmp_path, "b.yaml", {**GOOD, "claim_id": "b", "media_category": "SatireOrParodyContent"})
    cat = load_catalogue(tmp_path)
    assert cat.get("abc").media_category is None and cat.get("b").media_category == "SatireOrParodyContent"


def test_media_category_in_a_jsonl_catalogue_names_the_line(tmp_path):
    p = tmp_path / "c.jsonl"
    p.write_text(json.dumps({"claim_id": "1", "text": "t", "media_category": "Fake"}) + "\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"c\.jsonl:1: claim '1': field 'media_category': must be one of"):
        load_jsonl(p)


def test_an_unquoted_yaml_verdict_false_reads_as_the_verdict_false(tmp_path):
    """YAML reads ``verdict: false`` as a boolean; a curator means the verdict ``false``."""
    from rules.catalogue import load_catalogue

    f = tmp_path / "t.yaml"
    f.write_text('claim_id: t\ntext: a claim here\nverdict: false\nfact_checks: [{url: "https://f.example/1"}]\n')
    assert load_catalogue(f).get("t").verdict == "false"
    f.write_text('claim_id: t\ntext: a claim here\nverdict: true\nstatus: imported\nfact_checks: [{url: "https://f.example/1"}]\n')
    assert load_catalogue(f).get("t").verdict == "true"
