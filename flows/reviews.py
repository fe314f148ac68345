"""Reviewers' verdicts on matches: the ``reviews`` table, the review queue, the feedback the
matcher learns from, and precision as measured by reviews.

A verdict is given per (post, claim) by a named reviewer:

* ``confirmed``: the post is about the claim and the label was right;
* ``not_this_claim``: the post is about something else;
* ``wrong_stance``: the post is about the claim but the stance is wrong (e.g. a debunk read as
  spreading);
* ``true_content``: the post states something true that looks like the claim.

The table is append-only and idempotent per (post, claim, reviewer): recording the verdict and
note a reviewer already holds for a pair writes nothing; a changed verdict (or note) is a new row
with a later ``reviewed_at``, and the latest row of a (post, claim, reviewer) is that reviewer's
verdict. The verdict that counts for a (post, claim), for feedback and for precision, is the most
recent one, whoever gave it. Each row keeps the post's text and the match (label, stance, score,
catalogue version) as they were when reviewed, so the table alone says what was judged.

Feedback: ``not_this_claim`` and ``true_content`` make the post a counter-example of the claim,
``confirmed`` a confirmed example (:func:`feedback`); the pipeline and ``claimwatch label`` build
the matcher with them (:func:`build_matcher`). No Prefect here.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

import polars as pl

from flows.store import REVIEWS_SCHEMA, Store

VERDICTS = ("confirmed", "not_this_claim", "wrong_stance", "true_content")
COUNTER_VERDICTS = ("not_this_claim", "true_content")
POSITIVE_VERDICTS = ("confirmed",)
QUEUE_LABELS = ("likely_misinformation", "needs_review")
ALL_LABELS = ("likely_misinformation", "needs_review", "debunk", "no_flag")
FEEDBACK_SCHEMA: dict[str, pl.DataType] = {"claim_id": pl.String, "kind": pl.String, "text": pl.String,
                                           "ref": pl.String}
IMPORT_COLUMNS = ("post_id", "claim_id", "verdict", "reviewer", "note", "reviewed_at")
EXCERPT_CHARS = 280
_ALIASES = {"confirm": "confirmed", "correct": "confirmed"}
_WORD_SEP = re.compile(r"[\s_\-]+")


class ReviewError(ValueError):
    """A verdict or reviews file that cannot be recorded (raised here before anything is
    written; the CLI prints the one-line message and exits 2)."""


def parse_verdict(word: Any, where: str = "") -> str:
    """``"true content"``, ``"Not-this-claim"``, ``"confirmed"`` ... -> the verdict's name."""
    key = _WORD_SEP.sub("_", str(word).strip().lower()).strip("_") if isinstance(word, str) else ""
    key = _ALIASES.get(key, key)
    if key not in VERDICTS:
        shown = repr(word) if isinstance(word, str) else type(word).__name__
        raise ReviewError(f"{where}unknown verdict {shown}; use one of: {', '.join(VERDICTS)}")
    return key


def check_reviewer(name: Any, where: str = "", missing: str = "give --reviewer NAME or set CLAIMWATCH_REVIEWER") -> str:
    if not isinstance(name, str) or not name.strip():
        raise ReviewError(f"{where}no reviewer; {missing}")
    name = name.strip()
    if len(name) > 100 or any(ord(ch) < 32 for ch in name):
        raise ReviewError(f"{where}reviewer {name[:40]!r}: a name of at most 100 characters on one line")
    return name


@dataclass(frozen=True)
class Verdict:
    """One verdict to record; ``where`` names its origin in messages (``file.csv:3: ``)."""

    post_id: str
    claim_id: str
    verdict: str
    reviewer: str
    note: str | None = None
    reviewed_at: datetime | None = None
    where: str = ""


@dataclass
class Recorded:
    written: pl.DataFrame  # the new rows of the reviews table
    unchanged: list[Verdict]  # verdicts the reviewer already held: nothing written
    unmatched: list[Verdict]  # verdicts on a (post, claim) the matcher never paired


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _latest_posts(store: Store, post_ids: Sequence[str]) -> pl.DataFrame:
    lf = store.scan("posts").filter(pl.col("post_id").is_in(list(post_ids)))
    return store.collect("posts", lf.sort("fetched_at", nulls_last=False).unique("post_id", keep="last"))


def _latest_matches(store: Store) -> pl.LazyFrame:
    return store.scan("matches").sort("flagged_at", nulls_last=False).unique(["post_id", "claim_id"], keep="last")


