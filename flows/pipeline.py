"""The Prefect flows: ``run_pipeline`` (fetch -> store -> match -> store -> report),
``import_factchecks`` and ``compact_dataset``.

Flows stay thin: connectors fetch and parse, ``rules`` matches, :mod:`flows.store` writes. Tasks
work on a whole source or a batch of posts, never on one post.

Final state of ``run_pipeline``: ``Completed`` when at least one source delivered (the message
names the sources that failed, if any), ``Failed`` when every source failed or matching failed.
Bad configuration (including the ``[matching]`` table), a bad catalogue or a part file that is not
Parquet fails the run before anything is fetched or written. Posts are stored and cursors moved
before matching; a run whose matching failed is caught up by the next run (see the comment in
:func:`run_pipeline` and docs/data.md).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import traceback
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
from prefect import flow, get_run_logger, task, unmapped
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event
from prefect.futures import as_completed
from prefect.states import Cancelled, Completed, Failed

from connectors.deadlines import Budget
from connectors.errors import BudgetExceeded, ConfigError, ConnectorError, ParseError
from connectors.redact import redact
from connectors.robots import RobotsCache
from connectors.schema import POSTS_SCHEMA
from rules.schema import CLAIMS_SCHEMA
from flows.config import (
    CLAIMS_DIR,
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
from flows.runners import task_runner_from_config
from flows import stopping
from flows.store import TABLES, Store, StoreError, conform, empty

FLAG_LABELS = ("likely_misinformation", "needs_review", "debunk")
progress = logging.getLogger("claimwatch.progress")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _say(msg: str, level: int = logging.INFO) -> None:
    """Progress to the Prefect run log and to the CLI (``claimwatch.progress``), secrets masked."""
    msg = redact(msg)
    try:
        get_run_logger().log(max(level, logging.INFO), msg)
    except Exception:  # outside a run context
        pass
    progress.log(level, msg)


def resolve_inputs(config: str | None, replay: str | None, demo: bool) -> tuple[Path, Path | None]:
    """The sources file and replay manifest a run uses; no config means the bundled demo."""
    if config is None:
        return DEMO_SOURCES, Path(replay) if replay else DEMO_MANIFEST
    if demo and replay is None:
        return Path(config), DEMO_MANIFEST
    return Path(config), Path(replay) if replay else None


def _flow_run_name() -> str:
    """``<window> · <sources file> · <n> sources: a, b, c +2``; the window runs from the last
    recorded run's start (or ``first run``) to now."""
    from prefect.runtime import flow_run

    params = flow_run.parameters or {}
    label = "demo" if params.get("config") is None else Path(str(params["config"])).name
    try:
        path, _ = resolve_inputs(params.get("config"), params.get("replay"), bool(params.get("demo")))
        names = [s.name for s in load_config(path).enabled_sources]
    except Exception:
        names = []
    try:
        last = Store(params.get("data_dir") or "claimwatch-data").scan("runs").select(pl.col("started_at").max()).collect().item()
    except Exception:
        last = None
    now = utcnow()
    since = f"{last:%Y-%m-%d %H:%M}" if last else "first run"
    shown = ", ".join(names[:4]) + (f" +{len(names) - 4}" if len(names) > 4 else "")
    return f"{since} → {now:%Y-%m-%d %H:%M}Z · {label} · {len(names)} sources: {shown}"[:200]


# ---------------------------------------------------------------- fetching


def _rows_frame(kind: str, rows: Any, source: str) -> tuple[str, pl.DataFrame]:
    if kind == "factchecks" or isinstance(rows, list) and rows and "claim_id" in rows[0] and "post_id" not in rows[0]:
        claims = [{k: r.get(k) for k in CLAIMS_SCHEMA} for r in rows]
        frame = pl.DataFrame(claims, schema=CLAIMS_SCHEMA) if claims else empty("claims")
        return "claims", frame.with_columns(status=pl.lit("imported"), catalogue_version=pl.lit("imported"))
    if isinstance(rows, pl.DataFrame):  # a connector may hand over a large result as a frame
        frame = conform("posts", rows)
    else:
        frame = pl.DataFrame(rows, schema=POSTS_SCHEMA) if rows else empty("posts")
    return "posts", frame.with_columns(source=pl.coalesce(pl.col("source"), pl.lit(source)))


