"""``claimwatch run``: one pipeline run (fetch, store, match, report).

Without ``--sources`` it runs the bundled demo: the real connectors read recorded responses
(``flows/demo/responses``) through a replay transport, so no network is used.

Where it runs: with a Prefect API configured (``PREFECT_API_URL``, or a Prefect profile that
sets it) the run is a Prefect flow run whose task runs, logs, artifacts and events reach that
API. With none (or with ``--local``) it runs in this process with no API server at all: the same
steps, a thread pool, progress on stderr, and the run's reports written as markdown files to
``<data-dir>/_reports/``.

Exit codes: 0 the run completed (some sources may have failed: one line each), 1 every source
failed, matching failed, a part file of the data dir is not Parquet, or the run crashed, 2 a bad
input (sources file, catalogue, replay manifest, data dir, an API key variable that is not set);
nothing is written for a bad input. 143 (SIGTERM) or 130 (SIGINT): the run was stopped; what was
fetched before the signal is stored with its cursors, the rest is fetched next run.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any, Optional

import typer


def register(app: typer.Typer) -> None:
    app.command("run")(run)


def _fail(msg: str, code: int = 2) -> None:
    typer.echo(f"claimwatch run: {msg}", err=True)
    raise typer.Exit(code)


def preflight(sources: Optional[Path], claims: Optional[Path], data_dir: Path | str, demo: bool,
              replay: Optional[Path] = None) -> tuple[Any, Optional[Path]]:
    """Validate every input before anything is fetched or written; exit 2 with one line if bad."""
    from connectors.errors import ConfigError
    from flows.config import DEMO_MANIFEST, DEMO_SOURCES, check_sources, load_config
    from flows.home import claims_dir
    from flows.replay import ReplayError, ReplayTransport
    from rules.catalogue import CatalogueError, load_catalogue

    cfg_path = sources or DEMO_SOURCES
    manifest = replay or (DEMO_MANIFEST if (demo or sources is None) else None)
    try:
        cfg = load_config(cfg_path)
        check_sources(cfg, env=manifest is None)  # replays give credentials placeholders
    except ConfigError as exc:
        _fail(str(exc))
    if manifest is not None:
        try:
            ReplayTransport.from_manifest(manifest)
        except ReplayError as exc:
            _fail(str(exc))
    try:
        load_catalogue(claims_dir(claims))
    except CatalogueError as exc:
        _fail(str(exc))
    from flows.store import Store, StoreError

    if "://" in str(data_dir):  # object storage: the bucket must exist and answer
        try:
            Store(data_dir).ensure()
        except StoreError as exc:
            _fail(str(exc))
    else:
        data_dir = Path(data_dir)
        if data_dir.exists() and not data_dir.is_dir():
            _fail(f"{data_dir}: exists and is not a folder; pass another --data-dir")
        try:  # the last check: everything else is valid, so the run would create it next anyway
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            _fail(f"{data_dir}: cannot create the data dir ({exc.strerror}); pass a writable --data-dir")
        if not os.access(data_dir, os.W_OK):
            _fail(f"{data_dir}: not writable; pass a writable --data-dir")

    try:
        Store(data_dir).read_cursors()
    except StoreError as exc:
        _fail(str(exc))
    try:
        Store(data_dir).check()
    except StoreError as exc:  # data already written needs a hand, not a different input
        _fail(str(exc), 1)
    return cfg, manifest


class _ConsoleFilter(logging.Filter):
    """Prefect's console output in the CLI: one line per record, no tracebacks; run and task
    records are left to the progress lines unless ``--verbose`` (they still reach the API)."""

    def __init__(self, verbose: bool):
        super().__init__()
        self.verbose = verbose

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.verbose and (record.levelno < logging.WARNING
                                 or record.name.startswith(("prefect.flow_runs", "prefect.task_runs"))):
            return False
        if not self.verbose:
            record.exc_info = record.exc_text = record.stack_info = None
            msg = record.getMessage()
            if "\n" in msg:
                record.msg, record.args = msg.splitlines()[0], ()
        return True


def _filter_prefect_console(verbose: bool) -> None:
    for h in logging.getLogger().handlers:
        if type(h).__name__ == "PrefectConsoleHandler" and not any(isinstance(f, _ConsoleFilter) for f in h.filters):
            h.addFilter(_ConsoleFilter(verbose))


def _progress_to_stderr(verbose: bool) -> logging.Handler:
    """Progress lines on stderr; with ``--verbose`` Prefect's run log already shows them."""
    handler: logging.Handler = logging.StreamHandler(sys.stderr) if not verbose else logging.NullHandler()
    handler.setFormatter(logging.Formatter("  %(message)s"))
    log = logging.getLogger("claimwatch.progress")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    return handler


