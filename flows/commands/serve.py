"""``claimwatch serve``: run every scheduled deployment from one process (one machine, no work pool).

Exit codes: 2 a bad option or sources file (one line naming it, nothing is served), 1 the flows
cannot be loaded; otherwise serve runs until stopped.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    sources: Optional[Path] = typer.Option(None, help="Sources file (TOML) the pipeline and the fact-check import read; or give --demo."),
    data_dir: Optional[str] = typer.Option(None, "--data-dir", help="Where the Parquet dataset lives: a folder, s3://bucket/prefix or gs://bucket/prefix. Default: ./claimwatch-data where serve runs."),
    claims: Optional[Path] = typer.Option(None, "--claims", help="Claim catalogue folder the pipeline matches against (default: $CLAIMWATCH_HOME/claims if it exists when a run starts, else the shipped rules/claims)."),
    demo: bool = typer.Option(False, help="Serve the pipeline on the bundled demo sources and recorded responses (no network)."),
    only: Optional[List[str]] = typer.Option(None, help="Serve only this deployment (repeatable): ingest-and-detect, import-factchecks, refresh-metrics, compact-dataset."),
    paused: bool = typer.Option(False, help="Register the schedules paused: runs start only when triggered (UI, `prefect deployment run`)."),
    limit: Optional[int] = typer.Option(None, min=1, help="At most this many flow runs at once in this process."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show Prefect's own INFO logs."),
) -> None:
    """Run the scheduled deployments from this one process: ingest-and-detect every 15 minutes, import-factchecks daily at 07:00, refresh-metrics hourly, compact-dataset nightly at 02:30 (Asia/Karachi).

    Point PREFECT_API_URL at a running `prefect server start` (or Prefect Cloud) to watch the runs in the UI. Stop with Ctrl-C; the schedules pause until serve starts again.
    """
    from flows import execution, prefect_env

    prefect_env.configure(verbose=verbose)
    if sources is not None and sources.is_dir():
        _fail(f"--sources {sources}: is a folder; pass the sources file (TOML) itself (see deploy/sources.example.toml)")
    if sources is not None and not sources.is_file():
        _fail(f"--sources {sources}: no such file; pass an existing sources file (see deploy/sources.example.toml)")
    if demo and sources is not None:
        _fail("--demo uses the bundled demo sources; drop --sources or --demo")
    if data_dir is not None and "://" not in data_dir:
        data_dir = Path(data_dir)
        if data_dir.exists() and not data_dir.is_dir():
            _fail(f"--data-dir {data_dir}: exists and is not a folder; pass the dataset's folder (created if missing)")
        data_dir = data_dir.resolve()
    if sources is not None:
        _check_sources(sources)
    if claims is not None:
        _check_claims(claims)

    from flows import deployments as dep

    try:
        specs = dep.by_name(only)
    except KeyError as exc:
        _fail(f"--only: {exc.args[0]}")
    if sources is None and not demo and any(s.name != "compact-dataset" for s in specs):
        _fail("give --sources FILE (your sources, see deploy/sources.example.toml) or --demo (the bundled demo)")
    if demo and not only and not _demo_has_factchecks():
        specs = [s for s in specs if s.name != "import-factchecks"]
        typer.echo("claimwatch serve: the demo has no fact-check feed, so import-factchecks is not served", err=True)
    if demo and not only:
        specs = [s for s in specs if s.name != "refresh-metrics"]
        typer.echo("claimwatch serve: the demo's recorded responses have no by-id answers, so refresh-metrics "
                   "is not served", err=True)
    if execution.api_url() is None:
        typer.echo(
            "claimwatch serve: no Prefect API is configured, so runs go to a temporary local API with no UI that "
            "stops with this process; start `prefect server start` and export PREFECT_API_URL=http://127.0.0.1:4200/api "
            "to keep them",
            err=True,
        )
        from flows.temporary_api import TemporaryAPIError

        try:
            url = prefect_env.temporary_api()
        except TemporaryAPIError as exc:
            _fail(str(exc), 1)
        typer.echo(f"claimwatch serve: temporary Prefect API on {url}", err=True)

    try:
        runners = dep.runner_deployments(
            specs,
            config=sources.resolve() if sources else None,
            data_dir=data_dir,
            claims_dir=claims.resolve() if claims else None,
            demo=demo,
            paused=paused,
        )
    except ImportError as exc:
        _fail(f"cannot load the flows ({exc}); check the installation", 1)

    from prefect import serve as prefect_serve

    prefect_serve(*runners, limit=limit, print_starting_message=True)


def _demo_has_factchecks() -> bool:
    from flows.config import DEMO_SOURCES, load_config

    return any(src.kind == "factchecks" for src in load_config(DEMO_SOURCES).enabled_sources)


def _check_sources(path: Path) -> None:
    from connectors.errors import ConfigError
    from flows.config import check_sources, load_config

    try:
        check_sources(load_config(path))
    except ConfigError as exc:
        _fail(f"--sources {exc}")


def _check_claims(path: Path) -> None:
    from rules.catalogue import CatalogueError, load_catalogue

    try:
        load_catalogue(path)
    except CatalogueError as exc:
        _fail(f"--claims {exc}")


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"claimwatch serve: {message}", err=True)
    raise typer.Exit(code)