# retries=0: the HTTP client owns every retry decision (connectors.http.retry_delay: backoff,
# Retry-After, retry_after_max, nothing after a redirect loop or a bad encoding); a task-level
# retry would fetch a second time what the client already gave up on
@task(name="fetch_source", cache_policy=NO_CACHE, persist_result=False, retries=0)
def fetch_source(cfg: PipelineConfig, src: SourceConfig, cursor: dict[str, Any] | None,
                 replay: str | None = None, budget: Budget | None = None,
                 robots: RobotsCache | None = None) -> dict[str, Any]:
    """Fetch one source since ``cursor`` within ``budget``; returns its rows, new cursor and
    counts. A source whose budget ran out (or was cancelled) while it fetched raises
    :class:`BudgetExceeded`: what it had is not kept, so its cursor stays where it was."""
    from connectors.http import HttpClient

    transport = None
    if replay:
        from flows.replay import ReplayTransport

        transport = ReplayTransport.from_manifest(replay)
    t0 = time.monotonic()
    if budget is not None:
        budget.restart()  # the source's time counts from here, not from when it was queued
    register_env_secrets(cfg)
    with HttpClient(cfg.http_settings(), transport, budget=budget, robots=robots) as client:
        try:
            source = build_source(cfg, src, client)
            problem = missing_env(cfg, src, source)
            if problem:
                raise ConfigError(problem)
            result = source.fetch(cursor)
        except ParseError as exc:
            if transport is not None and transport.served and transport.served[-1][1] is not None:
                exc.args = (f"{exc} (recorded file {transport.served[-1][1]})",)
            raise
        except ConnectorError:
            raise
        except Exception as exc:
            # a connector bug: its message may quote a URL with a key in it, and Prefect records
            # the exception (logs, task state, events); only a redacted copy leaves this task
            _say(redact("".join(traceback.format_exception(exc))), logging.ERROR)
            raise ConnectorError(f"{type(exc).__name__}: {_first_line(exc)}") from None
    if budget is not None and budget.reason is not None:
        # the connector may have kept going past failed requests (per-item warnings); a partial
        # result is not stored, so the cursor cannot move past what was not read
        raise BudgetExceeded(f"source {src.name!r}: {budget.reason}")
    table, frame = _rows_frame(src.kind, result.posts, src.name)
    warnings = [redact(w) for w in result.warnings]
    for w in warnings:
        _say(w, logging.WARNING)
    return {"table": table, "rows": frame, "cursor": result.cursor, "skipped": result.skipped,
            "warnings": warnings, "requests": result.requests,
            "duration_s": time.monotonic() - t0}


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


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
    done = threading.Event()
    robots = RobotsCache()  # each site's robots.txt is read once per run, whichever source asks
    for src in cfg.enabled_sources:
        seconds = cfg.source_budget(src)
        budget = Budget(seconds, f"source budget of {seconds:g} s", parent=window)
        t = fetch_source.with_options(task_run_name=f"fetch_source[{src.name}]",
                                      tags=[f"source:{src.name}", f"kind:{src.kind}"])
        fut = t.submit(cfg, src, cursors.get(src.name), str(replay) if replay else None, budget, robots)
        fut.add_done_callback(lambda f: done.set())
        futures[src.name] = (src, fut, budget)
    outcomes: dict[str, dict[str, Any]] = {}
    pending = dict(futures)
    while pending:
        done.wait(0.5)
        done.clear()
        for name, (src, fut, budget) in list(pending.items()):
            if _is_done(fut):
                fut.wait()
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
    return {name: outcomes[name] for name in futures}


def _is_done(fut: Any) -> bool:
    wrapped = getattr(fut, "wrapped_future", None)
    return wrapped.done() if wrapped is not None else fut.state.is_final()


