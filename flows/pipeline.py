"""The Prefect flows: ``run_pipeline`` (fetch -> store -> match -> store -> report),
``import_factchecks``, ``refresh_metrics`` and ``compact_dataset``.

These are the entrypoints of the deployments (``flows/deployments.py``, ``deploy/prefect.yaml``).
Each flow is a thin shell around a body in :mod:`flows.steps`, run with a
:class:`flows.execution.PrefectExecutor`: steps become task runs, progress lines go to the run
log, artifacts and events to the API. ``claimwatch run`` with no Prefect API configured runs the
same bodies in-process with no flow at all (:class:`flows.execution.LocalExecutor`).

Final state of ``run_pipeline``: ``Completed`` when every source delivered; ``Degraded`` (of
Prefect's Failed type, so the dashboard counts it and failure automations fire) when some source
failed and the others' data was written, the message and the tags ``failed:<source>`` naming
the failed sources; ``Failed`` when every source failed or matching failed.
Bad configuration (including the ``[matching]`` table), a bad catalogue or a part file that is not
Parquet fails the run before anything is fetched or written.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

from prefect import flow
from prefect.states import Cancelled, Completed, Failed

from flows import execution, steps, ui
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

PARAMETERS = {"--sources": "config", "--data-dir": "data_dir", "--claims": "claims_dir", "--replay": "replay"}
_FLAG = re.compile(r"(a writable )?(--sources|--data-dir|--claims|--replay)\b")


def _parameter(m: re.Match) -> str:
    name = f"the deployment parameter `{PARAMETERS[m.group(2)]}`"
    return f"a writable folder as {name}" if m.group(1) else name


def for_deployments(exc: BaseException) -> BaseException:
    """``exc`` with its message naming the deployment parameter (``config``) where the command
    line would name a flag (``--sources``): a flow run is started with parameters, not flags."""
    text = str(exc)
    if _FLAG.search(text):
        exc.args = (_FLAG.sub(_parameter, text),)
    return exc


@contextlib.contextmanager
def _as_deployment():
    try:
        yield
    except Exception as exc:
        raise for_deployments(exc)


def _flow_run_name() -> str:
    """``ingest demo Dec 03 08:18Z · 5 sources`` (see flows/ui.py); renamed with the outcome at the end."""
    from prefect.runtime import flow_run

    params = flow_run.parameters or {}
    try:
        path, _ = resolve_inputs(params.get("config"), params.get("replay"), bool(params.get("demo")))
        n = len(load_config(path).enabled_sources)
    except Exception:
        n = None
    return ui.ingest_start_name(params.get("config"), bool(params.get("demo")), utcnow(), n)


def _factchecks_run_name() -> str:
    from prefect.runtime import flow_run

    params = flow_run.parameters or {}
    try:
        n = sum(s.kind == "factchecks" for s in load_config(params.get("config")).enabled_sources)
    except Exception:
        n = None
    return ui.factchecks_name(utcnow(), n)


def _refresh_run_name() -> str:
    from prefect.runtime import flow_run

    params = flow_run.parameters or {}
    return ui.refresh_name(utcnow(), params.get("hours", 48))


def _compact_run_name() -> str:
    return ui.compact_name(utcnow())


@flow(name="claimwatch-pipeline", flow_run_name=_flow_run_name, persist_result=False, log_prints=False)
def run_pipeline(config: str | None = None, data_dir: str = "claimwatch-data", claims_dir: str | None = None,
                 replay: str | None = None, demo: bool = False, run_budget: float | None = None):
    """Fetch every enabled source, store new posts, match them, store new matches, report.

    ``config`` is a sources file (None: the bundled demo, replayed from recorded responses);
    ``replay`` a manifest of recorded responses to use instead of the network; ``run_budget`` the
    seconds the run may take (deployments set it from their schedule, so a run ends before the
    next one starts; default ``[runner] run_budget``). Returns a summary dict (printed by
    :func:`flows.commands.run.format_summary`). A run stopped by SIGTERM/SIGINT ends Cancelled.
    """
    started = utcnow()
    with execution.prefect_run(data_dir) as executor, _as_deployment():
        summary = steps.ingest_and_detect(config=config, data_dir=data_dir, claims_dir=claims_dir,
                                          replay=replay, demo=demo, run_budget=run_budget)
        executor.annotate(name=ui.ingest_end_name(config, demo, started, summary), tags=ui.failure_tags(summary))
    completed, message = steps.outcome(summary)
    if summary.get("stopped"):
        return Cancelled(message=message, data=summary)
    if not completed:
        return Failed(message=message, data=summary)
    if summary["status"] == "partial":  # data written, but a source needs a hand: counted as failed
        return Failed(name=ui.DEGRADED, message=message, data=summary)
    return Completed(message=message, data=summary)


@flow(name="claimwatch-import-factchecks", flow_run_name=_factchecks_run_name, persist_result=False)
def import_factchecks(config: str, data_dir: str = "claimwatch-data", replay: str | None = None) -> dict[str, Any]:
    """Fetch only the ``factchecks`` sources of ``config`` into the ``claims`` table (status
    ``imported``, catalogue_version ``imported``). ``claimwatch claims import`` turns them into YAML."""
    started = utcnow()
    with execution.prefect_run(data_dir) as executor, _as_deployment():
        result = steps.import_factchecks(config=config, data_dir=data_dir, replay=replay)
        executor.annotate(name=ui.factchecks_name(started, result=result),
                          tags=[f"failed:{n}" for n in sorted(result["errors"])])
    return result


@flow(name="claimwatch-refresh-metrics", flow_run_name=_refresh_run_name, persist_result=False)
def refresh_metrics(config: str | None = None, data_dir: str = "claimwatch-data", hours: float = 48,
                    replay: str | None = None, demo: bool = False) -> dict[str, Any]:
    """Re-read the flagged posts first seen in the last ``hours`` through each platform's by-id
    endpoint and append their counts to ``post_metrics`` (``how = "refetch"``); see
    :func:`flows.steps.refresh_metrics`. A source that fails is reported (tag ``failed:<source>``)
    and the others go on."""
    started = utcnow()
    with execution.prefect_run(data_dir) as executor, _as_deployment():
        result = steps.refresh_metrics(config=config, data_dir=data_dir, hours=hours, replay=replay, demo=demo)
        executor.annotate(name=ui.refresh_name(started, hours, result),
                          tags=[f"failed:{n}" for n in sorted(result["errors"])])
    if result["errors"] and not result["sources"]:  # nothing could be re-read
        return Failed(message="every source failed: " + ", ".join(sorted(result["errors"])), data=result)
    return result


@flow(name="claimwatch-compact", flow_run_name=_compact_run_name, persist_result=False)
def compact_dataset(data_dir: str = "claimwatch-data") -> dict[str, Any]:
    """Merge each partition's small part files into one (same rows; every query answers the same)."""
    started = utcnow()
    with execution.prefect_run(data_dir) as executor, _as_deployment():
        result = steps.compact_dataset(data_dir=data_dir)
        executor.annotate(name=ui.compact_name(started, result))
    return result
