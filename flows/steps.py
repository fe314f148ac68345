"""The pipeline's steps, run by :mod:`flows.execution` as tasks of a Prefect flow run
(:mod:`flows.pipeline`) or directly in this process (``claimwatch run`` with no Prefect API).

No Prefect import here: concurrency, retries, logs, artifacts and events go through
:mod:`flows.execution`, which hands them to the executor in force. Connectors fetch and parse,
``rules`` matches, :mod:`flows.store` writes. Steps work on a whole source or a batch of posts,
never on one post.

How a run ends (:func:`outcome`): completed when at least one source delivered (the message names
the sources that failed, if any), not completed when every source failed or matching failed. Bad
configuration (including the ``[matching]`` table), a bad catalogue or a part file that is not
Parquet fails the run before anything is fetched or written. Posts are stored and cursors moved
before matching; a run whose matching failed is caught up by the next run (see the comment in
:func:`ingest_and_detect` and docs/data.md).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import traceback
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl

from connectors.deadlines import Budget
from connectors.errors import BudgetExceeded, ConfigError, ConnectorError, ParseError
from connectors.redact import redact
from connectors.robots import RobotsCache
from connectors.schema import POSTS_SCHEMA, metrics_frame
from rules.schema import CLAIMS_SCHEMA
from flows import execution, matching, stopping
from flows.config import (
    DEMO_MANIFEST,
    DEMO_SOURCES,
    PipelineConfig,
    SourceConfig,
    build_source,
    load_config,
    missing_env,
    register_env_secrets,
)
from flows.replay import placeholder_credentials
from flows.reviews import feedback as review_feedback, matcher_version
from flows.store import SCHEMAS, Store, StoreError, conform, empty


class _Skip(Exception):
    """Matching is skipped: the posts could not be stored."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__

FLAG_LABELS = ("likely_misinformation", "needs_review", "debunk")
_FLAG_COLUMNS = ("post_id", "claim_id", "label", "score", "stance")  # of the matches a run keeps for its report


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _say(msg: str, level: int = logging.INFO) -> None:
    """A progress line: to the run log on the Prefect API and the CLI's stderr (see flows.execution),
    secrets masked."""
    execution.log(redact(msg), level)


def resolve_inputs(config: str | None, replay: str | None, demo: bool) -> tuple[Path, Path | None]:
    """The sources file and replay manifest a run uses; no config means the bundled demo."""
    if config is None:
        return DEMO_SOURCES, Path(replay) if replay else DEMO_MANIFEST
    if demo and replay is None:
        return Path(config), DEMO_MANIFEST
    return Path(config), Path(replay) if replay else None


# ---------------------------------------------------------------- fetching


def _rows_frame(kind: str, rows: Any, source: str) -> tuple[str, pl.DataFrame]:
    if kind == "factchecks" or isinstance(rows, list) and rows and "claim_id" in rows[0] and "post_id" not in rows[0]:
        from flows.claimrows import with_verdict

        claims = [{k: r.get(k) for k in CLAIMS_SCHEMA} for r in map(with_verdict, rows)]
        frame = pl.DataFrame(claims, schema=CLAIMS_SCHEMA) if claims else empty("claims")
        return "claims", frame.with_columns(status=pl.lit("imported"), catalogue_version=pl.lit("imported"))
    if isinstance(rows, pl.DataFrame):  # a connector may hand over a large result as a frame
        frame = conform("posts", rows)
    else:
        frame = pl.DataFrame(rows, schema=POSTS_SCHEMA) if rows else empty("posts")
    return "posts", frame.with_columns(source=pl.coalesce(pl.col("source"), pl.lit(source)))


@contextlib.contextmanager
def _connected(cfg: PipelineConfig, src: SourceConfig, replay: str | None, budget: Budget | None,
               robots: RobotsCache | None = None) -> Any:
    """One source's connector on its own HTTP client (the recorded responses of ``replay`` when
    given, ``budget`` restarted, secrets registered for redaction), as ``(source, transport)``; a
    fetch or a by-id read runs inside. A source that lacks its env secrets raises
    :class:`ConfigError`; an exception that is not a :class:`ConnectorError` (a connector bug)
    becomes one, with only a redacted traceback logged; a source whose budget ran out (or was
    cancelled) raises :class:`BudgetExceeded` even when it returned."""
    from connectors.http import HttpClient

    transport = None
    if replay:
        from flows.replay import ReplayTransport

        transport = ReplayTransport.from_manifest(replay)
    if budget is not None:
        budget.restart()  # the source's time counts from here, not from when it was queued
    register_env_secrets(cfg)
    with HttpClient(cfg.http_settings(), transport, budget=budget, robots=robots) as client:
        try:
            source = build_source(cfg, src, client)
            problem = missing_env(cfg, src, source)
            if problem:
                raise ConfigError(problem)
            yield source, transport
        except ConnectorError:
            raise
        except Exception as exc:
            # a connector bug: its message may quote a URL with a key in it, and Prefect records
            # the exception (logs, task state, events); only a redacted copy leaves this step
            _say(redact("".join(traceback.format_exception(exc))), logging.ERROR)
            raise ConnectorError(f"{type(exc).__name__}: {_first_line(exc)}") from None
    if budget is not None and budget.reason is not None:
        # the connector may have kept going past failed requests (per-item warnings); a partial
        # result is not stored, so the cursor cannot move past what was not read
        raise BudgetExceeded(f"source {src.name!r}: {budget.reason}")


def _fetch_source(cfg: PipelineConfig, src: SourceConfig, cursor: dict[str, Any] | None,
                  replay: str | None = None, budget: Budget | None = None,
                  robots: RobotsCache | None = None) -> dict[str, Any]:
    """Fetch one source since ``cursor`` within ``budget``; returns its rows, new cursor and
    counts. A source whose budget ran out (or was cancelled) while it fetched raises
    :class:`BudgetExceeded`: what it had is not kept, so its cursor stays where it was."""
    t0 = time.monotonic()
    with _connected(cfg, src, replay, budget, robots) as (source, transport):
        try:
            result = source.fetch(cursor)
        except ParseError as exc:
            if transport is not None and transport.served and transport.served[-1][1] is not None:
                exc.args = (f"{exc} (recorded file {transport.served[-1][1]})",)
            raise
    table, frame = _rows_frame(src.kind, result.posts, src.name)
    warnings = [redact(w) for w in result.warnings]
    for w in warnings:
        _say(w, logging.WARNING)
    return {"table": table, "rows": frame, "cursor": result.cursor, "skipped": result.skipped,
            "warnings": warnings, "requests": result.requests,
            "duration_s": time.monotonic() - t0}


# retries=0: the HTTP client owns every retry decision (connectors.http.retry_delay: backoff,
# Retry-After, retry_after_max, nothing after a redirect loop or a bad encoding); a step-level
# retry would fetch a second time what the client already gave up on
fetch_source = execution.step(_fetch_source, name="fetch_source", retries=0)


def _error_text(exc: BaseException) -> str:
    msg = _first_line(exc)
    return redact(msg if type(exc).__module__.startswith("connectors") else f"{type(exc).__name__}: {msg}")


ABANDON_AFTER = 2.0  # seconds a stopped source gets to return before the run goes on without it


def _budget_error(budget: Budget) -> str:
    """The source_health line of a source stopped by its budget, the run's, or a signal."""
    took = f"{budget.elapsed():.0f} s"
    kept = "nothing it fetched is stored this run; it is fetched again next run"
    if budget.cancelled:
        return f"stopped after {took}: {budget.reason}; {kept}"
    own = budget.clock() >= budget.at
    hint = ("raise [runner] source_budget or this source's budget if it needs longer" if own
            else "raise [runner] run_budget or fetch fewer sources per run")
    return f"timed out after {took}: {budget.reason}; {kept} ({hint})"


