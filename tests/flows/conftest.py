"""The one Prefect test harness for tests/flows.

Tests that run flows in this process take the ``prefect_harness`` fixture: one temporary Prefect
API (``prefect.testing.utilities.prefect_test_harness``, SQLite in a temporary folder) for the
whole session, with ``PREFECT_HOME`` in a temporary folder and telemetry off. Tests that need a
real ``prefect server start`` (deployments, workers, the UI) take ``server``: one per session,
shared (tests/flows/prefect_server.py). Tests of pure code never ask for either, so they never
start Prefect.
"""

from __future__ import annotations

import os

import pytest

_ENV = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY": "false",
    "PREFECT_TELEMETRY_ENABLE_RESOURCE_METRICS": "false",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_SERVER_UI_ENABLED": "false",
}


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory):
    """A temporary Prefect API for the session; yields the temporary PREFECT_HOME."""
    home = tmp_path_factory.mktemp("prefect-home")
    saved = {k: os.environ.get(k) for k in [*_ENV, "PREFECT_HOME", "PREFECT_API_URL"]}
    os.environ.update(_ENV)
    os.environ["PREFECT_HOME"] = str(home)
    os.environ.pop("PREFECT_API_URL", None)
    from prefect.settings import PREFECT_HOME, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    try:
        # PREFECT_HOME as a setting too, in case Prefect was imported before this fixture ran
        with temporary_settings(updates={PREFECT_HOME: str(home)}), prefect_test_harness(server_startup_timeout=240):
            yield home
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """``prefect server start`` on loopback, UI included (tests/flows/prefect_server.py)."""
    from tests.flows.prefect_server import start_server

    srv = start_server(tmp_path_factory.mktemp("prefect-server"))
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session", autouse=True)
def _index_cache_in_a_temporary_folder(tmp_path_factory):
    """Runs started by tests (in this process or as subprocesses) cache the claim index in a
    temporary folder, never in the user's ~/.cache."""
    saved = os.environ.get("CLAIMWATCH_CACHE_DIR")
    os.environ["CLAIMWATCH_CACHE_DIR"] = str(tmp_path_factory.mktemp("claimwatch-cache"))
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("CLAIMWATCH_CACHE_DIR", None)
        else:
            os.environ["CLAIMWATCH_CACHE_DIR"] = saved
