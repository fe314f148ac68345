"""Matching on a Dask cluster (``[runner] kind = "dask"``) flags exactly what the default runner flags.

The demo pipeline runs in this process under the shared Prefect harness, once with the default
runner and once with ``[runner] address`` pointing at a two-worker ``distributed.LocalCluster``
on loopback TCP. The workers are separate processes (``processes=True``), as on a real cluster:
posts, the catalogue and the matcher settings are pickled to them and the matches pickled back,
and the task runs report to the harness's API. The demo is matched in batches of four posts so
every worker gets work.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import yaml

from flows.config import DEMO_SOURCES

ROOT = Path(__file__).resolve().parents[2]
COMPARED = ["post_id", "claim_id", "score", "rank", "stance", "label", "evidence", "catalogue_version"]


def run_demo(tmp_path: Path, name: str, runner_table: str) -> tuple[dict, pl.DataFrame]:
    from flows.pipeline import run_pipeline

    sources = tmp_path / f"{name}.toml"
    sources.write_text(DEMO_SOURCES.read_text(encoding="utf-8") + "\n" + runner_table, encoding="utf-8")
    data_dir = tmp_path / name
    summary = run_pipeline(config=str(sources), data_dir=str(data_dir), demo=True)
    matches = pl.read_parquet(data_dir / "matches" / "**" / "*.parquet", hive_partitioning=True)
    return summary, matches.select(COMPARED).sort(["post_id", "claim_id"])


@pytest.mark.prefect
@pytest.mark.slow
@pytest.mark.timeout(240)
def test_dask_cluster_gives_the_same_matches_as_the_default_runner(prefect_harness, tmp_path):
    from distributed import Client, LocalCluster, get_task_stream

    _, default = run_demo(tmp_path, "default", "")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, protocol="tcp://",
                      host="127.0.0.1", dashboard_address=None) as cluster, Client(cluster) as client:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        with get_task_stream(client) as stream:
            summary, on_dask = run_demo(
                tmp_path, "dask", f'[runner]\nkind = "dask"\naddress = "{cluster.scheduler_address}"\nbatch_size = 4\n'
            )
        worked = [t for t in stream.data if "match_batch" in str(t["key"])]

    assert summary["status"] in ("ok", "partial") and default.height > 0
    diff = default.join(on_dask, on=["post_id", "claim_id"], how="full", suffix="_dask", coalesce=True).filter(
        pl.any_horizontal(pl.col(c).ne_missing(pl.col(f"{c}_dask")) for c in COMPARED[2:])
    )
    only_evidence = diff.filter(pl.all_horizontal(pl.col(c).eq_missing(pl.col(f"{c}_dask")) for c in COMPARED[2:] if c != "evidence"))
    assert diff.is_empty(), (
        f"{diff.height} of {default.height} matches differ"
        + (" only in evidence (a choice that depends on set order, i.e. on PYTHONHASHSEED, differs between processes)"
           if only_evidence.height == diff.height else "")
        + ":\n" + "\n".join(str(r) for r in diff.iter_rows(named=True))
    )
    assert on_dask.equals(default)
    # every batch of four posts was matched on the cluster
    assert len(worked) == -(-summary["posts_new"] // 4), [(t["key"], t["worker"]) for t in worked]
    assert len({t["worker"] for t in worked}) == 2, [(t["key"], t["worker"]) for t in worked]


def test_compose_file_wires_server_database_worker_and_dask():
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert {"postgres", "prefect-server", "prefect-worker", "dask-scheduler", "dask-worker"} <= set(services)
    server_env = services["prefect-server"]["environment"]
    assert server_env["PREFECT_API_DATABASE_CONNECTION_URL"].startswith("postgresql+asyncpg://")
    assert "postgres" in services["prefect-server"]["depends_on"]
    assert services["dask-worker"]["deploy"]["replicas"] == 2
    worker = services["prefect-worker"]
    assert worker["environment"]["PREFECT_API_URL"] == "http://prefect-server:4200/api"
    assert "--pool" in worker["command"] and "claimwatch" in worker["command"]
    for name in ("prefect-worker", "dask-scheduler", "dask-worker"):
        assert services[name]["image"] == "claimwatch:latest" or "build" in services[name]
    assert (ROOT / "deploy" / "Dockerfile").is_file()
    assert compose["volumes"].keys() >= {"postgres-data", "claimwatch-data"}
