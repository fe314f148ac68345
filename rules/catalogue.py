"""The claim catalogue: loading, validation, bulk import, version hash and status changes.

Format of one claim (``rules/claims/<claim_id>.yaml``, one claim per file; files under
``rules/claims/imported/`` are read too)::

    claim_id: trump-khan-release-clip     # [a-z0-9-]+, unique across the catalogue
    status: active                        # active | imported (awaits approval) | retired
    title: ...                            # headline, may be null
    text: ...                             # the claim as fact-checkers state it
    variants: [...]                       # paraphrases, Urdu script, Roman Urdu
    verdict: altered                      # a term of the verdict scale (rules.verdicts):
                                          # false | altered | misleading | missing-context flag;
                                          # mixture | unproven | satire review only;
                                          # mostly-true | true never flag
    media_category: EditedOrCroppedContent   # schema.org mediaAuthenticityCategory term, or null
    required_entities:                    # every group must be named in the post (rules.entities)
      - [trump, ٹرمپ]                     # a list: each alias names the entity on its own
      - names: [imran khan, عمران خان]     # or a mapping: names stand alone, ...
        with_context: [khan, ik, kaptaan] # ... a surname or one-word alias needs a context
        context: [pti, adiala, jail]      # word near it ("Khan" alone is not Imran Khan);
        exclude: [melania trump]          # no alias counts inside these phrases
    known_media:                          # URLs and ids (canonicalised on load), and
      - youtube:<id>                      # fingerprints of the clip, a thumbnail or a keyframe
      - https://...                       # (``claimwatch claims add-media`` writes them):
      - algorithm: pdq                    # pdq (256 bits, 64 hex digits) or phash (64 bits)
        kind: video                       # video | image
        source: clip.mp4                  # where the copy came from (file name or URL)
        sha256: ...                       # of that file (optional)
        added: 2026-12-03                 # optional
        duration_s: 22.4                  # optional
        hashes: [e271017837246aac..., ...]   # one hash per frame, hex
        frame_times: [0.0, 0.033, ...]    # seconds, one per hash (optional for an image)
        quality: [100, 96, ...]           # PDQ quality 0-100 per hash (optional: 100)
    fact_checks: [{publisher, url, date, rating}]             # >= 1 for an active claim
    debunk_note: ...
    region: [PK]
    true_statements:                      # true facts that look like the claim (counter-evidence):
      - ...                               # what really happened, who really said what; a post
                                          # matching one at least as well as the claim is not
                                          # flagged (any language; like variants, one per line)
    debunk_variants:                      # how a debunk may put it instead of restating the claim
      - ...                               # ("the video is from May 2024"), in other languages too;
                                          # a debunking post is matched to the claim through them

Large catalogues are imported from JSONL (:func:`load_jsonl`): one object per line with
``claim_id``, ``text``, ``title`` and optionally any of the fields above.

The keys and value types of a YAML claim are checked by a pydantic model (:func:`claim_file_model`,
built from :data:`KNOWN_FIELDS`, :data:`FILE_TYPES` and :class:`Claim`), which is also published
as a JSON Schema for editors (``claimwatch schema catalogue``, docs/schema/claim.schema.json).
Every problem raises :class:`CatalogueError` with one line naming the file (and line), the claim
and the field, e.g. ``rules/claims/x.yaml: claim 'abc': field 'required_entities': must be a list
of lists of strings``. Who raises it: the loaders here. What happens next: the CLI prints it and
exits 2; a flow run fails before fetching anything.

Status rules used by the matcher: ``retired`` claims are never matched; ``imported`` claims are
matched but never labelled ``likely_misinformation`` (at most ``needs_review``). An ``active``
claim in a YAML file needs a verdict; only a verdict meaning false, altered, misleading or out of
context lets its matches be flagged (see :mod:`rules.verdicts`). JSONL lines may give a
publisher's rating as ``verdict`` ("Mostly False", "Pants on Fire!"): it is read onto the scale,
and a rating that cannot be read is refused.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import tempfile
import types
import typing
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Iterable, Literal, Optional, Union

import polars as pl
import yaml
from pydantic import (BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, ValidationError, WithJsonSchema,
                      create_model)

from rules.entities import EntityGroup, part_name_problem
from rules.normalise import canonical_media, normalise
from rules.schema import CLAIMS_SCHEMA
from rules.validation import describe_type, describe_value, first_problem, plain_type
from rules.verdicts import SCALE, verdict_from_rating

STATUSES = ("active", "imported", "retired")
CLAIM_ID_RE = re.compile(r"^[a-z0-9-]+$")
JSONL_CLAIM_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")
KNOWN_FIELDS = {
    "claim_id", "status", "title", "text", "variants", "verdict", "media_category",
    "required_entities", "known_media", "fact_checks", "debunk_note", "region",
    "fact_check_urls", "notes", "tags", "language", "lang", "first_seen", "source", "true_statements",
    "debunk_variants",
}


# schema.org MediaReview mediaAuthenticityCategory (MediaManipulationRatingEnumeration members)
MEDIA_CATEGORIES = (
    "DecontextualizedContent", "EditedOrCroppedContent", "OriginalMediaContent", "SatireOrParodyContent",
    "StagedContent", "TransformedContent",
)


# A text field may be written as a number (``title: 2024``); it is read as a string.
_TEXT = Annotated[Union[StrictStr, StrictInt, StrictFloat], WithJsonSchema({"type": "string"})]


class FactCheck(BaseModel):
    """One fact check of the claim; further keys are kept as they are."""

    model_config = ConfigDict(extra="allow")
    publisher: Optional[_TEXT] = None
    url: StrictStr
    date: Optional[Union[_TEXT, datetime.date]] = Field(None, description="YYYY-MM-DD")
    rating: Optional[_TEXT] = Field(None, description="the fact-checker's own rating")


# How a key of a claim file is written, where that differs from the loaded Claim's field (a
# tuple is a list, a group of aliases a list...). Every other key in KNOWN_FIELDS is typed from
# Claim's annotations, so a field added to Claim and KNOWN_FIELDS is validated and published in
# the JSON Schema (``claimwatch schema catalogue``) as it is.
FILE_TYPES: dict[str, Any] = {
    "claim_id": Annotated[StrictStr, Field(pattern=CLAIM_ID_RE.pattern)],
    "status": Optional[Literal[STATUSES]],  # type: ignore[valid-type]
    "text": Optional[_TEXT],
    "media_category": Optional[Literal[MEDIA_CATEGORIES]],  # type: ignore[valid-type]
    # the groups' own rules (aliases that are part of a longer name, with_context needs context)
    # are the loader's; the schema describes both forms for editors
    "required_entities": Annotated[Optional[list[Any]], WithJsonSchema({"anyOf": [{"type": "null"}, {
        "type": "array", "items": {"anyOf": [
            {"type": "array", "items": {"type": "string"}, "minItems": 1},
            {"type": "object", "additionalProperties": False, "minProperties": 1, "properties": {
                k: {"type": "array", "items": {"type": "string"}} for k in ("names", "with_context", "context", "exclude")}},
        ]}}]})],
    # a term of rules.verdicts.SCALE; the loader also reads a rating's capitals and says which term
    # a free rating reads as; YAML reads an unquoted false/true as a boolean, which means the term
    "verdict": Annotated[Optional[Union[_TEXT, StrictBool]],
                         WithJsonSchema({"anyOf": [{"enum": list(SCALE)}, {"type": "boolean"}, {"type": "null"}]})],
    # "known_media": set below MediaFingerprint
    "fact_checks": Optional[list[FactCheck]],
    "region": Optional[Union[StrictStr, list[StrictStr]]],
    "fact_check_urls": Optional[list[StrictStr]],
}
FILE_DOCS = {
    "claim_id": "unique across the catalogue: lower-case letters, digits and '-'",
    "status": "active (matched and flagged) | imported (awaits approval: never flagged) | retired (never matched)",
    "text": "the claim as fact-checkers state it (a claim needs a text or a title)",
    "title": "headline",
    "variants": "paraphrases, other languages and scripts",
    "verdict": "the fact-checkers' verdict on the scale: false, altered, misleading, missing-context (flag); mixture, unproven, satire (review only); mostly-true, true (never flag)",
    "media_category": "schema.org MediaReview mediaAuthenticityCategory term",
    "required_entities": "groups: every group must be named in a post; a group is a list of aliases or a mapping with names, with_context, context and exclude",
    "true_statements": "true facts that look like the claim (counter-evidence)",
    "debunk_variants": "how a debunk may put it instead of restating the claim",
    "known_media": "URLs and youtube:<11-char id> of the clip and its re-uploads, and fingerprints of known copies",
    "fact_checks": "the fact checks (an active claim needs at least one with a url)",
    "debunk_note": "what really happened, for analysts",
    "region": "country codes, e.g. [PK]",
    "fact_check_urls": "more fact-check URLs (added to fact_checks)",
}


def _file_type(annotation: Any) -> Any:
    """Claim's annotation as the file writes it: text may be written as a number."""
    if annotation is str:
        return _TEXT
    if typing.get_origin(annotation) in (Union, types.UnionType) and set(typing.get_args(annotation)) == {str, type(None)}:
        return Optional[_TEXT]
    return plain_type(annotation)