def known_claims(store: Store) -> list[str]:
    """Claim ids of the data dir: every catalogue snapshot in ``claims`` and every matched claim."""
    ids = pl.concat([store.scan("claims").select("claim_id"), store.scan("matches").select("claim_id")])
    return sorted(v for v in store.collect("claims", ids.unique()).get_column("claim_id").to_list() if v)


def _post_text() -> pl.Expr:
    return pl.concat_str([pl.col("title"), pl.col("text"), pl.col("transcript")], separator="\n",
                         ignore_nulls=True)


def record(store: Store, verdicts: Sequence[Verdict], now: datetime | None = None) -> Recorded:
    """Check every verdict, then write the new ones as one part file of ``reviews``.

    Raises :class:`ReviewError` naming the first bad verdict (unknown post or claim, a time in
    the future, the same pair and reviewer twice at one time) before anything is written."""
    now = now or utcnow()
    if not verdicts:
        raise ReviewError("no verdicts to record")
    ids = sorted({v.post_id for v in verdicts})
    posts = _latest_posts(store, ids)
    found = set(posts.get_column("post_id").to_list())
    for v in verdicts:
        if v.post_id not in found:
            hint = ("it has no posts yet: run `claimwatch run` first" if not store.files("posts")
                    else "`claimwatch review list` shows the posts waiting for review")
            raise ReviewError(f"{v.where}post {v.post_id!r} is not in {store.root}; {hint}")
    claims = set(known_claims(store))
    for v in verdicts:
        if v.claim_id not in claims:
            shown = ", ".join(sorted(claims)[:8]) + (" ..." if len(claims) > 8 else "")
            raise ReviewError(f"{v.where}claim {v.claim_id!r} is not in {store.root} (known: {shown or 'none'})")
        if v.reviewed_at is not None and v.reviewed_at > now:
            raise ReviewError(f"{v.where}reviewed_at {v.reviewed_at.isoformat()} is in the future")
    seen: dict[tuple, str] = {}
    for v in verdicts:
        key = (v.post_id, v.claim_id, v.reviewer, v.reviewed_at)
        if key in seen:
            raise ReviewError(f"{v.where}a second verdict by {v.reviewer} on post {v.post_id!r} and claim "
                              f"{v.claim_id!r} (first at {seen[key] or 'an earlier line'}); keep one of them")
        seen[key] = v.where.rstrip(": ")

    matches = store.collect("matches", _latest_matches(store).filter(pl.col("post_id").is_in(ids))
                            .select("post_id", "claim_id", "label", "stance", "score", "catalogue_version"))
    frame = pl.DataFrame({
        "post_id": [v.post_id for v in verdicts], "claim_id": [v.claim_id for v in verdicts],
        "reviewer": [v.reviewer for v in verdicts], "verdict": [v.verdict for v in verdicts],
        "note": [v.note for v in verdicts], "reviewed_at": [v.reviewed_at or now for v in verdicts],
        "_i": list(range(len(verdicts))),
    }, schema_overrides={"reviewed_at": pl.Datetime("us", "UTC"), "note": pl.String})
    frame = (frame.join(matches, on=["post_id", "claim_id"], how="left")
             .join(posts.select("post_id", "platform", "lang", "content_hash", _post_text().alias("text")),
                   on="post_id", how="left")
             .sort("_i"))
    held = current_per_reviewer(store).select("post_id", "claim_id", "reviewer",
                                               pl.col("verdict").alias("_held"), pl.col("note").alias("_note"))
    frame = frame.join(held, on=["post_id", "claim_id", "reviewer"], how="left")
    same = (frame["_held"] == frame["verdict"]).fill_null(False) & frame["_note"].eq_missing(frame["note"])
    unchanged = [verdicts[i] for i in frame.filter(same)["_i"].to_list()]
    unmatched = [verdicts[i] for i in frame.filter(pl.col("label").is_null())["_i"].to_list()]
    new = frame.filter(~same).select(list(REVIEWS_SCHEMA))
    if new.height:
        written = store.write("reviews", new, f"review-{now:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:8]}", now.date())
    else:
        written = new
    return Recorded(written, unchanged, unmatched)


def read(store: Store) -> pl.DataFrame:
    """Every row of the reviews table (empty with its schema when there is none)."""
    return store.read("reviews")


