"""The Parquet dataset: ``<data-dir>/<table>/date=YYYY-MM-DD/part-<run_id>-<id>.parquet`` (zstd),
on a local disk or in object storage (``s3://bucket/prefix``, ``gs://bucket/prefix``, via fsspec).

How it stays consistent without rename or flock (see docs/data.md, "What is guaranteed"):

* part files are immutable: each is written once under a new name and never overwritten;
* each table has a commit log, ``<table>/_log/<version>.json``: every version lists the table's
  whole file set. A writer creates version ``n + 1`` with an atomic *create if absent* (local
  ``link(2)``, S3 ``If-None-Match: *``, GCS ``ifGenerationMatch=0``). When another writer got
  there first, it re-reads the log, drops the rows the other writer added, and tries again; so
  two concurrent runs never double a row;
* readers inside claimwatch read the file set of one version (a snapshot). Compaction commits a
  version that swaps a partition's files for one merged file, then deletes the old files; a
  reader whose snapshot lost a file starts again on the newest version, which holds the same rows;
* a file in a table folder that no version lists is a write in flight, the leftover of a killed
  writer or a file copied in by hand: claimwatch never reads it. ``check()`` (before a run
  fetches) verifies it; when older than :data:`ADOPT_AFTER_S` it is adopted (its rows not yet in
  the table are committed; the file is then deleted or listed) so plain globs and claimwatch agree;
* every file is verified in full (schema and every page) before it enters the log; afterwards
  ``check()`` compares each listed file's size and stamp (mtime or ETag) with the log and reads
  in full only files that changed;
* deletions only ever touch ``date=YYYY-MM-DD/<name>.parquet`` paths inside the table folder;
* small JSON state (cursors, alert state) lives in ``_state/<name>/<version>.json``, written the
  same way.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import polars as pl

from connectors.media import MEDIA_SCHEMA
from connectors.schema import METRICS_SCHEMA, POSTS_SCHEMA
from rules.schema import CLAIMS_SCHEMA, MATCHES_SCHEMA

RUNS_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String,
    "flow_run_id": pl.String,
    "started_at": pl.Datetime("us", "UTC"),
    "finished_at": pl.Datetime("us", "UTC"),
    "sources": pl.List(pl.String),
    "posts_fetched": pl.Int64,
    "posts_new": pl.Int64,
    "matches": pl.Int64,
    "flags": pl.Int64,
    "status": pl.String,  # ok, partial, failed
    "catalogue_version": pl.String,
    "duration_s": pl.Float64,
    "error": pl.String,  # why a run failed (matching), else null
}

SOURCE_HEALTH_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String,
    "source": pl.String,
    "kind": pl.String,
    "status": pl.String,  # ok, error
    "items_fetched": pl.Int64,
    "new": pl.Int64,
    "duplicates": pl.Int64,
    "skipped": pl.Int64,
    "error": pl.String,
    "cursor_before": pl.String,  # JSON
    "cursor_after": pl.String,  # JSON
    "duration_s": pl.Float64,
    "checked_at": pl.Datetime("us", "UTC"),
    # the media step, for this source's posts: media fingerprinted, skipped (time budget or item
    # cap), failed, and one line per failure (a bomb, a wrong content type, a cut-off video...)
    "media_fingerprinted": pl.Int64,
    "media_skipped": pl.Int64,
    "media_failed": pl.Int64,
    "media_problems": pl.List(pl.String),
}

# one row per post matched against a catalogue version, whether or not any claim scored for it
MATCHED_POSTS_SCHEMA: dict[str, pl.DataType] = {
    "post_id": pl.String,
    "catalogue_version": pl.String,
    "run_id": pl.String,
    "matched_at": pl.Datetime("us", "UTC"),
    "matches": pl.Int64,  # match rows the matcher gave the post (0: no claim scored)
}

# one row per verdict a reviewer records (flows/reviews.py; docs/data.md "reviews")
REVIEWS_SCHEMA: dict[str, pl.DataType] = {
    "post_id": pl.String,
    "claim_id": pl.String,
    "reviewer": pl.String,
    "verdict": pl.String,  # confirmed, not_this_claim, wrong_stance, true_content
    "note": pl.String,
    "reviewed_at": pl.Datetime("us", "UTC"),
    # the match and the post as they were when reviewed
    "label": pl.String,
    "stance": pl.String,
    "score": pl.Float64,
    "catalogue_version": pl.String,
    "platform": pl.String,
    "lang": pl.String,
    "content_hash": pl.String,
    "text": pl.String,  # title, text and transcript, one per line, as the matcher reads them
}

SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "posts": POSTS_SCHEMA,
    "matches": MATCHES_SCHEMA,
    "claims": CLAIMS_SCHEMA,
    "runs": RUNS_SCHEMA,
    "source_health": SOURCE_HEALTH_SCHEMA,
    "media": MEDIA_SCHEMA,
    "matched_posts": MATCHED_POSTS_SCHEMA,
    "post_metrics": METRICS_SCHEMA,
    "reviews": REVIEWS_SCHEMA,
}

# a row whose key is already in the table is never written again
KEYS: dict[str, tuple[str, ...]] = {
    "posts": ("post_id", "content_hash"),
    "matches": ("post_id", "claim_id", "catalogue_version"),
    "claims": ("claim_id", "catalogue_version"),
    "runs": ("run_id",),
    "source_health": ("run_id", "source"),
    "media": ("post_id", "media_url", "algorithm"),
    "matched_posts": ("post_id", "catalogue_version"),
    "post_metrics": ("post_id", "run_id"),
    "reviews": ("post_id", "claim_id", "reviewer", "reviewed_at"),
}
TABLES = tuple(SCHEMAS)


def register_table(name: str, schema: dict[str, pl.DataType], key: tuple[str, ...]) -> None:
    """Add a table: its columns and the key that keeps rows from being written twice."""
    if not re.match(r"^[a-z][a-z0-9_]*$", name):
        raise ValueError(f"table name {name!r}: use lower-case letters, digits and '_'")
    missing = [k for k in key if k not in schema]
    if not key or missing:
        raise ValueError(f"table {name!r}: key columns {missing or key} are not in its schema")
    global TABLES
    SCHEMAS[name] = schema
    KEYS[name] = tuple(key)
    TABLES = tuple(SCHEMAS)


_RUN_ID = re.compile(r"^[A-Za-z0-9._-]+$")
# the only paths a log or journal may name for reading or deleting: a part file in a partition
_PART_REL = re.compile(r"^date=\d{4}-\d{2}-\d{2}/[A-Za-z0-9][A-Za-z0-9._=~+-]*\.parquet$")
_VERSION_NAME = re.compile(r"^(\d{20})\.json$")

LOG = "_log"
# a file no log version lists, older than this, is a killed writer's leftover (or copied in by
# hand): check() adopts it. Younger ones may be a write in flight and are only verified.
ADOPT_AFTER_S = 600.0
KEEP_VERSIONS = 40  # log versions kept per table (and per state document)
COMMIT_ATTEMPTS = 20
# rows per Parquet row group: a read that filters a big part file (a run's posts read back a round
# at a time) decodes one row group at a time, not the whole file
ROW_GROUP_ROWS = 10_000
DEFAULT_COMPACT_FILES = 16  # a partition with more files than this is compacted after a write
SUPPORTED = ("file", "local", "s3", "s3a", "gs", "gcs")


class StoreError(RuntimeError):
    """Raised when the data dir cannot be used (not writable, a file where a folder should be,
    a part file that is not Parquet or has the wrong columns, a bad log or state file, a disk
    that is full). The message is one line naming the path."""


class _Conflict(Exception):
    """Another writer committed the version this one wanted; re-read and try again."""


class _Vanished(StoreError):
    """The file was deleted while it was being checked (a write in flight gave up, a compaction)."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _os_reason(exc: OSError) -> str:
    return exc.strerror or _first_line(exc)


