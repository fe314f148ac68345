"""Read the Parquet dataset back for analysts: the latest flagged posts and per-claim daily counts.

Everything here is a polars lazy scan of the hive-partitioned dataset
(``<data-dir>/<table>/date=YYYY-MM-DD/part-<run_id>.parquet``); ``claimwatch report`` and
``flows.plot`` are thin layers over :func:`flagged_posts`, :func:`latest_flags` and
:func:`daily_counts`.

A *flagged post* is one row per (post, claim) pair from the ``matches`` table, the most recent
match winning when a post was matched again in a later run, joined with its ``posts`` row. Its
``time`` is when the post was published (``published_at``), falling back to when it was fetched
and then to when it was flagged, so day counts follow the spread of a claim rather than the
pipeline's schedule. ``kind`` sorts each flag into ``spreading`` (label
``likely_misinformation`` with stance ``spreads``), ``debunking`` (label ``debunk`` or stance
``debunks``) or ``other`` (``needs_review`` rows, mentions, unclear).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable, Iterator, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

TABLES = ("posts", "matches", "claims", "runs", "source_health", "post_metrics")
ALL_LABELS = ("likely_misinformation", "needs_review", "debunk", "no_flag")
# Every label that ties a post to a claim: the posts to act on, and the debunks that answer them.
DEFAULT_LABELS = ("likely_misinformation", "needs_review", "debunk")
KINDS = ("spreading", "debunking", "other")

FLAG_COLUMNS = ("time", "platform", "claim_id", "label", "stance", "score", "url")

_RELATIVE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$", re.IGNORECASE)
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class ReportError(Exception):
    """A problem with the report's input (data dir, option value); the message is one line."""


class UsageError(ReportError):
    """A bad option value (``--since``, ``--tz``, ``--label``, ``--claim``, ``--platform``,
    ``--plot``...): what was typed is wrong, not the data. ``claimwatch report`` exits 2."""


class NoData(ReportError):
    """The data dir is missing or holds no Parquet files yet."""


def parse_since(text: str, now: datetime | None = None, tz: str = "UTC") -> datetime:
    """``7d``, ``24h``, ``30m``, ``2w`` (relative to now) or an ISO date/datetime -> aware UTC.

    A date means midnight in ``tz`` and a datetime without an offset is a wall-clock time in
    ``tz``, so ``--since 2024-11-20 --tz Asia/Karachi`` starts at 2024-11-19 19:00 UTC: the day
    the daily view shows for that time zone starts there too."""
    now = now or datetime.now(timezone.utc)
    zone = ZoneInfo(check_tz(tz))
    m = _RELATIVE.match(text)
    if m:
        return now - timedelta(**{_UNITS[m.group(2).lower()]: int(m.group(1))})
    try:
        if len(text.strip()) == 10:
            d = date.fromisoformat(text.strip())
            dt = datetime(d.year, d.month, d.day, tzinfo=zone)
        else:
            dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--since {text!r} is neither a date (2024-11-20), a datetime (2024-11-20T08:00) "
            "nor a span like 7d, 24h, 30m, 2w"
        ) from None
    dt = (dt.replace(tzinfo=zone) if dt.tzinfo is None else dt).astimezone(timezone.utc)
    if dt > now:
        raise UsageError(
            f"--since {text!r} is in the future (now {now.astimezone(zone):%Y-%m-%d %H:%M} {tz}); "
            "give a past date or a span like 7d"
        )
    return dt


def check_tz(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"--tz {name!r} is not a known time zone; use e.g. UTC or Asia/Karachi") from None
    return name


def parse_labels(values: Iterable[str] | None) -> tuple[str, ...]:
    """Label options (repeatable, comma-separated, ``all``) -> labels; none given -> defaults."""
    out: list[str] = []
    for value in values or ():
        for part in value.split(","):
            part = part.strip().lower()
            if not part:
                continue
            if part == "all":
                out.extend(ALL_LABELS)
            elif part in ALL_LABELS:
                out.append(part)
            else:
                raise UsageError(f"--label {part!r} is not a label; use one of {', '.join(ALL_LABELS)} or all")
    if values and not out:
        raise UsageError(f"--label is empty; use one of {', '.join(ALL_LABELS)} or all, or leave the option out")
    return tuple(dict.fromkeys(out)) or DEFAULT_LABELS


def table_files(data_dir: Path | str, table: str) -> list[Path | str]:
    """The table's part files a reader must read (see :func:`flows.store.part_files`)."""
    from flows.store import part_files

    return part_files(data_dir, table)


def scan(data_dir: Path | str, table: str) -> pl.LazyFrame | None:
    """Lazy scan of one table across all its date partitions, or ``None`` when it has no files."""
    files = table_files(data_dir, table)
    if not files:
        return None
    return pl.scan_parquet(files, missing_columns="insert", extra_columns="ignore")


