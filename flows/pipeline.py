"""The Prefect flows: ``run_pipeline`` (fetch -> store -> match -> store -> report),
``import_factchecks`` and ``compact_dataset``.

These are the entrypoints of the deployments (``flows/deployments.py``, ``deploy/prefect.yaml``).
Each flow is a thin shell around a body in :mod:`flows.steps`, run with a
:class:`flows.execution.PrefectExecutor`: steps become task runs, progress lines go to the run
log, artifacts and events to the API. ``claimwatch run`` with no Prefect API configured runs the
same bodies in-process with no flow at all (:class:`flows.execution.LocalExecutor`).

Final state of ``run_pipeline``: ``Completed`` when at least one source delivered (the message
names the sources that failed, if any), ``Failed`` when every source failed or matching failed.
Bad configuration (including the ``[matching]`` table), a bad catalogue or a part file that is not
Parquet fails the run before anything is fetched or written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
from prefect import flow
from prefect.states import Completed, Failed

from flows import execution, steps
from flows.config import load_config
from flows.steps import (  # noqa: F401  (names other modules and tests use from here)
    FLAG_LABELS,
    dedupe_run,
    posts_to_catch_up,
    resolve_inputs,
    spreading_alerts,
    spreading_counts,
    utcnow,
)
from flows.store import Store

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



@flow(name="claimwatch-pipeline", flow_run_name=_flow_run_name, persist_result=False, log_prints=False)
def run_pipeline(config: str | None = None, data_dir: str = "claimwatch-data", claims_dir: str | None = None,
                 replay: str | None = None, demo: bool = False):
    """Fetch every enabled source, store new posts, match them, store new matches, report.

    ``config`` is a sources file (None: the bundled demo, replayed from recorded responses);
    ``replay`` a manifest of recorded responses to use instead of the network. Returns a summary
    dict (printed by :func:`flows.commands.run.format_summary`).
    """
    with execution.prefect_run(data_dir):
        summary = steps.ingest_and_detect(config=config, data_dir=data_dir, claims_dir=claims_dir,
                                          replay=replay, demo=demo)
    completed, message = steps.outcome(summary)
    if not completed:
        return Failed(message=message, data=summary)
    return Completed(message=message, data=summary)


@flow(name="claimwatch-import-factchecks", persist_result=False)
def import_factchecks(config: str, data_dir: str = "claimwatch-data", replay: str | None = None) -> dict[str, Any]:
    """Fetch only the ``factchecks`` sources of ``config`` into the ``claims`` table (status
    ``imported``, catalogue_version ``imported``). ``claimwatch claims import`` turns them into YAML."""
    with execution.prefect_run(data_dir):
        return steps.import_factchecks(config=config, data_dir=data_dir, replay=replay)


@flow(name="claimwatch-compact", persist_result=False)
def compact_dataset(data_dir: str = "claimwatch-data") -> dict[str, Any]:
    """Merge each partition's small part files into one (same rows; every query answers the same)."""
    with execution.prefect_run(data_dir):
        return steps.compact_dataset(data_dir=data_dir)
