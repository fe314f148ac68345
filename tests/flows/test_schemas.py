"""The pydantic models that validate the sources file, [matching] and claim files; the JSON
Schemas published from them for editors; and the one-line messages of bad inputs."""

from __future__ import annotations

import dataclasses
import datetime
import json
import tomllib
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from connectors.errors import ConfigError
from connectors.http import HttpSettings
from connectors.registry import KINDS, module_for
from flows.cli import app
from flows.config import ALERT_KEYS, COMMON_SOURCE_KEYS, DEMO_SOURCES, RUNNER_KEYS, load_config, settings_model, source_model
from flows.schemas import FILES, SCHEMA_DIR, catalogue_schema, render, schema_of, sources_schema
from rules.catalogue import KNOWN_FIELDS, CatalogueError, load_catalogue
from rules.config import MatchConfig, matching_model
from rules.validation import model_from_dataclass

ROOT = Path(__file__).resolve().parents[2]
CLAIMS = ROOT / "rules" / "claims"
SOURCES_FILES = [DEMO_SOURCES, ROOT / "deploy" / "sources.example.toml"]

jsonschema = pytest.importorskip("jsonschema")


def _validator(name: str):
    schema = json.loads((SCHEMA_DIR / FILES[name]).read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def _as_editor_sees_it(value):
    """YAML dates as the strings a YAML 1.2 editor reads them as."""
    if isinstance(value, dict):
        return {k: _as_editor_sees_it(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_editor_sees_it(v) for v in value]
    return value.isoformat() if isinstance(value, datetime.date) else value


# ---------------------------------------------------------------- published schemas


@pytest.mark.parametrize("name", sorted(FILES))
def test_the_committed_schema_is_the_generated_one(name):
    committed = (SCHEMA_DIR / FILES[name]).read_text(encoding="utf-8")
    assert committed == render(schema_of(name)), (
        f"docs/schema/{FILES[name]} is out of date; run: claimwatch schema {name} --out docs/schema/{FILES[name]}")


@pytest.mark.parametrize("path", SOURCES_FILES, ids=lambda p: p.name)
def test_shipped_sources_files_validate_against_the_published_schema(path):
    errors = [e.message for e in _validator("sources").iter_errors(tomllib.loads(path.read_text(encoding="utf-8")))]
    assert errors == []
    assert path.read_text(encoding="utf-8").startswith("#:schema ")  # taplo / Even Better TOML finds it


def test_shipped_claims_validate_against_the_published_schema():
    validator = _validator("catalogue")
    files = sorted(CLAIMS.rglob("*.yaml"))
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert text.startswith("# yaml-language-server: $schema=../../docs/schema/claim.schema.json\n"), path
        assert (path.parent / "../../docs/schema/claim.schema.json").resolve() == SCHEMA_DIR / "claim.schema.json"
        errors = [e.message for e in validator.iter_errors(_as_editor_sees_it(yaml.safe_load(text)))]
        assert errors == [], path


BAD_SOURCES = [
    "[settings]\ntimeout = 'slow'\n",
    "[settings]\ntimout = 5\n",
    "[runner]\nkind = 'spark'\n",
    "[runner]\nbatch_size = 0\n",
    "[alerts]\nwindow = 'soon'\n",
    "[matching]\nflag_treshold = 70\n",
    "[matching]\nworkers = true\n",
    "[sourcs]\nx = 1\n",
    "[[sources]]\nname = 'b'\nkind = 'rss'\nurl = 'https://x.org/f'\nmax_item = 3\n",
    "[[sources]]\nname = 'b'\nkind = 'rss'\nurl = 'https://x.org/f'\nfetch_articles = 'yes'\n",
    "[[sources]]\nname = 'b'\nkind = 'myspace'\n",
    "[[sources]]\nkind = 'rss'\nurl = 'https://x.org/f'\n",
    "[[sources]]\nname = 'b'\nkind = 'rss'\nurl = 'https://x.org/f'\nbudget = 0\n",
]
GOOD_SOURCE = "[[sources]]\nname = 'a'\nkind = 'rss'\nurl = 'https://x.org/feed'\n"


@pytest.mark.parametrize("text", BAD_SOURCES)
def test_the_schema_refuses_what_the_loader_refuses(tmp_path, text):
    path = tmp_path / "sources.toml"
    path.write_text(GOOD_SOURCE + text, encoding="utf-8")
    with pytest.raises(ConfigError):
        load_config(path)
    assert list(_validator("sources").iter_errors(tomllib.loads(path.read_text(encoding="utf-8"))))


@pytest.mark.parametrize("change", [
    {"status": "draft"}, {"media_category": "EditedOrCropedContent"}, {"required_entities": ["trump"]},
    {"variants": "one"}, {"required_entites": [["x"]]}, {"fact_checks": [{"publisher": "AFP"}]},
    {"claim_id": "Bad Id"}, {"fact_checks": []},
])
def test_the_claim_schema_refuses_what_the_loader_refuses(tmp_path, change):
    claim = {"claim_id": "abc", "text": "t", "verdict": "false", "fact_checks": [{"url": "https://e.org/f"}], **change}
    (tmp_path / "abc.yaml").write_text(yaml.safe_dump(claim), encoding="utf-8")
    with pytest.raises(CatalogueError):
        load_catalogue(tmp_path)
    assert list(_validator("catalogue").iter_errors(claim))


def test_schema_command_prints_the_schema_and_refuses_an_unknown_name(tmp_path):
    res = CliRunner().invoke(app, ["schema", "sources"])
    assert res.exit_code == 0 and json.loads(res.stdout) == sources_schema()
    res = CliRunner().invoke(app, ["schema", "catalogue", "--out", str(tmp_path / "claim.json")])
    assert res.exit_code == 0 and json.loads((tmp_path / "claim.json").read_text()) == catalogue_schema()
    res = CliRunner().invoke(app, ["schema", "claims"])
    assert res.exit_code == 2 and "unknown schema 'claims'; use one of: sources, catalogue" in res.stderr


# ---------------------------------------------------------------- one source of truth


def test_models_follow_the_definitions_they_are_built_from():
    assert set(matching_model().model_fields) == {f.name for f in dataclasses.fields(MatchConfig)}
    http = {f.name for f in dataclasses.fields(HttpSettings)} - {"secrets"}
    assert set(settings_model().model_fields) == http | {"allow_private_links"}
    for kind in KINDS:
        assert set(source_model(kind).model_fields) == set(module_for(kind).Source.OPTIONS) | set(COMMON_SOURCE_KEYS)
    schema = sources_schema()["$defs"]
    assert set(schema["runner"]["properties"]) == set(RUNNER_KEYS)
    assert set(schema["alerts"]["properties"]) == set(ALERT_KEYS)
    assert set(catalogue_schema()["$defs"]["claim"]["properties"]) == KNOWN_FIELDS


def test_a_field_added_to_a_dataclass_is_validated_and_published():
    grown = dataclasses.make_dataclass("Grown", [("stance", str, dataclasses.field(default="model")),
                                                 ("media_distance", int, dataclasses.field(default=31))])
    model = model_from_dataclass(grown, name="matching")
    assert model.model_validate({"stance": "cues", "media_distance": 8}).media_distance == 8
    with pytest.raises(Exception, match="media_distance"):
        model.model_validate({"media_distance": "8"})
    assert model.model_json_schema()["properties"]["media_distance"]["type"] == "integer"


# ---------------------------------------------------------------- one-line messages


def error_of(tmp_path, text: str) -> str:
    path = tmp_path / "sources.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(f"{path}: ")
    return msg.removeprefix(f"{path}: ")


@pytest.mark.parametrize("text, expected", [
    # wrong type
    ("[settings]\ntimeout = 'slow'\n" + GOOD_SOURCE, "[settings]: option 'timeout' must be a number, got 'slow'"),
    ("[runner]\nbatch_size = 2.5\n" + GOOD_SOURCE, "[runner]: option 'batch_size' must be an integer, got 2.5"),
    (GOOD_SOURCE + "max_items = '50'\n", "source 'a' (rss): option 'max_items' must be an integer, got '50'"),
    # unknown key, with the nearest known one
    ("[settings]\ntimout = 5\n" + GOOD_SOURCE, "[settings]: unknown option 'timout' (did you mean 'timeout'?); use one of: "),
    (GOOD_SOURCE + "max_item = 5\n", "source 'a' (rss): unknown option 'max_item' (did you mean 'max_items'?); "
                                     "known options: budget, enabled, fetch_articles, kind, max_articles, max_items, "),
    ("[sourcs]\n" + GOOD_SOURCE, "unknown table 'sourcs' (did you mean [sources]?); use only: "),
    ("[matching]\nflag_treshold = 70\n" + GOOD_SOURCE,
     "[matching]: unknown key(s) flag_treshold (did you mean 'flag_threshold'?); known keys: candidates, "),
    # missing required key
    ("[[sources]]\nkind = 'rss'\nurl = 'https://x.org/f'\n", "source #1: option 'name' is missing or invalid"),
    ("[settings]\ntimeout = 5\n", "no [[sources]] configured; add at least one"),
    # bad enum value
    ("[runner]\nkind = 'dsak'\n" + GOOD_SOURCE, "[runner]: option 'kind' must be \"thread\" or \"dask\", got 'dsak' "
                                                "(did you mean 'dask'?)"),
    ("[[sources]]\nname = 'a'\nkind = 'rs'\n", "source 'a': option 'kind' is 'rs' (did you mean 'rss'?); use one of: "),
    ("[matching]\nmentions_label = 'review'\n" + GOOD_SOURCE, "[matching]: mentions_label must be needs_review or no_flag"),
    # bounds
    ("[runner]\nrun_budget = 0\n" + GOOD_SOURCE, "[runner]: option 'run_budget' must be a positive number of seconds, got 0"),
    ("[settings]\nretries = -1\n" + GOOD_SOURCE, "[settings]: option 'retries' must not be negative, got -1"),
])
def test_bad_sources_files_give_one_line(tmp_path, text, expected):
    assert error_of(tmp_path, text).startswith(expected)


def claim_error(tmp_path, **change) -> str:
    claim = {"claim_id": "abc", "text": "t", "verdict": "false", "fact_checks": [{"url": "https://e.org/f"}], **change}
    claim = {k: v for k, v in claim.items() if v is not ...}
    (tmp_path / "abc.yaml").write_text(yaml.safe_dump(claim), encoding="utf-8")
    with pytest.raises(CatalogueError) as info:
        load_catalogue(tmp_path)
    msg = str(info.value)
    assert "\n" not in msg
    return msg.split("abc.yaml: ", 1)[1]


@pytest.mark.parametrize("change, expected", [
    ({"variants": "one"}, "claim 'abc': field 'variants': must be a list of strings"),
    ({"variants": ["a", 3]}, "claim 'abc': field 'variants': item 2: must be a string, got 3"),
    ({"required_entites": [["x"]]}, "claim 'abc': field 'required_entites': unknown field; did you mean "
                                    "'required_entities'? (known: claim_id, "),
    ({"fact_checks": [{"publisher": "AFP"}]}, "claim 'abc': field 'fact_checks': item 1: url is missing"),
    ({"text": ..., "title": ...}, "claim 'abc': field 'text': missing or empty (a claim needs a text or a title)"),
    ({"status": "activ"}, "claim 'abc': field 'status': must be one of active, imported, retired or null "
                          "(got 'activ'); did you mean 'active'?"),
    ({"media_category": "EditedOrCropedContent"}, "claim 'abc': field 'media_category': must be one of "
     "DecontextualizedContent, EditedOrCroppedContent, OriginalMediaContent, SatireOrParodyContent, StagedContent, "
     "TransformedContent or null (got 'EditedOrCropedContent'); did you mean 'EditedOrCroppedContent'?"),
])
def test_bad_claim_files_give_one_line(tmp_path, change, expected):
    assert claim_error(tmp_path, **change).startswith(expected)


def test_text_written_as_a_number_still_loads(tmp_path):
    (tmp_path / "abc.yaml").write_text("claim_id: abc\ntitle: 2024\ntext: t\nverdict: 'false'\n"
                                       "fact_checks: [{url: 'https://e.org/f', date: 2024-05-01}]\n", encoding="utf-8")
    claim = load_catalogue(tmp_path).get("abc")
    assert claim.title == "2024" and claim.fact_checks[0]["date"] == "2024-05-01"