def current_per_reviewer(store: Store) -> pl.DataFrame:
    """Each reviewer's verdict on each (post, claim): their latest row."""
    lf = store.scan("reviews").sort("reviewed_at").unique(["post_id", "claim_id", "reviewer"], keep="last")
    return store.collect("reviews", lf)


def current(store: Store) -> pl.DataFrame:
    """The verdict that counts for each (post, claim): the most recent, whoever gave it."""
    lf = store.scan("reviews").sort("reviewed_at", "reviewer").unique(["post_id", "claim_id"], keep="last")
    return store.collect("reviews", lf)


def feedback(store: Store) -> pl.DataFrame:
    """Examples for the matcher from the verdicts that count: ``claim_id``, ``kind``
    (``counter`` for not_this_claim and true_content, ``confirmed`` for confirmed), ``text`` (the
    post as reviewed, on one line) and ``ref`` (its post_id). Sorted, so equal reviews give an
    equal frame."""
    return feedback_from(current(store))


def feedback_from(reviews: pl.DataFrame) -> pl.DataFrame:
    kind = (pl.when(pl.col("verdict").is_in(COUNTER_VERDICTS)).then(pl.lit("counter"))
            .when(pl.col("verdict").is_in(POSITIVE_VERDICTS)).then(pl.lit("confirmed")))
    if reviews.is_empty():
        return pl.DataFrame(schema=FEEDBACK_SCHEMA)
    text = pl.col("text").str.replace_all(r"\s+", " ").str.strip_chars()  # one line, for the evidence
    return (reviews.select("claim_id", kind.alias("kind"), text.alias("text"), pl.col("post_id").alias("ref"))
            .filter(pl.col("kind").is_not_null() & (pl.col("text").str.len_chars() > 0))
            .unique(["claim_id", "kind", "ref"]).sort("claim_id", "kind", "ref")
            .select([pl.col(c).cast(t) for c, t in FEEDBACK_SCHEMA.items()]))


# ---------------------------------------------------------------- reviews files


def _parse_time(value: Any, where: str) -> datetime | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise ReviewError(f"{where}reviewed_at must be an ISO date-time string like 2024-11-20T08:00:00Z")
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ReviewError(f"{where}reviewed_at {value!r} is not an ISO date-time like 2024-11-20T08:00:00Z") from None
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def _verdict_from(row: dict[str, Any], where: str, reviewer: str | None) -> Verdict | None:
    for col in ("post_id", "claim_id", "verdict", "reviewer", "note"):
        v = row.get(col)
        if v is not None and not isinstance(v, str):
            raise ReviewError(f"{where}{col} must be a string (got {type(v).__name__})")
    word = (row.get("verdict") or "").strip()
    if not word:
        return None  # a queue row the reviewer left without a verdict
    post_id = (row.get("post_id") or "").strip()
    claim_id = (row.get("claim_id") or "").strip()
    if not post_id:
        raise ReviewError(f"{where}post_id is missing")
    if not claim_id:
        raise ReviewError(f"{where}claim_id is missing")
    note = (row.get("note") or "").strip() or None
    return Verdict(post_id=post_id, claim_id=claim_id, verdict=parse_verdict(word, where),
                   reviewer=check_reviewer((row.get("reviewer") or "").strip() or reviewer, where,
                                            "fill in the reviewer column or give --reviewer NAME"),
                   note=note, reviewed_at=_parse_time(row.get("reviewed_at"), where), where=where)