def _cursor_text(cursor: Any) -> str:
    """A cursor as source_health shows it: JSON, with long strings (an rss cursor's ``known`` id
    digests) summarised by their length; the whole cursor is in ``_state/cursors.json``."""
    if isinstance(cursor, dict):
        cursor = {k: f"<{len(v)} characters>" if isinstance(v, str) and len(v) > 1000 else v for k, v in cursor.items()}
    return json.dumps(cursor, sort_keys=True, default=str)


class _MatchingSkipped(Exception):
    pass


def _failed(src: SourceConfig, err: str, cursor: Any, duration: float | None) -> dict[str, Any]:
    return {"status": "error", "error": err, "kind": src.kind, "rows": None, "cursor": cursor,
            "skipped": 0, "duration_s": duration}


def _outcome(name: str, src: SourceConfig, fut: Any, budget: Budget, cursors: dict[str, Any]) -> dict[str, Any]:
    state = fut.state
    if state.is_completed() and budget.reason is None:
        out = fut.result()
        out.update(status="ok", error=None, kind=src.kind)
        _say(f"fetched {name}: {out['rows'].height} items")
        return out
    if budget.reason is not None:
        err = _budget_error(budget)
    else:
        exc = state.result(raise_on_failure=False)
        err = _error_text(exc) if isinstance(exc, BaseException) else redact(state.message or state.name)
    _say(f"source {name} failed: {err}", logging.WARNING)
    return _failed(src, err, cursors.get(name), budget.elapsed())


# ---------------------------------------------------------------- matching

_matchers: dict[tuple[str, str], Any] = {}
_matchers_lock = threading.Lock()


def _matcher(catalogue: Any, matching: dict[str, Any]) -> Any:
    from rules.match import MatchConfig, Matcher

    key = (catalogue.version, json.dumps(matching, sort_keys=True, default=str))
    with _matchers_lock:
        if key not in _matchers:
            _matchers[key] = Matcher(catalogue, MatchConfig.from_mapping(matching))
        return _matchers[key]


@task(name="match_batch", cache_policy=NO_CACHE, persist_result=False)
def match_batch(posts: pl.DataFrame, catalogue: Any, matching: dict[str, Any]) -> pl.DataFrame:
    """Match one batch of posts against the catalogue (rows of ``rules.schema.MATCHES_SCHEMA``)."""
    return _matcher(catalogue, matching).match(posts)


def match_all(cfg: PipelineConfig, posts: pl.DataFrame, catalogue: Any, run_id: str,
              budget: Budget | None = None) -> pl.DataFrame:
    """Matches of ``posts`` in batches. When ``budget`` stops (the run's time is up, or a signal)
    no further batch starts; the batches done are returned and the rest is caught up next run."""
    size = cfg.batch_size
    chunks = [posts.slice(i, size) for i in range(0, posts.height, size)]
    if not chunks:
        return empty("matches")
    artifact = create_progress_artifact(progress=0.0, key="claimwatch-matching",
                                        description=f"Matching {posts.height} posts in {len(chunks)} batches")
    results = []
    with task_runner_from_config(cfg) as runner:
        futures = runner.map(match_batch, {"posts": chunks, "catalogue": unmapped(catalogue),
                                           "matching": unmapped(cfg.matching)})
        for i, fut in enumerate(as_completed(list(futures)), 1):
            results.append(fut.result())
            update_progress_artifact(artifact_id=artifact, progress=100.0 * i / len(chunks))
            _say(f"matched batch {i}/{len(chunks)}")
            if budget is not None and budget.reason is not None and i < len(chunks):
                for f in futures:  # batches not started yet are dropped; running ones finish
                    wrapped = getattr(f, "wrapped_future", None)
                    if wrapped is not None:
                        wrapped.cancel()
                _say(f"matching stopped after {i} of {len(chunks)} batches: {budget.reason}; the next run "
                     "matches the rest", logging.WARNING)
                break
    frame = pl.concat([conform("matches", r) for r in results], how="vertical")
    return frame.with_columns(run_id=pl.lit(run_id), flagged_at=pl.coalesce(pl.col("flagged_at"), pl.lit(utcnow())))


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
    keep = keys["_i"].is_in(kept_rows["_i"].implode())
    counts = dict(keys.filter(~keep).group_by("source").len().iter_rows())
    return posts.filter(keep), counts


