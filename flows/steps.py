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
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl

from connectors.errors import (
    BlockedURLError,
    ConfigError,
    FetchError,
    HTTPStatusError,
    ParseError,
    TooLargeError,
)
from connectors.schema import POSTS_SCHEMA
from rules.schema import CLAIMS_SCHEMA
from flows import execution
from flows.config import (
    CLAIMS_DIR,
    DEMO_MANIFEST,
    DEMO_SOURCES,
    PipelineConfig,
    SourceConfig,
    build_source,
    load_config,
)
from flows.replay import placeholder_credentials
from flows.store import TABLES, Store, StoreError, conform, empty

FLAG_LABELS = ("likely_misinformation", "needs_review", "debunk")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _say(msg: str, level: int = logging.INFO) -> None:
    """A progress line: to the run log on the Prefect API and the CLI's stderr (see flows.execution)."""
    execution.log(msg, level)


def resolve_inputs(config: str | None, replay: str | None, demo: bool) -> tuple[Path, Path | None]:
    """The sources file and replay manifest a run uses; no config means the bundled demo."""
    if config is None:
        return DEMO_SOURCES, Path(replay) if replay else DEMO_MANIFEST
    if demo and replay is None:
        return Path(config), DEMO_MANIFEST
    return Path(config), Path(replay) if replay else None


# ---------------------------------------------------------------- fetching


def _transient(exc: BaseException) -> bool:
    """Retry only what may pass on a second try: network trouble, 5xx and 429."""
    if isinstance(exc, HTTPStatusError):
        return exc.status_code >= 500 or exc.status_code == 429
    if isinstance(exc, (TooLargeError, BlockedURLError, ConfigError)):
        return False
    return isinstance(exc, FetchError)


def _rows_frame(kind: str, rows: list[dict[str, Any]], source: str) -> tuple[str, pl.DataFrame]:
    if kind == "factchecks" or rows and "claim_id" in rows[0] and "post_id" not in rows[0]:
        claims = [{k: r.get(k) for k in CLAIMS_SCHEMA} for r in rows]
        frame = pl.DataFrame(claims, schema=CLAIMS_SCHEMA) if claims else empty("claims")
        return "claims", frame.with_columns(status=pl.lit("imported"), catalogue_version=pl.lit("imported"))
    frame = pl.DataFrame(rows, schema=POSTS_SCHEMA) if rows else empty("posts")
    return "posts", frame.with_columns(source=pl.coalesce(pl.col("source"), pl.lit(source)))


def _fetch_source(cfg: PipelineConfig, src: SourceConfig, cursor: dict[str, Any] | None,
                 replay: str | None = None) -> dict[str, Any]:
    """Fetch one source since ``cursor``; returns its rows, new cursor and counts."""
    from connectors.http import HttpClient

    transport = None
    if replay:
        from flows.replay import ReplayTransport

        transport = ReplayTransport.from_manifest(replay)
    t0 = time.monotonic()
    with HttpClient(cfg.http_settings(), transport) as client:
        try:
            result = build_source(cfg, src, client).fetch(cursor)
        except ParseError as exc:
            if transport is not None and transport.served and transport.served[-1][1] is not None:
                exc.args = (f"{exc} (recorded file {transport.served[-1][1]})",)
            raise
    table, frame = _rows_frame(src.kind, result.posts, src.name)
    for w in result.warnings:
        _say(w, logging.WARNING)
    return {"table": table, "rows": frame, "cursor": result.cursor, "skipped": result.skipped,
            "warnings": list(result.warnings), "requests": result.requests,
            "duration_s": time.monotonic() - t0}


fetch_source = execution.step(_fetch_source, name="fetch_source", retries=1, retry_delay=2, retry_if=_transient)