@cache
def claim_file_model() -> type[BaseModel]:
    """The pydantic model of one claim in a YAML file: the keys of :data:`KNOWN_FIELDS`, typed by
    :data:`FILE_TYPES` or else from :class:`Claim`'s annotations; unknown keys are refused."""
    hints = typing.get_type_hints(Claim)
    fields: dict[str, Any] = {}
    for key in sorted(KNOWN_FIELDS, key=lambda k: (k not in _ORDER, _ORDER.index(k) if k in _ORDER else 0, k)):
        annotation = FILE_TYPES.get(key)
        if annotation is None:
            annotation = _file_type(hints[key]) if key in hints else Any
            if typing.get_origin(annotation) is list:
                annotation = Optional[annotation]
        default = ... if key == "claim_id" else None
        fields[key] = (annotation, Field(default, description=FILE_DOCS.get(key)))
    return create_model(
        "claim", __config__=ConfigDict(extra="forbid", json_schema_extra=_claim_schema_extra),
        __doc__="One claim of the claimwatch catalogue (rules/claims/<claim_id>.yaml).", **fields)


_ORDER = ["claim_id", "status", "title", "text", "variants", "verdict", "media_category", "required_entities",
          "known_media", "fact_checks", "debunk_note", "region"]


def _claim_schema_extra(schema: dict[str, Any]) -> None:
    # what the loader checks across keys, for editors: a text or a title; an active claim (the
    # default) has a fact check
    schema["anyOf"] = [{"required": ["text"]}, {"required": ["title"]}]
    schema["if"] = {"not": {"required": ["status"], "properties": {"status": {"enum": ["imported", "retired"]}}}}
    schema["then"] = {"anyOf": [{"required": ["fact_checks"], "properties": {"fact_checks": {"minItems": 1}}},
                                {"required": ["fact_check_urls"], "properties": {"fact_check_urls": {"minItems": 1}}}]}