class PostWriter:
    """Writes the posts of a run as its sources finish: rows are gathered until
    ``batch_rows`` are waiting, de-duplicated against each other and against the batches
    already written in this run (:func:`dedupe_run`'s rules), written as one part file, and then
    the cursors of the sources in the batch are saved. :meth:`flush` writes what is left."""

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
        self._parts = 0

    def add(self, name: str, outcome: dict[str, Any]) -> None:
        if outcome.get("table") != "posts":
            return
        rows = outcome["rows"]
        outcome["items"] = rows.height
        outcome["rows"] = None  # the frame is written below; the outcome keeps its count
        if rows.height:
            self.fetched += rows.height
            self._pending.append(rows.with_columns(run_id=pl.lit(self.run_id)))
            self._pending_rows += rows.height
        self._cursors[name] = outcome["cursor"]
        if self._pending_rows >= self.batch_rows:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            batch, dups = dedupe_run(pl.concat(self._pending, how="vertical"))
            self._pending, self._pending_rows = [], 0
            has_content = pl.col("text").is_not_null() | pl.col("title").is_not_null() | pl.col("transcript").is_not_null()
            earlier = pl.col("post_id").is_in(list(self._ids)) | (
                has_content & pl.col("content_hash").is_in(list(self._hashes)))
            if self._ids:
                for source, n in batch.filter(earlier).group_by("source").len().iter_rows():
                    dups[source] = dups.get(source, 0) + n
                batch = batch.filter(~earlier)
            for source, n in dups.items():
                self.duplicates[source] = self.duplicates.get(source, 0) + n
            self._ids.update(batch["post_id"].to_list())
            self._hashes.update(batch.filter(has_content)["content_hash"].to_list())
            part = self.run_id if not self._parts else f"{self.run_id}-{self._parts}"
            self._parts += 1
            written = self.store.write("posts", batch, part, self.day)
            self._written.append(written.select("post_id", "source"))
        if self._cursors:
            self.store.save_cursors(self._cursors)  # only after their posts are on disk
            self._cursors = {}

    def written(self) -> pl.DataFrame:
        """``post_id`` and ``source`` of every row written."""
        return pl.concat(self._written, how="vertical") if self._written else pl.DataFrame(
            schema={"post_id": pl.String, "source": pl.String})


# ---------------------------------------------------------------- reporting