def _error_text(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return msg if type(exc).__module__.startswith("connectors") else f"{type(exc).__name__}: {msg}"


def fetch_all(cfg: PipelineConfig, cursors: dict[str, Any], replay: str | None) -> dict[str, dict[str, Any]]:
    retries = int(cfg.runner.get("fetch_retries", 1))
    delay = cfg.runner.get("fetch_retry_delay", 2)
    futures = {}
    for src in cfg.enabled_sources:
        futures[src.name] = (src, execution.submit(
            fetch_source, cfg, src, cursors.get(src.name), str(replay) if replay else None,
            name=f"fetch_source[{src.name}]", tags=[f"source:{src.name}", f"kind:{src.kind}"],
            retries=retries, retry_delay=delay))
    outcomes: dict[str, dict[str, Any]] = {}
    for name, (src, fut) in futures.items():
        fut.wait()
        exc = fut.exception()
        if exc is None:
            out = fut.result()
            out.update(status="ok", error=None, kind=src.kind)
            _say(f"fetched {name}: {out['rows'].height} items")
        else:
            err = _error_text(exc)
            out = {"status": "error", "error": err, "kind": src.kind, "rows": None, "cursor": cursors.get(name),
                   "skipped": 0, "duration_s": None}
            _say(f"source {name} failed: {err}", logging.WARNING)
        outcomes[name] = out
    return outcomes


# ---------------------------------------------------------------- media


def _fingerprint_media(cfg: PipelineConfig, posts: pl.DataFrame, run_id: str, replay: str | None = None) -> Any:
    """Fetch and fingerprint the pictures and videos of ``posts`` (bounded by ``[media]``)."""
    from connectors.http import HttpClient
    from connectors.media import MediaSettings, fingerprint_media, settings_for

    settings = MediaSettings.from_mapping(cfg.media)
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
               replay: str | None) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Fingerprint the media of ``posts`` not fingerprinted yet, store them, and return the ``media``
    rows of every post in ``posts`` (stored earlier or now) and per-source counts for source_health."""
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
        if todo.height:
            result = execution.submit(fingerprint_media, cfg, todo, run_id, replay, name="fingerprint_media").result()
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

_matchers: dict[tuple[str, str], Any] = {}
_matchers_lock = threading.Lock()


def _matcher(catalogue: Any, matching: dict[str, Any]) -> Any:
    from rules.match import MatchConfig, Matcher

    key = (catalogue.version, json.dumps(matching, sort_keys=True, default=str))
    with _matchers_lock:
        if key not in _matchers:
            _matchers[key] = Matcher(catalogue, MatchConfig.from_mapping(matching))
        return _matchers[key]


def _match_batch(posts: pl.DataFrame, catalogue: Any, matching: dict[str, Any],
                 media: pl.DataFrame | None = None) -> pl.DataFrame:
    """Match one batch of posts against the catalogue (rows of ``rules.schema.MATCHES_SCHEMA``);
    ``media`` holds outside media evidence (:func:`media_evidence`) for the run's posts."""
    if media is not None and media.height:
        media = media.join(posts.select("post_id"), on="post_id", how="semi")
    return _matcher(catalogue, matching).match(posts, media=media if media is not None and media.height else None)


match_batch = execution.step(_match_batch, name="match_batch")


def match_all(cfg: PipelineConfig, posts: pl.DataFrame, catalogue: Any, run_id: str,
              media: pl.DataFrame | None = None) -> pl.DataFrame:
    size = cfg.batch_size
    chunks = [posts.slice(i, size) for i in range(0, posts.height, size)]
    if not chunks:
        return empty("matches")
    advance = execution.progress("claimwatch-matching", f"Matching {posts.height} posts in {len(chunks)} batches")
    results = []
    done = execution.map_unordered(match_batch, "posts", chunks, cfg.runner, catalogue=catalogue, matching=cfg.matching,
                                   media=media)
    for i, (_, result) in enumerate(done, 1):
        results.append(result)
        advance(100.0 * i / len(chunks))
        _say(f"matched batch {i}/{len(chunks)}")
    frame = pl.concat([conform("matches", r) for r in results], how="vertical")
    return frame.with_columns(run_id=pl.lit(run_id), flagged_at=pl.coalesce(pl.col("flagged_at"), pl.lit(utcnow())))