def fetch_all(cfg: PipelineConfig, cursors: dict[str, Any], replay: str | None,
              window: Budget | None = None, on_ok: Any = None) -> dict[str, dict[str, Any]]:
    """Fetch every enabled source in parallel, each within its own budget under ``window``
    (the run's fetching time). A source still running ``ABANDON_AFTER`` seconds after its
    budget stopped is recorded as timed out and left behind: its thread ends at its next socket
    call, and nothing it returns later is used. ``on_ok(name, outcome)`` is called in this
    thread as each source finishes well (the pipeline writes its posts then)."""
    futures = {}
    robots = RobotsCache()  # each site's robots.txt is read once per run, whichever source asks
    for src in cfg.enabled_sources:
        seconds = cfg.source_budget(src)
        budget = Budget(seconds, f"source budget of {seconds:g} s", parent=window)
        fut = execution.submit(fetch_source, cfg, src, cursors.get(src.name), str(replay) if replay else None,
                               budget, robots, name=f"fetch_source[{src.name}]",
                               tags=[f"source:{src.name}", f"kind:{src.kind}"])
        futures[src.name] = (src, fut, budget)
    outcomes: dict[str, dict[str, Any]] = {}
    pending = dict(futures)
    while pending:
        progressed = False
        for name, (src, fut, budget) in list(pending.items()):
            if fut.done():
                outcomes[name] = _outcome(name, src, fut, budget, cursors)
                if on_ok is not None and outcomes[name]["status"] == "ok":
                    on_ok(name, outcomes[name])
            elif budget.stopped_at() is not None and \
                    budget.clock() - budget.stopped_at() > (ABANDON_AFTER / 2 if budget.cancelled else ABANDON_AFTER):
                err = _budget_error(budget)
                outcomes[name] = _failed(src, err, cursors.get(name), budget.elapsed())
                _say(f"source {name} failed: {err}", logging.WARNING)
            else:
                continue
            del pending[name]
            progressed = True
        if pending and not progressed:
            time.sleep(0.1)
    return {name: outcomes[name] for name in futures}


def _failed(src: SourceConfig, err: str, cursor: Any, duration: float | None) -> dict[str, Any]:
    return {"status": "error", "error": err, "kind": src.kind, "rows": None, "cursor": cursor,
            "skipped": 0, "duration_s": duration}


def _outcome(name: str, src: SourceConfig, fut: Any, budget: Budget, cursors: dict[str, Any]) -> dict[str, Any]:
    exc = fut.exception()
    if exc is None and budget.reason is None:
        out = fut.result()
        out.update(status="ok", error=None, kind=src.kind)
        _say(f"fetched {name}: {out['rows'].height} items")
        return out
    err = _budget_error(budget) if budget.reason is not None else _error_text(exc)
    _say(f"source {name} failed: {err}", logging.WARNING)
    return _failed(src, err, cursors.get(name), budget.elapsed())


def _cursor_text(cursor: Any) -> str:
    """A cursor as source_health shows it: JSON, with long strings (an rss cursor's ``known`` id
    digests) summarised by their length; the whole cursor is in ``_state/cursors/``."""
    if isinstance(cursor, dict):
        cursor = {k: f"<{len(v)} characters>" if isinstance(v, str) and len(v) > 1000 else v for k, v in cursor.items()}
    return json.dumps(cursor, sort_keys=True, default=str)


# ---------------------------------------------------------------- media


def _fingerprint_media(cfg: PipelineConfig, posts: pl.DataFrame, run_id: str, replay: str | None = None,
                       time_limit: float | None = None) -> Any:
    """Fetch and fingerprint the pictures and videos of ``posts`` (bounded by ``[media]``, and its
    time budget by ``time_limit`` seconds when given)."""
    import dataclasses

    from connectors.http import HttpClient
    from connectors.media import MediaSettings, fingerprint_media, settings_for

    settings = MediaSettings.from_mapping(cfg.media)
    if time_limit is not None and 0 < time_limit < settings.time_budget_s:
        settings = dataclasses.replace(settings, time_budget_s=time_limit)
    transport = None
    if replay:
        from flows.replay import ReplayTransport

        transport = ReplayTransport.from_manifest(replay)
    base = cfg.http_settings()

    def client(cap: int, seconds: float) -> Any:
        return HttpClient(settings_for(base, cap, min(base.total_timeout, seconds)), transport)

    items = posts.select("post_id", "source", "media").iter_rows()
    return fingerprint_media(items, client, settings, run_id=run_id)


fingerprint_media = execution.step(_fingerprint_media, name="fingerprint_media")