def _markdown(summary: dict[str, Any]) -> str:
    lines = [f"# claimwatch run `{summary['run_id']}`", "",
             f"Catalogue `{summary['catalogue_version']}` · {summary['posts_new']} new posts · "
             f"{summary['matches_new']} new matches · status **{summary['status']}**", "",
             "## Posts per source", "", "| source | status | fetched | new | duplicates | error |",
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
        lines += [f"- `{a['claim_id']}`: {a['count']} new spreading posts in the last {a['window']}"
                  for a in summary["alerts"]]
    return "\n".join(lines) + "\n"


def publish(summary: dict[str, Any], new_matches: pl.DataFrame, posts: pl.DataFrame) -> None:
    create_markdown_artifact(_markdown(summary), key="claimwatch-run-summary",
                             description="Posts per source, new flags per claim, errors")
    misinfo = new_matches.filter(pl.col("label") == "likely_misinformation")
    if misinfo.height:
        table = (misinfo.join(posts.select("post_id", "url", "source", "published_at"), on="post_id", how="left")
                 .sort(["claim_id", "score"], descending=[False, True])
                 .select("claim_id", "post_id", "source", "url", "score", "stance",
                         pl.col("published_at").dt.to_string("%Y-%m-%d %H:%M").alias("published_at"), "evidence"))
        create_table_artifact(table.to_dicts(), key="claimwatch-new-misinformation",
                              description=f"{misinfo.height} new posts labelled likely_misinformation")


def _alert_state(store: Store) -> dict[str, Any]:
    try:
        data = json.loads((store.state_dir / "alerts.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError, OSError):
        return {}
    return data if isinstance(data, dict) else {}


def spreading_counts(store: Store, now: datetime, window_s: int) -> dict[str, int]:
    """Per claim: posts newly spreading it within the window, read from the store. A post counts
    once per claim, at the first time it was labelled ``likely_misinformation`` with stance
    ``spreads`` (under any catalogue version), if that time falls in ``(now - window, now]``."""
    spreading = store.collect("matches", store.scan("matches")
                              .filter((pl.col("label") == "likely_misinformation") & (pl.col("stance") == "spreads")
                                      & pl.col("flagged_at").is_not_null())
                              .group_by("claim_id", "post_id").agg(first=pl.col("flagged_at").min())
                              .filter((pl.col("first") > now - timedelta(seconds=window_s)) & (pl.col("first") <= now))
                              .group_by("claim_id").agg(n=pl.len()))
    return {r["claim_id"]: int(r["n"]) for r in spreading.iter_rows(named=True)}


def spreading_alerts(store: Store, catalogue: Any, threshold: int, window: str, window_s: int, run_id: str,
                     now: datetime | None = None) -> list[dict[str, Any]]:
    """Emit ``claimwatch.claim.spreading`` once per crossing: when a claim's count of new spreading
    posts in the window reaches ``threshold`` after being below it. ``_state/alerts.json`` remembers
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
                   "run_id": run_id, "catalogue_version": catalogue.version}
        emit_event(event="claimwatch.claim.spreading",
                   resource={"prefect.resource.id": f"claimwatch.claim.{cid}",
                             "prefect.resource.name": title or cid},
                   payload=payload)
        alerts.append(payload)
    if above != state:
        with store.lock():
            tmp = store.state_dir / f".alerts.json.{run_id}.tmp"
            tmp.write_text(json.dumps(above, indent=2, sort_keys=True), encoding="utf-8")
            tmp.replace(store.state_dir / "alerts.json")
    return alerts


def posts_to_catch_up(store: Store, catalogue_version: str, now: datetime, days: float, limit: int,
                      exclude: pl.DataFrame | None = None) -> pl.DataFrame:
    """Stored posts fetched in the last ``days`` with no ``matches`` row for ``catalogue_version``,
    newest first, at most ``limit`` (one row per post_id: its latest stored version)."""
    if limit <= 0:
        return empty("posts")
    matched = store.scan("matches").filter(pl.col("catalogue_version") == catalogue_version).select("post_id").unique()
    recent = (store.scan("posts").filter(pl.col("fetched_at") >= now - timedelta(days=days))
              .sort("fetched_at", descending=True).unique("post_id", keep="first", maintain_order=True)
              .join(matched, on="post_id", how="anti"))
    if exclude is not None and exclude.height:
        recent = recent.join(exclude.select("post_id").lazy(), on="post_id", how="anti")
    return store.collect("posts", recent.head(limit))


# ---------------------------------------------------------------- the flows


def _load_catalogue(claims_dir: str | Path | None) -> Any:
    from rules.catalogue import load_catalogue

    return load_catalogue(claims_dir or CLAIMS_DIR)


def _run_id(started: datetime) -> tuple[str, str]:
    from prefect.runtime import flow_run

    flow_run_id = str(flow_run.id or "")
    return f"{started:%Y%m%dT%H%M%SZ}-{(flow_run_id or 'local')[:8]}", flow_run_id


@flow(name="claimwatch-pipeline", flow_run_name=_flow_run_name, persist_result=False, log_prints=False)
def run_pipeline(config: str | None = None, data_dir: str = "claimwatch-data", claims_dir: str | None = None,
                 replay: str | None = None, demo: bool = False, run_budget: float | None = None):
    """Fetch every enabled source, store new posts, match them, store new matches, report.

    ``config`` is a sources file (None: the bundled demo, replayed from recorded responses);
    ``replay`` a manifest of recorded responses to use instead of the network; ``run_budget``
    the seconds the run may take (default: ``[runner] run_budget``; scheduled deployments set it
    from their schedule). Returns a summary dict (printed by
    :func:`flows.commands.run.format_summary`). SIGTERM/SIGINT stop the run within seconds
    (:mod:`flows.stopping`): what was fetched is stored, the flow run ends ``Cancelled``.
    """
    stop = Budget(None, "run")
    with stopping.on_signals(stop):
        return _pipeline(config, data_dir, claims_dir, replay, demo, run_budget, stop)


def _pipeline(config: str | None, data_dir: str, claims_dir: str | None, replay: str | None, demo: bool,
              run_budget: float | None, stop: Budget):
    started = utcnow()
    t0 = time.monotonic()
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
    store = Store(data_dir)
    store.ensure()
    store.check()  # a part file that is not Parquet stops the run before anything is fetched
    _say(f"run {run_id}: {len(cfg.enabled_sources)} sources, catalogue {catalogue.version} ({len(catalogue)} claims)")
    store.write("claims", catalogue.frame(), run_id, day)

    cursors = store.read_cursors()
    # Posts are written while sources are still fetching, in batches of [runner] write_batch_rows
    # (a source's rows are never split), each source's cursor saved with its batch: a run holds
    # at most one batch of unwritten posts besides what the sources in flight return.
    writer = PostWriter(store, run_id, day, cfg.write_batch_rows)
    with placeholder_credentials(cfg.enabled_sources) if manifest else contextlib.nullcontext():
        outcomes = fetch_all(cfg, cursors, str(manifest) if manifest else None, window, writer.add)
    writer.flush()

    ok = {n: o for n, o in outcomes.items() if o["status"] == "ok"}
    new_posts = writer.written()
    dup_in_run = writer.duplicates
    posts = store.collect("posts", store.scan("posts").filter(pl.col("run_id") == run_id)) if new_posts.height \
        else empty("posts")
    imported = [o["rows"] for o in ok.values() if o["table"] == "claims" and o["rows"].height]
    imported_new = store.write("claims", pl.concat(imported), run_id, day) if imported else None
    # Cursors move as soon as the posts are on disk, whether or not matching below succeeds:
    # matching never depends on fetching again. Every run matches the posts it fetched plus the
    # stored posts of the last [runner] catch_up_days (default 3) that have no matches row for
    # this catalogue version, newest first, at most catch_up_max_posts (default 2000). So a run
    # whose matching failed is caught up by the next run, and a new catalogue version re-matches
    # recent posts. Posts no claim scores for have no matches row, so they are re-checked by
    # each run while they are recent (bounded by the same limits); they still write nothing.
    store.save_cursors({n: o["cursor"] for n, o in ok.items() if o["table"] == "claims"})
    _say(f"stored {new_posts.height} new posts of {writer.fetched} fetched")

    match_error = skipped_note = None
    caught_up = 0
    to_match = posts
    try:
        if run.reason is not None:  # a signal, or the run's time is up: the next run catches up
            raise _MatchingSkipped(f"matching skipped: {run.reason}; the next run matches these posts")
        backlog = posts_to_catch_up(store, catalogue.version, started, cfg.catch_up_days, cfg.catch_up_max_posts,
                                    exclude=posts)
        caught_up = backlog.height
        if caught_up:
            _say(f"matching {caught_up} stored posts not yet matched with catalogue {catalogue.version}")
        to_match = pl.concat([posts, conform("posts", backlog)], how="vertical") if caught_up else posts
        matches = match_all(cfg, to_match, catalogue, run_id, run)
        new_matches = store.write("matches", matches, run_id, day)
        _say(f"stored {new_matches.height} new matches")
    except _MatchingSkipped as exc:
        match_error, new_matches = None, empty("matches")
        skipped_note = str(exc)
        _say(skipped_note, logging.WARNING)
    except Exception as exc:  # recorded in runs; the posts stay, the next run matches them
        match_error = f"matching failed: {exc}" if isinstance(exc, StoreError) else f"matching failed: {_error_text(exc)}"
        new_matches = empty("matches")
        _say(match_error, logging.ERROR)

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
        })
    store.write("source_health", pl.DataFrame(health), run_id, day)

    flags = (new_matches.filter(pl.col("label").is_in(FLAG_LABELS)).group_by("claim_id", "label").len("n")
             .sort(["claim_id", "label"]).to_dicts()) if new_matches.height else []
    try:
        # a stopped run ends now: its posts get matched, and alerted on, by the next run
        alerts = [] if stop.cancelled else spreading_alerts(
            store, catalogue, cfg.spreading_threshold, cfg.alert_window, cfg.alert_window_s, run_id, utcnow())
    except StoreError as exc:
        alerts = []
        _say(f"spreading alerts skipped: {exc}", logging.WARNING)
    failed = [h for h in health if h["status"] == "error"]
    status = "failed" if len(failed) == len(health) or match_error else "partial" if failed else "ok"
    if stop.cancelled:
        status = "stopped"
    n_flags = int(new_matches.filter(pl.col("label").is_in(("likely_misinformation", "needs_review"))).height)
    finished = utcnow()
    store.write("runs", pl.DataFrame([{
        "run_id": run_id, "flow_run_id": flow_run_id, "started_at": started, "finished_at": finished,
        "sources": [s.name for s in cfg.enabled_sources], "posts_fetched": writer.fetched,
        "posts_new": new_posts.height, "matches": new_matches.height, "flags": n_flags, "status": status,
        "catalogue_version": catalogue.version, "duration_s": time.monotonic() - t0,
        "error": match_error or skipped_note,
    }]), run_id, day)

    summary = {
        "run_id": run_id, "flow_run_id": flow_run_id, "status": status, "data_dir": str(Path(data_dir).resolve()),
        "catalogue_version": catalogue.version, "posts_fetched": writer.fetched, "posts_new": new_posts.height,
        "matches_new": new_matches.height, "flags": flags, "alerts": alerts, "duplicates_in_run": dup_in_run,
        "sources": [{k: h[k] for k in ("source", "kind", "status", "items_fetched", "new", "duplicates", "error")}
                    for h in health],
        "duration_s": round(time.monotonic() - t0, 2), "error": match_error or skipped_note, "caught_up": caught_up,
    }
    if not stop.cancelled:
        publish(summary, new_matches, to_match)
    if stop.cancelled:
        return Cancelled(message=f"{stop.reason} after {summary['duration_s']:.1f} s; {new_posts.height} new "
                                 f"posts stored, {len(failed)} of {len(health)} sources not fetched", data=summary)
    if match_error:
        return Failed(message=match_error, data=summary)
    if status == "failed":
        return Failed(message=f"every source failed: {', '.join(h['source'] for h in failed)}", data=summary)
    msg = f"{len(health) - len(failed)} of {len(health)} sources ok"
    if failed:
        msg += "; failed: " + ", ".join(h["source"] for h in failed)
    return Completed(message=msg, data=summary)


@flow(name="claimwatch-import-factchecks", persist_result=False)
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


@flow(name="claimwatch-compact", persist_result=False)
def compact_dataset(data_dir: str = "claimwatch-data") -> dict[str, Any]:
    """Merge each partition's small part files into one (same rows; every query answers the same)."""
    store = Store(data_dir)
    out = {}
    for table in TABLES:
        merged = store.compact(table)
        out[table] = [{"partition": p, "files": n, "rows": r} for p, n, r in merged]
        for p, n, r in merged:
            _say(f"compacted {table}/{p}: {n} files -> 1 ({r} rows)")
    removed = store.remove_tmp()
    if removed:
        _say(f"removed {removed} leftover .tmp files")
    return out
