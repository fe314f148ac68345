"""A process killed with SIGKILL leaves nothing running and nothing "Running"; a Prefect server
started for claimwatch never writes to the terminal.

* ``claimwatch serve`` with no Prefect API starts a temporary API; killing serve with SIGKILL
  must take that server with it (no process left listening).
* A ``claimwatch run`` flow run whose process is killed stays "Running" on the API; the next
  run on the same data dir marks it (and its unfinished task runs) Crashed.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

pytestmark = [pytest.mark.prefect, pytest.mark.slow]

CLAIMWATCH = Path(sys.executable).with_name("claimwatch")


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_") and k != "DO_NOT_TRACK"}
    env.update(PREFECT_HOME=str(home), **extra)
    return env


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        proc.wait(timeout=10)


@pytest.mark.timeout(300)
def test_kill_9_of_serve_takes_its_temporary_api_server_with_it(tmp_path):
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        serve = subprocess.Popen([str(CLAIMWATCH), "serve", "--demo", "--paused", "--only", "compact-dataset",
                                  "--data-dir", str(tmp_path / "data")],
                                 cwd=tmp_path, env=_env(tmp_path / "prefect-home"), stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        port = None
        while port is None:
            found = re.search(r"temporary Prefect API on http://127\.0\.0\.1:(\d+)/api", log.read_text(errors="replace"))
            port = int(found.group(1)) if found else None
            assert serve.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "serve never said where its temporary API is"
            time.sleep(0.2)
        servers = [p for p in psutil.Process(serve.pid).children(recursive=True)
                   if "flows.temporary_api" in " ".join(p.cmdline())]
        assert len(servers) == 1 and _listening(port)
        os.kill(serve.pid, signal.SIGKILL)
        serve.wait(timeout=10)
        deadline = time.monotonic() + 15
        while (servers[0].is_running() and servers[0].status() != psutil.STATUS_ZOMBIE) or _listening(port):
            assert time.monotonic() < deadline, f"the temporary API (pid {servers[0].pid}) outlived serve"
            time.sleep(0.2)
    finally:
        _kill_group(serve)


class _Silent:
    """A loopback port that accepts connections and never answers: a fetch there hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            with contextlib.suppress(socket.timeout, OSError):
                self.conns.append(self.sock.accept()[0])

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)
        for c in self.conns:
            c.close()
        self.sock.close()


@pytest.mark.timeout(300)
def test_a_run_killed_mid_flow_is_marked_crashed_by_the_next_run(prefect_harness, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.settings import PREFECT_API_URL

    import flows.pipeline as pipeline

    api = PREFECT_API_URL.value()
    silent = _Silent()
    sources = tmp_path / "sources.toml"
    sources.write_text(f'[settings]\nallow_private_links = true\ntimeout = 120\nretries = 0\n'
                       f'[[sources]]\nname = "hangs"\nkind = "rss"\nurl = "http://127.0.0.1:{silent.port}/feed.xml"\n')
    data_dir = tmp_path / "data"
    records = data_dir / "_state" / "flow-runs"
    run = subprocess.Popen([str(CLAIMWATCH), "run", "--sources", str(sources), "--data-dir", str(data_dir)],
                           cwd=tmp_path, env=_env(tmp_path / "prefect-home", PREFECT_API_URL=api),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 200
        while not silent.conns:  # the flow run is fetching from the silent port
            assert run.poll() is None, run.stdout.read().decode(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the run never started fetching"
            time.sleep(0.1)
        (record,) = records.glob("*.json")
        flow_run_id = record.stem
        os.kill(run.pid, signal.SIGKILL)
        run.wait(timeout=10)
    finally:
        _kill_group(run)
        silent.close()

    with get_client(sync_client=True) as client:
        assert client.read_flow_run(flow_run_id).state.is_running()
        fetch = [t for t in client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
                 if t.name == "fetch_source[hangs]"]
        assert fetch and fetch[0].state.is_running()

    # the next run on this data dir finds the dead owner and marks its flow run Crashed
    state = pipeline.compact_dataset(data_dir=str(data_dir), return_state=True)
    assert state.is_completed()
    with get_client(sync_client=True) as client:
        crashed = client.read_flow_run(flow_run_id)
        assert crashed.state.is_crashed(), crashed.state
        assert f"pid {run.pid}" in crashed.state.message and "killed?" in crashed.state.message
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
        assert all(t.state.is_final() for t in tasks), [(t.name, t.state.type) for t in tasks]
    assert not list(records.glob("*.json"))  # both records are gone: the dead one and the compaction's


@pytest.mark.timeout(300)
def test_the_temporary_api_never_writes_to_the_terminal(tmp_path, capfd, monkeypatch):
    """A Prefect server's tracebacks (here: the dump of a server killed with SIGABRT, with
    faulthandler on) go to ``temporary-api.log``, never to the stderr of the process that
    started it; Prefect's own ephemeral server inherits that stderr."""
    from flows import temporary_api

    for key, value in {"PYTHONFAULTHANDLER": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
                       "PREFECT_API_URL": ""}.items():
        monkeypatch.setenv(key, value)
    url, proc = temporary_api.start(tmp_path / "home")
    try:
        os.kill(proc.pid, signal.SIGABRT)
        proc.wait(timeout=30)
    finally:
        temporary_api.stop(proc)
    out, err = capfd.readouterr()
    log = (tmp_path / "home" / "temporary-api.log").read_text(errors="replace")
    assert "Fatal Python error: Aborted" in log
    assert "Fatal Python error" not in out + err and "Traceback" not in out + err
