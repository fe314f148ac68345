"""A temporary Prefect API on loopback that dies with the process that started it.

``claimwatch serve`` without a configured Prefect API needs an API for its schedules. Prefect's
own ephemeral server is started with inherited stdout/stderr (its tracebacks land in the
user's terminal) and outlives a parent killed with SIGKILL. :func:`start` instead:

* binds ``127.0.0.1`` on a free port in this process and hands the listening socket to the
  server, so no other process can take the port in between;
* runs the server (``python -m flows.temporary_api``) with ``PR_SET_PDEATHSIG`` (Linux) and a
  watchdog thread that exits when the parent is gone (every platform), so even ``kill -9`` of
  the parent leaves no server behind;
* writes the server's output to ``<PREFECT_HOME>/temporary-api.log``, not to the terminal;
* stops it at exit, and sets ``PREFECT_API_URL`` for this process and its children.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx


class TemporaryAPIError(RuntimeError):
    """Raised by :func:`start` when the server does not answer in time; the message names the log."""


def _die_with_parent(parent: int, pdeathsig: bool) -> None:
    if pdeathsig and sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            PR_SET_PDEATHSIG = 1
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(0)

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(0)
            time.sleep(0.5)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def _serve(fd: int, parent: int, pdeathsig: bool) -> None:
    _die_with_parent(parent, pdeathsig)
    import uvicorn

    sock = socket.socket(fileno=fd)  # family and type read from the socket itself
    config = uvicorn.Config("prefect.server.api.server:create_app", factory=True, log_level="error",
                            lifespan="on", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


def start(home: Path, timeout: float = 180.0) -> tuple[str, subprocess.Popen]:
    """Start the temporary API with its database under ``home``; returns (API URL, process).

    ``PR_SET_PDEATHSIG`` fires when the *thread* that started the server ends, so it is armed
    only when this runs on the main thread; the watchdog covers the other cases."""
    home.mkdir(parents=True, exist_ok=True)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.set_inheritable(True)
    port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api"
    log_path = home / "temporary-api.log"
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_UI_ENABLED": "0", "PREFECT_SERVER_UI_ENABLED": "false",
           "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1", "PREFECT_API_URL": url}
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "flows.temporary_api", str(sock.fileno()), str(os.getpid()),
             "1" if threading.current_thread() is threading.main_thread() else "0"],
            pass_fds=(sock.fileno(),), env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        )
    sock.close()
    atexit.register(stop, proc)
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=5) as client:
        while True:
            if proc.poll() is not None:
                raise TemporaryAPIError(f"the temporary Prefect API exited with status {proc.returncode}; see {log_path}")
            with contextlib.suppress(httpx.HTTPError):
                if client.get(f"{url}/health").status_code == 200:
                    break
            if time.monotonic() > deadline:
                stop(proc)
                raise TemporaryAPIError(f"the temporary Prefect API did not answer within {timeout:.0f} s; see {log_path}")
            time.sleep(0.2)
    os.environ["PREFECT_API_URL"] = url
    return url, proc


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


if __name__ == "__main__":
    _serve(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1")