def phases_line(summary: dict[str, Any]) -> str:
    """``time: setup 0.4 s, fetch 3.1 s, store 0.6 s, match 4.2 s (10000 posts, 2381/s), report
    0.3 s; cpu: setup 0.4 s, ...`` (wall seconds per phase, then CPU seconds of the process)."""
    parts = []
    for phase, secs in summary["phases"].items():
        part = f"{phase} {secs:.1f} s"
        n = summary.get("posts_matched") or 0
        if phase == "match" and n:
            part += f" ({n} posts, {n / max(secs, 1e-3):.0f}/s)"
        parts.append(part)
    line = "time: " + ", ".join(parts)
    if summary.get("phases_cpu"):
        line += "; cpu: " + ", ".join(f"{p} {s:.1f} s" for p, s in summary["phases_cpu"].items())
    return line


def format_summary(summary: dict[str, Any]) -> str:
    """The short text ``claimwatch run`` prints: posts per source, flags per claim, errors, files."""
    lines = [f"claimwatch run {summary['run_id']}: {summary['status']} "
             f"(catalogue {summary['catalogue_version']}, {summary['duration_s']:.1f} s)"]
    if summary.get("phases"):
        lines.append(phases_line(summary))
    lines += ["", "posts per source:"]
    width = max((len(s["source"]) for s in summary["sources"]), default=6)
    for s in summary["sources"]:
        if s["status"] == "ok":
            lines.append(f"  {s['source']:<{width}}  {s['items_fetched']:>5} fetched  {s['new']:>5} new")
        else:
            lines.append(f"  {s['source']:<{width}}  error")
    lines.append(f"  {'total':<{width}}  {summary['posts_fetched']:>5} fetched  {summary['posts_new']:>5} new")
    if summary.get("caught_up"):
        lines.append(f"  also checked {summary['caught_up']} recent stored posts with no match for this catalogue")
    lines += ["", "new flags per claim and label:"]
    if summary["flags"]:
        per_claim: dict[str, list[str]] = {}
        for f in summary["flags"]:
            per_claim.setdefault(f["claim_id"], []).append(f"{f['label']} {f['n']}")
        cw = max(len(c) for c in per_claim)
        lines += [f"  {c:<{cw}}  {', '.join(v)}" for c, v in per_claim.items()]
    else:
        lines.append("  none (posts and matches already in the dataset are not counted again)")
    for a in summary.get("alerts", []):
        lines.append(f"  alert: {a['claim_id']} is spreading ({a['count']} spreading posts published in the last {a['window']})")
    if summary.get("error"):
        lines += ["", f"run error: {summary['error']}"]
    errors = [s for s in summary["sources"] if s["status"] != "ok"]
    lines += ["", "errors per source:" if errors else "errors per source: none"]
    lines += [f"  {s['source']}: {s['error']}" for s in errors]
    lines += ["", f"files: {summary['data_dir']}/{{posts,matches,claims,runs,source_health,post_metrics,media}}/date=*/part-*.parquet"]
    return "\n".join(lines)


