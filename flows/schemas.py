"""JSON Schemas of the sources file and of a claim file, for editors.

They are generated from the same pydantic models that validate the files when they are loaded
(:mod:`flows.config`, :mod:`rules.config`, :mod:`rules.catalogue`), so an editor flags what
``claimwatch run`` would refuse: unknown keys, wrong types, values outside a list or range.
Checks that need more than one file or the network (duplicate claim ids, a connector's URL
rules, environment variables) stay with the loaders.

``claimwatch schema sources|catalogue`` prints them; the copies under ``docs/schema/`` are the
published ones (a test keeps them equal to the generated ones).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import ConfigDict, Field, create_model

# draft-07: what taplo (Even Better TOML) and yaml-language-server read best; "$defs" is reached
# through plain JSON pointers ("#/$defs/..."), which every draft resolves
DRAFT = "http://json-schema.org/draft-07/schema#"
SCHEMA_DIR = Path(__file__).resolve().parent.parent / "docs" / "schema"
FILES = {"sources": "sources.schema.json", "catalogue": "claim.schema.json"}


def sources_model() -> Any:
    """The whole sources file as one pydantic model (tables as in :mod:`flows.config`)."""
    from connectors.registry import KINDS
    from flows.config import alerts_model, media_model, runner_model, settings_model, source_model
    from rules.config import matching_model

    kinds = [source_model(k) for k in sorted(KINDS)]
    source = Annotated[Union[tuple(kinds)], Field(discriminator="kind")]
    return create_model(
        "sources", __config__=ConfigDict(extra="forbid"),
        __doc__="A claimwatch sources file: what to fetch, how to match and when to alert.",
        settings=(settings_model(), Field(None, description="the HTTP client shared by every source")),
        matching=(matching_model(), Field(None, description="matching thresholds and knobs")),
        runner=(runner_model(), Field(None, description="how runs execute")),
        alerts=(alerts_model(), Field(None, description="when a claim counts as spreading")),
        media=(media_model(), Field(None, description="fetching and fingerprinting the posts' media")),
        sources=(list[source], Field(..., min_length=1, description="one [[sources]] table per source")),
    )


def sources_schema() -> dict[str, Any]:
    """The JSON Schema of a sources file (TOML; for taplo / Even Better TOML)."""
    schema = sources_model().model_json_schema()
    schema = _tidy(schema)
    _sources_by_kind(schema)
    return {**schema, "$schema": DRAFT, "title": "claimwatch sources file"}


def catalogue_schema() -> dict[str, Any]:
    """The JSON Schema of a claim file (YAML: one claim mapping, or a list of them)."""
    from rules.catalogue import claim_file_model

    claim = _tidy(claim_file_model().model_json_schema())
    defs = claim.pop("$defs", {})
    defs["claim"] = claim
    return {
        "$schema": DRAFT, "title": "claimwatch claim file",
        "description": "One claim of the claimwatch catalogue (rules/claims/<claim_id>.yaml), or a list of claims.",
        "anyOf": [{"$ref": "#/$defs/claim"}, {"type": "array", "items": {"$ref": "#/$defs/claim"}}],
        "$defs": defs,
    }


def schema_of(name: str) -> dict[str, Any]:
    if name == "sources":
        return sources_schema()
    if name == "catalogue":
        return catalogue_schema()
    raise ValueError(f"unknown schema {name!r}; use one of: {', '.join(FILES)}")


def render(schema: dict[str, Any]) -> str:
    """The text written to ``docs/schema/`` (stable: sorted keys, two-space indent, final newline)."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _tidy(node: Any) -> Any:
    """Drop pydantic's generated property titles ("Flag Threshold": an editor shows the key
    itself) and ``default: null`` (a key left out takes the program's default; TOML has no
    null), and write docstring markup (``x``, :class:`a.B`) as plain text."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                out[key] = {k: _tidy({kk: vv for kk, vv in v.items() if kk != "title"
                                      and not (kk == "default" and vv is None)}) for k, v in value.items()}
            elif key == "description" and isinstance(value, str):
                out[key] = _plain(value)
            else:
                out[key] = _tidy(value)
        return out
    if isinstance(node, list):
        return [_tidy(v) for v in node]
    return node


def _plain(text: str) -> str:
    text = re.sub(r":\w+:`~?(?:[\w.]+\.)?([\w]+)`", r"\1", text)
    return text.replace("``", "`")


def _sources_by_kind(schema: dict[str, Any]) -> None:
    """Replace the ``oneOf`` over source kinds with ``if kind == K then <K's options>``, so an
    editor names the unknown option or wrong type instead of "matches none of the kinds"."""
    items = schema["properties"]["sources"]["items"]
    refs = dict(items["discriminator"]["mapping"])
    schema["properties"]["sources"]["items"] = {
        "type": "object",
        "required": ["name", "kind"],
        "properties": {"kind": {"enum": sorted(refs), "description": "the connector that reads this source"}},
        "allOf": [{"if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]}, "then": {"$ref": ref}}
                  for kind, ref in sorted(refs.items())],
    }