def media_step(cfg: PipelineConfig, store: Store, posts: pl.DataFrame, run_id: str, day: Any,
               replay: str | None, time_limit: float | None = None) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Fingerprint the media of ``posts`` not fingerprinted yet, store them, and return the ``media``
    rows of every post in ``posts`` (stored earlier or now) and per-source counts for source_health.
    ``time_limit`` (seconds; the run's time left) caps ``[media] time_budget_s``."""
    from connectors.media import MediaSettings

    settings = MediaSettings.from_mapping(cfg.media)
    if posts.is_empty() or "media" not in posts.columns:
        return empty("media"), {}
    ids = posts.select("post_id").unique()
    stored = store.collect("media", store.scan("media").join(ids.lazy(), on="post_id", how="semi"))
    per_source: dict[str, Any] = {}
    if settings.enabled:
        done = stored.select("post_id", "media_url").with_columns(done=pl.lit(True))
        todo = (posts.select("post_id", "source", "media").explode("media").drop_nulls("media")
                .with_columns(media_url=pl.col("media").struct.field("url"))
                .join(done, on=["post_id", "media_url"], how="left").filter(pl.col("done").is_null())
                .group_by("post_id", "source", maintain_order=True).agg(pl.col("media")))
        if todo.height and time_limit is not None and time_limit <= 0:  # the run's time is up: count them
            from connectors.media import SourceMedia

            counts = (todo.explode("media").filter(pl.col("media").struct.field("kind").is_in(list(settings.kinds)))
                      .group_by("source", maintain_order=True).len())
            per_source = {source: SourceMedia(skipped=n) for source, n in counts.iter_rows()}
            _say(f"media: {counts['len'].sum()} skipped: the run has no time left for them", logging.WARNING)
        elif todo.height:
            result = execution.submit(fingerprint_media, cfg, todo, run_id, replay, time_limit,
                                      name="fingerprint_media").result()
            new = store.write("media", result.frame(), run_id, day)
            stored = pl.concat([stored, new], how="vertical")
            per_source = result.sources
            ok = sum(s.fingerprinted for s in per_source.values())
            skipped = sum(s.skipped for s in per_source.values())
            failed = sum(s.failed for s in per_source.values())
            _say(f"media: {ok} fingerprinted, {failed} failed, {skipped} skipped (budget) in {result.seconds:.1f}s")
            for s in per_source.values():
                for line in s.problems[:20]:
                    _say(line, logging.WARNING)
    return stored, per_source


_known_media: dict[tuple[str, str], Any] = {}


def media_evidence(catalogue: Any, matching: dict[str, Any], media: pl.DataFrame | None) -> pl.DataFrame | None:
    """Which posts' pictures and videos match a claim's known media (``rules.media``): rows of
    ``rules.match.MEDIA_MATCHES_SCHEMA``, the matcher's outside media evidence; None without any."""
    from rules.config import MatchConfig
    from rules.media import MediaRule, known_media_from_claims

    if media is None or media.is_empty():
        return None
    key = (catalogue.version, json.dumps(matching or {}, sort_keys=True, default=str))
    known = _known_media.get(key)
    if known is None:
        known = known_media_from_claims(catalogue.claims, MediaRule.from_config(MatchConfig.from_mapping(matching or {})))
        _known_media.clear()
        _known_media[key] = known
    if not len(known):
        return None
    found = known.match(media)
    return found.select("post_id", "claim_id", "score_media", "evidence") if found.height else None


# ---------------------------------------------------------------- matching

def _matcher(spec: matching.MatcherSpec) -> Any:
    """The run's matcher for this catalogue, ``[matching]`` table and reviewers' feedback, made
    once per process (index from the cache)."""
    return matching.matcher_for(spec, _say)


def _match_batch(posts: pl.DataFrame, spec: matching.MatcherSpec, media: pl.DataFrame | None = None) -> pl.DataFrame:
    """Match one batch of posts against the catalogue, with the reviewers' feedback (rows of
    ``rules.schema.MATCHES_SCHEMA``); ``media`` holds outside media evidence
    (:func:`media_evidence`) for the run's posts."""
    if media is not None and media.height:
        media = media.join(posts.select("post_id"), on="post_id", how="semi")
    return _matcher(spec).match(posts, media=media if media is not None and media.height else None)


match_batch = execution.step(_match_batch, name="match_batch")


def match_all(cfg: PipelineConfig, rounds: Any, total: int, catalogue: Any, run_id: str,
              feedback: pl.DataFrame | None = None, budget: Budget | None = None,
              media: pl.DataFrame | None = None) -> Any:
    """Match the posts of each frame of ``rounds`` (``total`` posts in all; a frame, or an iterable
    of frames of ``[runner] match_rows`` posts read one at a time) in batches of ``[runner] batch_size``, with the reviewers'
    ``feedback`` and the media evidence ``media`` (:func:`media_evidence`). Yields, per round,
    the posts whose batches were matched and their matches, so the caller writes them before
    the next round is read. When ``budget`` stops (the run's time is up, or a signal) no further
    batch is waited for and no further round is read; the batches done are yielded and the rest
    is caught up by the next run (their posts get no ``matched_posts`` row)."""
    if total <= 0:
        return
    size = cfg.batch_size
    per_round = total if isinstance(rounds, pl.DataFrame) else cfg.match_rows
    if isinstance(rounds, pl.DataFrame):
        rounds = [rounds]
    # the matcher is ready before the first batch: loaded from the index cache, or built and
    # cached here once (Dask workers that share the cache folder then load it)
    spec = matching.MatcherSpec(catalogue, cfg.matching, matching.index_cache_dir(cfg.runner), feedback)
    _matcher(spec)
    n_chunks = sum(-(-min(per_round, total - k) // size) for k in range(0, total, per_round))
    advance = execution.progress("claimwatch-matching", f"Matching {total} posts in {n_chunks} batches")
    i = 0
    for posts in rounds:
        chunks = [posts.slice(j, size) for j in range(0, posts.height, size)]
        if not chunks:
            continue
        results, done_chunks = [], []
        stopped = False
        done = execution.map_unordered(match_batch, "posts", chunks, cfg.runner, spec=spec, media=media)
        for n, (k, result) in enumerate(done, 1):
            i += 1
            results.append(result)
            done_chunks.append(k)
            advance(100.0 * min(i, n_chunks) / n_chunks)
            _say(f"matched batch {i}/{n_chunks}")
            if budget is not None and budget.reason is not None and i < n_chunks:
                done.close()  # batches not started are dropped; running ones finish
                _say(f"matching stopped after {i} of {n_chunks} batches: {budget.reason}; the next run "
                     "matches the rest", logging.WARNING)
                stopped = True
                break
        frame = pl.concat([conform("matches", r) for r in results], how="vertical")
        frame = frame.with_columns(run_id=pl.lit(run_id), flagged_at=pl.coalesce(pl.col("flagged_at"), pl.lit(utcnow())))
        matched = posts if len(done_chunks) == len(chunks) else pl.concat([chunks[k] for k in sorted(done_chunks)])
        del posts, chunks, results
        yield matched, frame
        if stopped:
            return
        if i < n_chunks:  # more rounds follow: start them without this round's per-word caches
            matching.release(spec)


def run_posts(store: Store, run_id: str, ids: pl.Series | None, columns: tuple[str, ...] | None = None) -> pl.DataFrame:
    """The rows run ``run_id`` stored for the posts ``ids`` (None: all of them, in no particular
    order), only ``columns`` when given, in the order of ``ids`` (read from the run's part files
    only)."""
    def build() -> pl.LazyFrame:
        lf = store.scan("posts", since=("run_id", run_id), keys=ids).filter(pl.col("run_id") == run_id)
        return lf.select(list(dict.fromkeys(("post_id", *columns)))) if columns else lf

    rows = store.collect("posts", build)
    if ids is None:
        return rows
    order = ids.rename("post_id").to_frame().with_row_index("_order")
    return rows.join(order, on="post_id").sort("_order").drop("_order")


def posts_in_rounds(store: Store, run_id: str, new_ids: pl.Series, backlog: pl.DataFrame,
                    size: int) -> Any:
    """The posts a run matches, ``size`` at a time (``[runner] match_rows``): its new posts
    ``new_ids``, read back from its part files one round at a time, then the stored posts it
    catches up (``backlog``), so a run never holds every new post at once."""
    n_new = len(new_ids)
    for start in range(0, n_new + backlog.height, size):
        end = start + size
        parts = []
        if start < n_new:
            parts.append(run_posts(store, run_id, new_ids.slice(start, size)))
        if end > n_new:
            first = max(start, n_new) - n_new
            parts.append(conform("posts", backlog.slice(first, end - n_new - first)))
        yield pl.concat(parts, how="vertical") if len(parts) > 1 else parts[0]


# ---------------------------------------------------------------- de-duplication


def dedupe_run(posts: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, int]]:
    """One row per post_id, then one per content_hash (posts with some text) within the run.

    Returns the kept rows and the number of duplicates dropped per source. The decision is made
    on the key columns and the rows are filtered once, so a large run is not copied several times.
    """
    if posts.is_empty():
        return posts, {}
    keys = posts.select(
        "post_id", "content_hash", "source",
        has_content=pl.col("text").is_not_null() | pl.col("title").is_not_null() | pl.col("transcript").is_not_null(),
    ).with_row_index("_i")
    first = keys.unique(subset=["post_id"], keep="first", maintain_order=True)
    by_hash = first.filter(pl.col("has_content")).unique(subset=["content_hash"], keep="first", maintain_order=True)
    kept_rows = pl.concat([by_hash.select("_i"), first.filter(~pl.col("has_content")).select("_i")])
    if kept_rows.height == posts.height:  # nothing to drop: no copy of a big batch
        return posts, {}
    keep = keys["_i"].is_in(kept_rows["_i"].implode())
    counts = dict(keys.filter(~keep).group_by("source").len().iter_rows())
    return posts.filter(keep), counts


class PostWriter:
    """Writes the posts of a run as its sources finish: rows are gathered until
    ``batch_rows`` are waiting, de-duplicated against each other and against the batches
    already written in this run (:func:`dedupe_run`'s rules), written as one part file, and then
    the cursors of the sources in the batch are saved. :meth:`flush` writes what is left. A write
    that fails (a full disk) is kept in :attr:`error`; nothing is written or saved after it, so
    no cursor moves past posts that were not stored.

    Posts new to the store get their ``lang`` detected (:func:`detect_languages`) before they are
    written. Every fetched post that carries a count, new or seen before, gets a ``post_metrics``
    row (``how = "fetch"``) with its batch: a snapshot of its reach at this run. A metrics write
    that fails is a warning (:attr:`metrics_error`); the posts and cursors go on."""

    def __init__(self, store: Store, run_id: str, day: Any, batch_rows: int):
        self.store, self.run_id, self.day, self.batch_rows = store, run_id, day, batch_rows
        self.fetched = 0
        self.duplicates: dict[str, int] = {}
        self._pending: list[pl.DataFrame] = []
        self._pending_rows = 0
        self._cursors: dict[str, Any] = {}
        self._ids: set[str] = set()
        self._hashes: set[str] = set()
        self._written: list[pl.DataFrame] = []
        self._metrics: list[pl.DataFrame] = []
        self.metrics = 0
        self.error: str | None = None
        self.metrics_error: str | None = None

    def add(self, name: str, outcome: dict[str, Any]) -> None:
        if outcome.get("table") != "posts" or self.error:
            return
        rows = outcome["rows"]
        outcome["items"] = rows.height
        outcome["rows"] = None  # the frame is written below; the outcome keeps its count
        if rows.height:
            self.fetched += rows.height
            self._pending.append(rows.with_columns(run_id=pl.lit(self.run_id)))
            self._pending_rows += rows.height
            self._metrics.append(metrics_frame(rows, "fetch", self.run_id))
        self._cursors[name] = outcome["cursor"]
        if self._pending_rows >= self.batch_rows:
            self.flush()

    def flush(self) -> None:
        try:
            self._flush()
        except StoreError as exc:
            self.error = str(exc)
            self._pending, self._pending_rows, self._cursors, self._metrics = [], 0, {}, []

    def _flush(self) -> None:
        if self.error:
            return
        if self._pending:
            batch, dups = dedupe_run(pl.concat(self._pending, how="vertical"))
            self._pending, self._pending_rows = [], 0
            has_content = pl.col("text").is_not_null() | pl.col("title").is_not_null() | pl.col("transcript").is_not_null()
            if self._ids:
                earlier = pl.col("post_id").is_in(list(self._ids)) | (
                    has_content & pl.col("content_hash").is_in(list(self._hashes)))
                for source, n in batch.filter(earlier).group_by("source").len().iter_rows():
                    dups[source] = dups.get(source, 0) + n
                batch = batch.filter(~earlier)
            for source, n in dups.items():
                self.duplicates[source] = self.duplicates.get(source, 0) + n
            self._ids.update(batch["post_id"].to_list())
            self._hashes.update(batch.filter(has_content)["content_hash"].to_list())
            batch = detect_languages(self.store, batch)
            written = self.store.write("posts", batch, self.run_id, self.day)
            # copied out: these columns of the batch share its string buffers (polars string
            # views) and would keep every written post in memory until the run ends
            self._written.append(pl.DataFrame({c: written[c].to_list() for c in ("post_id", "source")},
                                              schema={"post_id": pl.String, "source": pl.String}))
        if self._metrics:
            metrics, self._metrics = pl.concat(self._metrics, how="vertical"), []
            try:
                self.metrics += self.store.write("post_metrics", metrics, self.run_id, self.day).height
            except StoreError as exc:
                self.metrics_error = str(exc)
                _say(f"post_metrics not written: {exc}", logging.WARNING)
        if self._cursors:
            self.store.save_cursors(self._cursors)  # only after their posts are stored
            self._cursors = {}

    def finish(self) -> None:
        """Write what is left (:meth:`flush`) and forget the ids and hashes kept to de-duplicate
        later batches: no batch comes after this."""
        self.flush()
        self._ids, self._hashes = set(), set()

    def written(self) -> pl.DataFrame:
        """``post_id`` and ``source`` of every row written."""
        return pl.concat(self._written, how="vertical") if self._written else pl.DataFrame(
            schema={"post_id": pl.String, "source": pl.String})


def detect_languages(store: Store, posts: pl.DataFrame) -> pl.DataFrame:
    """``lang`` detected (:func:`connectors.lang.fill_lang`) for the posts new to the store that
    have none; posts already stored are left alone, so a run that brings nothing new never loads
    the language model."""
    if posts.is_empty() or not posts["lang"].is_null().any():
        return posts
    from connectors.lang import fill_lang

    fresh = store.new_rows("posts", posts.filter(pl.col("lang").is_null())).select("post_id", "content_hash")
    if fresh.is_empty():
        return posts
    indexed = posts.with_row_index("_i")
    todo = indexed.join(fresh, on=["post_id", "content_hash"], how="semi")
    done = fill_lang(todo.drop("_i")).with_columns(todo["_i"])
    return (pl.concat([indexed.join(todo.select("_i"), on="_i", how="anti"), done.select(indexed.columns)])
            .sort("_i").drop("_i"))


# ---------------------------------------------------------------- reporting


def _markdown(summary: dict[str, Any]) -> str:
    data_dir = summary["data_dir"]
    lines = [f"# claimwatch run `{summary['run_id']}`", "",
             f"Catalogue `{summary['catalogue_version']}` · {summary['posts_new']} new posts · "
             f"{summary['matches_new']} new matches · status **{summary['status']}**", "",
             f"**Data:** `{data_dir}` (Parquet tables posts, matches, claims, runs, source_health, post_metrics). "
             f"Read it with `claimwatch report --data-dir {data_dir}` or the queries in docs/queries.md.", ""]
    if summary.get("phases"):
        lines += ["**Seconds per phase:** " + ", ".join(f"{p} {s:.1f}" for p, s in summary["phases"].items()), ""]
    lines += ["## Posts per source", "", "| source | status | fetched | new | duplicates | error |",
             "|---|---|---:|---:|---:|---|"]
    for s in summary["sources"]:
        lines.append(f"| {s['source']} | {s['status']} | {s['items_fetched']} | {s['new']} | "
                     f"{s['duplicates']} | {(s['error'] or '').replace('|', '/')} |")
    lines += ["", "## New flags per claim", ""]
    if summary["flags"]:
        lines += ["| claim | label | posts |", "|---|---|---:|"]
        lines += [f"| {f['claim_id']} | {f['label']} | {f['n']} |" for f in summary["flags"]]
    else:
        lines.append("No new flags.")
    if summary["alerts"]:
        lines += ["", "## Spreading alerts", ""]
        lines += [f"- `{a['claim_id']}`: {a['count']} spreading posts published in the last {a['window']}"
                  for a in summary["alerts"]]
    return "\n".join(lines) + "\n"


EXCERPT = 140


def _excerpt(*texts: str | None) -> str:
    text = " ".join(" ".join(t.split()) for t in texts if t and t.strip())
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1].rsplit(" ", 1)[0] + "…"


def flags_table(new_matches: pl.DataFrame, posts: pl.DataFrame, catalogue: Any = None) -> list[dict[str, Any]]:
    """The run's new ``likely_misinformation`` posts as rows for the flags artifact: claim title,
    post excerpt, rounded score, stance, link; highest score first within each claim."""
    misinfo = new_matches.filter(pl.col("label") == "likely_misinformation")
    if not misinfo.height:
        return []
    cols = [c for c in ("post_id", "url", "source", "published_at", "title", "text", "transcript") if c in posts.columns]
    joined = (misinfo.join(posts.select(cols).unique("post_id", keep="first"), on="post_id", how="left")
              .sort(["claim_id", "score"], descending=[False, True]))
    rows = []
    for r in joined.iter_rows(named=True):
        claim = catalogue.get(r["claim_id"]) if catalogue is not None and r["claim_id"] in catalogue else None
        rows.append({
            "claim": (claim.title or claim.text) if claim is not None else r["claim_id"],
            "post": _excerpt(r.get("title"), r.get("text")) or _excerpt(r.get("transcript")),
            "score": int(round(r["score"])) if r.get("score") is not None else None,
            "stance": r.get("stance"),
            "source": r.get("source"),
            "published": f"{r['published_at']:%Y-%m-%d %H:%M}" if r.get("published_at") else "",
            "link": r.get("url") or r["post_id"],
        })
    return rows


def _link(url: str) -> str:
    from urllib.parse import urlsplit

    if not url.startswith(("http://", "https://")):
        return url.replace("|", "/")
    host = urlsplit(url).netloc
    return f"[{host[:24]}]({url.replace(')', '%29').replace(' ', '%20')})"


def flags_markdown(rows: list[dict[str, Any]], run_id: str) -> str:
    """The flags table as markdown, one table per claim under its title, with short cells (the
    Prefect UI does not wrap table cells) so it fits a 1600 px page; links are clickable."""
    def cell(v: Any, width: int | None = None) -> str:
        text = "" if v is None else " ".join(str(v).replace("|", "/").split())
        return text if width is None or len(text) <= width else text[: width - 1].rstrip() + "…"

    lines = [f"# New likely misinformation, run `{run_id}`", ""]
    if not rows:
        return "\n".join(lines + ["No post was newly labelled likely_misinformation in this run."]) + "\n"
    lines.append(f"{len(rows)} posts newly labelled likely_misinformation, highest score first.")
    claim = None
    for r in rows:
        if r["claim"] != claim:
            claim = r["claim"]
            lines += ["", f"## {cell(claim)}", "", "| score | stance | post | published | link |",
                      "|---:|---|---|---|---|"]
        lines.append(f"| {r['score']} | {cell(r['stance'])} | {cell(r['post'], 60)} | {cell(r['published'])} "
                     f"| {_link(r['link'])} |")
    return "\n".join(lines) + "\n"


def flagged_posts(store: Store, new_matches: pl.DataFrame) -> pl.DataFrame:
    """The latest stored row of each post ``new_matches`` labels ``likely_misinformation``
    (what the flags table shows of them)."""
    ids = new_matches.filter(pl.col("label") == "likely_misinformation").get_column("post_id").unique()
    if ids.is_empty():
        return empty("posts")
    return store.collect("posts", lambda: store.scan("posts", keys=ids)
                         .sort("fetched_at", descending=True, nulls_last=True)
                         .unique("post_id", keep="first", maintain_order=True))


def publish(summary: dict[str, Any], new_matches: pl.DataFrame, posts: pl.DataFrame, catalogue: Any = None) -> None:
    """The run's summary and its table of new flags; both replace the previous run's (the flags
    table too when this run flagged nothing, so it never shows an older run's rows as new)."""
    execution.markdown("claimwatch-run-summary", _markdown(summary),
                       f"Posts per source, new flags per claim, errors. Data: {summary['data_dir']}")
    rows = flags_table(new_matches, posts, catalogue)
    execution.markdown("claimwatch-new-misinformation", flags_markdown(rows, summary["run_id"]),
                       f"{len(rows)} new posts labelled likely_misinformation in run {summary['run_id']}")


def _alert_state(store: Store) -> dict[str, Any]:
    try:
        return store.read_state("alerts", legacy="alerts.json", what="alert state")
    except (StoreError, OSError):
        return {}


def spreading_counts(store: Store, now: datetime, window_s: int) -> dict[str, int]:
    """Per claim: posts spreading it that were *published* within the window, read from the store.

    A post counts once per claim when it has been labelled ``likely_misinformation`` with stance
    ``spreads`` (under any catalogue version, by ``now``) and its publication time (``published_at``,
    else ``fetched_at``, else when it was first flagged) falls in ``(now - window, now]``. Reports
    count on the same clock, and a first run over a source's history never alerts about old posts.

    A post published in the window was fetched and flagged after the window opened, so only the
    rows flagged in the window are read, then the older flags and the publication times of those
    posts alone (files that cannot hold them are skipped): the cost follows the window, not the table."""
    start = now - timedelta(seconds=window_s)
    spreads = ((pl.col("label") == "likely_misinformation") & (pl.col("stance") == "spreads")
               & pl.col("flagged_at").is_not_null())
    recent = store.collect("matches", lambda: store.scan("matches", since=("flagged_at", start))
                           .filter(spreads & (pl.col("flagged_at") > start) & (pl.col("flagged_at") <= now))
                           .group_by("claim_id", "post_id").agg(first=pl.col("flagged_at").min()))
    if recent.is_empty():
        return {}
    posts = recent.get_column("post_id").unique()
    earlier = store.collect("matches", lambda: store.scan("matches", keys=posts)
                            .filter(spreads & (pl.col("flagged_at") <= start)).select("claim_id", "post_id").unique())
    times = store.collect("posts", lambda: store.scan("posts", keys=posts).group_by("post_id")
                          .agg(published=pl.col("published_at").min(), fetched=pl.col("fetched_at").min()))
    counts = (recent.join(earlier, on=["claim_id", "post_id"], how="anti")
              .join(times, on="post_id", how="left")
              .with_columns(time=pl.coalesce("published", "fetched", "first"))
              .filter((pl.col("time") > start) & (pl.col("time") <= now))
              .group_by("claim_id").agg(n=pl.len()))
    return {r["claim_id"]: int(r["n"]) for r in counts.iter_rows(named=True)}


def spreading_alerts(store: Store, catalogue: Any, threshold: int, window: str, window_s: int, run_id: str,
                     now: datetime | None = None) -> list[dict[str, Any]]:
    """Emit ``claimwatch.claim.spreading`` once per crossing: when a claim's count of spreading
    posts published in the window reaches ``threshold`` after being below it. ``_state/alerts/`` remembers
    which claims are above; a claim that falls below may alert again on its next crossing."""
    now = now or utcnow()
    counts = spreading_counts(store, now, window_s)
    state = _alert_state(store)
    alerts, above = [], {}
    for cid in sorted(counts):
        n = counts[cid]
        if n < threshold:
            continue
        above[cid] = state.get(cid) or {"since": now.isoformat(), "run_id": run_id}
        if cid in state:
            continue  # already alerted for this crossing
        title = catalogue.get(cid).title if cid in catalogue else None
        payload = {"claim_id": cid, "count": n, "window": window, "threshold": threshold,
                   "new_spreading": n, "likely_misinformation": n,
                   "run_id": run_id, "catalogue_version": catalogue.version,
                   "data_dir": str(store.root.resolve()) if store.local else str(store.root)}
        execution.event(event="claimwatch.claim.spreading",
                        resource={"prefect.resource.id": f"claimwatch.claim.{cid}",
                                  "prefect.resource.name": title or cid,
                                  "claimwatch.count": str(n), "claimwatch.window": window,
                                  "claimwatch.threshold": str(threshold),
                                  "claimwatch.summary": f"{n} posts spreading it in {window} (threshold {threshold})"},
                        payload=payload)
        alerts.append(payload)
    if above != state:
        store.update_state("alerts", lambda _: above, legacy="alerts.json", what="alert state")
    return alerts


def posts_to_catch_up(store: Store, catalogue_version: str, now: datetime, days: float, limit: int,
                      exclude: pl.DataFrame | None = None, reviewed: list[str] | None = None) -> pl.DataFrame:
    """Stored posts not yet matched against ``catalogue_version`` (no ``matched_posts`` row, and
    no ``matches`` row for data written before ``matched_posts`` existed), at most ``limit`` (one
    row per post_id: its latest stored version): first the ``reviewed`` posts whatever their age
    (a verdict changes the version, and the judged post itself must be labelled again), then
    those fetched in the last ``days``, newest first.

    The cost follows the window, not the table: the window's post ids are checked against the
    rows of this version written since the window began (a post is matched in or after the run
    that fetched it); only the few ids left are looked up in the whole of both tables, and only
    the chosen posts are read in full."""
    if limit <= 0:
        return empty("posts")
    start = now - timedelta(days=days)
    version = pl.col("catalogue_version") == catalogue_version
    since_start = start - timedelta(days=1)  # margin for runs that matched long after they started

    def window() -> pl.LazyFrame:
        ids = store.scan("posts", since=("fetched_at", start)).select("post_id", "fetched_at")
        if reviewed:
            ids = pl.concat([ids, store.scan("posts", keys=reviewed).select("post_id", "fetched_at")])
        ids = ids.group_by("post_id").agg(pl.col("fetched_at").max())
        if exclude is not None and exclude.height:
            ids = ids.join(exclude.select("post_id").lazy(), on="post_id", how="anti")
        done = pl.concat([store.scan("matched_posts", since=("matched_at", since_start)).filter(version).select("post_id"),
                          store.scan("matches", since=("flagged_at", since_start)).filter(version).select("post_id")])
        return ids.join(done, on="post_id", how="anti")

    todo = store.collect("posts", window)
    if todo.height:  # not matched recently: were they matched at all (rows older than the window)?
        wanted = todo.get_column("post_id")
        done = store.collect("matched_posts", lambda: pl.concat([
            store.scan("matched_posts", keys=wanted).filter(version).select("post_id"),
            store.scan("matches", keys=wanted).filter(version).select("post_id")]))
        todo = todo.join(done, on="post_id", how="anti")
    if todo.is_empty():
        return empty("posts")
    first = ~pl.col("post_id").is_in(reviewed or [])  # reviewed posts (False) sort first
    chosen = (todo.sort([first, pl.col("fetched_at"), pl.col("post_id")], descending=[False, True, False],
                        nulls_last=True)
              .head(limit).get_column("post_id"))
    rows = store.collect("posts", lambda: store.scan("posts", keys=chosen)
                         .sort("fetched_at", descending=True, nulls_last=True)
                         .unique("post_id", keep="first", maintain_order=True))
    order = chosen.to_frame().with_row_index("_order")
    return rows.join(order, on="post_id").sort("_order").drop("_order")


def matched_rows(posts: pl.DataFrame, matches: pl.DataFrame, catalogue_version: str, run_id: str,
                 when: datetime) -> pl.DataFrame:
    """One ``matched_posts`` row per matched post: the post was matched against this catalogue
    version, with this many match rows (0 when no claim scored), so it is not matched again."""
    counts = matches.group_by("post_id").agg(matches=pl.len().cast(pl.Int64)) if matches.height else None
    out = posts.select("post_id").unique(maintain_order=True).with_columns(
        catalogue_version=pl.lit(catalogue_version), run_id=pl.lit(run_id), matched_at=pl.lit(when))
    if counts is None:
        return out.with_columns(matches=pl.lit(0, dtype=pl.Int64))
    return out.join(counts, on="post_id", how="left").with_columns(pl.col("matches").fill_null(0))


# ---------------------------------------------------------------- the flow bodies


def _load_catalogue(claims_dir: str | Path | None) -> Any:
    from rules.catalogue import load_catalogue

    from flows.home import claims_dir as resolve_claims_dir

    return load_catalogue(resolve_claims_dir(claims_dir))


class Laps:
    """Wall seconds (and the process's CPU seconds, all threads) per phase of a run: each
    :meth:`lap` charges the time since the previous one to a phase (a phase may be charged
    several times). CPU seconds tell a phase's cost on a shared machine, where wall time also
    counts the wait for a core."""

    PHASES = ("setup", "fetch", "store", "media", "match", "report")

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._last = time.monotonic()
        self._last_cpu = time.process_time()

    def lap(self, phase: str) -> None:
        now, cpu = time.monotonic(), time.process_time()
        self.seconds[phase] = self.seconds.get(phase, 0.0) + now - self._last
        self.cpu[phase] = self.cpu.get(phase, 0.0) + cpu - self._last_cpu
        self._last, self._last_cpu = now, cpu

    def rounded(self, cpu: bool = False) -> dict[str, float]:
        spent = self.cpu if cpu else self.seconds
        return {p: round(spent[p], 2) for p in self.PHASES if p in spent}


def _run_id(started: datetime) -> tuple[str, str]:
    """``<start>-<8 hex>``: the flow run id's first 8 characters in a Prefect flow run, random
    otherwise (so two runs in the same second never share an id); and the flow run id or ''."""
    flow_run_id = execution.flow_run_id()
    return f"{started:%Y%m%dT%H%M%SZ}-{(flow_run_id or uuid.uuid4().hex)[:8]}", flow_run_id


def ingest_and_detect(config: str | None = None, data_dir: str = "claimwatch-data", claims_dir: str | None = None,
                      replay: str | None = None, demo: bool = False, run_budget: float | None = None) -> dict[str, Any]:
    """Fetch every enabled source, store new posts, match them, store new matches, report.

    ``config`` is a sources file (None: the bundled demo, replayed from recorded responses);
    ``replay`` a manifest of recorded responses to use instead of the network; ``run_budget`` the
    seconds the run may take (default ``[runner] run_budget``; scheduled deployments set it from
    their schedule). Returns the run's summary (printed by
    :func:`flows.commands.run.format_summary`; :func:`outcome` says how the run ended). SIGTERM
    and SIGINT stop the run within seconds (:mod:`flows.stopping`): what was fetched is stored
    with its cursors, and the summary's status is ``stopped``.
    """
    stop = Budget(None, "run")
    with stopping.on_signals(stop):
        return _ingest(config, data_dir, claims_dir, replay, demo, run_budget, stop)


class _MatchingSkipped(Exception):
    pass


def _ingest(config: str | None, data_dir: str, claims_dir: str | None, replay: str | None, demo: bool,
            run_budget: float | None, stop: Budget) -> dict[str, Any]:
    started = utcnow()
    t0 = time.monotonic()
    laps = Laps()
    matching.limit_malloc_arenas()  # already done by the claimwatch command; a worker's flow run may not be
    cfg_path, manifest = resolve_inputs(config, replay, demo)
    cfg = load_config(cfg_path)
    register_env_secrets(cfg)
    run_s = float(run_budget) if run_budget else cfg.run_budget
    run = Budget(run_s, f"run budget of {run_s:g} s", parent=stop)
    reserve = min(120.0, run_s / 5)  # fetching ends this long before the run's end: store, match
    window = Budget(run_s - reserve, f"run budget of {run_s:g} s (fetching ends {reserve:g} s before it, "
                                     "to store and match)", parent=run)
    catalogue = _load_catalogue(claims_dir)
    run_id, flow_run_id = _run_id(started)
    day = started.date()
    store = Store(data_dir, compact_files=cfg.compact_files)
    store.ensure()
    store.check()  # a part file that is not Parquet (or not of its table) stops the run before anything is fetched
    # reviewers' verdicts teach the matcher (docs/matching.md); the version it writes into matches
    # changes with them, so stored posts are matched again after new verdicts
    feedback = review_feedback(store)
    version = matcher_version(catalogue, feedback)
    examples = f", {feedback.height} reviewed examples" if feedback.height else ""
    _say(f"run {run_id}: {len(cfg.enabled_sources)} sources, catalogue {version} ({len(catalogue)} claims{examples})")
    cursors = store.read_cursors()
    # A data dir that cannot be written (a full disk) is recorded like any other failure: what
    # was not stored is said in runs.error and source_health, and cursors move only for stored posts.
    store_error = None
    try:
        store.write("claims", catalogue.frame(), run_id, day)
    except StoreError as exc:
        store_error = f"storing failed: {exc}"
        _say(store_error, logging.ERROR)

    laps.lap("setup")
    # Posts are written while sources are still fetching, in batches of [runner] write_batch_rows
    # (a source's rows are never split), each source's cursor saved after its batch is stored: a
    # run holds at most one batch of unwritten posts besides what the sources in flight return.
    writer = PostWriter(store, run_id, day, cfg.write_batch_rows)
    if store_error is None:
        with placeholder_credentials(cfg.enabled_sources) if manifest else contextlib.nullcontext():
            outcomes = fetch_all(cfg, cursors, str(manifest) if manifest else None, window, writer.add)
        writer.finish()
        if writer.error:
            store_error = (f"storing posts failed: {writer.error}; cursors not moved for the sources not stored, "
                           "the next run fetches them again")
            _say(store_error, logging.ERROR)
    else:
        outcomes = {s.name: {"status": "error", "error": f"not fetched: {store_error}", "kind": s.kind, "rows": None,
                             "cursor": cursors.get(s.name), "skipped": 0, "duration_s": None}
                    for s in cfg.enabled_sources}

    laps.lap("fetch")
    matching.trim_memory()  # what parsing the feeds left free goes back to the system before matching
    ok = {n: o for n, o in outcomes.items() if o["status"] == "ok"}
    new_posts, imported_new = writer.written(), None
    dup_in_run = writer.duplicates
    imported = [o["rows"] for o in ok.values() if o["table"] == "claims" and o["rows"].height]
    try:
        if store_error is None:
            imported_new = store.write("claims", pl.concat(imported), run_id, day) if imported else None
    except StoreError as exc:
        store_error = f"storing imported claims failed: {exc}; their cursors not moved, the next run fetches them again"
        _say(store_error, logging.ERROR)
    # Cursors move as soon as the posts are on disk, whether or not matching below succeeds:
    # matching never depends on fetching again. Every run matches the posts it fetched plus the
    # stored posts of the last [runner] catch_up_days (default 3) that have no matches row for
    # this catalogue version, newest first, at most catch_up_max_posts (default 2000). So a run
    # whose matching failed is caught up by the next run, and a new catalogue version re-matches
    # recent posts. Posts no claim scores for have no matches row, so they are re-checked by
    # each run while they are recent (bounded by the same limits); they still write nothing.
    # Each post matched is recorded in matched_posts (with 0 rows when no claim scored), so a post
    # is matched once per catalogue version and catching up ends.
    if store_error is None:
        try:
            store.save_cursors({n: o["cursor"] for n, o in ok.items() if o["table"] == "claims"})
        except StoreError as exc:
            store_error = f"saving cursors failed: {exc}"
            _say(store_error, logging.ERROR)
        _say(f"stored {new_posts.height} new posts of {writer.fetched} fetched")

    match_error = skipped_note = None
    caught_up = 0
    media_health: dict[str, Any] = {}
    # The posts are matched a round of [runner] match_rows at a time, read back from the store
    # (never every new post at once), and each round's matches and matched_posts rows are written
    # before the next round is read: memory follows the round, not the run.
    posts_matched = 0
    new_matches = empty("matches").select(_FLAG_COLUMNS)  # what the summary and flags need of them
    try:
        if store_error is not None:
            raise _Skip
        if run.reason is not None:  # a signal, or the run's time is up: the next run catches up
            raise _MatchingSkipped(f"matching skipped: {run.reason}; the next run matches these posts")
        new_ids = new_posts.get_column("post_id")
        backlog = posts_to_catch_up(store, version, started, cfg.catch_up_days, cfg.catch_up_max_posts,
                                    exclude=new_posts, reviewed=feedback["ref"].unique().to_list())
        caught_up = backlog.height
        if caught_up:
            _say(f"matching {caught_up} stored posts not yet matched with catalogue {version}")
        laps.lap("store")
        try:  # pictures and videos; a failure here costs the media evidence, never the run
            # the media step takes at most half of the run's time left, the rest is for matching
            media_cols = ("post_id", "source", "media")
            # every posts row this run wrote is one of its new posts: read them all, three columns
            new_media = run_posts(store, run_id, None, media_cols) if new_ids.len() else empty("posts").select(media_cols)
            with_media = pl.concat([new_media,
                                    conform("posts", backlog).select(media_cols)], how="vertical")
            media, media_health = media_step(cfg, store, with_media, run_id, day, str(manifest) if manifest else None,
                                             time_limit=run.remaining() / 2)
            del with_media
        except Exception as exc:
            media, media_health = None, {}
            _say(f"media step failed: {_error_text(exc)}", logging.ERROR)
        laps.lap("media")

        def rounds() -> Any:
            for frame in posts_in_rounds(store, run_id, new_ids, backlog, cfg.match_rows):
                laps.lap("store")
                yield frame

        stored = []
        for matched, matches in match_all(cfg, rounds(), len(new_ids) + caught_up, catalogue, run_id, feedback, run,
                                          media=media_evidence(catalogue, cfg.matching, media)):
            laps.lap("match")
            written = store.write("matches", matches, run_id, day)
            store.write("matched_posts", matched_rows(matched, matches, version, run_id, utcnow()), run_id, day)
            stored.append(written.select(_FLAG_COLUMNS))
            posts_matched += matched.height
            del matched, matches, written
            laps.lap("store")
        if stored:
            new_matches = pl.concat(stored, how="vertical")
        _say(f"stored {new_matches.height} new matches")
    except _Skip:
        pass
    except _MatchingSkipped as exc:
        skipped_note = str(exc)
        _say(skipped_note, logging.WARNING)
    except Exception as exc:  # recorded in runs; the posts stay, the next run matches them
        match_error = f"matching failed: {exc}" if isinstance(exc, StoreError) else f"matching failed: {_error_text(exc)}"
        new_matches = empty("matches").select(_FLAG_COLUMNS)
        _say(match_error, logging.ERROR)
        laps.lap("match")
    laps.lap("store")

    new_per_source = dict(new_posts.group_by("source").len().iter_rows()) if new_posts.height else {}
    checked = utcnow()
    health = []
    for name, o in outcomes.items():
        items = o["items"] if "items" in o else o["rows"].height if o.get("rows") is not None else 0
        if o["status"] == "ok" and o["table"] == "claims":
            new = imported_new.filter(pl.col("claim_id").is_in(o["rows"]["claim_id"].implode())).height if imported_new is not None else 0
        else:
            new = new_per_source.get(name, 0)
        health.append({
            "run_id": run_id, "source": name, "kind": o["kind"], "status": o["status"],
            "items_fetched": items, "new": new, "duplicates": items - new if o["status"] == "ok" else 0,
            "skipped": o.get("skipped", 0), "error": o["error"],
            "cursor_before": _cursor_text(cursors.get(name)),
            "cursor_after": _cursor_text(o["cursor"]),
            "duration_s": o.get("duration_s"), "checked_at": checked,
            "media_fingerprinted": getattr(media_health.get(name), "fingerprinted", 0),
            "media_skipped": getattr(media_health.get(name), "skipped", 0),
            "media_failed": getattr(media_health.get(name), "failed", 0),
            "media_problems": list(getattr(media_health.get(name), "problems", [])),
        })
    unwritten = []
    try:
        store.write("source_health", pl.DataFrame(health), run_id, day)
    except StoreError as exc:
        unwritten.append(("source_health", exc))

    flags = (new_matches.filter(pl.col("label").is_in(FLAG_LABELS)).group_by("claim_id", "label").len("n")
             .sort(["claim_id", "label"]).to_dicts()) if new_matches.height else []
    try:
        if unwritten or store_error:
            raise StoreError("the data dir cannot be written")
        if stop.cancelled:  # a stopped run ends now: the next run alerts on what it stored
            raise _Skip
        alerts = spreading_alerts(store, catalogue, cfg.spreading_threshold, cfg.alert_window, cfg.alert_window_s,
                                  run_id, utcnow())
    except StoreError as exc:
        alerts = []
        _say(f"spreading alerts skipped: {exc}", logging.WARNING)
    except _Skip:
        alerts = []
    failed = [h for h in health if h["status"] == "error"]
    status = "failed" if len(failed) == len(health) or match_error or store_error else "partial" if failed else "ok"
    if stop.cancelled:
        status = "stopped"
    n_flags = int(new_matches.filter(pl.col("label").is_in(("likely_misinformation", "needs_review"))).height)
    finished = utcnow()
    try:
        store.write("runs", pl.DataFrame([{
            "run_id": run_id, "flow_run_id": flow_run_id, "started_at": started, "finished_at": finished,
            "sources": [s.name for s in cfg.enabled_sources], "posts_fetched": writer.fetched,
            "posts_new": new_posts.height, "matches": new_matches.height, "flags": n_flags, "status": status,
            "catalogue_version": version, "duration_s": time.monotonic() - t0,
            "error": store_error or match_error or skipped_note,
        }]), run_id, day)
    except StoreError as exc:
        unwritten.append(("runs", exc))
    if unwritten:
        stored = "the posts were stored and cursors moved" if store_error is None else \
            "the posts were not stored and cursors did not move"
        raise StoreError(f"{store.root}: the {' and '.join(t for t, _ in unwritten)} rows of run {run_id} were not "
                         f"written ({_first_line(unwritten[0][1])}); {stored}; free space and run again")

    laps.lap("report")
    summary = {
        "run_id": run_id, "flow_run_id": flow_run_id, "status": status, "data_dir": str(Path(data_dir).resolve()) if store.local else str(store.root),
        "catalogue_version": version, "posts_fetched": writer.fetched, "posts_new": new_posts.height,
        "matches_new": new_matches.height, "flags": flags, "alerts": alerts, "duplicates_in_run": dup_in_run,
        "sources": [{k: h[k] for k in ("source", "kind", "status", "items_fetched", "new", "duplicates", "error")}
                    for h in health],
        "duration_s": round(time.monotonic() - t0, 2), "error": store_error or match_error, "caught_up": caught_up,
        "posts_matched": posts_matched if match_error is None and store_error is None else 0,
        "note": skipped_note, "stopped": stop.reason if stop.cancelled else None,
        "phases": laps.rounded(), "phases_cpu": laps.rounded(cpu=True),
    }
    if not stop.cancelled:  # a stopped run ends now; its report is the summary it prints
        publish(summary, new_matches, flagged_posts(store, new_matches), catalogue)
    laps.lap("report")
    summary["phases"], summary["phases_cpu"] = laps.rounded(), laps.rounded(cpu=True)
    return summary


def outcome(summary: dict[str, Any]) -> tuple[bool, str]:
    """How a run ended: (completed, message). Not completed when matching failed or every
    source failed; the message names the sources that failed."""
    failed = [s["source"] for s in summary["sources"] if s["status"] == "error"]
    if summary.get("stopped"):
        return False, (f"{summary['stopped']} after {summary['duration_s']:.1f} s; {summary['posts_new']} new posts "
                       f"stored, {len(failed)} of {len(summary['sources'])} sources not fetched")
    if summary.get("error"):
        return False, summary["error"]
    if summary["status"] == "failed":
        return False, f"every source failed: {', '.join(failed)}"
    msg = f"{len(summary['sources']) - len(failed)} of {len(summary['sources'])} sources ok"
    if failed:
        msg += "; failed: " + ", ".join(failed)
    return True, msg


def import_factchecks(config: str, data_dir: str = "claimwatch-data", replay: str | None = None) -> dict[str, Any]:
    """Fetch only the ``factchecks`` sources of ``config`` into the ``claims`` table (status
    ``imported``, catalogue_version ``imported``). ``claimwatch claims import`` turns them into YAML."""
    cfg = load_config(config)
    register_env_secrets(cfg)
    cfg.sources = [s for s in cfg.sources if s.kind == "factchecks"]
    if not cfg.enabled_sources:
        raise ConfigError(f"{config}: no enabled source of kind 'factchecks'")
    started = utcnow()
    run_id, _ = _run_id(started)
    store = Store(data_dir)
    store.ensure()
    cursors = store.read_cursors()
    with placeholder_credentials(cfg.enabled_sources) if replay else contextlib.nullcontext():
        outcomes = fetch_all(cfg, cursors, replay)
    ok = {n: o for n, o in outcomes.items() if o["status"] == "ok" and o["rows"].height}
    frames = [o["rows"] if o["table"] == "claims" else None for o in ok.values()]
    frames = [f for f in frames if f is not None]
    new = store.write("claims", pl.concat(frames), run_id, started.date()) if frames else empty("claims")
    store.save_cursors({n: o["cursor"] for n, o in outcomes.items() if o["status"] == "ok"})
    return {"run_id": run_id, "imported": new.height,
            "errors": {n: o["error"] for n, o in outcomes.items() if o["status"] == "error"}}


def posts_to_refresh(store: Store, now: datetime, hours: float) -> pl.DataFrame:
    """Flagged posts (a ``likely_misinformation`` or ``needs_review`` match under any catalogue
    version) that claimwatch first saw within the last ``hours``: ``post_id`` and ``source``."""
    def build() -> pl.LazyFrame:
        flagged = (store.scan("matches").filter(pl.col("label").is_in(("likely_misinformation", "needs_review")))
                   .select("post_id").unique())
        seen = (store.scan("posts").group_by("post_id")
                .agg(first_seen=pl.col("fetched_at").min(), source=pl.col("source").sort_by("fetched_at").last())
                .filter(pl.col("first_seen") > now - timedelta(hours=hours)))
        return seen.join(flagged, on="post_id", how="semi").select("post_id", "source").sort("source", "post_id")

    return store.collect("posts", build)


# what a by-id read may lack that the first fetch had (a video's captions, fetched only for new
# videos; a language detected on the first read): taken from the stored post
_STORED_FIELDS = tuple(c for c in POSTS_SCHEMA if c not in (
    "post_id", "fetched_at", "run_id", "content_hash", "likes", "reposts", "replies", "views", "author_followers"))


def with_stored_fields(store: Store, rows: pl.DataFrame) -> pl.DataFrame:
    """``rows`` (posts read again by id) with every field they lack (null, or an empty list) taken
    from the latest stored row of the same post, and ``content_hash`` computed again, so a post
    is stored again only when what the platform returns changed: a YouTube video re-read through
    ``videos.list`` comes back without its captions, and is not an edited post for that."""
    if rows.is_empty():
        return rows
    from connectors.schema import content_hash

    ids = rows["post_id"].unique().implode()
    stored = store.collect("posts", lambda: store.scan("posts").filter(pl.col("post_id").is_in(ids))
                           .select(*POSTS_SCHEMA).sort("fetched_at").unique("post_id", keep="last"))
    if stored.is_empty():
        return rows
    joined = rows.join(stored.select("post_id", *[pl.col(c).alias(f"{c}__stored") for c in _STORED_FIELDS]),
                       on="post_id", how="left")
    filled = []
    for c in _STORED_FIELDS:
        old = pl.col(f"{c}__stored")
        if isinstance(POSTS_SCHEMA[c], pl.List):
            missing = pl.col(c).is_null() | (pl.col(c).list.len() == 0)
            filled.append(pl.when(missing & old.is_not_null()).then(old).otherwise(pl.col(c)).alias(c))
        else:
            filled.append(pl.coalesce(c, old).alias(c))
    out = joined.with_columns(filled).select(rows.columns)
    return out.with_columns(content_hash=pl.struct("title", "text", "transcript").map_elements(
        lambda r: content_hash(r["title"], r["text"], r["transcript"]), return_dtype=pl.String))


def _refetch_source(cfg: PipelineConfig, src: SourceConfig, post_ids: list[str],
                    replay: str | None = None, budget: Budget | None = None) -> dict[str, Any]:
    """Read ``post_ids`` of one source again by id (:meth:`connectors.base.BaseSource.refetch`)
    within ``budget``, with the same HTTP client, secrets and error handling as a fetch."""
    with _connected(cfg, src, replay, budget) as (source, _):
        result = source.refetch(post_ids)
    warnings = [redact(w) for w in result.warnings]
    for w in warnings:
        _say(w, logging.WARNING)
    _, frame = _rows_frame(src.kind, result.posts, src.name)
    return {"rows": frame, "requests": result.requests, "warnings": warnings}


# retries=0 as for fetch_source: the HTTP client owns every retry decision
refetch_source = execution.step(_refetch_source, name="refetch_source", retries=0)


def refresh_metrics(config: str | None = None, data_dir: str = "claimwatch-data", hours: float = 48,
                    replay: str | None = None, demo: bool = False) -> dict[str, Any]:
    """Re-read the flagged posts first seen in the last ``hours`` through each platform's by-id
    endpoint and append their counts to ``post_metrics`` (``how = "refetch"``), so reach is
    recorded as it grows (the ``refresh-metrics`` deployment runs this hourly). A post whose text
    changed is also stored again in ``posts``. Sources without a by-id endpoint (news feeds, fact
    checks) are skipped; a source that fails is reported and the others go on."""
    started = utcnow()
    cfg_path, manifest = resolve_inputs(config, replay, demo)
    cfg = load_config(cfg_path)
    run_id, _ = _run_id(started)
    store = Store(data_dir, compact_files=cfg.compact_files)
    store.ensure()
    due = posts_to_refresh(store, started, hours)
    by_name = {s.name: s for s in cfg.enabled_sources}
    from connectors.registry import module_for

    skipped, todo = {}, []
    for (source,), group in due.group_by("source", maintain_order=True):
        src = by_name.get(source)
        if src is None:
            skipped[source] = "not an enabled source of this sources file"
        elif not getattr(getattr(module_for(src.kind), "Source", None), "REFETCH", False):
            skipped[source] = f"{src.kind} sources cannot re-read single posts"
        else:
            todo.append((src, group["post_id"].to_list()))
    run = Budget(cfg.run_budget, f"run budget of {cfg.run_budget:g} s")
    frames, sources, errors = [], {}, {}
    with placeholder_credentials(cfg.enabled_sources) if manifest else contextlib.nullcontext():
        futures = [(src, ids, execution.submit(
            refetch_source, cfg, src, ids, str(manifest) if manifest else None,
            Budget(cfg.source_budget(src), f"source budget of {cfg.source_budget(src):g} s", parent=run),
            name=f"refetch_source[{src.name}]", tags=[f"source:{src.name}", f"kind:{src.kind}"]))
                   for src, ids in todo]
        for src, ids, fut in futures:
            fut.wait()
            exc = fut.exception()
            if exc is None:
                read = fut.result()["rows"].filter(pl.col("post_id").is_in(ids))  # only the posts asked for
                frames.append(read.with_columns(run_id=pl.lit(run_id)))
                sources[src.name] = {"asked": len(ids), "read": read.height}
            else:
                errors[src.name] = _error_text(exc)
                _say(f"re-reading {src.name} failed: {errors[src.name]}", logging.WARNING)
    rows = pl.concat(frames, how="vertical") if frames else empty("posts")
    rows = rows.unique("post_id", keep="first", maintain_order=True)
    day = started.date()
    snapshots = store.write("post_metrics", metrics_frame(rows, "refetch", run_id), run_id, day)
    rows = with_stored_fields(store, rows)
    edited = store.write("posts", detect_languages(store, rows), run_id, day) if rows.height else empty("posts")
    _say(f"refreshed {snapshots.height} of {due.height} flagged posts first seen in the last {hours:g} h"
         + (f"; {edited.height} edited" if edited.height else ""))
    return {"run_id": run_id, "due": due.height, "snapshots": snapshots.height, "edited": edited.height,
            "sources": sources, "skipped": skipped, "errors": errors}


def _compact_table(data_dir: str, table: str) -> list[dict[str, Any]]:
    merged = Store(data_dir).compact(table)
    if not merged:
        _say(f"{table}: nothing to merge (no partition has more than one part file)")
    for p, n, r in merged:
        _say(f"compacted {table}/{p}: {n} files -> 1 ({r} rows)")
    return [{"partition": p, "files": n, "rows": r} for p, n, r in merged]


compact_table = execution.step(_compact_table, name="compact_table")


def _compaction_markdown(data_dir: str, out: dict[str, list[dict[str, Any]]], removed: int) -> str:
    lines = ["# claimwatch compaction", "", f"**Data:** `{data_dir if '://' in str(data_dir) else Path(data_dir).resolve()}`", ""]
    merged = [(t, p) for t, parts in out.items() for p in parts]
    if not merged:
        lines.append("Nothing to merge: no partition of any table has more than one part file.")
    else:
        lines += ["| table | partition | files merged | rows |", "|---|---|---:|---:|"]
        lines += [f"| {t} | {p['partition']} | {p['files']} | {p['rows']} |" for t, p in merged]
    lines += ["", f"Leftover `.tmp` files removed: {removed}."]
    return "\n".join(lines) + "\n"


def compact_dataset(data_dir: str = "claimwatch-data") -> dict[str, Any]:
    """Merge each partition's small part files into one (same rows; every query answers the same).
    One step per table, one after the other; the outcome is logged and published as the
    ``claimwatch-compaction`` artifact, also when there was nothing to merge."""
    out: dict[str, list[dict[str, Any]]] = {}
    for table in list(SCHEMAS):  # every table of the dataset, those registered later included
        out[table] = execution.submit(compact_table, data_dir, table, name=f"compact_table[{table}]",
                                      tags=[f"table:{table}"]).result()
    removed = Store(data_dir).remove_tmp()
    if removed:
        _say(f"removed {removed} leftover .tmp files")
    execution.markdown("claimwatch-compaction", _compaction_markdown(data_dir, out, removed),
                       "Part files merged per table and partition")
    return out