def _check_file_shape(raw: dict[str, Any], bad: Any) -> None:
    """Keys and value types of one claim of a YAML file against :func:`claim_file_model`;
    raises ``bad(field, what)``."""
    model = claim_file_model()
    try:
        model.model_validate(raw)
    except ValidationError as exc:
        problem = first_problem(exc, model)
        top = str(problem.loc[0]) if problem.loc else problem.key
        if problem.unknown:
            known = ", ".join(sorted(KNOWN_FIELDS - {"notes", "tags", "language", "lang", "first_seen", "source"}))
            hint = f"; did you mean '{problem.suggestion}'?" if problem.suggestion else ""
            raise bad(top, f"unknown field{hint} (known: {known})") from None
        info = model.model_fields.get(top)
        if problem.kind == "literal_error" and len(problem.loc) == 1:
            choices = typing.get_args(_strip_optional(info.annotation)) if info else ()
            null = " or null" if info is not None and _is_optional(info.annotation) else ""
            hint = f"; did you mean '{problem.suggestion}'?" if problem.suggestion else ""
            raise bad(top, f"must be one of {', '.join(map(str, choices))}{null} (got '{problem.value}'){hint}") from None
        if problem.missing and len(problem.loc) > 1:
            raise bad(top, f"{_item_text(problem.loc[1:-1])}{problem.key} is missing")
        wanted = describe_type(_strip_optional(info.annotation)) if info else "valid"
        if len(problem.loc) == 2 and isinstance(problem.loc[1], int) and problem.kind.endswith("_type"):
            raise bad(top, f"must be {wanted} (item {problem.loc[1] + 1} is {describe_value(problem.value)})") from None
        if len(problem.loc) > 1 and problem.loc[1:] and problem.kind not in ("list_type", "dict_type", "model_type"):
            inner = _item_text(problem.loc[1:])
            if inner:
                raise bad(top, f"{inner}{problem.text}") from None
        wanted = describe_type(_strip_optional(info.annotation)) if info else "valid"
        raise bad(top, f"must be {wanted}") from None


def _item_text(loc: tuple[Any, ...]) -> str:
    parts = [f"item {p + 1}" if isinstance(p, int) else str(p) for p in loc]
    return ", ".join(parts) + ": " if parts else ""


def _strip_optional(annotation: Any) -> Any:
    if not _is_optional(annotation):
        return annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return args[0] if len(args) == 1 else Union[tuple(args)]


