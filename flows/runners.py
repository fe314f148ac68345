"""The task runner that executes ``match_batch`` tasks, chosen by the ``[runner]`` table.

::

    [runner]
    kind = "thread"          # default: prefect.task_runners.ThreadPoolTaskRunner
    max_workers = 4          # thread pool size (default: Prefect's setting)

    [runner]
    kind = "dask"            # prefect_dask.DaskTaskRunner
    address = "tcp://scheduler:8786"   # an existing cluster, or
    n_workers = 2            # a temporary LocalCluster with this many workers
    threads_per_worker = 1
"""

from __future__ import annotations

from typing import Any, Mapping


def _runner_table(cfg: Any) -> Mapping[str, Any]:
    if cfg is None:
        return {}
    if isinstance(cfg, Mapping):
        return cfg["runner"] if isinstance(cfg.get("runner"), Mapping) else cfg
    return getattr(cfg, "runner", {}) or {}


def task_runner_from_config(cfg: Any = None):
    """A fresh Prefect task runner for ``cfg`` (a PipelineConfig, or a ``[runner]`` mapping)."""
    runner = _runner_table(cfg)
    kind = runner.get("kind", "thread")
    if kind == "thread":
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=runner.get("max_workers"))
    if kind == "dask":
        from prefect_dask import DaskTaskRunner

        if runner.get("address"):
            return DaskTaskRunner(address=runner["address"])
        kwargs = {"n_workers": int(runner.get("n_workers", 2)),
                  "threads_per_worker": int(runner.get("threads_per_worker", 1)),
                  "processes": True, "dashboard_address": None}
        return DaskTaskRunner(cluster_kwargs=kwargs)
    raise ValueError(f"[runner] kind must be \"thread\" or \"dask\", got {kind!r}")
