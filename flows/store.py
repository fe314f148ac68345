"""The Parquet dataset: ``<data-dir>/<table>/date=YYYY-MM-DD/part-<run_id>.parquet`` (zstd).

Guarantees (see docs/data.md):

* atomic: every file is written as ``.part-<run_id>.parquet.tmp`` and renamed; readers only
  look at ``*.parquet``, so a run killed at any point leaves every table readable;
* idempotent: rows whose key (:data:`KEYS`) is already in the table are not written again, and
  writing the same ``run_id`` twice replaces that run's part file;
* cursors (``_state/cursors.json``) are saved atomically and only after the posts are on disk;
* one writer at a time per data dir (an ``flock`` on ``_state/lock``);
* crash-safe compaction: the journal ``_state/compact.json`` names the merged file and the part
  files it replaces before the merged file is renamed in; while the journal is there and the
  merged file exists, :meth:`Store.files` (and so :meth:`Store.scan`, :meth:`Store.read` and
  :func:`part_files`) leave the replaced files out, so no row is seen twice; the next store
  operation deletes them and the journal;
* a part file that is not Parquet is refused with one line naming it (:class:`StoreError`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import uuid
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import polars as pl

from connectors.media import MEDIA_SCHEMA
from connectors.schema import POSTS_SCHEMA
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
    "reviews": ("post_id", "claim_id", "reviewer", "reviewed_at"),
}
TABLES = tuple(SCHEMAS)
_RUN_ID = re.compile(r"^[A-Za-z0-9._-]+$")


class StoreError(RuntimeError):
    """Raised when the data dir cannot be used (not writable, a file where a folder should be,
    a part file that is not Parquet). The message is one line naming the path."""


def part_files(data_dir: str | Path, table: str, check: bool = True) -> list[Path]:
    """The part files of ``table`` a reader must read: every ``date=*/*.parquet`` except hidden
    files and those an unfinished compaction has already merged into another file. Every reader
    of the dataset inside claimwatch lists parts through this (or :meth:`Store.files`).

    With ``check`` (default) a file that is not Parquet raises a one-line :class:`StoreError`
    naming it; ``check=False`` lists without opening the files."""
    return Store(data_dir).files(table, check=check)


def empty(table: str) -> pl.DataFrame:
    return pl.DataFrame(schema=SCHEMAS[table])


def conform(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with exactly the table's columns and types (missing columns are null)."""
    schema = SCHEMAS[table]
    if frame.height == 0:
        return empty(table)
    missing = [pl.lit(None, dtype=t).alias(c) for c, t in schema.items() if c not in frame.columns]
    if missing:
        frame = frame.with_columns(missing)
    return frame.select([pl.col(c).cast(t) for c, t in schema.items()])


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class Store:
    """One data dir. ``Store(path).write("posts", frame, run_id)``; ``Store(path).read("posts")``."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._checked: set[tuple[str, int, int]] = set()

    # paths
    @property
    def state_dir(self) -> Path:
        return self.root / "_state"

    def table_dir(self, table: str) -> Path:
        if table not in SCHEMAS:
            raise KeyError(f"unknown table {table!r}; tables: {', '.join(TABLES)}")
        return self.root / table

    def part_path(self, table: str, run_id: str, day: date) -> Path:
        if not _RUN_ID.match(run_id):
            raise ValueError(f"run_id {run_id!r} may only hold letters, digits, '.', '_' and '-'")
        return self.table_dir(table) / f"date={day.isoformat()}" / f"part-{run_id}.parquet"

    def files(self, table: str, check: bool = True) -> list[Path]:
        """Part files of ``table`` to read (see :func:`part_files`), each checked to be Parquet."""
        d = self.table_dir(table)
        if not d.is_dir():
            return []
        replaced = self.replaced()
        files = sorted(p for p in d.glob("date=*/*.parquet")
                       if not p.name.startswith(".") and p.resolve() not in replaced)
        if check:
            for f in files:
                self.check_part(f)
        return files

    @property
    def journal_path(self) -> Path:
        return self.state_dir / "compact.json"

    def _journal(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.journal_path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError, OSError):
            return None
        return data if isinstance(data, dict) else None

    def _journal_path(self, name: str) -> Path:
        p = Path(name)
        return (p if p.is_absolute() else self.root / p).resolve()

    def replaced(self) -> set[Path]:
        """Files an unfinished compaction replaced (its merged file is in place): never read them."""
        data = self._journal()
        if not data or not self._journal_path(str(data.get("merged", ""))).exists():
            return set()
        return {self._journal_path(str(f)) for f in data.get("sources", [])}

    def check_part(self, path: Path) -> None:
        """Raise a one-line :class:`StoreError` if ``path`` is not a readable Parquet file."""
        try:
            st = path.stat()
        except FileNotFoundError:
            return
        key = (str(path), st.st_mtime_ns, st.st_size)
        if key in self._checked:
            return
        try:
            with open(path, "rb") as fh:
                head = fh.read(4)
                fh.seek(max(st.st_size - 4, 0))
                tail = fh.read(4)
            if head != b"PAR1" or tail != b"PAR1":
                raise ValueError("no PAR1 magic bytes" if st.st_size else "empty file")
            pl.read_parquet_schema(path)
        except OSError as exc:
            raise StoreError(f"{path}: cannot read this part file ({exc.strerror}); check its permissions or move it away") from None
        except Exception as exc:
            reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
            raise StoreError(f"{path}: not a Parquet file ({reason}); move it away or delete it") from None
        self._checked.add(key)

    def check(self, tables: tuple[str, ...] | None = None) -> None:
        """Check every part file of ``tables`` (default: all); raises :class:`StoreError`."""
        for t in tables or TABLES:
            self.files(t)

    def ensure(self) -> None:
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{self.root}: cannot create the data dir ({exc.strerror}); pass a writable --data-dir") from None

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """The data dir's write lock; an unfinished compaction is finished first."""
        self.ensure()
        with open(self.state_dir / "lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                self._finish_compaction()
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # reading
    def scan(self, table: str, exclude: Path | None = None) -> pl.LazyFrame:
        files = [f for f in self.files(table) if f != exclude]
        if not files:
            return empty(table).lazy()
        return pl.scan_parquet(files, hive_partitioning=False, schema=SCHEMAS[table],
                               missing_columns="insert")

    def collect(self, table: str, frame: pl.LazyFrame) -> pl.DataFrame:
        """``frame.collect()``; a part file polars cannot read is a one-line :class:`StoreError`."""
        try:
            return frame.collect()
        except (pl.exceptions.PolarsError, OSError) as exc:
            reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
            raise StoreError(f"{self.table_dir(table)}: a part file cannot be read ({reason}); "
                             f"move the bad file away or delete it") from None

    def read(self, table: str) -> pl.DataFrame:
        return self.collect(table, self.scan(table))

    def keys(self, table: str, exclude: Path | None = None) -> pl.DataFrame:
        return self.collect(table, self.scan(table, exclude).select(KEYS[table]).unique())

    # writing
    def new_rows(self, table: str, frame: pl.DataFrame, exclude: Path | None = None) -> pl.DataFrame:
        """Rows of ``frame`` whose key is not yet in the table (nor twice in ``frame``)."""
        key = list(KEYS[table])
        frame = conform(table, frame).unique(subset=key, keep="first", maintain_order=True)
        if frame.is_empty():
            return frame
        return frame.join(self.keys(table, exclude), on=key, how="anti", nulls_equal=True)

    def write(self, table: str, frame: pl.DataFrame, run_id: str, day: date | None = None) -> pl.DataFrame:
        """Write the rows of ``frame`` that are new to ``table`` as this run's part file.

        Returns the rows written. Re-writing the same ``run_id`` replaces its file.
        """
        day = day or datetime.now(timezone.utc).date()
        target = self.part_path(table, run_id, day)
        with self.lock():
            rows = self.new_rows(table, frame, exclude=target)
            if rows.is_empty():
                if target.exists():
                    target.unlink()
                return rows
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp")
            rows.write_parquet(tmp, compression="zstd", statistics=True)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, target)
            return rows

    # cursors
    @property
    def cursors_path(self) -> Path:
        return self.state_dir / "cursors.json"

    def read_cursors(self) -> dict[str, Any]:
        try:
            data = json.loads(self.cursors_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (ValueError, OSError) as exc:
            raise StoreError(f"{self.cursors_path}: unreadable cursors ({exc}); delete it to fetch from the start") from None
        return data if isinstance(data, dict) else {}

    def save_cursors(self, updates: dict[str, Any]) -> None:
        """Merge ``updates`` (source -> cursor) into the cursors file, atomically."""
        if not updates:
            return
        with self.lock():
            cursors = self.read_cursors()
            cursors.update(updates)
            _atomic_write_bytes(self.cursors_path,
                                json.dumps(cursors, indent=2, sort_keys=True, default=str).encode("utf-8"))

    # maintenance
    def compact(self, table: str) -> list[tuple[str, int, int]]:
        """Merge each partition's part files into one; same rows, same answers.

        Returns (partition, files before, rows) for every partition that was merged. A journal
        in ``_state/compact.json`` lets an interrupted compaction finish on the next call.
        """
        done = []
        with self.lock():
            d = self.table_dir(table)
            for part_dir in sorted(d.glob("date=*")) if d.is_dir() else []:
                files = sorted(p for p in part_dir.glob("*.parquet") if not p.name.startswith("."))
                for f in files:
                    self.check_part(f)
                if len(files) < 2:
                    continue
                frame = pl.read_parquet(files, hive_partitioning=False)
                frame = conform(table, frame)
                merged = part_dir / f"part-compacted-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}.parquet"
                tmp = merged.with_name(f".{merged.name}.tmp")
                frame.write_parquet(tmp, compression="zstd", statistics=True)
                # paths relative to the data dir, so a copied or moved data dir keeps its journal
                journal = {"merged": str(merged.relative_to(self.root)),
                           "sources": [str(f.relative_to(self.root)) for f in files]}
                _atomic_write_bytes(self.journal_path, json.dumps(journal).encode())
                os.replace(tmp, merged)
                self._finish_compaction()
                done.append((part_dir.name, len(files), frame.height))
        return done

    def _finish_compaction(self) -> None:
        """Called with the lock held: delete what the journal says was replaced, then the journal."""
        if not self.journal_path.exists():
            return
        data = self._journal()
        if data and self._journal_path(str(data.get("merged", ""))).exists():
            for f in data.get("sources", []):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self._journal_path(str(f)))
        with contextlib.suppress(FileNotFoundError):
            self.journal_path.unlink()

    def remove_tmp(self) -> int:
        """Delete ``*.tmp`` leftovers of killed runs; returns how many."""
        n = 0
        with self.lock():
            for p in self.root.glob("*/date=*/.*.tmp"):
                p.unlink()
                n += 1
        return n