def _is_optional(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (Union, types.UnionType) and type(None) in typing.get_args(annotation)


class CatalogueError(ValueError):
    """A claim file or catalogue is malformed (raised by the loaders; the message is one line)."""


FINGERPRINT_KEYS = ("algorithm", "kind", "source", "sha256", "added", "duration_s", "hashes", "frame_times",
                    "quality", "regions", "note")
# regions of a frame that get a hash of their own (connectors.fingerprint.REGIONS)
FINGERPRINT_REGIONS = ("full", "band", "mirror", "band-mirror", "c5", "c10", "tl10", "tr10", "bl10", "br10",
                       "tl5", "tr5", "bl5", "br5")
HASH_BITS = {"pdq": 256, "phash": 64}
MAX_FINGERPRINT_FRAMES = 20_000


@dataclass(frozen=True)
class MediaFingerprint:
    """Perceptual hashes of one known copy of a claim's media (see the module docstring)."""

    algorithm: str
    kind: str
    hashes: tuple[str, ...]
    frame_times: tuple[float, ...]
    quality: tuple[int, ...]
    source: str | None = None
    sha256: str | None = None
    added: str | None = None
    duration_s: float | None = None
    note: str | None = None
    regions: tuple[str, ...] = ()  # one per hash; empty: every hash is of a whole frame

    def content(self) -> dict[str, Any]:
        out: dict[str, Any] = {"algorithm": self.algorithm, "kind": self.kind}
        for k in ("source", "sha256", "added", "duration_s", "note"):
            if getattr(self, k) is not None:
                out[k] = getattr(self, k)
        out.update(hashes=list(self.hashes), frame_times=list(self.frame_times), quality=list(self.quality))
        if self.regions:
            out["regions"] = list(self.regions)
        return out


def _fingerprint_schema() -> dict[str, Any]:
    from rules.validation import model_from_dataclass

    model = model_from_dataclass(
        MediaFingerprint, name="fingerprint", required=("algorithm", "kind", "hashes"),
        types_={"algorithm": Literal[tuple(HASH_BITS)], "kind": Literal["image", "video"],
                "regions": list[Literal[FINGERPRINT_REGIONS]]},  # type: ignore[misc]
        doc="Perceptual hashes of one known copy of the claim's media (claimwatch claims add-media writes them).")
    schema = model.model_json_schema()
    schema.pop("title", None)
    return schema


# the items' own rules (hash widths, one time and quality per hash) are the loader's
FILE_TYPES["known_media"] = Annotated[Optional[list[Any]], WithJsonSchema({"anyOf": [{"type": "null"}, {
    "type": "array", "items": {"anyOf": [{"type": "string", "description": "a URL or youtube:<11-char id>"},
                                         _fingerprint_schema()]}}]})]


def parse_fingerprint(raw: Any, what: str) -> MediaFingerprint:
    """A ``known_media`` mapping as a :class:`MediaFingerprint`; ValueError saying what is wrong
    (``what`` names the item, e.g. ``item 3``)."""
    if not isinstance(raw, dict):
        raise ValueError(f"{what}: must be a URL, youtube:<id> or a fingerprint mapping")
    unknown = sorted(set(raw) - set(FINGERPRINT_KEYS))
    if unknown:
        raise ValueError(f"{what}: unknown key '{unknown[0]}' (known: {', '.join(FINGERPRINT_KEYS)})")
    algorithm = raw.get("algorithm")
    if algorithm not in HASH_BITS:
        raise ValueError(f"{what}: algorithm must be one of {', '.join(HASH_BITS)} (got {algorithm!r})")
    kind = raw.get("kind")
    if kind not in ("image", "video"):
        raise ValueError(f"{what}: kind must be image or video (got {kind!r})")
    hashes = raw.get("hashes")
    if not isinstance(hashes, list) or not hashes:
        raise ValueError(f"{what}: hashes must be a non-empty list of hex strings")
    if len(hashes) > MAX_FINGERPRINT_FRAMES:
        raise ValueError(f"{what}: {len(hashes)} hashes; at most {MAX_FINGERPRINT_FRAMES} per copy")
    width = HASH_BITS[algorithm] // 4
    for i, h in enumerate(hashes, 1):
        if not isinstance(h, str) or len(h) != width or not re.fullmatch(r"[0-9a-fA-F]+", h):
            shown = h if not isinstance(h, str) or len(h) <= 20 else h[:20] + "..."
            got = f"{len(h)} characters" if isinstance(h, str) else type(h).__name__
            raise ValueError(f"{what}: hash {i} {shown!r} is malformed ({got}); a {algorithm} hash is "
                             f"{width} hex digits")
    regions = raw.get("regions")
    if regions is not None and (not isinstance(regions, list) or len(regions) != len(hashes)
                                or not all(r in FINGERPRINT_REGIONS for r in regions)):
        raise ValueError(f"{what}: regions must be one of {', '.join(FINGERPRINT_REGIONS)} per hash "
                         f"({len(hashes)} hashes)")
    if kind == "image" and len(hashes) != 1 and regions is None:
        raise ValueError(f"{what}: an image without regions has exactly one hash (got {len(hashes)})")
    times = raw.get("frame_times")
    if times is None:
        times = [0.0] * len(hashes) if kind == "image" else None
    if (not isinstance(times, list) or len(times) != len(hashes)
            or not all(isinstance(t, (int, float)) and not isinstance(t, bool) and t >= 0 for t in times)):
        raise ValueError(f"{what}: frame_times must be one number of seconds >= 0 per hash "
                         f"({len(hashes)} hashes)")
    quality = raw.get("quality")
    if quality is None:
        quality = [100] * len(hashes)
    if (not isinstance(quality, list) or len(quality) != len(hashes)
            or not all(isinstance(q, int) and not isinstance(q, bool) and 0 <= q <= 100 for q in quality)):
        raise ValueError(f"{what}: quality must be one integer 0-100 per hash ({len(hashes)} hashes)")
    sha = raw.get("sha256")
    if sha is not None and (not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha)):
        raise ValueError(f"{what}: sha256 must be 64 lower-case hex digits")
    duration = raw.get("duration_s")
    if duration is not None and (isinstance(duration, bool) or not isinstance(duration, (int, float)) or duration < 0):
        raise ValueError(f"{what}: duration_s must be a number of seconds")
    text = {}
    for k in ("source", "added", "note"):
        v = raw.get(k)
        if v is not None and not isinstance(v, (str, int, float)) and not hasattr(v, "isoformat"):
            raise ValueError(f"{what}: {k} must be a string")
        text[k] = None if v is None else (v.isoformat() if hasattr(v, "isoformat") else str(v))
    return MediaFingerprint(algorithm, kind, tuple(h.lower() for h in hashes), tuple(float(t) for t in times),
                            tuple(int(q) for q in quality), text["source"], sha,
                            text["added"], None if duration is None else float(duration), text["note"],
                            tuple(regions or ()))