def require_data(data_dir: Path | str) -> Path | str:
    """The data dir (a folder, or an ``s3://``/``gs://`` URL) when it holds a dataset;
    :class:`NoData` with one line otherwise."""
    if "://" in str(data_dir):
        from flows.store import Store

        url = str(data_dir).rstrip("/")
        Store(url).io.ensure()  # a missing bucket or denied access: one-line StoreError
        if not any(table_files(url, t) for t in TABLES):
            raise NoData(f"no claimwatch data in {url} (no Parquet files): run `claimwatch run --data-dir {url}` first")
        return url
    path = Path(data_dir)
    if path.exists() and not path.is_dir():
        raise NoData(f"{path} is a file, not a claimwatch data dir: pass the folder given to `claimwatch run --data-dir`")
    if not path.is_dir():
        raise NoData(f"no claimwatch data in {path} (directory missing): run `claimwatch run --data-dir {path}` first")
    if not any(table_files(path, t) for t in TABLES):
        raise NoData(f"no claimwatch data in {path} (no Parquet files): run `claimwatch run --data-dir {path}` first")
    return path


def unreadable_part(data_dir: Path | str) -> tuple[Path | str, str] | None:
    """The first part file polars cannot read in full, with the first line of the reason, or ``None``."""
    for table in TABLES:
        for f in table_files(data_dir, table):
            try:
                pl.scan_parquet(f).collect()
            except (pl.exceptions.PolarsError, OSError) as exc:
                lines = str(exc).strip().splitlines()
                return f, lines[0] if lines else type(exc).__name__
    return None


@contextlib.contextmanager
def reading(data_dir: Path | str) -> Iterator[None]:
    """Turn an error while reading the dataset into a one-line :class:`ReportError`.

    A part file that is not Parquet, or whose data polars cannot read, is named, with what to do.
    """
    from flows.store import StoreError

    try:
        yield
    except StoreError as exc:
        raise ReportError(str(exc)) from None
    except (pl.exceptions.PolarsError, OSError) as exc:
        try:
            bad = unreadable_part(data_dir)
        except StoreError as again:
            raise ReportError(str(again)) from None
        if bad is not None:
            raise ReportError(f"{bad[0]}: cannot read this part file ({bad[1]}); move it away or delete it") from None
        lines = str(exc).strip().splitlines()
        raise ReportError(f"cannot read the dataset in {data_dir}: {lines[0] if lines else type(exc).__name__}") from None


def collect(build) -> pl.DataFrame:
    """``build().collect()``, built again on the newest files when a compaction deleted a file
    the first read still needed (the newest files hold the same rows)."""
    from flows.store import _is_vanished

    for attempt in range(5):
        try:
            return build().collect()
        except (pl.exceptions.PolarsError, OSError) as exc:
            if attempt == 4 or not _is_vanished(exc):
                raise
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Filters:
    since: datetime | None = None
    claims: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    labels: tuple[str, ...] = DEFAULT_LABELS
    tz: str = "UTC"


def _latest_posts(posts: pl.LazyFrame) -> pl.LazyFrame:
    names = posts.collect_schema().names()
    keep = [c for c in ("post_id", "platform", "source", "url", "author", "published_at", "fetched_at") if c in names]
    order = "fetched_at" if "fetched_at" in names else "post_id"
    return posts.select(keep).sort(order, nulls_last=False).unique("post_id", keep="last")


def flagged_posts(data_dir: Path | str, filters: Filters = Filters()) -> pl.LazyFrame:
    """One row per (post, claim) with its latest match, joined with the post, filtered.

    Columns: ``time`` (UTC), ``day`` (date in ``filters.tz``), ``platform``, ``claim_id``,
    ``label``, ``stance``, ``kind``, ``score``, ``url``, ``post_id``, ``source``, ``author``,
    ``flagged_at``, ``catalogue_version``, ``run_id``.
    """
    path = require_data(data_dir)
    matches = scan(path, "matches")
    if matches is None:
        return _empty_flags()
    latest = matches.sort("flagged_at").unique(["post_id", "claim_id"], keep="last")
    posts = scan(path, "posts")
    if posts is not None:
        latest = latest.join(_latest_posts(posts), on="post_id", how="left", suffix="_post")
    names = latest.collect_schema().names()

    def col(name: str, dtype: pl.DataType = pl.String) -> pl.Expr:
        return pl.col(name) if name in names else pl.lit(None, dtype=dtype).alias(name)

    when = pl.Datetime("us", "UTC")
    time = pl.coalesce(col("published_at", when), col("fetched_at", when), col("flagged_at", when))
    platform = pl.coalesce(col("platform"), pl.col("post_id").str.extract(r"^([^:]+):", 1))
    kind = (
        pl.when((pl.col("label") == "debunk") | (pl.col("stance") == "debunks"))
        .then(pl.lit("debunking"))
        .when((pl.col("label") == "likely_misinformation") & (pl.col("stance") == "spreads"))
        .then(pl.lit("spreading"))
        .otherwise(pl.lit("other"))
    )
    lf = latest.select(
        time.alias("time"),
        platform.alias("platform"),
        pl.col("claim_id"),
        pl.col("label"),
        pl.col("stance"),
        kind.alias("kind"),
        pl.col("score").cast(pl.Float64),
        pl.coalesce(col("url"), col("canonical_url")).alias("url"),
        pl.col("post_id"),
        col("source"),
        col("author"),
        col("flagged_at", when).alias("flagged_at"),
        col("catalogue_version"),
        col("run_id"),
    ).with_columns(pl.col("time").dt.convert_time_zone(filters.tz).dt.date().alias("day"))

    if filters.labels:
        lf = lf.filter(pl.col("label").is_in(list(filters.labels)))
    if filters.since is not None:
        lf = lf.filter(pl.col("time") >= pl.lit(filters.since).cast(when))
    if filters.claims:
        lf = lf.filter(pl.col("claim_id").is_in(list(filters.claims)))
    if filters.platforms:
        lf = lf.filter(pl.col("platform").is_in(list(filters.platforms)))
    return lf