def empty(table: str) -> pl.DataFrame:
    return pl.DataFrame(schema=SCHEMAS[table])


def _unique(frame: pl.DataFrame, key: list[str]) -> pl.DataFrame:
    """The first row of each key; ``frame`` itself (not a copy) when no key repeats."""
    if not frame.select(key).is_duplicated().any():
        return frame
    return frame.unique(subset=key, keep="first", maintain_order=True)


def conform(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with exactly the table's columns and types (missing columns are null)."""
    schema = SCHEMAS[table]
    if frame.height == 0:
        return empty(table)
    missing = [pl.lit(None, dtype=t).alias(c) for c, t in schema.items() if c not in frame.columns]
    if missing:
        frame = frame.with_columns(missing)
    return frame.select([pl.col(c).cast(t) for c, t in schema.items()])


# ---------------------------------------------------------------- per-file statistics and key filters
#
# Each log record carries, per Datetime column, the file's min and max ("stats"), so a read of
# "rows since t" opens only the files that can hold such rows. Each part file carries in its
# Parquet footer (key-value metadata, ignored by other readers) a Bloom filter over the table's
# first key column, so a key lookup (de-duplicating a write, finding a post's older rows) reads
# only the files that may hold one of the keys. Both only ever skip files that cannot match:
# a file without them is read, and the rows read are always filtered exactly.

KEY_FILTER = "claimwatch.key_filter"  # footer metadata: {"column", "k", "bits" (base64)}
_FILTER_BITS_PER_KEY = 24  # with 16 probes: about 1 false "maybe" in 100,000 keys
_FILTER_PROBES = 16
_FILTER_MIN_ROWS = 1000  # smaller files are cheaper to read than to probe
_PROBE_KEYS = 8192  # keys probed against a filter at once
_FILTER_CACHE: dict[tuple[str, str, int], Any] = {}  # (file, stamp, size) -> bit array or None
_FILTER_CACHE_MAX = 2048


def _file_stats(table: str, frame: pl.DataFrame) -> dict[str, list[str] | None]:
    """Min and max of each Datetime column of ``frame`` (ISO 8601) and of its ``run_id`` (whose
    values start with the run's start time, so they sort by time); None when all null."""
    out: dict[str, list[str] | None] = {}
    for col, dtype in SCHEMAS[table].items():
        if col not in frame.columns or not (isinstance(dtype, pl.Datetime) or (col == "run_id" and dtype == pl.String)):
            continue
        s = frame.get_column(col)
        if s.dtype != dtype:
            continue  # an old file with another type (or all-null column): no statistics, always read
        lo, hi = s.min(), s.max()
        if lo is None or hi is None:
            out[col] = None
        else:
            out[col] = [lo.isoformat(), hi.isoformat()] if isinstance(lo, datetime) else [str(lo), str(hi)]
    return out


def _utc(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _may_be_since(record: dict[str, Any], column: str, since: datetime | str) -> bool:
    """False only when the log record proves the file holds no row with ``column >= since``."""
    stats = record.get("stats")
    if not isinstance(stats, dict) or column not in stats:
        return True  # written before statistics were recorded: read it
    bounds = stats[column]
    if bounds is None:
        return False  # every value is null: no row passes
    try:
        if isinstance(since, datetime):
            return datetime.fromisoformat(bounds[1]) >= _utc(since)
        return str(bounds[1]) >= str(since)
    except (TypeError, ValueError, IndexError):
        return True


def _key_hashes(values: pl.Series) -> tuple[Any, Any]:
    """Two 64-bit hashes per value (blake2b of its text), stable across versions and machines."""
    import hashlib

    import numpy as np

    texts = values.drop_nulls().cast(pl.String).unique()
    pairs = np.empty((len(texts), 2), dtype="<u8")
    for start in range(0, len(texts), _PROBE_KEYS):  # a few thousand Python strings at a time
        chunk = texts.slice(start, _PROBE_KEYS).to_list()
        raw = b"".join(hashlib.blake2b(t.encode("utf-8"), digest_size=16).digest() for t in chunk)
        pairs[start:start + len(chunk)] = np.frombuffer(raw, dtype="<u8").reshape(-1, 2)
    return pairs[:, 0], pairs[:, 1] | np.uint64(1)


def _positions(h1: Any, h2: Any, m: int, k: int) -> Any:
    import numpy as np

    steps = np.arange(k, dtype=np.uint64)
    with np.errstate(over="ignore"):
        return (h1[:, None] + steps[None, :] * h2[:, None]) % np.uint64(m)


def key_filter(values: pl.Series) -> str:
    """The footer metadata value for a file whose first key column holds ``values``."""
    import base64

    import numpy as np

    h1, h2 = _key_hashes(values)
    m = max(64, -(-len(h1) * _FILTER_BITS_PER_KEY // 64) * 64)
    bits = np.zeros(m, dtype=bool)
    for start in range(0, len(h1), _PROBE_KEYS):  # a few MB of positions at a time, not keys x probes
        bits[_positions(h1[start:start + _PROBE_KEYS], h2[start:start + _PROBE_KEYS], m,
                        _FILTER_PROBES).ravel().astype(np.int64)] = True
    return json.dumps({"column": values.name, "k": _FILTER_PROBES,
                       "bits": base64.b64encode(np.packbits(bits, bitorder="little").tobytes()).decode("ascii")})


def _parse_filter(text: str | None, column: str) -> Any:
    """(bits, k) from footer metadata, or None when absent or for another column."""
    import base64

    import numpy as np

    if not text:
        return None
    try:
        data = json.loads(text)
        if data.get("column") != column:
            return None
        packed = np.frombuffer(base64.b64decode(data["bits"]), dtype=np.uint8)
        return (packed, int(data["k"])) if len(packed) else None
    except (ValueError, KeyError, TypeError):
        return None


def _cache_filter(key: tuple[str, str, int], parsed: Any) -> None:
    if len(_FILTER_CACHE) >= _FILTER_CACHE_MAX:
        _FILTER_CACHE.pop(next(iter(_FILTER_CACHE)))
    _FILTER_CACHE[key] = parsed


def _may_hold(parsed: Any, probe: tuple[Any, Any]) -> bool:
    """False only when the filter proves none of the probed keys is in the file."""
    if parsed is None:
        return True
    packed, k = parsed
    h1, h2 = probe
    m = len(packed) * 8
    for start in range(0, len(h1), _PROBE_KEYS):  # a few MB of positions at a time, not keys x probes
        pos = _positions(h1[start:start + _PROBE_KEYS], h2[start:start + _PROBE_KEYS], m, k).astype("int64")
        if ((packed[pos >> 3] >> (pos & 7)) & 1).astype(bool).all(axis=1).any():
            return True
    return False


def part_files(data_dir: str | Path, table: str, check: bool = True) -> list[Any]:
    """The part files of ``table`` a reader must read: those of the table's newest log version
    (for a data dir written before the log existed: every ``date=*/*.parquet`` except hidden
    files and those an unfinished compaction replaced). Every reader of the dataset inside
    claimwatch lists parts through this (or :meth:`Store.files`).

    With ``check`` (default) a listed file that is missing, changed since it was written and no
    longer readable, or not Parquet raises a one-line :class:`StoreError` naming it;
    ``check=False`` lists without looking at the files."""
    return Store(data_dir).files(table, check=check)


# ---------------------------------------------------------------- storage backends


class _Local:
    """A data dir on a local (or NFS) file system: create-if-absent is ``link(2)``."""

    local = True

    def __init__(self, root: Path):
        self.root = root

    def path(self, rel: str) -> Path:
        return self.root / rel

    def show(self, rel: str) -> str:
        return str(self.root / rel)

    def reader(self, rel: str) -> str:
        return str(self.root / rel)

    def read(self, rel: str) -> bytes:
        return (self.root / rel).read_bytes()

    def _tmp(self, p: Path) -> Path:
        return p.with_name(f".{p.name}.{uuid.uuid4().hex[:8]}.tmp")

    def _write_tmp(self, p: Path, data: bytes) -> Path:
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._tmp(p)
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        return tmp

    def put(self, rel: str, data: bytes) -> None:
        """Write a whole file atomically (a reader sees all of it or none)."""
        p = self.root / rel
        tmp = self._write_tmp(p, data)
        try:
            os.replace(tmp, p)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise

    def create(self, rel: str, data: bytes) -> None:
        """Write a whole file only if nothing is there yet: ``FileExistsError`` otherwise."""
        p = self.root / rel
        tmp = self._write_tmp(p, data)
        try:
            os.link(tmp, p)
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()
        with contextlib.suppress(OSError):
            fd = os.open(p.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def names(self, rel: str) -> list[str]:
        try:
            return sorted(e.name for e in os.scandir(self.root / rel) if e.is_file())
        except (FileNotFoundError, NotADirectoryError):
            return []

    def walk(self, rel: str) -> dict[str, dict[str, Any]]:
        """Every ``date=*/<file>`` under ``rel``: relative path -> size, stamp, age in seconds."""
        out: dict[str, dict[str, Any]] = {}
        base = self.root / rel
        now = time.time()
        try:
            parts = [e for e in os.scandir(base) if e.is_dir() and e.name.startswith("date=")]
        except (FileNotFoundError, NotADirectoryError):
            return out
        for d in parts:
            for e in os.scandir(d.path):
                if not e.is_file():
                    continue
                st = e.stat()
                out[f"{d.name}/{e.name}"] = {"size": st.st_size, "stamp": str(st.st_mtime_ns),
                                             "age": now - st.st_mtime}
        return out

    def stat(self, rel: str) -> dict[str, Any] | None:
        try:
            st = (self.root / rel).stat()
        except FileNotFoundError:
            return None
        return {"size": st.st_size, "stamp": str(st.st_mtime_ns), "age": time.time() - st.st_mtime}

    def delete(self, rel: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.root / rel).unlink()

    def exists(self, rel: str = "") -> bool:
        return (self.root / rel).exists()

    def tmp_leftovers(self, tables: Iterable[str]) -> list[Path]:
        found = []
        for t in tables:
            found += list((self.root / t).glob("date=*/.*.tmp")) + list((self.root / t / LOG).glob(".*.tmp"))
        found += list((self.root / "_state").glob(".*.tmp")) + list((self.root / "_state").glob("*/.*.tmp"))
        return found

    def ensure(self) -> None:
        (self.root / "_state").mkdir(parents=True, exist_ok=True)


class _Remote:
    """A data dir in object storage through fsspec (s3fs, gcsfs): create-if-absent is the
    store's conditional PUT. No rename, no listing cache (another machine may have written)."""

    local = False

    def __init__(self, url: str):
        import fsspec

        self.url = url.rstrip("/")
        self.protocol = url.split("://", 1)[0]
        try:
            self.fs, self.base = fsspec.core.url_to_fs(self.url, use_listings_cache=False, skip_instance_cache=True)
        except ImportError as exc:
            pkg = "s3fs" if self.protocol.startswith("s3") else "gcsfs"
            raise StoreError(f"{url}: object storage needs the {pkg} package ({_first_line(exc)}); "
                             f"pip install {pkg}") from None
        self.base = self.base.rstrip("/")

    def path(self, rel: str) -> str:
        return f"{self.base}/{rel}" if rel else self.base

    def show(self, rel: str) -> str:
        return f"{self.url}/{rel}" if rel else self.url

    reader = show

    def read(self, rel: str) -> bytes:
        return self.fs.cat_file(self.path(rel))

    def put(self, rel: str, data: bytes) -> None:
        self.fs.pipe_file(self.path(rel), data)

    def create(self, rel: str, data: bytes) -> None:
        self.fs.pipe_file(self.path(rel), data, mode="create")  # FileExistsError when taken

    def names(self, rel: str) -> list[str]:
        try:
            entries = self.fs.ls(self.path(rel), detail=True, refresh=True)
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(e["name"].rsplit("/", 1)[-1] for e in entries if e.get("type") == "file")

    @staticmethod
    def _meta(info: dict[str, Any]) -> dict[str, Any]:
        stamp = info.get("ETag") or info.get("etag") or info.get("generation") or info.get("mtime") or ""
        when = info.get("LastModified") or info.get("updated") or info.get("mtime")
        age = 0.0
        if isinstance(when, str):
            with contextlib.suppress(ValueError):
                when = datetime.fromisoformat(when.replace("Z", "+00:00"))
        if isinstance(when, datetime):
            age = time.time() - when.timestamp()
        elif isinstance(when, (int, float)):
            age = time.time() - float(when)
        return {"size": int(info.get("size") or 0), "stamp": str(stamp).strip('"'), "age": age}

    def walk(self, rel: str) -> dict[str, dict[str, Any]]:
        prefix = self.path(rel) + "/"
        try:
            found = self.fs.find(self.path(rel), detail=True)
        except FileNotFoundError:
            return {}
        out = {}
        for name, info in found.items():
            sub = name[len(prefix):] if name.startswith(prefix) else name
            if sub.startswith("date=") and sub.count("/") == 1:
                out[sub] = self._meta(info)
        return out

    def stat(self, rel: str) -> dict[str, Any] | None:
        try:
            return self._meta(self.fs.info(self.path(rel), refresh=True))
        except FileNotFoundError:
            return None

    def delete(self, rel: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self.path(rel))

    def exists(self, rel: str = "") -> bool:
        try:
            return bool(self.fs.exists(self.path(rel)))
        except FileNotFoundError:
            return False

    def tmp_leftovers(self, tables: Iterable[str]) -> list[str]:
        return []  # object storage has no temporary names: a PUT is whole or absent

    def ensure(self) -> None:
        try:
            self.fs.ls(self.base.split("/", 1)[0], refresh=True)
        except FileNotFoundError:
            raise StoreError(f"{self.url}: the bucket does not exist; create it or pass another --data-dir") from None
        except PermissionError as exc:
            raise StoreError(f"{self.url}: access denied ({_first_line(exc)}); check the credentials") from None


def _backend(root: str | Path) -> _Local | _Remote:
    text = str(root)
    if "://" in text:
        protocol = text.split("://", 1)[0].lower()
        if protocol not in SUPPORTED:
            raise StoreError(f"{text}: unsupported data dir; use a local path, s3://bucket/prefix or gs://bucket/prefix")
        if protocol in ("file", "local"):
            return _Local(Path(text.split("://", 1)[1]))
        return _Remote(text)
    return _Local(Path(root))


# ---------------------------------------------------------------- snapshots


@dataclass
class Snapshot:
    """The committed file set of one table at one log version (``-1``: no log yet)."""

    table: str
    version: int
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # relative path -> rows, size, stamp
    legacy: bool = False  # listed from the folder (a data dir written before the log existed)

    def partitions(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for rel in sorted(self.files):
            out.setdefault(rel.split("/", 1)[0], []).append(rel)
        return out


def _is_vanished(exc: BaseException) -> bool:
    text = str(exc)
    return isinstance(exc, FileNotFoundError) or "No such file" in text or "NotFound" in text \
        or "NoSuchKey" in text or "not found" in text.lower()


_progress = None


def _warn(msg: str) -> None:
    import logging

    logging.getLogger("claimwatch.progress").warning(msg)


class Store:
    """One data dir. ``Store(path).write("posts", frame, run_id)``; ``Store(path).read("posts")``.

    ``compact_files``: after a write, a partition holding more part files than this is merged
    into one (``None``: :data:`DEFAULT_COMPACT_FILES`; 0: never compact automatically).
    """

    def __init__(self, root: str | Path, compact_files: int | None = None):
        self.io = _backend(root)
        self.root: Any = self.io.root if self.io.local else self.io.url
        self.compact_files = DEFAULT_COMPACT_FILES if compact_files is None else int(compact_files)
        self._verified: set[tuple[str, str, str, int]] = set()
        self._reconciled: set[str] = set()
        self._ensured = False
        self._committed: dict[str, Snapshot] = {}  # the snapshot each table's last commit made

    # ------------------------------------------------------------ paths
    @property
    def local(self) -> bool:
        return self.io.local

    @property
    def state_dir(self) -> Any:
        return self.io.path("_state")

    def table_dir(self, table: str) -> Any:
        return self.io.path(self._table(table))

    @staticmethod
    def _table(table: str) -> str:
        if table not in SCHEMAS:
            raise KeyError(f"unknown table {table!r}; tables: {', '.join(TABLES)}")
        return table

    @staticmethod
    def _new_part(run_id: str, day: date) -> str:
        if not _RUN_ID.match(run_id):
            raise ValueError(f"run_id {run_id!r} may only hold letters, digits, '.', '_' and '-'")
        return f"date={day.isoformat()}/part-{run_id}-{uuid.uuid4().hex[:6]}.parquet"

    @staticmethod
    def _check_rel(where: str, rel: Any) -> str:
        if not isinstance(rel, str) or not _PART_REL.match(rel) or ".." in rel:
            raise StoreError(f"{where}: lists {rel!r}, which is not a part file (date=YYYY-MM-DD/<name>.parquet) "
                             f"inside the table folder; nothing was deleted: fix or remove {where}")
        return rel

    def _show(self, table: str, rel: str = "") -> str:
        return self.io.show(f"{table}/{rel}" if rel else table)

    def ensure(self) -> None:
        if self._ensured:
            return
        try:
            self.io.ensure()
            self._ensured = True
        except OSError as exc:
            raise StoreError(f"{self.root}: cannot create the data dir ({_os_reason(exc)}); pass a writable --data-dir") from None

    # ------------------------------------------------------------ versioned JSON documents
    def _versions(self, folder: str) -> list[int]:
        return sorted(int(m.group(1)) for n in self.io.names(folder) if (m := _VERSION_NAME.match(n)))

    @staticmethod
    def _vname(folder: str, version: int) -> str:
        return f"{folder}/{version:020d}.json"

    def _read_version(self, folder: str, version: int, what: str = "log file") -> dict[str, Any] | None:
        rel = self._vname(folder, version)
        try:
            data = json.loads(self.io.read(rel).decode("utf-8"))
        except FileNotFoundError:
            return None
        except (ValueError, UnicodeDecodeError) as exc:
            raise StoreError(f"{self.io.show(rel)}: unreadable {what} ({_first_line(exc)}); move it away "
                             f"(the version before it is then used)") from None
        if not isinstance(data, dict):
            raise StoreError(f"{self.io.show(rel)}: unreadable {what} (not a JSON object); move it away")
        return data

    def _latest_version(self, folder: str, what: str = "log file") -> tuple[int, dict[str, Any] | None]:
        for _ in range(5):
            versions = self._versions(folder)
            if not versions:
                return -1, None
            data = self._read_version(folder, versions[-1], what)
            if data is not None:
                return versions[-1], data
        return -1, None  # pruned under our feet five times: treat as empty (never happens in practice)

    def _create_version(self, folder: str, version: int, data: dict[str, Any]) -> None:
        """Commit ``data`` as ``version`` or raise :class:`_Conflict` if it is taken."""
        rel = self._vname(folder, version)
        try:
            self.io.create(rel, json.dumps(data, sort_keys=True, default=str).encode("utf-8"))
        except FileExistsError:
            raise _Conflict(rel) from None
        versions = self._versions(folder)
        if versions and versions[-1] >= version + KEEP_VERSIONS:
            raise _Conflict(rel)  # the slot had been pruned: this commit is stale, and invisible
        for old in versions:
            if old >= version - KEEP_VERSIONS:
                break
            self.io.delete(self._vname(folder, old))

    @staticmethod
    def _backoff(attempt: int) -> None:
        time.sleep(min(0.01 * (2 ** attempt), 0.5) * (0.5 + uuid.uuid4().int % 1000 / 1000))

    def read_state(self, name: str, legacy: str | None = None, what: str = "state file") -> dict[str, Any]:
        """The newest version of the state document ``_state/<name>/`` (``{}`` when none)."""
        version, data = self._latest_version(f"_state/{name}", what)
        if version >= 0:
            return data.get("data", {}) if isinstance(data.get("data"), dict) else {}
        if legacy:  # a data dir written before state documents were versioned
            try:
                old = json.loads(self.io.read(f"_state/{legacy}").decode("utf-8"))
            except FileNotFoundError:
                return {}
            except (ValueError, UnicodeDecodeError) as exc:
                raise StoreError(f"{self.io.show('_state/' + legacy)}: unreadable {what} ({_first_line(exc)}); "
                                 f"move it away") from None
            return old if isinstance(old, dict) else {}
        return {}

    def update_state(self, name: str, change: Callable[[dict[str, Any]], dict[str, Any]],
                     legacy: str | None = None, what: str = "state file") -> dict[str, Any]:
        """Apply ``change`` to the newest version of ``_state/<name>/`` and commit the result;
        a concurrent update is re-read and ``change`` applied again, so neither is lost."""
        folder = f"_state/{name}"
        for attempt in range(COMMIT_ATTEMPTS):
            version, _ = self._latest_version(folder, what)
            new = change(dict(self.read_state(name, legacy, what)))
            try:
                self._create_version(folder, version + 1, {"data": new, "time": _now_iso()})
                return new
            except _Conflict:
                self._backoff(attempt)
            except OSError as exc:
                raise StoreError(f"{self.io.show(folder)}: cannot save the {what} ({_os_reason(exc)}); "
                                 f"free space or fix permissions and run again") from None
        raise StoreError(f"{self.io.show(folder)}: {COMMIT_ATTEMPTS} concurrent updates in a row; try again")

    # ------------------------------------------------------------ cursors
    @property
    def cursors_path(self) -> Any:
        return self.io.path("_state/cursors")

    def read_cursors(self) -> dict[str, Any]:
        try:
            return self.read_state("cursors", legacy="cursors.json", what="cursors")
        except StoreError as exc:
            raise StoreError(f"{exc}; or delete {self.cursors_path} to fetch every source from the start") from None
        except OSError as exc:
            raise StoreError(f"{self.cursors_path}: unreadable cursors ({_os_reason(exc)}); "
                             f"delete it to fetch from the start") from None

    def save_cursors(self, updates: dict[str, Any]) -> None:
        """Merge ``updates`` (source -> cursor) into the cursors, atomically."""
        if not updates:
            return
        safe = json.loads(json.dumps(updates, default=str))
        self.update_state("cursors", lambda cur: {**cur, **safe}, legacy="cursors.json", what="cursors")

    # ------------------------------------------------------------ the log of a table
    @staticmethod
    def _log(table: str) -> str:
        return f"{table}/{LOG}"

    def snapshot(self, table: str) -> Snapshot:
        """The newest committed file set of ``table``."""
        self._table(table)
        version, data = self._latest_version(self._log(table))
        if version < 0:
            return self._legacy_snapshot(table)
        where = self.io.show(self._vname(self._log(table), version))
        files = data.get("files")
        if not isinstance(files, dict):
            raise StoreError(f"{where}: unreadable log file (no file list); move it away")
        for rel in files:
            self._check_rel(where, rel)
        return Snapshot(table, version, {k: dict(v) if isinstance(v, dict) else {} for k, v in files.items()})

    # a data dir written before the log existed, and its compaction journal
    @property
    def journal_path(self) -> Any:
        return self.io.path("_state/compact.json")

    def _legacy_journal(self) -> tuple[str, str, list[str]] | None:
        """The old compaction journal, checked: (table, merged, sources relative to the table).
        Anything but part files inside one table folder is refused with one line."""
        try:
            raw = self.io.read("_state/compact.json")
        except FileNotFoundError:
            return None
        where = self.io.show("_state/compact.json")
        try:
            data = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise StoreError(f"{where}: unreadable compaction journal ({_first_line(exc)}); nothing was deleted: "
                             f"remove it") from None
        if not isinstance(data, dict) or not isinstance(data.get("sources"), list):
            raise StoreError(f"{where}: not a compaction journal; nothing was deleted: remove it")

        def split(name: Any, table: str | None = None) -> tuple[str, str]:
            t, _, rel = name.partition("/") if isinstance(name, str) else ("", "", name)
            if t not in SCHEMAS or (table and t != table) or not _PART_REL.match(rel or "") or ".." in name:
                raise StoreError(f"{where}: lists {name!r}, which is not a part file inside a table folder "
                                 f"(<table>/date=YYYY-MM-DD/<name>.parquet); nothing was deleted: fix or remove {where}")
            return t, rel

        table, merged = split(data.get("merged"))
        return table, merged, [split(s, table)[1] for s in data["sources"]]

    def _legacy_snapshot(self, table: str) -> Snapshot:
        listed = {rel: {"size": m["size"], "stamp": m["stamp"]} for rel, m in self.io.walk(table).items()
                  if rel.endswith(".parquet") and not rel.split("/", 1)[1].startswith(".")}
        journal = self._legacy_journal()
        if journal and journal[0] == table and journal[1] in listed:
            for rel in journal[2]:
                if rel != journal[1]:
                    listed.pop(rel, None)
        return Snapshot(table, -1, listed, legacy=bool(listed))

    def _finish_legacy_journal(self) -> None:
        journal = self._legacy_journal()
        if journal is None:
            return
        table, merged, sources = journal
        # only a table without a log can still need it; in a table with a log, the files it names
        # are either listed (kept) or leftovers (adopted without doubling a row)
        if not self._versions(self._log(table)) and self.io.exists(f"{table}/{merged}"):
            for rel in sources:
                if rel != merged:
                    self.io.delete(f"{table}/{rel}")
        self.io.delete("_state/compact.json")

    def _bootstrap(self, table: str) -> Snapshot:
        """The newest snapshot; a table written before the log existed first gets version 0
        (each of its files verified in full)."""
        for attempt in range(COMMIT_ATTEMPTS):
            snap = self.snapshot(table)
            if not snap.legacy:
                return snap
            self._finish_legacy_journal()
            snap = self._legacy_snapshot(table)
            # a writer begins a table's log (version 0) before it puts a part file, so a listing
            # taken while the log is still absent holds only files written before logs existed;
            # if the log appeared meanwhile, the listing may hold other writers' uncommitted parts
            again = self.snapshot(table)
            if not again.legacy:
                return again
            for rel in snap.files:
                if not _PART_REL.match(rel):
                    raise StoreError(f"{self._show(table, rel)}: not a part file name claimwatch can use "
                                     f"(letters, digits, '.', '_', '-', ending in .parquet); rename or move it away")
            try:
                files = {rel: self._verify(table, rel) for rel in snap.files}
                break
            except _Vanished:
                if attempt == COMMIT_ATTEMPTS - 1:
                    raise
        with contextlib.suppress(_Conflict):
            self._create_version(self._log(table), 0, self._entry(table, 0, files, files, [], "adopt"))
        return self.snapshot(table)

    @staticmethod
    def _entry(table: str, version: int, files: dict, added: Iterable[str], removed: Iterable[str], op: str,
               run_id: str | None = None) -> dict[str, Any]:
        return {"format": 1, "table": table, "version": version, "op": op, "run_id": run_id, "time": _now_iso(),
                "commit": uuid.uuid4().hex, "added": sorted(added), "removed": sorted(removed), "files": files}

    def _commit(self, base: Snapshot, add: dict[str, dict[str, Any]], remove: Iterable[str], op: str,
                run_id: str | None = None) -> Snapshot:
        """Commit ``base`` minus ``remove`` plus ``add`` as the next version (or :class:`_Conflict`),
        then delete the removed files."""
        if base.legacy:
            raise _Conflict("the table has no log yet")
        table, remove = base.table, set(remove)
        files = {k: v for k, v in base.files.items() if k not in remove}
        files.update(add)
        version = base.version + 1
        self._create_version(self._log(table), version, self._entry(table, version, files, add, remove, op, run_id))
        where = self.io.show(self._vname(self._log(table), version))
        for rel in sorted(remove):
            self.io.delete(f"{table}/{self._check_rel(where, rel)}")
        snap = self._committed[table] = Snapshot(table, version, files)
        return snap

    # ------------------------------------------------------------ checking files
    def _verify(self, table: str, rel: str, meta: dict[str, Any] | None = None) -> dict[str, Any]:
        """Read ``rel`` in full and check its columns; returns its log record. One-line
        :class:`StoreError` naming the file when it is not Parquet, unreadable or of another table."""
        path = self._show(table, rel)
        meta = meta or self.io.stat(f"{table}/{rel}")
        if meta is None:
            raise StoreError(f"{path}: listed in the table's log but missing; restore it, or run "
                             f"`claimwatch compact` to drop it from the log")
        if (table, rel, meta["stamp"], meta["size"]) in self._verified:
            return {"rows": meta.get("rows"), "size": meta["size"], "stamp": meta["stamp"]}
        source = self.io.reader(f"{table}/{rel}")
        try:
            return self._verify_file(table, rel, meta, path, source)
        except StoreError:
            if self.io.stat(f"{table}/{rel}") is None:
                raise _Vanished(f"{path}: deleted while it was being checked") from None
            raise

    def _verify_file(self, table: str, rel: str, meta: dict[str, Any], path: str, source: str) -> dict[str, Any]:
        try:
            if self.io.local:
                with open(source, "rb") as fh:
                    head = fh.read(4)
                    fh.seek(max(meta["size"] - 4, 0))
                    tail = fh.read(4)
                if head != b"PAR1" or tail != b"PAR1":
                    raise ValueError("no PAR1 magic bytes" if meta["size"] else "empty file")
            schema = pl.read_parquet_schema(source)
        except OSError as exc:
            raise StoreError(f"{path}: cannot read this part file ({_os_reason(exc)}); check its permissions "
                             f"or move it away") from None
        except Exception as exc:
            raise StoreError(f"{path}: not a Parquet file ({_first_line(exc)}); move it away or delete it") from None
        expected = SCHEMAS[table]
        wrong = [f"{c} is {t}, not {expected[c]}" for c, t in schema.items()
                 if c in expected and t != expected[c] and t != pl.Null]
        extra = [c for c in schema if c not in expected]
        missing = [k for k in KEYS[table] if k not in schema]
        if wrong or extra or missing:
            what = wrong[:2] + ([f"unknown columns {', '.join(extra[:4])}"] if extra else []) \
                + ([f"no key column {', '.join(missing)}"] if missing else [])
            raise StoreError(f"{path}: not a part file of table {table} ({'; '.join(what)}); "
                             f"move it away or delete it")
        try:
            frame = pl.read_parquet(source)
        except Exception as exc:
            raise StoreError(f"{path}: the data in this part file cannot be read ({_first_line(exc)}); "
                             f"move it away or delete it") from None
        self._verified.add((table, rel, meta["stamp"], meta["size"]))
        return {"rows": frame.height, "size": meta["size"], "stamp": meta["stamp"], "stats": _file_stats(table, frame)}

    def _check_listed(self, snap: Snapshot, listing: dict[str, dict[str, Any]]) -> list[str]:
        """Verify the snapshot's files that changed since they were logged; return those missing."""
        missing = []
        for rel, rec in snap.files.items():
            meta = listing.get(rel)
            if meta is None:
                missing.append(rel)
            elif snap.legacy or (meta["size"], meta["stamp"]) != (rec.get("size"), rec.get("stamp")):
                try:
                    self._verify(snap.table, rel, meta)
                except _Vanished:
                    missing.append(rel)
        return missing

    def check(self, tables: Iterable[str] | None = None, adopt: bool = False) -> None:
        """Check every table (default: all) before a run fetches anything; one-line
        :class:`StoreError` naming the first bad file.

        Each file the newest log version lists must be there with the size and stamp the log
        recorded (a file that changed is read again in full); each file in a table folder that
        no version lists is verified in full. ``adopt`` (what a writer does) also adopts
        leftovers older than :data:`ADOPT_AFTER_S` and drops files moved away by hand."""
        self._legacy_journal()  # a bad journal is refused even when nothing reads it any more
        for t in tables or TABLES:
            self._reconcile(t, adopt=adopt)

    def _reconcile(self, table: str, adopt: bool) -> Snapshot:
        snap = self._bootstrap(table) if adopt else self.snapshot(table)
        listing = self.io.walk(table)
        missing = self._check_listed(snap, listing)
        if missing:
            again = self.snapshot(table)  # a compaction may have removed them since
            missing = [rel for rel in missing if rel in again.files]
            if missing and not adopt:
                raise StoreError(f"{self._show(table, missing[0])}: listed in the table's log but missing; restore "
                                 f"it, or run `claimwatch compact` to drop it from the log")
            if missing:
                snap = self._forget_missing(table)
        if snap.legacy:
            return snap
        leftovers = {rel: m for rel, m in listing.items()
                     if rel not in snap.files and rel.endswith(".parquet") and not rel.split("/", 1)[1].startswith(".")}
        for rel, meta in sorted(leftovers.items()):
            if not _PART_REL.match(rel):
                raise StoreError(f"{self._show(table, rel)}: not a part file name claimwatch can use; "
                                 f"move it away or delete it")
            try:
                self._verify(table, rel, meta)
            except _Vanished:
                leftovers.pop(rel)
        old = {rel: m for rel, m in leftovers.items() if m["age"] >= ADOPT_AFTER_S}
        if adopt and old:
            for rel in sorted(old):
                self._adopt(table, rel)
            snap = self.snapshot(table)
        return snap

    def _forget_missing(self, table: str) -> Snapshot:
        """Drop log entries whose file is gone (moved away by hand), saying which."""
        for attempt in range(COMMIT_ATTEMPTS):
            snap = self.snapshot(table)
            listing = self.io.walk(table)
            gone = [rel for rel in snap.files if rel not in listing]
            if not gone:
                return snap
            try:
                snap = self._commit(snap, {}, gone, "forget")
                _warn(f"{self._show(table)}: {len(gone)} part files the log listed were gone and are dropped "
                      f"from it: {', '.join(gone[:5])}")
                return snap
            except _Conflict:
                self._backoff(attempt)
        raise StoreError(f"{self._show(table)}: {COMMIT_ATTEMPTS} concurrent commits in a row; try again")

    def _adopt(self, table: str, rel: str) -> None:
        """Commit the rows of a leftover file that the table lacks (as a new file), then delete it."""
        frame = conform(table, pl.read_parquet(self.io.reader(f"{table}/{rel}")))
        name = rel.split("/", 1)[1]
        run = re.sub(r"[^A-Za-z0-9._-]", "_", name[5:-8] if name.startswith("part-") else name[:-8])[:80]
        written = self._write(table, frame, run or "adopted", date.fromisoformat(rel[5:15]), op="adopt")
        self.io.delete(f"{table}/{rel}")
        _warn(f"{self._show(table, rel)}: not in the table's log (left by a killed writer or copied in); "
              f"{written.height} of its {frame.height} rows were new and are now in the table")

    # ------------------------------------------------------------ reading
    def files(self, table: str, check: bool = True) -> list[Any]:
        """Part files of ``table`` to read (see :func:`part_files`)."""
        snap = self.snapshot(table)
        if check and snap.files:
            missing = self._check_listed(snap, self.io.walk(table))
            if missing:
                again = self.snapshot(table)
                if any(rel in again.files for rel in missing):
                    self._verify(table, next(rel for rel in missing if rel in again.files))  # raises: missing
                return self.files(table, check)
        if self.io.local:
            return [self.io.path(f"{table}/{rel}") for rel in sorted(snap.files)]
        return [self.io.show(f"{table}/{rel}") for rel in sorted(snap.files)]

    def _scan_snapshot(self, snap: Snapshot, rels: Iterable[str] | None = None,
                       since: tuple[str, datetime | str] | None = None, keys: pl.Series | None = None) -> pl.LazyFrame:
        rels = self._prune(snap, rels, since, keys)
        if not rels:
            return empty(snap.table).lazy()
        lf = pl.scan_parquet([self.io.reader(f"{snap.table}/{r}") for r in rels], hive_partitioning=False,
                             schema=SCHEMAS[snap.table], missing_columns="insert")
        if since is not None:
            lf = lf.filter(pl.col(since[0]) >= (_utc(since[1]) if isinstance(since[1], datetime) else since[1]))
        if keys is not None:
            first = pl.col(KEYS[snap.table][0])
            match = first.is_in(keys.drop_nulls().cast(SCHEMAS[snap.table][KEYS[snap.table][0]]).implode())
            lf = lf.filter(match | first.is_null() if keys.null_count() else match)
        return lf

    def _prune(self, snap: Snapshot, rels: Iterable[str] | None, since: tuple[str, datetime | str] | None,
               keys: pl.Series | None) -> list[str]:
        """The files of ``rels`` (default: all of the snapshot) that can hold rows with
        ``since[0] >= since[1]`` and a first key column value in ``keys`` (see KEY_FILTER)."""
        rels = sorted(snap.files if rels is None else rels)
        if since is not None:
            rels = [r for r in rels if _may_be_since(snap.files.get(r) or {}, since[0], since[1])]
        if keys is None or not rels or keys.null_count():
            return rels
        probe = _key_hashes(keys)
        if not len(probe[0]):
            return []
        big = [r for r in rels if ((snap.files.get(r) or {}).get("rows") or _FILTER_MIN_ROWS) >= _FILTER_MIN_ROWS]
        filters = self._key_filters(snap, big)
        return [r for r in rels if _may_hold(filters.get(r), probe)]

    def _key_filters(self, snap: Snapshot, rels: list[str]) -> dict[str, Any]:
        """The key filter of each file (from its footer; cached per file, size and stamp)."""
        column = KEYS[snap.table][0]
        out, todo = {}, []
        for rel in rels:
            rec = snap.files.get(rel) or {}
            ck = (self.io.reader(f"{snap.table}/{rel}"), str(rec.get("stamp")), int(rec.get("size") or 0))
            if ck in _FILTER_CACHE:
                out[rel] = _FILTER_CACHE[ck]
            else:
                todo.append((rel, ck))

        def load(item: tuple[str, tuple[str, str, int]]) -> tuple[str, tuple[str, str, int], Any, bool]:
            rel, ck = item
            try:
                meta = pl.read_parquet_metadata(ck[0])
            except Exception:  # vanished or unreadable: read the file, and let the read explain
                return rel, ck, None, False
            return rel, ck, _parse_filter(meta.get(KEY_FILTER), column), True

        if len(todo) > 4:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(8) as pool:
                loaded = list(pool.map(load, todo))
        else:
            loaded = [load(item) for item in todo]
        for rel, ck, parsed, ok in loaded:
            out[rel] = parsed
            if ok:
                _cache_filter(ck, parsed)
        return out

    def scan(self, table: str, exclude: Any = None, since: tuple[str, datetime | str] | None = None,
             keys: pl.Series | Iterable[Any] | None = None) -> pl.LazyFrame:
        """Lazy scan of the table's newest committed file set (one snapshot).

        ``since=(column, t)``: only rows with ``column >= t`` (a Datetime column, or ``run_id``);
        ``keys``: only
        rows whose first key column (``KEYS[table][0]``, e.g. ``post_id``) is one of these values.
        Both read only the files that can hold such rows (per-file statistics in the log, key
        filters in the footers), so their cost follows the rows asked for, not the table's size."""
        if keys is not None and not isinstance(keys, pl.Series):
            keys = pl.Series(KEYS[table][0], list(keys), dtype=SCHEMAS[table][KEYS[table][0]])
        return self._scan_snapshot(self.snapshot(table), since=since, keys=keys)

    def collect(self, table: str, frame: pl.LazyFrame | Callable[[], pl.LazyFrame]) -> pl.DataFrame:
        """Collect ``frame``; a part file polars cannot read is a one-line :class:`StoreError`.

        Pass a function that builds the frame from :meth:`scan` rather than a frame, and a read
        that lost a file to a concurrent compaction is started again on the newest snapshot,
        which holds the same rows: the answer never depends on the compaction."""
        build = frame if callable(frame) else (lambda: frame)
        for attempt in range(8):
            try:
                return build().collect()
            except (pl.exceptions.PolarsError, OSError) as exc:
                if callable(frame) and attempt < 7 and _is_vanished(exc):
                    self._backoff(attempt)
                    continue
                self._explain(table, exc)
        raise AssertionError("unreachable")

    def _explain(self, table: str, exc: BaseException) -> None:
        tables = [table] + [t for t in SCHEMAS if t != table] if table in SCHEMAS else list(SCHEMAS)
        for t in tables:
            snap = self.snapshot(t)
            for rel in sorted(snap.files):
                self._verify(t, rel)  # raises, naming the file, when it is the culprit
        raise StoreError(f"{self._show(table) if table in SCHEMAS else self.root}: a part file cannot be read "
                         f"({_first_line(exc)}); run `claimwatch compact` to check every file") from None

    def read(self, table: str) -> pl.DataFrame:
        return self.collect(table, lambda: self.scan(table))

    def keys(self, table: str, exclude: Any = None) -> pl.DataFrame:
        return self.collect(table, lambda: self.scan(table).select(KEYS[table]).unique())

    # ------------------------------------------------------------ writing
    def new_rows(self, table: str, frame: pl.DataFrame, exclude: Any = None) -> pl.DataFrame:
        """Rows of ``frame`` whose key is not yet in the table (nor twice in ``frame``)."""
        key = list(KEYS[table])
        frame = conform(table, frame).unique(subset=key, keep="first", maintain_order=True)
        if frame.is_empty():
            return frame
        wanted = frame.get_column(key[0]).unique()
        known = self.collect(table, lambda: self.scan(table, keys=wanted).select(key).unique())
        return frame.join(known, on=key, how="anti", nulls_equal=True)

    def _put_part(self, table: str, rel: str, frame: pl.DataFrame) -> dict[str, Any]:
        buf = io.BytesIO()
        keys = key_filter(frame.get_column(KEYS[table][0]))
        frame.write_parquet(buf, compression="zstd", statistics=True, row_group_size=ROW_GROUP_ROWS,
                            metadata={KEY_FILTER: keys})
        data = buf.getvalue()
        self.io.put(f"{table}/{rel}", data)
        meta = self.io.stat(f"{table}/{rel}") or {"size": len(data), "stamp": ""}
        self._verified.add((table, rel, meta["stamp"], meta["size"]))
        _cache_filter((self.io.reader(f"{table}/{rel}"), str(meta["stamp"]), int(meta["size"])),
                      _parse_filter(keys, KEYS[table][0]))
        return {"rows": frame.height, "size": meta["size"], "stamp": meta["stamp"], "stats": _file_stats(table, frame)}

    def write(self, table: str, frame: pl.DataFrame, run_id: str, day: date | None = None) -> pl.DataFrame:
        """Write the rows of ``frame`` that are new to ``table`` as a new part file and commit it.

        Returns the rows written (none: no file, no commit). Two writers at once never double a
        row: the one that commits second drops the rows the first one added and commits again.
        Then, when the partition holds more than ``compact_files`` files, it is compacted.
        """
        self._table(table)
        day = day or datetime.now(timezone.utc).date()
        if not _RUN_ID.match(run_id):
            raise ValueError(f"run_id {run_id!r} may only hold letters, digits, '.', '_' and '-'")
        try:
            self.ensure()
            if table not in self._reconciled:  # once per table and process: adopt leftovers of killed writers
                self._reconciled.add(table)
                self._reconcile(table, adopt=True)
            rows = self._write(table, frame, run_id, day)
        except OSError as exc:
            hint = "the disk or bucket is full: free space" if exc.errno in (errno.ENOSPC, errno.EDQUOT) \
                else "check the data dir's permissions and space"
            raise StoreError(f"{self._show(table)}: cannot write {table} rows ({_os_reason(exc)}); {hint} "
                             f"and run again") from None
        if rows.height and self.compact_files > 0:
            self._auto_compact(table, f"date={day.isoformat()}")
        return rows

    def _auto_compact(self, table: str, current: str) -> None:
        """Compact the partition just written when it holds more than ``compact_files`` files,
        and every earlier partition that holds two or more (runs no longer write there)."""
        parts = self._committed[table].partitions()
        due = [p for p, rels in parts.items()
               if (len(rels) > self.compact_files if p == current else p < current and len(rels) > 1)]
        for part in due:
            try:
                self._compact(table, only=part)
            except (StoreError, OSError) as exc:  # the rows are committed; compaction can wait
                _warn(f"automatic compaction of {self._show(table)}/{part} skipped: {_first_line(exc)}")

    def _write(self, table: str, frame: pl.DataFrame, run_id: str, day: date, op: str = "write") -> pl.DataFrame:
        key = list(KEYS[table])
        rows = _unique(conform(table, frame), key)
        if rows.is_empty():
            return rows
        snap, keys = self._keys_since(table, None, rows)
        if keys.height:  # (a join copies every row: a big write of new rows is not copied)
            rows = rows.join(keys, on=key, how="anti", nulls_equal=True)
        rel = None
        try:
            for attempt in range(COMMIT_ATTEMPTS):
                if rows.is_empty():
                    if rel is not None:
                        self.io.delete(f"{table}/{rel}")
                    return rows
                if rel is None:
                    rel = self._new_part(run_id, day)
                    record = self._put_part(table, rel, rows)
                try:
                    self._commit(snap, {rel: record}, [], op, run_id)
                    return rows
                except _Conflict:
                    self._backoff(attempt)
                    before = rows.height
                    snap, keys = self._keys_since(table, set(snap.files), rows)  # the rows other writers added
                    if rel in snap.files:  # committed meanwhile by a writer that adopted it: never delete it
                        return rows
                    if keys.height:
                        rows = rows.join(keys, on=key, how="anti", nulls_equal=True)
                        if rows.height != before:
                            self.io.delete(f"{table}/{rel}")
                            rel = None
            raise StoreError(f"{self._show(table)}: {COMMIT_ATTEMPTS} concurrent commits in a row; run again")
        except BaseException:
            if rel is not None:  # never leave an uncommitted file behind when we can help it
                with contextlib.suppress(Exception):
                    if rel not in self.snapshot(table).files:
                        self.io.delete(f"{table}/{rel}")
            raise

    def _keys_since(self, table: str, known: set[str] | None, rows: pl.DataFrame) -> tuple[Snapshot, pl.DataFrame]:
        """The newest snapshot and those keys of ``rows`` that its files not in ``known`` (all:
        None) hold. A file removed by a compaction while being read means reading the newer
        snapshot."""
        state: dict[str, Snapshot] = {}
        wanted = rows.get_column(KEYS[table][0]).unique()

        def build() -> pl.LazyFrame:
            snap = self._bootstrap(table)
            if snap.version < 0:  # a new table: begin its log before any part file is put (see _bootstrap)
                with contextlib.suppress(_Conflict):
                    self._create_version(self._log(table), 0, self._entry(table, 0, {}, [], [], "create"))
                snap = self.snapshot(table)
            state["snap"] = snap
            rels = [r for r in snap.files if known is None or r not in known]
            return self._scan_snapshot(snap, rels, keys=wanted).select(KEYS[table]).unique()

        keys = self.collect(table, build)
        return state["snap"], keys

    # ------------------------------------------------------------ maintenance
    def compact(self, table: str, min_files: int = 2) -> list[tuple[str, int, int]]:
        """Merge each partition's part files into one; same rows, same answers.

        Checks the table first (adopting old leftovers, dropping files moved away by hand).
        Returns (partition, files before, rows) for every partition that was merged."""
        self._table(table)
        self.ensure()
        self._legacy_journal()
        self._reconcile(table, adopt=True)
        return self._compact(table, min_files=min_files)

    def _compact(self, table: str, only: str | None = None, min_files: int = 2) -> list[tuple[str, int, int]]:
        done = []
        snap = self.snapshot(table)
        for part, rels in snap.partitions().items():
            if (only and part != only) or len(rels) < max(min_files, 2):
                continue
            try:
                frame = conform(table, self._scan_snapshot(snap, rels).collect())
            except (pl.exceptions.PolarsError, OSError) as exc:
                if _is_vanished(exc) and not set(rels) <= set(self.snapshot(table).files):
                    continue  # another compaction merged them meanwhile
                self._explain(table, exc)
            rel = f"{part}/part-compacted-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}.parquet"
            record = self._put_part(table, rel, frame)
            try:
                for attempt in range(COMMIT_ATTEMPTS):
                    try:
                        snap = self._commit(snap, {rel: record}, rels, "compact")
                        done.append((part, len(rels), frame.height))
                        rel = None
                        break
                    except _Conflict:
                        self._backoff(attempt)
                        snap = self.snapshot(table)
                        if not set(rels) <= set(snap.files):  # another compaction took them
                            break
            finally:
                if rel is not None:
                    self.io.delete(f"{table}/{rel}")
        return done

    def remove_tmp(self, older_than: float | None = None) -> int:
        """Delete ``.*.tmp`` leftovers of killed writers (in the tables, their logs and
        ``_state``) older than ``older_than`` seconds (default :data:`ADOPT_AFTER_S`: a younger
        one may be a write in progress); returns how many."""
        limit = ADOPT_AFTER_S if older_than is None else older_than
        n, now = 0, time.time()
        for p in self.io.tmp_leftovers(TABLES):
            with contextlib.suppress(FileNotFoundError):
                if now - p.stat().st_mtime >= limit:
                    p.unlink()
                    n += 1
        return n

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Kept for callers written before the commit log, which makes a lock unnecessary."""
        yield


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