def run(
    sources: Optional[Path] = typer.Option(None, "--sources", help="Sources file (TOML). Fetches over the network. Default: the bundled demo, replayed offline."),
    claims: Optional[Path] = typer.Option(None, "--claims", help="Claim catalogue folder (default: $CLAIMWATCH_HOME/claims if it exists, else the shipped rules/claims)."),
    data_dir: str = typer.Option("claimwatch-data", "--data-dir",
                                 help="Where the Parquet dataset is written: a folder, s3://bucket/prefix or gs://bucket/prefix."),
    demo: bool = typer.Option(False, "--demo", help="Replay the bundled recorded responses instead of using the network (implied without --sources)."),
    replay: Optional[Path] = typer.Option(None, "--replay", help="Replay recorded responses from this manifest.toml instead of using the network."),
    local: bool = typer.Option(False, "--local", help="Run in this process and report to no Prefect API, even if one is configured."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show Prefect's own logs (and a traceback if the run crashes)."),
) -> None:
    """Fetch every source, store new posts, match them against the claim catalogue, and print a summary.

    With a Prefect API configured (PREFECT_API_URL or a Prefect profile) the run is a flow run on that API; without one, or with --local, it runs in this process and writes its reports to DATA_DIR/_reports/.

    Exit status: 0 the run completed (a failed source is reported, not fatal); 1 every source failed, matching failed, the dataset needs a hand, or the run crashed; 2 a bad option or input file, or a missing API key variable (nothing is written); 143/130 stopped by SIGTERM/SIGINT (what was fetched is stored).
    """
    from flows import execution, prefect_env, stopping

    # after SIGTERM/SIGINT the run stores what it fetched and ends; this bounds the wait for a
    # thread stuck in a C call, so the process is gone within 10 s of the signal
    stopping.hard_exit_after = 6.0

    api = None if local else execution.api_url()
    cfg, manifest = preflight(sources, claims, data_dir, demo, replay)
    where = f"reporting to the Prefect API at {api}" if api else "in this process, no Prefect API"
    typer.echo(f"claimwatch run: {len(cfg.enabled_sources)} sources from {cfg.path}"
               + (" (replayed, no network)" if manifest else "") + f"; {where}", err=True)
    params = dict(config=str(sources) if sources else None, data_dir=str(data_dir),
                  claims_dir=str(claims) if claims else None,
                  replay=str(manifest) if manifest else None, demo=demo or sources is None)
    if api is None:
        _run_local(params, data_dir, verbose)
        return
    prefect_env.configure(verbose=verbose)
    _run_flow(params, verbose)


def _run_local(params: dict[str, Any], data_dir: Path | str, verbose: bool) -> None:
    from flows import execution, steps
    from flows.store import StoreError

    handler = _progress_to_stderr(False)
    # reports are files beside a local dataset; with object storage they are printed only
    reports = None if "://" in str(data_dir) else Path(data_dir) / "_reports"
    executor = execution.LocalExecutor(report_dir=reports)
    try:
        with execution.use(executor):
            summary = steps.ingest_and_detect(**params)
    except StoreError as exc:
        _fail(str(exc), 1)
    except Exception as exc:
        if verbose:
            import traceback

            traceback.print_exc()
        _fail(f"the run failed: {execution.first_line(exc)}", 1)
    finally:
        logging.getLogger("claimwatch.progress").removeHandler(handler)
    typer.echo(format_summary(summary))
    path = executor.report_path("claimwatch-run-summary")
    if path is not None and path.exists():
        typer.echo(f"report: {path.resolve()}")
    _exit_if_stopped(summary)
    completed, message = steps.outcome(summary)
    if not completed:
        _fail(message, 1)


def _exit_if_stopped(summary: dict[str, Any]) -> None:
    """A run stopped by SIGTERM/SIGINT: one line, then exit 128 + the signal at once."""
    from flows import steps, stopping

    if summary.get("status") == "stopped":
        typer.echo(f"claimwatch run: {steps.outcome(summary)[1]}", err=True)
        stopping.exit_after_stop(128 + (stopping.received or signal.SIGTERM))


def _run_flow(params: dict[str, Any], verbose: bool) -> None:
    from flows.pipeline import run_pipeline

    _filter_prefect_console(verbose)
    handler = _progress_to_stderr(verbose)
    try:
        state = run_pipeline(**params, return_state=True)
    finally:
        logging.getLogger("claimwatch.progress").removeHandler(handler)
    result = state.result(raise_on_failure=False)
    if isinstance(result, dict) and "run_id" in result:
        from flows import steps

        typer.echo(format_summary(result))
        _exit_if_stopped(result)
        completed, message = steps.outcome(result)  # a Degraded run (some sources failed) exits 0
        if not completed:
            _fail(message, 1)
        return
    from flows.store import StoreError

    if isinstance(result, StoreError):
        _fail(str(result), 1)
    if isinstance(result, BaseException):
        msg = str(result).strip().splitlines()[0] if str(result).strip() else type(result).__name__
        _fail(f"the run failed: {msg}", 1)
    _fail(f"the run ended {state.name}: {state.message or ''}".strip(), 1)