def _empty_flags() -> pl.LazyFrame:
    when = pl.Datetime("us", "UTC")
    schema = {
        "time": when, "platform": pl.String, "claim_id": pl.String, "label": pl.String,
        "stance": pl.String, "kind": pl.String, "score": pl.Float64, "url": pl.String,
        "post_id": pl.String, "source": pl.String, "author": pl.String, "flagged_at": when,
        "catalogue_version": pl.String, "run_id": pl.String, "day": pl.Date,
    }
    return pl.LazyFrame(schema=schema)


def known_values(data_dir: Path | str, column: str) -> list[str]:
    """Distinct values of ``claim_id`` or ``platform`` across matches, claims and posts."""
    path = require_data(data_dir)
    tables = {"claim_id": ("matches", "claims"), "platform": ("posts",)}[column]
    found: set[str] = set()
    for table in tables:
        lf = scan(path, table)
        if lf is not None and column in lf.collect_schema().names():
            found.update(v for v in lf.select(pl.col(column).unique()).collect().to_series() if v)
    return sorted(found)


def check_choices(data_dir: Path | str, option: str, column: str, values: Sequence[str]) -> tuple[str, ...]:
    """Reject a ``--claim``/``--platform`` value that never occurs in the data, listing what does."""
    given = bool(values)
    values = tuple(v.strip() for value in values for v in value.split(",") if v.strip())
    if not values:
        if given:
            raise UsageError(f"{option} is empty; give a value or leave the option out")
        return ()
    known = known_values(data_dir, column)
    by_fold = {k.casefold(): k for k in known}
    values = tuple(dict.fromkeys(by_fold.get(v.casefold(), v) for v in values))  # Youtube -> youtube
    unknown = [v for v in values if v not in known]
    if unknown and known:
        shown = ", ".join(known[:12]) + (" ..." if len(known) > 12 else "")
        raise UsageError(f"{option} {unknown[0]!r} does not occur in {data_dir}; known: {shown}")
    return values


def latest_flags(flags: pl.LazyFrame, limit: int | None = 50, tz: str = "UTC") -> pl.DataFrame:
    """The most recent flags first, with the report's columns (``time`` shown in ``tz``)."""
    lf = flags.sort(["time", "score"], descending=True, nulls_last=True)
    if limit:
        lf = lf.head(limit)
    return lf.select(
        pl.col("time").dt.convert_time_zone(tz),
        *FLAG_COLUMNS[1:5],
        pl.col("score").round(1),
        "url",
    ).collect()


def daily_counts(flags: pl.LazyFrame) -> pl.DataFrame:
    """Flags per claim per day: ``claim_id``, ``day``, ``spreading``, ``debunking``, ``other``, ``total``."""
    return (
        flags.group_by("claim_id", "day")
        .agg(*[(pl.col("kind") == k).sum().cast(pl.Int64).alias(k) for k in KINDS], pl.len().cast(pl.Int64).alias("total"))
        .sort("claim_id", "day")
        .collect()
    )


def post_totals(flags: pl.LazyFrame | pl.DataFrame) -> dict[str, int]:
    """Distinct posts in ``flags``: ``total`` and per kind. A post flagged for two claims is one
    post here (the per-claim counts of :func:`daily_counts` count it once per claim)."""
    lf = flags.lazy()
    row = lf.select(
        pl.col("post_id").n_unique().alias("total"),
        *[pl.col("post_id").filter(pl.col("kind") == k).n_unique().alias(k) for k in KINDS],
    ).collect().row(0, named=True)
    return {k: int(v or 0) for k, v in row.items()}


def claim_titles(data_dir: Path | str) -> dict[str, str]:
    """``claim_id`` -> title from the dataset's ``claims`` table (the latest row with a title)."""
    lf = scan(data_dir, "claims")
    if lf is None or not {"claim_id", "title"} <= set(lf.collect_schema().names()):
        return {}
    rows = collect(lambda: scan(data_dir, "claims")
                   .filter(pl.col("title").is_not_null() & (pl.col("title").str.strip_chars() != ""))
                   .select("claim_id", "title").unique("claim_id", keep="last", maintain_order=True))
    return {r["claim_id"]: r["title"] for r in rows.iter_rows(named=True)}
