"""A real ``prefect server start`` on loopback for the tests that need one (the UI included),
and the subprocesses started against it. conftest.py offers it as the session fixture ``server``."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

PREFECT = Path(sys.executable).with_name("prefect")
CLAIMWATCH = Path(sys.executable).with_name("claimwatch")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _wait(what: str, check, timeout: float, procs: list[subprocess.Popen], logs: list[Path]) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                tails = "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}" for log in logs)
                raise AssertionError(f"{p.args[:3]} exited with {p.returncode} while waiting for {what}\n{tails}")
        value = check()
        if value:
            return value
        time.sleep(0.5)
    tails = "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}" for log in logs)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{tails}")


class Server:
    """A ``prefect server start`` subprocess on loopback, and the subprocesses started against it."""

    def __init__(self, root: Path):
        self.root = root
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api = f"{self.url}/api"
        self.env = {
            **os.environ,
            "PREFECT_HOME": str(root / "prefect-home"),
            "PREFECT_API_URL": self.api,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "PREFECT_SERVER_UI_ENABLED": "true",
            "PREFECT_UI_API_URL": self.api,
            "PREFECT_LOGGING_LEVEL": "INFO",
            "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
        }
        self.env.pop("PREFECT_API_KEY", None)
        self.procs: list[subprocess.Popen] = []
        self.logs: list[Path] = []

    def start(self, name: str, *argv: str, cwd: Path | None = None, **env: str) -> subprocess.Popen:
        log = self.root / f"{name}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            proc = subprocess.Popen(list(argv), env={**self.env, **env}, cwd=cwd or self.root,
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def wait(self, what: str, check, timeout: float):
        return _wait(what, check, timeout, self.procs, self.logs)

    def cli(self, *argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([str(PREFECT), *argv], env=self.env, cwd=cwd or self.root,
                              capture_output=True, text=True, timeout=90)

    def stop(self, proc: subprocess.Popen | None = None) -> None:
        for p in [proc] if proc else list(reversed(self.procs)):
            _stop(p)
            self.procs.remove(p)


def start_server(root: Path, timeout: float = 240) -> Server:
    """``prefect server start`` on a free loopback port, UI included, its database under ``root``."""
    srv = Server(root)
    srv.start("server", str(PREFECT), "server", "start", "--host", "127.0.0.1", "--port", str(srv.port))

    def healthy():
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{srv.api}/health", timeout=2).status_code == 200
        return False

    try:
        srv.wait("the server's /api/health", healthy, timeout)
    except BaseException:
        srv.stop()
        raise
    return srv


@contextlib.contextmanager
def api_client(srv: Server):
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: srv.api}), get_client(sync_client=True) as client:
        yield client


def wait_for_run(srv: Server, client, flow_run_id, timeout: float = 150):
    def finished():
        run = client.read_flow_run(flow_run_id)
        return run if run.state is not None and run.state.is_final() else None

    return srv.wait("the flow run to finish", finished, timeout)