def read_verdicts(path: Path, reviewer: str | None = None) -> tuple[list[Verdict], int]:
    """Verdicts of a ``.csv`` (header row) or ``.jsonl`` reviews file, and the number of rows
    left without a verdict (skipped). Columns: post_id, claim_id, verdict, and reviewer unless
    ``reviewer`` is given; optional note and reviewed_at; other columns (e.g. those of
    ``claimwatch review list --format csv``) are ignored. Any bad row raises
    :class:`ReviewError` naming ``file:line``."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".ndjson"):
        raise ReviewError(f"{path}: a reviews file is .csv (with a header row) or .jsonl")
    if not path.is_file():
        raise ReviewError(f"{path}: no such reviews file")
    out: list[Verdict] = []
    skipped = 0
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            if suffix == ".csv":
                rows = _csv_rows(path, fh, reviewer)
            else:
                rows = _jsonl_rows(path, fh)
            for where, row in rows:
                v = _verdict_from(row, where, reviewer)
                if v is None:
                    skipped += 1
                else:
                    out.append(v)
    except UnicodeDecodeError:
        raise ReviewError(f"{path}: not UTF-8 text") from None
    except csv.Error as exc:
        raise ReviewError(f"{path}: not a readable CSV file ({exc})") from None
    except OSError as exc:
        raise ReviewError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not out:
        raise ReviewError(f"{path}: no verdicts in the file" + (f" ({skipped} rows have an empty verdict)" if skipped else ""))
    return out, skipped


def _csv_rows(path: Path, fh: Any, reviewer: str | None) -> Iterable[tuple[str, dict[str, Any]]]:
    reader = csv.reader(fh)
    header = next(reader, None)
    if not header:
        raise ReviewError(f"{path}: empty file; the first row names the columns post_id, claim_id, verdict, reviewer")
    header = [h.strip().lower() for h in header]
    needed = ["post_id", "claim_id", "verdict"] + ([] if reviewer else ["reviewer"])
    missing = [c for c in needed if c not in header]
    if missing:
        raise ReviewError(f"{path}: no column {', '.join(missing)} in the header row ({', '.join(header)})"
                          + ("; or give --reviewer NAME" if missing == ["reviewer"] else ""))
    for row in reader:
        where = f"{path}:{reader.line_num}: "
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise ReviewError(f"{where}{len(row)} fields where the header has {len(header)}")
        yield where, dict(zip(header, row))


def _jsonl_rows(path: Path, fh: Any) -> Iterable[tuple[str, dict[str, Any]]]:
    for n, line in enumerate(fh, 1):
        if not line.strip():
            continue
        where = f"{path}:{n}: "
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ReviewError(f"{where}not valid JSON ({exc.msg}); one verdict object per line") from None
        if not isinstance(obj, dict):
            raise ReviewError(f"{where}a verdict is a JSON object with post_id, claim_id, verdict, reviewer")
        yield where, obj


# ---------------------------------------------------------------- the queue


def excerpt(expr: pl.Expr, chars: int = EXCERPT_CHARS) -> pl.Expr:
    squashed = expr.str.replace_all(r"\s+", " ").str.strip_chars()
    return (pl.when(squashed.str.len_chars() > chars)
            .then(pl.concat_str([squashed.str.slice(0, chars - 1).str.strip_chars_end(), pl.lit("…")]))
            .otherwise(squashed))


def claim_titles(store: Store) -> pl.DataFrame:
    """``claim_id``, ``claim_title`` from the latest catalogue snapshot holding each claim."""
    lf = (store.scan("claims").filter(pl.col("catalogue_version") != "imported")
          .select("claim_id", pl.coalesce("title", "text").alias("claim_title"))
          .unique("claim_id", keep="last"))
    return store.collect("claims", lf)


QUEUE_COLUMNS = ("flagged_at", "post_id", "claim_id", "label", "stance", "score", "platform", "url",
                 "claim_title", "evidence", "excerpt", "verdict", "reviewer", "reviewed_at")


def queue(store: Store, *, claims: Sequence[str] = (), platforms: Sequence[str] = (),
          labels: Sequence[str] = QUEUE_LABELS, since: datetime | None = None, limit: int | None = 50,
          reviewed: bool = False) -> pl.DataFrame:
    """The review queue: the latest match of each (post, claim) labelled one of ``labels``,
    newest flag first, with the post's excerpt and link, the claim's title and the evidence.
    Pairs with a verdict are left out unless ``reviewed`` (then the verdict that counts is shown).
    ``since`` filters on when the match was made (``flagged_at``)."""
    lf = _latest_matches(store).filter(pl.col("label").is_in(list(labels)))
    if since is not None:
        lf = lf.filter(pl.col("flagged_at") >= pl.lit(since).cast(pl.Datetime("us", "UTC")))
    if claims:
        lf = lf.filter(pl.col("claim_id").is_in(list(claims)))
    posts = (store.scan("posts").sort("fetched_at", nulls_last=False).unique("post_id", keep="last")
             .select("post_id", "platform", pl.coalesce("url", "canonical_url").alias("url"),
                     excerpt(_post_text()).alias("excerpt")))
    lf = lf.join(posts, on="post_id", how="left").with_columns(
        pl.coalesce(pl.col("platform"), pl.col("post_id").str.extract(r"^([^:]+):", 1)).alias("platform"))
    if platforms:
        lf = lf.filter(pl.col("platform").is_in(list(platforms)))
    verdicts = current(store).select("post_id", "claim_id", "verdict", "reviewer", "reviewed_at").lazy()
    lf = lf.join(verdicts, on=["post_id", "claim_id"], how="left")
    if not reviewed:
        lf = lf.filter(pl.col("verdict").is_null())
    lf = (lf.join(claim_titles(store).lazy(), on="claim_id", how="left")
          .sort(["flagged_at", "score", "post_id", "claim_id"], descending=[True, True, False, False], nulls_last=True))
    if limit:
        lf = lf.head(limit)
    return store.collect("matches", lf.select(list(QUEUE_COLUMNS)))


# ---------------------------------------------------------------- precision


QUALITY_COLUMNS = ("by", "value", "label", "reviewed", *VERDICTS, "precision")
DIMENSIONS = (("claim", "claim_id"), ("language", "lang"), ("platform", "platform"))


def quality(store: Store, *, claims: Sequence[str] = (), platforms: Sequence[str] = (),
            labels: Sequence[str] = ("likely_misinformation", "needs_review", "debunk"),
            since: datetime | None = None) -> pl.DataFrame:
    """Precision as measured by reviews: for every label the matcher gave (as recorded with the
    verdict), how many reviewed pairs each verdict got and ``precision`` = confirmed / reviewed,
    per claim, language and platform and over all (``by`` = claim, language, platform, all).
    One verdict per (post, claim): the one that counts (:func:`current`). ``since`` filters on
    ``reviewed_at``."""
    rev = current(store).filter(pl.col("label").is_in(list(labels)))
    if since is not None:
        rev = rev.filter(pl.col("reviewed_at") >= since)
    if claims:
        rev = rev.filter(pl.col("claim_id").is_in(list(claims)))
    if platforms:
        rev = rev.filter(pl.col("platform").is_in(list(platforms)))
    counts = [pl.len().cast(pl.Int64).alias("reviewed"),
              *[(pl.col("verdict") == v).sum().cast(pl.Int64).alias(v) for v in VERDICTS]]
    parts = []
    for by, col in (*DIMENSIONS, ("all", None)):
        value = pl.col(col).fill_null("(unknown)") if col else pl.lit("all")
        parts.append(rev.group_by(value.alias("value"), "label").agg(*counts)
                     .with_columns(by=pl.lit(by)).sort("value", "label"))
    out = pl.concat(parts) if parts else pl.DataFrame()
    if out.is_empty():
        return pl.DataFrame(schema={"by": pl.String, "value": pl.String, "label": pl.String, "reviewed": pl.Int64,
                                    **{v: pl.Int64 for v in VERDICTS}, "precision": pl.Float64})
    return out.with_columns(precision=(pl.col("confirmed") / pl.col("reviewed")).round(3)).select(list(QUALITY_COLUMNS))



# ---------------------------------------------------------------- the matcher with feedback


def build_matcher(catalogue: Any, matching: dict[str, Any] | None, feedback: pl.DataFrame | None = None) -> Any:
    """The matcher a run builds: ``catalogue``, the ``[matching]`` settings and the reviewers'
    examples (:func:`feedback`). Its ``catalogue_version`` is the catalogue's when there are no
    examples and changes with them, so a run re-matches stored posts after new verdicts."""
    from rules.feedback import Feedback
    from rules.match import MatchConfig, Matcher

    config = MatchConfig.from_mapping(matching or {})
    if feedback is None or feedback.is_empty():
        return Matcher(catalogue, config)
    return Matcher(catalogue, config, feedback=Feedback.from_frame(feedback))


def matcher_version(catalogue: Any, feedback: pl.DataFrame | None = None) -> str:
    """The ``catalogue_version`` :func:`build_matcher` gives these inputs, without building it."""
    from rules.feedback import Feedback, effective_version

    if feedback is None or feedback.is_empty():
        return catalogue.version
    return effective_version(catalogue.version, Feedback.from_frame(feedback))


def feedback_key(feedback: pl.DataFrame | None) -> str:
    """A short stable key of a feedback frame ("" for none), e.g. to cache matchers by it."""
    if feedback is None or feedback.is_empty():
        return ""
    rows = feedback.select("claim_id", "kind", "text").sort("claim_id", "kind", "text").rows()
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode("utf-8")).hexdigest()[:16]
