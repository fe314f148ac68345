"""Prefect environment for the ``claimwatch`` command line.

:func:`configure` must run before ``prefect`` is first imported: Prefect reads its settings from
the environment at import time. :func:`temporary_api` gives ``claimwatch serve`` an API when
none is configured (``claimwatch run`` needs none: it then runs in-process, see
:mod:`flows.execution`).
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


def configure(*, verbose: bool = False) -> dict[str, str]:
    """Set Prefect's environment for a CLI command; returns the values it set.

    Telemetry is always off. Run and task logs are sent to the API at INFO (progress lines,
    retries), while the terminal shows only warnings and errors unless ``verbose``; a
    ``PREFECT_LOGGING_LEVEL`` or ``PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL`` the user set wins.
    ``PREFECT_HOME`` is left alone, so the user's profiles (``prefect config set``,
    ``prefect cloud login``) are honoured.
    """
    env: dict[str, str] = dict(TELEMETRY_OFF)
    defaults = {"PREFECT_LOGGING_LEVEL": "INFO",
                "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "INFO" if verbose else "WARNING"}
    env.update({k: v for k, v in defaults.items() if k not in os.environ})
    os.environ.update(env)
    return env


def temporary_api(cwd: Path | None = None) -> str:
    """Start a temporary Prefect API on loopback for this process (no UI, its database in
    ``./.prefect`` unless ``PREFECT_HOME`` is set) and point ``PREFECT_API_URL`` at it. The
    server dies with this process, even on ``kill -9`` (:mod:`flows.temporary_api`)."""
    from flows import temporary_api

    home = Path(os.environ.get("PREFECT_HOME") or (cwd or Path.cwd()) / ".prefect").resolve()
    os.environ["PREFECT_HOME"] = str(home)
    for key, value in (("PREFECT_SERVER_UI_ENABLED", "false"), ("PREFECT_SERVER_LOGGING_LEVEL", "WARNING")):
        os.environ.setdefault(key, value)
    url, _ = temporary_api.start(home)
    return url
