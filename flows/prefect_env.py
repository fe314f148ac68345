"""Prefect environment for the ``claimwatch`` command line.

:func:`configure` must run before ``prefect`` is first imported: Prefect reads its settings from
the environment at import time. Without ``PREFECT_API_URL`` Prefect runs in ephemeral mode (a
temporary local API on a SQLite database under ``PREFECT_HOME``).
"""

from __future__ import annotations

import os
from pathlib import Path

# Telemetry and analytics Prefect 3.9 knows about, all off.
TELEMETRY_OFF = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",  # server heartbeat to Prefect
    "DO_NOT_TRACK": "1",  # SDK usage events (prefect._internal.analytics)
    "PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY": "false",
    "PREFECT_TELEMETRY_ENABLE_RESOURCE_METRICS": "false",
}


def configure(*, verbose: bool = False, cwd: Path | None = None) -> dict[str, str]:
    """Set Prefect's environment for a CLI run; returns the values it set.

    ``PREFECT_HOME`` defaults to ``./.prefect`` (project-local state) unless the user set it.
    Telemetry is always off. Prefect's own logs are kept at WARNING unless ``verbose``; a
    ``PREFECT_LOGGING_LEVEL`` the user set wins.
    """
    env: dict[str, str] = dict(TELEMETRY_OFF)
    if "PREFECT_HOME" not in os.environ:
        env["PREFECT_HOME"] = str((cwd or Path.cwd()) / ".prefect")
    if "PREFECT_LOGGING_LEVEL" not in os.environ:
        env["PREFECT_LOGGING_LEVEL"] = "INFO" if verbose else "WARNING"
    if "PREFECT_API_URL" not in os.environ:
        # ephemeral mode: no UI to serve, and a quiet server
        for key, value in (("PREFECT_SERVER_UI_ENABLED", "false"),
                           ("PREFECT_SERVER_LOGGING_LEVEL", "WARNING")):
            if key not in os.environ:
                env[key] = value
    os.environ.update(env)
    return env