@dataclass(frozen=True)
class Claim:
    """One validated claim."""

    claim_id: str
    text: str
    title: str | None = None
    status: str = "active"
    variants: tuple[str, ...] = ()
    verdict: str | None = None
    media_category: str | None = None
    required_entities: tuple[tuple[str, ...], ...] = ()  # every alias of each group (names, then with_context)
    # per group: (with_context aliases, context words, exclude phrases); ((), (), ()) for names only
    entity_context: tuple[tuple[tuple[str, ...], ...], ...] = ()
    known_media: tuple[str, ...] = ()
    fact_checks: tuple[dict[str, Any], ...] = ()
    debunk_note: str | None = None
    region: tuple[str, ...] = ()
    true_statements: tuple[str, ...] = ()
    debunk_variants: tuple[str, ...] = ()
    origin: str = ""
    fingerprints: tuple[MediaFingerprint, ...] = ()  # the fingerprint items of known_media

    @property
    def entity_groups(self) -> list[EntityGroup]:
        """The required entities as :class:`rules.entities.EntityGroup` objects."""
        out = []
        for i, g in enumerate(self.required_entities):
            weak, context, exclude = self.entity_context[i] if i < len(self.entity_context) else ((), (), ())
            out.append(EntityGroup(tuple(a for a in g if a not in weak), tuple(weak), tuple(context), tuple(exclude)))
        return out

    @property
    def fact_check_urls(self) -> list[str]:
        return [fc["url"] for fc in self.fact_checks if fc.get("url")]

    def content(self) -> dict[str, Any]:
        out = {
            "claim_id": self.claim_id, "text": self.text, "title": self.title, "status": self.status,
            "variants": list(self.variants), "verdict": self.verdict, "media_category": self.media_category,
            "required_entities": [list(g) for g in self.required_entities],
            "known_media": list(self.known_media) + [f.content() for f in self.fingerprints],
            "fact_checks": [dict(fc) for fc in self.fact_checks], "debunk_note": self.debunk_note,
            "region": list(self.region),
        }
        if self.true_statements:  # only when given, so catalogues without any keep their version
            out["true_statements"] = list(self.true_statements)
        if self.debunk_variants:
            out["debunk_variants"] = list(self.debunk_variants)
        if any(w or x for w, _, x in self.entity_context):
            out["required_entities"] = [
                {k: list(v) for k, v in (("names", g.names), ("with_context", g.with_context),
                                          ("context", g.context), ("exclude", g.exclude)) if v}
                if g.with_context or g.exclude else list(g.names) for g in self.entity_groups]
        return out


@dataclass
class Catalogue:
    """A validated set of claims with a stable content hash (:attr:`version`)."""

    claims: list[Claim]
    version: str = field(default="")
    sources: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.version:
            self.version = catalogue_version(self.claims)
        self._by_id = {c.claim_id: c for c in self.claims}

    def __len__(self) -> int:
        return len(self.claims)

    def __iter__(self):
        return iter(self.claims)

    def __contains__(self, claim_id: object) -> bool:
        return claim_id in self._by_id

    def get(self, claim_id: str) -> Claim:
        try:
            return self._by_id[claim_id]
        except KeyError:
            raise CatalogueError(f"no claim '{claim_id}' in the catalogue ({len(self.claims)} claims)") from None

    def frame(self) -> pl.DataFrame:
        """The claims as rows of :data:`rules.schema.CLAIMS_SCHEMA`."""
        rows = {
            "claim_id": [c.claim_id for c in self.claims],
            "text": [c.text for c in self.claims],
            "title": [c.title for c in self.claims],
            "variants": [list(c.variants) for c in self.claims],
            "verdict": [c.verdict for c in self.claims],
            "media_category": [c.media_category for c in self.claims],
            "required_entities": [[list(g) for g in c.required_entities] for c in self.claims],
            "known_media": [list(c.known_media) for c in self.claims],
            "fact_check_urls": [c.fact_check_urls for c in self.claims],
            "status": [c.status for c in self.claims],
            "catalogue_version": [self.version] * len(self.claims),
        }
        return pl.DataFrame(rows, schema=CLAIMS_SCHEMA)