# ---------------------------------------------------------------- de-duplication


def dedupe_run(posts: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, int]]:
    """One row per post_id, then one per content_hash (posts with some text) within the run.

    Returns the kept rows and the number of duplicates dropped per source.
    """
    if posts.is_empty():
        return posts, {}
    indexed = posts.with_row_index("_i")
    kept = indexed.unique(subset=["post_id"], keep="first", maintain_order=True)
    has_content = pl.col("text").is_not_null() | pl.col("title").is_not_null() | pl.col("transcript").is_not_null()
    first_by_hash = kept.filter(has_content).unique(subset=["content_hash"], keep="first", maintain_order=True)
    kept = pl.concat([first_by_hash, kept.filter(~has_content)]).sort("_i")
    dropped = indexed.join(kept.select("_i"), on="_i", how="anti")
    counts = dict(dropped.group_by("source").len().iter_rows())
    return kept.drop("_i"), counts


# ---------------------------------------------------------------- reporting


def _markdown(summary: dict[str, Any]) -> str:
    data_dir = summary["data_dir"]
    lines = [f"# claimwatch run `{summary['run_id']}`", "",
             f"Catalogue `{summary['catalogue_version']}` · {summary['posts_new']} new posts · "
             f"{summary['matches_new']} new matches · status **{summary['status']}**", "",
             f"**Data:** `{data_dir}` (Parquet tables posts, matches, claims, runs, source_health). "
             f"Read it with `claimwatch report --data-dir {data_dir}` or the queries in docs/queries.md.", "",
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
                   "run_id": run_id, "catalogue_version": catalogue.version,
                   "data_dir": str(store.root.resolve())}
        execution.event(event="claimwatch.claim.spreading",
                        resource={"prefect.resource.id": f"claimwatch.claim.{cid}",
                                  "prefect.resource.name": title or cid,
                                  "claimwatch.count": str(n), "claimwatch.window": window,
                                  "claimwatch.threshold": str(threshold),
                                  "claimwatch.summary": f"{n} posts spreading it in {window} (threshold {threshold})"},
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


# ---------------------------------------------------------------- the flow bodies


def _load_catalogue(claims_dir: str | Path | None) -> Any:
    from rules.catalogue import load_catalogue

    return load_catalogue(claims_dir or CLAIMS_DIR)


def _run_id(started: datetime) -> tuple[str, str]:
    """``<start>-<8 hex>``: the flow run id's first 8 characters in a Prefect flow run, random
    otherwise (so two runs in the same second never share an id); and the flow run id or ''."""
    flow_run_id = execution.flow_run_id()
    return f"{started:%Y%m%dT%H%M%SZ}-{(flow_run_id or uuid.uuid4().hex)[:8]}", flow_run_id


def ingest_and_detect(config: str | None = None, data_dir: str = "claimwatch-data", claims_dir: str | None = None,
                      replay: str | None = None, demo: bool = False) -> dict[str, Any]:
    """Fetch every enabled source, store new posts, match them, store new matches, report.

    ``config`` is a sources file (None: the bundled demo, replayed from recorded responses);
    ``replay`` a manifest of recorded responses to use instead of the network. Returns the run's
    summary (printed by :func:`flows.commands.run.format_summary`; :func:`outcome` says how the
    run ended).
    """
    started = utcnow()
    t0 = time.monotonic()
    cfg_path, manifest = resolve_inputs(config, replay, demo)
    cfg = load_config(cfg_path)
    catalogue = _load_catalogue(claims_dir)
    run_id, flow_run_id = _run_id(started)
    day = started.date()
    store = Store(data_dir)
    store.ensure()
    store.check()  # a part file that is not Parquet stops the run before anything is fetched
    _say(f"run {run_id}: {len(cfg.enabled_sources)} sources, catalogue {catalogue.version} ({len(catalogue)} claims)")
    store.write("claims", catalogue.frame(), run_id, day)

    cursors = store.read_cursors()
    with placeholder_credentials(cfg.enabled_sources) if manifest else contextlib.nullcontext():
        outcomes = fetch_all(cfg, cursors, str(manifest) if manifest else None)

    ok = {n: o for n, o in outcomes.items() if o["status"] == "ok"}
    post_frames = [o["rows"].with_columns(run_id=pl.lit(run_id)) for o in ok.values()
                   if o["table"] == "posts" and o["rows"].height]
    fetched = pl.concat(post_frames, how="vertical") if post_frames else empty("posts")
    posts, dup_in_run = dedupe_run(fetched)
    new_posts = store.write("posts", posts, run_id, day)
    imported = [o["rows"] for o in ok.values() if o["table"] == "claims" and o["rows"].height]
    imported_new = store.write("claims", pl.concat(imported), run_id, day) if imported else None
    # Cursors move as soon as the posts are on disk, whether or not matching below succeeds:
    # matching never depends on fetching again. Every run matches the posts it fetched plus the
    # stored posts of the last [runner] catch_up_days (default 3) that have no matches row for
    # this catalogue version, newest first, at most catch_up_max_posts (default 2000). So a run
    # whose matching failed is caught up by the next run, and a new catalogue version re-matches
    # recent posts. Posts no claim scores for have no matches row, so they are re-checked by
    # each run while they are recent (bounded by the same limits); they still write nothing.
    store.save_cursors({n: o["cursor"] for n, o in ok.items()})
    _say(f"stored {new_posts.height} new posts of {fetched.height} fetched")

    match_error = None
    caught_up = 0
    media_health: dict[str, Any] = {}
    to_match = posts
    try:
        backlog = posts_to_catch_up(store, catalogue.version, started, cfg.catch_up_days, cfg.catch_up_max_posts,
                                    exclude=posts)
        caught_up = backlog.height
        if caught_up:
            _say(f"matching {caught_up} stored posts not yet matched with catalogue {catalogue.version}")
        to_match = pl.concat([posts, conform("posts", backlog)], how="vertical") if caught_up else posts
        try:  # pictures and videos; a failure here costs the media evidence, never the run
            media, media_health = media_step(cfg, store, to_match, run_id, day, str(manifest) if manifest else None)
        except Exception as exc:
            media, media_health = None, {}
            _say(f"media step failed: {_error_text(exc)}", logging.ERROR)
        matches = match_all(cfg, to_match, catalogue, run_id, media_evidence(catalogue, cfg.matching, media))
        new_matches = store.write("matches", matches, run_id, day)
        _say(f"stored {new_matches.height} new matches")
    except Exception as exc:  # recorded in runs; the posts stay, the next run matches them
        match_error = f"matching failed: {exc}" if isinstance(exc, StoreError) else f"matching failed: {_error_text(exc)}"
        new_matches = empty("matches")
        _say(match_error, logging.ERROR)

    new_per_source = dict(new_posts.group_by("source").len().iter_rows()) if new_posts.height else {}
    checked = utcnow()
    health = []
    for name, o in outcomes.items():
        items = o["rows"].height if o.get("rows") is not None else 0
        if o["status"] == "ok" and o["table"] == "claims":
            new = imported_new.filter(pl.col("claim_id").is_in(o["rows"]["claim_id"].implode())).height if imported_new is not None else 0
        else:
            new = new_per_source.get(name, 0)
        health.append({
            "run_id": run_id, "source": name, "kind": o["kind"], "status": o["status"],
            "items_fetched": items, "new": new, "duplicates": items - new if o["status"] == "ok" else 0,
            "skipped": o.get("skipped", 0), "error": o["error"],
            "cursor_before": json.dumps(cursors.get(name), sort_keys=True, default=str),
            "cursor_after": json.dumps(o["cursor"], sort_keys=True, default=str),
            "duration_s": o.get("duration_s"), "checked_at": checked,
            "media_fingerprinted": getattr(media_health.get(name), "fingerprinted", 0),
            "media_skipped": getattr(media_health.get(name), "skipped", 0),
            "media_failed": getattr(media_health.get(name), "failed", 0),
            "media_problems": list(getattr(media_health.get(name), "problems", [])),
        })
    store.write("source_health", pl.DataFrame(health), run_id, day)

    flags = (new_matches.filter(pl.col("label").is_in(FLAG_LABELS)).group_by("claim_id", "label").len("n")
             .sort(["claim_id", "label"]).to_dicts()) if new_matches.height else []
    try:
        alerts = spreading_alerts(store, catalogue, cfg.spreading_threshold, cfg.alert_window, cfg.alert_window_s,
                                  run_id, utcnow())
    except StoreError as exc:
        alerts = []
        _say(f"spreading alerts skipped: {exc}", logging.WARNING)
    failed = [h for h in health if h["status"] == "error"]
    status = "failed" if len(failed) == len(health) or match_error else "partial" if failed else "ok"
    n_flags = int(new_matches.filter(pl.col("label").is_in(("likely_misinformation", "needs_review"))).height)
    finished = utcnow()
    store.write("runs", pl.DataFrame([{
        "run_id": run_id, "flow_run_id": flow_run_id, "started_at": started, "finished_at": finished,
        "sources": [s.name for s in cfg.enabled_sources], "posts_fetched": fetched.height,
        "posts_new": new_posts.height, "matches": new_matches.height, "flags": n_flags, "status": status,
        "catalogue_version": catalogue.version, "duration_s": time.monotonic() - t0, "error": match_error,
    }]), run_id, day)

    summary = {
        "run_id": run_id, "flow_run_id": flow_run_id, "status": status, "data_dir": str(Path(data_dir).resolve()),
        "catalogue_version": catalogue.version, "posts_fetched": fetched.height, "posts_new": new_posts.height,
        "matches_new": new_matches.height, "flags": flags, "alerts": alerts, "duplicates_in_run": dup_in_run,
        "sources": [{k: h[k] for k in ("source", "kind", "status", "items_fetched", "new", "duplicates", "error")}
                    for h in health],
        "duration_s": round(time.monotonic() - t0, 2), "error": match_error, "caught_up": caught_up,
    }
    publish(summary, new_matches, to_match, catalogue)
    return summary


def outcome(summary: dict[str, Any]) -> tuple[bool, str]:
    """How a run ended: (completed, message). Not completed when matching failed or every
    source failed; the message names the sources that failed."""
    failed = [s["source"] for s in summary["sources"] if s["status"] == "error"]
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


def _compact_table(data_dir: str, table: str) -> list[dict[str, Any]]:
    merged = Store(data_dir).compact(table)
    if not merged:
        _say(f"{table}: nothing to merge (no partition has more than one part file)")
    for p, n, r in merged:
        _say(f"compacted {table}/{p}: {n} files -> 1 ({r} rows)")
    return [{"partition": p, "files": n, "rows": r} for p, n, r in merged]


compact_table = execution.step(_compact_table, name="compact_table")
COMPACTED = TABLES  # every table of the dataset


def _compaction_markdown(data_dir: str, out: dict[str, list[dict[str, Any]]], removed: int) -> str:
    lines = ["# claimwatch compaction", "", f"**Data:** `{Path(data_dir).resolve()}`", ""]
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
    for table in COMPACTED:
        out[table] = execution.submit(compact_table, data_dir, table, name=f"compact_table[{table}]",
                                      tags=[f"table:{table}"]).result()
    removed = Store(data_dir).remove_tmp()
    if removed:
        _say(f"removed {removed} leftover .tmp files")
    execution.markdown("claimwatch-compaction", _compaction_markdown(data_dir, out, removed),
                       "Part files merged per table and partition")
    return out
