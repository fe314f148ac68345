"""The scheduled deployments of claimwatch, defined once for ``deploy/prefect.yaml`` and ``claimwatch serve``.

``deploy/prefect.yaml`` (for ``prefect deploy`` onto a work pool) spells out the same names,
entrypoints, schedules, time zone, concurrency limits and tags as :data:`DEPLOYMENTS`; a test
keeps the two in step. ``claimwatch serve`` builds the deployments from :data:`DEPLOYMENTS` with
:func:`runner_deployments` and serves them all from one process.

Schedules run in :data:`TIMEZONE` (Asia/Karachi, the desk's local time) so "daily at 07:00"
means 07:00 in Pakistan all year (Pakistan keeps no daylight saving time).
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

TIMEZONE = "Asia/Karachi"
WORK_POOL = "claimwatch"


@dataclass(frozen=True)
class DeploymentSpec:
    """One scheduled deployment: which flow, when, and how many runs may overlap.

    ``flow`` is ``module:function`` for importing, ``entrypoint`` the file path form that
    ``prefect deploy`` wants. ``collision_strategy`` ``CANCEL_NEW`` drops a scheduled run while
    the previous one still runs (a late ingest is better skipped than queued behind itself; the
    skipped run shows as Cancelled with Prefect's reason); ``ENQUEUE`` waits for the slot.
    The pipeline's time limit comes from the schedule (:attr:`interval_seconds`): its
    ``run_budget`` parameter is the interval less 60 s, and the flow ends itself within it
    (sources cut off, matching stopped between batches, what was done stored), so a run never
    overlaps the next one. A flow run is started from its entrypoint, so a Prefect
    ``timeout_seconds`` set here would not reach it; the budget is enforced by the flow.
    """

    name: str
    flow: str
    cron: str
    description: str
    tags: tuple[str, ...] = ()
    concurrency_limit: int = 1
    collision_strategy: str = "CANCEL_NEW"
    timezone: str = TIMEZONE
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def interval_seconds(self) -> int:
        """The shortest time between two scheduled runs (over the next 1000 in :attr:`timezone`)."""
        from datetime import datetime
        from zoneinfo import ZoneInfo

        from prefect._vendor.croniter import croniter

        it = croniter(self.cron, datetime(2026, 1, 1, tzinfo=ZoneInfo(self.timezone)))
        times = [it.get_next(float) for _ in range(1000)]
        return int(min(b - a for a, b in zip(times, times[1:])))

    @property
    def run_budget(self) -> int:
        """What the pipeline's ``run_budget`` parameter is set to: 60 s before the next run."""
        return max(30, self.interval_seconds - 60)

    @property
    def entrypoint(self) -> str:
        module, func = self.flow.split(":")
        return f"{module.replace('.', '/')}.py:{func}"

    def load_flow(self):
        module, func = self.flow.split(":")
        return getattr(importlib.import_module(module), func)


DEPLOYMENTS: tuple[DeploymentSpec, ...] = (
    DeploymentSpec(
        name="ingest-and-detect",
        flow="flows.pipeline:run_pipeline",
        cron="*/15 * * * *",
        description="Fetch every enabled source, match new posts against the claim catalogue, write flags. Schedule: every 15 minutes (time zone Asia/Karachi).",
        tags=("claimwatch", "ingest", "detect"),
        concurrency_limit=1,
        collision_strategy="CANCEL_NEW",
    ),
    DeploymentSpec(
        name="import-factchecks",
        flow="flows.pipeline:import_factchecks",
        cron="0 7 * * *",
        description="Import new fact-checks (ClaimReview feeds) as claims awaiting approval, before the morning desk. Schedule: daily at 07:00 Asia/Karachi time.",
        tags=("claimwatch", "catalogue"),
        concurrency_limit=1,
        collision_strategy="ENQUEUE",
    ),
    DeploymentSpec(
        name="refresh-metrics",
        flow="flows.pipeline:refresh_metrics",
        cron="5 * * * *",
        description="Re-read the flagged posts of the last 48 hours by id and append their likes, reposts, replies and views to post_metrics. Schedule: hourly at 5 past the hour (time zone Asia/Karachi).",
        tags=("claimwatch", "metrics"),
        concurrency_limit=1,
        collision_strategy="CANCEL_NEW",
    ),
    DeploymentSpec(
        name="compact-dataset",
        flow="flows.pipeline:compact_dataset",
        cron="30 2 * * *",
        description="Merge the day's small Parquet parts into one file per table and day, at night. Schedule: nightly at 02:30 Asia/Karachi time.",
        tags=("claimwatch", "maintenance"),
        concurrency_limit=1,
        collision_strategy="ENQUEUE",
    ),
)

def by_name(names: Iterable[str] | None = None) -> list[DeploymentSpec]:
    """The specs named (all when ``names`` is empty); an unknown name raises ``KeyError`` naming the choices."""
    if not names:
        return list(DEPLOYMENTS)
    known = {d.name: d for d in DEPLOYMENTS}
    out = []
    for name in names:
        if name not in known:
            raise KeyError(f"no deployment named {name!r}; choose from {', '.join(known)}")
        out.append(known[name])
    return out


def flow_parameters(
    spec: DeploymentSpec,
    flow: Any,
    *,
    config: str | Path | None = None,
    data_dir: str | Path | None = None,
    claims_dir: str | Path | None = None,
    demo: bool = False,
) -> dict[str, Any]:
    """``spec.parameters`` plus what ``claimwatch serve`` was given, as far as the flow accepts it.

    ``demo`` sets ``demo=True`` on a flow that has that switch; a flow that needs a sources file
    instead gets the bundled demo sources and recorded responses (``config`` and ``replay``).
    """
    accepted = set(inspect.signature(getattr(flow, "fn", flow)).parameters)
    wanted: dict[str, Any] = {"data_dir": data_dir, "config": config, "claims_dir": claims_dir}
    if demo:
        from flows.config import DEMO_MANIFEST, DEMO_SOURCES

        if "demo" in accepted:
            wanted["demo"] = True
        else:
            wanted.update(config=config or DEMO_SOURCES, replay=DEMO_MANIFEST)
    params = dict(spec.parameters)
    if "run_budget" in accepted:
        params.setdefault("run_budget", spec.run_budget)
    params.update({k: str(v) if isinstance(v, Path) else v for k, v in wanted.items() if v is not None and k in accepted})
    return params


def runner_deployments(
    specs: Iterable[DeploymentSpec] | None = None,
    *,
    config: str | Path | None = None,
    data_dir: str | Path | None = None,
    claims_dir: str | Path | None = None,
    demo: bool = False,
    paused: bool = False,
) -> list[Any]:
    """Prefect ``RunnerDeployment`` objects for ``prefect.serve``, schedules and limits as declared.

    ``paused`` registers the schedules inactive: the deployments then run only when triggered
    (UI, ``prefect deployment run``, an automation).
    """
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
    from prefect.schedules import Cron

    out = []
    for spec in specs if specs is not None else DEPLOYMENTS:
        flow = spec.load_flow()
        out.append(
            flow.to_deployment(
                name=spec.name,
                schedules=[Cron(spec.cron, timezone=spec.timezone, active=not paused)],
                concurrency_limit=ConcurrencyLimitConfig(
                    limit=spec.concurrency_limit,
                    collision_strategy=ConcurrencyLimitStrategy(spec.collision_strategy),
                ),
                parameters=flow_parameters(spec, flow, config=config, data_dir=data_dir, claims_dir=claims_dir, demo=demo),
                description=spec.description,
                tags=list(spec.tags),
            )
        )
    return out