def catalogue_version(claims: Iterable[Claim]) -> str:
    """A stable hash of the catalogue's content (order of files does not matter)."""
    h = hashlib.sha256()
    for c in sorted(claims, key=lambda c: c.claim_id):
        h.update(json.dumps(c.content(), sort_keys=True, ensure_ascii=False, default=str).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()[:16]


# ---------------------------------------------------------------- validation


def _is_str_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _claim_from_mapping(raw: Any, where: str, *, strict_id: bool, strict_fields: bool, default_status: str) -> Claim:
    if not isinstance(raw, dict):
        raise CatalogueError(f"{where}: a claim must be a mapping with claim_id, text, ... (got {type(raw).__name__})")
    cid = raw.get("claim_id")
    if isinstance(cid, int) and not isinstance(cid, bool) and not strict_id:
        cid = str(cid)
    if not isinstance(cid, str) or not cid.strip():
        raise CatalogueError(f"{where}: field 'claim_id': missing or not a string")
    cid = cid.strip()
    if strict_id and not CLAIM_ID_RE.match(cid):
        raise CatalogueError(f"{where}: claim '{cid}': field 'claim_id': must match [a-z0-9-]+")
    if not strict_id and not JSONL_CLAIM_ID_RE.match(cid):
        raise CatalogueError(f"{where}: claim '{cid}': field 'claim_id': letters, digits, '.', '_', ':', '/', '-' only")

    def bad(fname: str, what: str) -> CatalogueError:
        return CatalogueError(f"{where}: claim '{cid}': field '{fname}': {what}")

    if isinstance(raw.get("verdict"), bool):  # YAML reads an unquoted `verdict: false` as a boolean
        raw = {**raw, "verdict": "true" if raw["verdict"] else "false"}
    if strict_fields:
        _check_file_shape(raw, bad)

    def opt_str(fname: str) -> str | None:
        v = raw.get(fname)
        if v is None:
            return None
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            v = str(v)
        if not isinstance(v, str):
            raise bad(fname, "must be a string or null")
        v = v.strip()
        return v or None

    def str_list(fname: str) -> tuple[str, ...]:
        v = raw.get(fname)
        if v is None:
            return ()
        if isinstance(v, str) and fname == "region":
            v = [v]
        if not _is_str_list(v):
            raise bad(fname, "must be a list of strings")
        return tuple(x.strip() for x in v if x.strip())

    text = opt_str("text")
    title = opt_str("title")
    if text is None and title is None:
        raise bad("text", "missing or empty (a claim needs a text or a title)")
    status = opt_str("status") or default_status
    if status not in STATUSES:
        raise bad("status", f"must be one of {', '.join(STATUSES)} (got '{status}')")
    verdict = opt_str("verdict")
    if verdict is not None:
        term = verdict_from_rating(verdict)
        if strict_fields and verdict.lower() not in SCALE:
            hint = f"; the rating reads as '{term}'" if term else ""
            raise bad("verdict", f"must be one of {', '.join(SCALE)} (got '{verdict}'{hint})")
        if term is None:
            raise bad("verdict", f"'{verdict}' is not a rating this catalogue can read; use one of {', '.join(SCALE)}")
        verdict = term
    media_category = opt_str("media_category")
    if media_category is not None and media_category not in MEDIA_CATEGORIES:
        raise bad("media_category", f"must be one of {', '.join(MEDIA_CATEGORIES)} or null (got '{media_category}')")
    groups_raw = raw.get("required_entities")
    groups: list[tuple[str, ...]] = []
    contexts: list[tuple[tuple[str, ...], ...]] = []
    shape = ("must be a list of groups; a group is a list of aliases or a mapping with names, "
             "with_context, context and exclude (lists of strings)")
    if groups_raw is not None:
        if not isinstance(groups_raw, list):
            raise bad("required_entities", shape)
        for n, g in enumerate(groups_raw, 1):
            if isinstance(g, dict):
                unknown = sorted(set(g) - {"names", "with_context", "context", "exclude"})
                if unknown:
                    raise bad("required_entities",
                              f"group {n}: unknown key '{unknown[0]}' (known: names, with_context, context, exclude)")
                parts = []
                for key in ("names", "with_context", "context", "exclude"):
                    v = g.get(key) or []
                    if not _is_str_list(v):
                        raise bad("required_entities", f"group {n}: {key} must be a list of strings")
                    parts.append(tuple(dict.fromkeys(a.strip() for a in v if a.strip())))
                names, weak, context, exclude = parts
                if not names and not weak:
                    raise bad("required_entities", f"group {n}: needs names or with_context aliases")
                if weak and not context:
                    raise bad("required_entities", f"group {n}: with_context aliases need a context list")
            elif _is_str_list(g) and g:
                names, weak, context, exclude = tuple(dict.fromkeys(a.strip() for a in g if a.strip())), (), (), ()
                if not names:
                    raise bad("required_entities", shape)
            else:
                raise bad("required_entities", shape)
            problem = part_name_problem(names)
            if problem:
                raise bad("required_entities", f"group {n}: {problem}")
            groups.append(names + tuple(a for a in weak if a not in names))
            contexts.append((weak, context, exclude))
    media = []
    prints: list[MediaFingerprint] = []
    media_raw = raw.get("known_media")
    if media_raw is not None and not isinstance(media_raw, list):
        raise bad("known_media", "must be a list of URLs, youtube:<id> and fingerprint mappings")
    for n, m in enumerate(media_raw or [], 1):
        if isinstance(m, dict):
            try:
                prints.append(parse_fingerprint(m, f"item {n}"))
            except ValueError as exc:
                raise bad("known_media", str(exc)) from None
            continue
        if not isinstance(m, str):
            raise bad("known_media", f"item {n}: must be a URL, youtube:<id> or a fingerprint mapping")
        if not m.strip():
            continue
        key = canonical_media(m.strip())
        if key is None:
            raise bad("known_media", f"'{m.strip()}' is not a URL or youtube:<11-char id>")
        media.append(key)
    fcs_raw = raw.get("fact_checks")
    fcs: list[dict[str, Any]] = []
    if fcs_raw is not None:
        if not isinstance(fcs_raw, list):
            raise bad("fact_checks", "must be a list of mappings with publisher, url, date, rating")
        for i, fc in enumerate(fcs_raw):
            if not isinstance(fc, dict) or not isinstance(fc.get("url"), str) or not fc["url"].strip():
                raise bad("fact_checks", f"item {i + 1} must be a mapping with a 'url' string")
            fcs.append({k: (str(v) if v is not None and not isinstance(v, str) else v) for k, v in fc.items()})
    extra_urls = raw.get("fact_check_urls")
    if extra_urls is not None:
        if not _is_str_list(extra_urls):
            raise bad("fact_check_urls", "must be a list of strings")
        known = {fc["url"] for fc in fcs}
        fcs.extend({"url": u} for u in extra_urls if u not in known)
    if strict_fields and status == "active" and not fcs:
        raise bad("fact_checks", "an active claim needs at least one fact check with a url")
    if strict_fields and status == "active" and verdict is None:
        raise bad("verdict", f"an active claim needs a verdict: one of {', '.join(SCALE)}")
    true_statements = tuple(dict.fromkeys(str_list("true_statements")))
    if true_statements:
        own = {normalise(f) for f in (text, title, *str_list("variants")) if f}
        for t in true_statements:
            if normalise(t) in own:
                raise bad("true_statements", f"'{t[:60]}' is the claim itself (its text, title or a variant); "
                                             "list what is really true")
    return Claim(
        claim_id=cid, text=text or title or "", title=title, status=status, variants=str_list("variants"),
        verdict=verdict, media_category=media_category,
        required_entities=tuple(groups), entity_context=tuple(contexts) if any(w or x for w, _, x in contexts) else (),
        known_media=tuple(dict.fromkeys(media)), fact_checks=tuple(fcs),
        debunk_note=opt_str("debunk_note"), region=str_list("region"),
        true_statements=true_statements, debunk_variants=tuple(dict.fromkeys(str_list("debunk_variants"))),
        origin=where, fingerprints=tuple(prints),
    )


# ---------------------------------------------------------------- loaders


def _add(claims: dict[str, Claim], claim: Claim) -> None:
    prior = claims.get(claim.claim_id)
    if prior is not None:
        raise CatalogueError(
            f"duplicate claim id '{claim.claim_id}' in {prior.origin} and {claim.origin}; claim ids must be unique"
        )
    claims[claim.claim_id] = claim


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _read_yaml_file(path: Path, claims: dict[str, Claim]) -> None:
    where = _display(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogueError(f"{where}: cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        raise CatalogueError(f"{where}: not valid YAML{at}: {getattr(exc, 'problem', None) or exc}") from None
    items = data if isinstance(data, list) else [data]
    if data is None:
        raise CatalogueError(f"{where}: empty file; a claim file holds one claim mapping")
    for raw in items:
        claim = _claim_from_mapping(raw, where, strict_id=True, strict_fields=True, default_status="active")
        _add(claims, claim)


def _read_jsonl_file(path: Path, claims: dict[str, Claim], default_status: str) -> None:
    where = _display(path)
    try:
        fh = path.open("r", encoding="utf-8")
    except OSError as exc:
        raise CatalogueError(f"{where}: cannot read: {exc.strerror or exc}") from None
    with fh:
        try:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    raw = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise CatalogueError(f"{where}:{n}: not valid JSON ({exc.msg}); one claim object per line") from None
                claim = _claim_from_mapping(raw, f"{where}:{n}", strict_id=False, strict_fields=False,
                                            default_status=default_status)
                _add(claims, claim)
        except UnicodeDecodeError:
            raise CatalogueError(f"{where}: not UTF-8 text") from None


def load_jsonl(path: str | os.PathLike, default_status: str = "active") -> Catalogue:
    """Load a JSONL catalogue (``claim_id``, ``text``, ``title``, optional extra fields per line).

    ``default_status`` applies to lines without a ``status`` field.
    """
    p = Path(path)
    if not p.is_file():
        raise CatalogueError(f"{path}: no such catalogue file")
    claims: dict[str, Claim] = {}
    _read_jsonl_file(p, claims, default_status)
    if not claims:
        raise CatalogueError(f"{path}: no claims in the file")
    return Catalogue(list(claims.values()), sources=[str(p)])


def load_catalogue(path_or_dir: str | os.PathLike) -> Catalogue:
    """Load a catalogue from a directory of claim YAML files (and any ``*.jsonl`` in it,
    subfolders such as ``imported/`` included), a single ``.yaml`` file or a ``.jsonl`` file."""
    p = Path(path_or_dir)
    claims: dict[str, Claim] = {}
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in {".yaml", ".yml", ".jsonl"})
        for f in files:
            if f.suffix.lower() == ".jsonl":
                _read_jsonl_file(f, claims, "imported")
            else:
                _read_yaml_file(f, claims)
        if not claims:
            raise CatalogueError(f"{path_or_dir}: no claim files (*.yaml or *.jsonl) in this folder")
        return Catalogue(list(claims.values()), sources=[str(f) for f in files])
    if p.is_file():
        if p.suffix.lower() == ".jsonl":
            return load_jsonl(p)
        if p.suffix.lower() in {".yaml", ".yml"}:
            _read_yaml_file(p, claims)
            return Catalogue(list(claims.values()), sources=[str(p)])
        raise CatalogueError(f"{path_or_dir}: a catalogue is a folder of .yaml files, a .yaml file or a .jsonl file")
    raise CatalogueError(f"{path_or_dir}: no such catalogue file or folder")


def catalogue_from_records(records: Iterable[dict[str, Any]], where: str = "<records>") -> Catalogue:
    """Build a catalogue from in-memory mappings (JSONL rules: lenient ids, extra fields allowed)."""
    claims: dict[str, Claim] = {}
    for i, raw in enumerate(records, 1):
        _add(claims, _claim_from_mapping(raw, f"{where}:{i}", strict_id=False, strict_fields=False,
                                         default_status="active"))
    return Catalogue(list(claims.values()))


# ---------------------------------------------------------------- claim files (claims command)


def find_claim_file(claims_dir: str | os.PathLike, claim_id: str) -> Path:
    """The YAML file that holds ``claim_id`` under ``claims_dir`` (``<id>.yaml`` first, then a scan)."""
    d = Path(claims_dir)
    if not d.is_dir():
        raise CatalogueError(f"{claims_dir}: no such claims folder")
    for sub in ("", "imported"):
        for ext in (".yaml", ".yml"):
            f = d / sub / f"{claim_id}{ext}"
            if f.is_file():
                return f
    for f in sorted(d.rglob("*.y*ml")):
        try:
            data = yaml.safe_load(f.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        items = data if isinstance(data, list) else [data]
        if any(isinstance(x, dict) and str(x.get("claim_id")) == claim_id for x in items):
            return f
    raise CatalogueError(f"no claim file for '{claim_id}' under {claims_dir}; `claimwatch claims list` shows the ids")


_STATUS_LINE = re.compile(r"^status:[^\n]*$", re.MULTILINE)
_ID_LINE = re.compile(r"^claim_id:[^\n]*$", re.MULTILINE)


def set_status(path: str | os.PathLike, status: str, claim_id: str | None = None) -> Path:
    """Set a claim's ``status`` in its YAML file (``path`` is the file, or the claims folder with
    ``claim_id``). Only the ``status:`` line changes; the write is atomic (temp file + rename).
    Returns the file written."""
    if status not in STATUSES:
        raise CatalogueError(f"status must be one of {', '.join(STATUSES)} (got '{status}')")
    p = Path(path)
    if p.is_dir():
        if not claim_id:
            raise CatalogueError(f"{path}: give the claim id to change a status in a claims folder")
        p = find_claim_file(p, claim_id)
    try:
        original = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogueError(f"{p}: cannot read: {exc.strerror or exc}") from None
    data = yaml.safe_load(original)
    if not isinstance(data, dict):
        raise CatalogueError(f"{p}: status can be set only in a one-claim file")
    if claim_id and str(data.get("claim_id")) != claim_id:
        raise CatalogueError(f"{p}: holds claim '{data.get('claim_id')}', not '{claim_id}'")
    if _STATUS_LINE.search(original):
        updated = _STATUS_LINE.sub(f"status: {status}", original, count=1)
    elif _ID_LINE.search(original):
        m = _ID_LINE.search(original)
        updated = original[: m.end()] + f"\nstatus: {status}" + original[m.end():]
    else:
        updated = f"status: {status}\n" + original
    check = yaml.safe_load(updated)
    if not isinstance(check, dict) or check.get("status") != status:
        raise CatalogueError(f"{p}: could not set the status line safely; edit the file by hand")
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=str(p.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(updated)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return p


_TOP_KEY = re.compile(r"^[A-Za-z_][\w-]*\s*:", re.MULTILINE)
_MEDIA_KEY = re.compile(r"^known_media\s*:", re.MULTILINE)


def add_known_media(path: str | os.PathLike, claim_id: str, items: list[Any]) -> Path:
    """Append ``items`` (URL strings or fingerprint mappings) to the ``known_media`` list of the
    one-claim YAML file ``path``. Only the ``known_media`` block is rewritten (the rest of the file,
    comments included, stays as it is); the result is validated with the catalogue's own rules
    before it replaces the file atomically. Raises :class:`CatalogueError`."""
    p = Path(path)
    try:
        original = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogueError(f"{p}: cannot read: {exc.strerror or exc}") from None
    data = yaml.safe_load(original)
    if not isinstance(data, dict):
        raise CatalogueError(f"{p}: media can be added only to a one-claim file")
    if str(data.get("claim_id")) != claim_id:
        raise CatalogueError(f"{p}: holds claim '{data.get('claim_id')}', not '{claim_id}'")
    current = data.get("known_media") or []
    if not isinstance(current, list):
        raise CatalogueError(f"{p}: claim '{claim_id}': field 'known_media': must be a list; fix it by hand first")
    block = yaml.safe_dump({"known_media": current + list(items)}, sort_keys=False, allow_unicode=True,
                           width=100, default_flow_style=None)
    m = _MEDIA_KEY.search(original)
    if m is None:
        updated = original.rstrip("\n") + "\n" + block
    else:
        nxt = _TOP_KEY.search(original, m.end())
        end = nxt.start() if nxt else len(original)
        updated = original[:m.start()] + block + original[end:]
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=str(p.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(updated)
            fh.flush()
            os.fsync(fh.fileno())
        check: dict[str, Claim] = {}
        try:
            _read_yaml_file(Path(tmp), check)
        except CatalogueError as exc:
            raise CatalogueError(str(exc).replace(_display(Path(tmp)), str(p)).replace(tmp, str(p))) from None
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return p
