"""How the pipeline's steps run: as tasks of a Prefect flow run, or directly in this process.

The steps (:mod:`flows.steps`) never import Prefect. They call the functions of this module,
which hand the work to the executor in force (:func:`use` sets it for a block):

* :func:`submit` runs a :class:`Step` (a plain function plus its retry policy) concurrently and
  returns a :class:`Future`; :func:`map_unordered` runs one step over a list of batches on the
  ``[runner]`` of the sources file (threads or Dask) and yields the results as they finish;
* :func:`log` writes a progress line; :func:`markdown`, :func:`table` and :func:`progress`
  publish artifacts; :func:`event` emits an event; :func:`flow_run_id` names the flow run.

Two executors:

* :class:`PrefectExecutor`, inside a Prefect flow run: steps become task runs (names, tags and
  retries as given), logs go to the run logger (so to the API), artifacts and events to the API.
* :class:`LocalExecutor`, with no Prefect API at all (``claimwatch run`` when no API is
  configured): a thread pool, the same retry policy, progress lines on the
  ``claimwatch.progress`` logger, artifacts written as markdown files into a report folder and
  events kept in :attr:`LocalExecutor.events`. Prefect is never imported.

Without :func:`use`, a :class:`LocalExecutor` that writes no files is in force, so a step can be
called from a test or a notebook as a plain function.

A new step::

    from flows import execution

    def _enrich(posts): ...
    enrich = execution.step(_enrich, name="enrich", retries=1, retry_delay=5, retry_if=is_transient)

    future = execution.submit(enrich, posts, name="enrich[reddit]", tags=["source:reddit"])
    future.wait(); value = future.result()   # or future.exception()
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import contextvars
import json
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

progress_log = logging.getLogger("claimwatch.progress")


# ---------------------------------------------------------------- steps and futures


@dataclass(frozen=True, eq=False)
class Step:
    """A unit of work the executors know how to run: ``fn`` and its retry policy.

    ``retry_if(exc)`` says whether a failure may pass on another try (None: retry any
    exception). Calling the step calls ``fn`` directly, with no retries.
    """

    fn: Callable[..., Any]
    name: str
    retries: int = 0
    retry_delay: float = 0.0
    retry_if: Callable[[BaseException], bool] | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)


def step(fn: Callable[..., Any], *, name: str | None = None, retries: int = 0, retry_delay: float = 0.0,
         retry_if: Callable[[BaseException], bool] | None = None) -> Step:
    return Step(fn, name or fn.__name__, retries, retry_delay, retry_if)


class Future:
    """The outcome of :func:`submit`: ``wait()``, then ``result()`` (raises the step's exception)
    or ``exception()`` (None when it succeeded)."""

    def wait(self) -> None:
        raise NotImplementedError

    def done(self) -> bool:
        """Whether the step has finished (never blocks)."""
        raise NotImplementedError

    def exception(self) -> BaseException | None:
        raise NotImplementedError

    def result(self) -> Any:
        raise NotImplementedError

    @property
    def ok(self) -> bool:
        self.wait()
        return self.exception() is None


class _LocalFuture(Future):
    def __init__(self, inner: concurrent.futures.Future):
        self._inner = inner

    def wait(self) -> None:
        concurrent.futures.wait([self._inner])

    def done(self) -> bool:
        return self._inner.done()

    def exception(self) -> BaseException | None:
        return self._inner.exception()

    def result(self) -> Any:
        return self._inner.result()


class _PrefectFuture(Future):
    def __init__(self, inner: Any):
        self._inner = inner

    def wait(self) -> None:
        self._inner.wait()

    def done(self) -> bool:
        wrapped = getattr(self._inner, "wrapped_future", None)
        return wrapped.done() if wrapped is not None else self._inner.state.is_final()

    def exception(self) -> BaseException | None:
        self._inner.wait()
        state = self._inner.state
        if state.is_completed():
            return None
        exc = state.result(raise_on_failure=False)
        if isinstance(exc, BaseException):
            return exc
        return RuntimeError(state.message or state.name)

    def result(self) -> Any:
        exc = self.exception()
        if exc is not None:
            raise exc
        return self._inner.result()


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# ---------------------------------------------------------------- executors


class Executor:
    """What the steps may ask of the machinery that runs them (see the module docstring)."""

    def submit(self, step: Step, *args: Any, name: str | None = None, tags: Sequence[str] = (),
               retries: int | None = None, retry_delay: float | None = None, **kwargs: Any) -> Future:
        raise NotImplementedError

    def map_unordered(self, step: Step, item_arg: str, items: Sequence[Any], runner: Mapping[str, Any],
                      **constants: Any) -> Iterator[tuple[int, Any]]:
        raise NotImplementedError

    def log(self, msg: str, level: int = logging.INFO) -> None:
        progress_log.log(level, msg)

    def markdown(self, key: str, text: str, description: str = "") -> None:
        raise NotImplementedError

    def table(self, key: str, rows: list[dict[str, Any]], description: str = "") -> None:
        raise NotImplementedError

    def progress(self, key: str, description: str = "") -> Callable[[float], None]:
        return lambda percent: None

    def event(self, event: str, resource: dict[str, str], payload: dict[str, Any]) -> None:
        raise NotImplementedError

    def flow_run_id(self) -> str:
        return ""

    def close(self) -> None:
        pass


class LocalExecutor(Executor):
    """Runs steps in this process: a thread pool for :func:`submit`, the ``[runner]`` for
    :func:`map_unordered` (threads, or a Dask cluster), artifacts as markdown files in
    ``report_dir`` (one file per key, replaced by each run; None: kept in memory only) and events
    in :attr:`events`."""

    def __init__(self, report_dir: str | Path | None = None, max_workers: int | None = None):
        self.report_dir = Path(report_dir) if report_dir is not None else None
        self.artifacts: dict[str, str] = {}
        self.events: list[dict[str, Any]] = []
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._max_workers = max_workers
        self._lock = threading.Lock()

    def _executor(self) -> concurrent.futures.ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(self._max_workers, thread_name_prefix="claimwatch")
            return self._pool

    def submit(self, step: Step, *args: Any, name: str | None = None, tags: Sequence[str] = (),
               retries: int | None = None, retry_delay: float | None = None, **kwargs: Any) -> Future:
        label = name or step.name
        tries = step.retries if retries is None else int(retries)
        delay = step.retry_delay if retry_delay is None else float(retry_delay)

        def attempts() -> Any:
            attempt = 0
            while True:
                try:
                    return step.fn(*args, **kwargs)
                except Exception as exc:
                    if attempt >= tries or (step.retry_if is not None and not step.retry_if(exc)):
                        raise
                    attempt += 1
                    self.log(f"{label} failed ({first_line(exc)}); retry {attempt} of {tries} in {delay:g} s")
                    time.sleep(delay)

        ctx = contextvars.copy_context()  # the worker thread sees this executor
        return _LocalFuture(self._executor().submit(ctx.run, attempts))

    def map_unordered(self, step: Step, item_arg: str, items: Sequence[Any], runner: Mapping[str, Any],
                      **constants: Any) -> Iterator[tuple[int, Any]]:
        kind = runner.get("kind", "thread")
        if kind == "dask":
            yield from _dask_map(step, item_arg, items, runner, constants)
            return
        if kind != "thread":
            raise ValueError(f"[runner] kind must be \"thread\" or \"dask\", got {kind!r}")
        with concurrent.futures.ThreadPoolExecutor(runner.get("max_workers"), thread_name_prefix="claimwatch-map") as pool:
            futures = {pool.submit(contextvars.copy_context().run, step.fn, **{item_arg: item}, **constants): i
                       for i, item in enumerate(items)}
            try:
                for fut in concurrent.futures.as_completed(futures):
                    yield futures[fut], fut.result()
            finally:
                for fut in futures:
                    fut.cancel()

    def _write(self, key: str, text: str) -> None:
        self.artifacts[key] = text
        if self.report_dir is None:
            return
        self.report_dir.mkdir(parents=True, exist_ok=True)
        path = self.report_dir / f"{key}.md"
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)

    def markdown(self, key: str, text: str, description: str = "") -> None:
        self._write(key, text)

    def table(self, key: str, rows: list[dict[str, Any]], description: str = "") -> None:
        self._write(key, markdown_table(rows, description))

    def event(self, event: str, resource: dict[str, str], payload: dict[str, Any]) -> None:
        self.events.append({"event": event, "resource": dict(resource), "payload": dict(payload)})

    def report_path(self, key: str) -> Path | None:
        return self.report_dir / f"{key}.md" if self.report_dir is not None else None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def markdown_table(rows: list[dict[str, Any]], description: str = "") -> str:
    """Rows as a markdown table (the local stand-in for a Prefect table artifact)."""
    lines = [f"{description}", ""] if description else []
    if not rows:
        return "\n".join(lines + ["No rows."]) + "\n"
    cols = list(rows[0])
    cell = lambda v: "" if v is None else str(v).replace("|", "/").replace("\n", " ")  # noqa: E731
    lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _dask_map(step: Step, item_arg: str, items: Sequence[Any], runner: Mapping[str, Any],
              constants: dict[str, Any]) -> Iterator[tuple[int, Any]]:
    from distributed import Client, LocalCluster, as_completed

    with contextlib.ExitStack() as stack:
        if runner.get("address"):
            client = stack.enter_context(Client(runner["address"]))
        else:
            cluster = stack.enter_context(LocalCluster(
                n_workers=int(runner.get("n_workers", 2)), threads_per_worker=int(runner.get("threads_per_worker", 1)),
                processes=True, dashboard_address=None))
            client = stack.enter_context(Client(cluster))
        scattered = {k: client.scatter(v, broadcast=True) for k, v in constants.items()}
        futures = {client.submit(step.fn, **{item_arg: item}, **scattered, pure=False, key=f"{step.name}-{i}-{os.urandom(4).hex()}"): i
                   for i, item in enumerate(items)}
        for fut in as_completed(list(futures)):
            yield futures[fut], fut.result()


def _retry_condition(retry_if: Callable[[BaseException], bool]) -> Callable[[Any, Any, Any], bool]:
    def condition(task: Any, task_run: Any, state: Any) -> bool:
        exc = state.result(raise_on_failure=False)
        return isinstance(exc, BaseException) and bool(retry_if(exc))

    return condition


class PrefectExecutor(Executor):
    """Runs steps as task runs of the current Prefect flow run and reports to its API."""

    _tasks: dict[int, Any] = {}
    _tasks_lock = threading.Lock()

    @classmethod
    def task_for(cls, step: Step) -> Any:
        """The Prefect task of ``step`` (made once per step)."""
        with cls._tasks_lock:
            task = cls._tasks.get(id(step))
            if task is None:
                from prefect import task as make_task
                from prefect.cache_policies import NO_CACHE

                condition = _retry_condition(step.retry_if) if step.retry_if is not None else None
                task = make_task(step.fn, name=step.name, cache_policy=NO_CACHE, persist_result=False,
                                 retries=step.retries, retry_delay_seconds=step.retry_delay,
                                 retry_condition_fn=condition)
                cls._tasks[id(step)] = task
            return task

    def submit(self, step: Step, *args: Any, name: str | None = None, tags: Sequence[str] = (),
               retries: int | None = None, retry_delay: float | None = None, **kwargs: Any) -> Future:
        options: dict[str, Any] = {}
        if name:
            options["task_run_name"] = name
        if tags:
            options["tags"] = list(tags)
        if retries is not None:
            options["retries"] = int(retries)
        if retry_delay is not None:
            options["retry_delay_seconds"] = retry_delay
        task = self.task_for(step)
        if options:
            task = task.with_options(**options)
        return _PrefectFuture(task.submit(*args, **kwargs))

    def map_unordered(self, step: Step, item_arg: str, items: Sequence[Any], runner: Mapping[str, Any],
                      **constants: Any) -> Iterator[tuple[int, Any]]:
        from prefect import unmapped
        from prefect.futures import as_completed

        from flows.runners import task_runner_from_config

        with task_runner_from_config(runner) as task_runner:
            futures = task_runner.map(self.task_for(step), {item_arg: list(items),
                                                            **{k: unmapped(v) for k, v in constants.items()}})
            index = {id(f): i for i, f in enumerate(futures)}
            for fut in as_completed(list(futures)):
                yield index[id(fut)], fut.result()

    def log(self, msg: str, level: int = logging.INFO) -> None:
        from prefect import get_run_logger
        from prefect.exceptions import MissingContextError

        try:
            get_run_logger().log(max(level, logging.INFO), msg)
        except MissingContextError:
            pass
        progress_log.log(level, msg)

    def markdown(self, key: str, text: str, description: str = "") -> None:
        from prefect.artifacts import create_markdown_artifact

        create_markdown_artifact(text, key=key, description=description or None)

    def table(self, key: str, rows: list[dict[str, Any]], description: str = "") -> None:
        from prefect.artifacts import create_table_artifact

        create_table_artifact(rows, key=key, description=description or None)

    def progress(self, key: str, description: str = "") -> Callable[[float], None]:
        from prefect.artifacts import create_progress_artifact, update_progress_artifact

        artifact = create_progress_artifact(progress=0.0, key=key, description=description or None)
        return lambda percent: update_progress_artifact(artifact_id=artifact, progress=float(percent))

    def event(self, event: str, resource: dict[str, str], payload: dict[str, Any]) -> None:
        from prefect.events import emit_event

        emit_event(event=event, resource=resource, payload=payload)

    def flow_run_id(self) -> str:
        from prefect.runtime import flow_run

        return str(flow_run.id or "")

    def annotate(self, name: str | None = None, tags: Sequence[str] = ()) -> None:
        """Rename the flow run and add ``tags`` to it (the UI's runs list shows both); a failure
        to do so is logged, never raised."""
        if not name and not tags:
            return
        try:
            from prefect.client.orchestration import get_client

            fid = self.flow_run_id()
            with get_client(sync_client=True) as client:
                current = client.read_flow_run(fid).tags if tags else []
                client.update_flow_run(fid, name=name or None,
                                       tags=list(dict.fromkeys([*current, *tags])) if tags else None)
        except Exception as exc:
            self.log(f"could not rename or tag the flow run: {first_line(exc)}", logging.WARNING)


# ---------------------------------------------------------------- the executor in force

_current: contextvars.ContextVar[Executor | None] = contextvars.ContextVar("claimwatch_executor", default=None)
_fallback = LocalExecutor()


def current() -> Executor:
    return _current.get() or _fallback


@contextlib.contextmanager
def use(executor: Executor) -> Iterator[Executor]:
    token = _current.set(executor)
    try:
        yield executor
    finally:
        _current.reset(token)
        executor.close()


def submit(step: Step, *args: Any, name: str | None = None, tags: Sequence[str] = (),
           retries: int | None = None, retry_delay: float | None = None, **kwargs: Any) -> Future:
    return current().submit(step, *args, name=name, tags=tags, retries=retries, retry_delay=retry_delay, **kwargs)


def map_unordered(step: Step, item_arg: str, items: Sequence[Any], runner: Mapping[str, Any] | None = None,
                  **constants: Any) -> Iterator[tuple[int, Any]]:
    return current().map_unordered(step, item_arg, items, runner or {}, **constants)


def log(msg: str, level: int = logging.INFO) -> None:
    current().log(msg, level)


def markdown(key: str, text: str, description: str = "") -> None:
    current().markdown(key, text, description)


def table(key: str, rows: list[dict[str, Any]], description: str = "") -> None:
    current().table(key, rows, description)


def progress(key: str, description: str = "") -> Callable[[float], None]:
    return current().progress(key, description)


def event(event: str, resource: dict[str, str], payload: dict[str, Any]) -> None:
    current().event(event, resource, payload)


def flow_run_id() -> str:
    return current().flow_run_id()


# ---------------------------------------------------------------- is a Prefect API configured?


def _mentions(path: Path, *needles: str) -> bool:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(n in text for n in needles)


def api_url() -> str | None:
    """The Prefect API this process would report to, or None when none is configured.

    Reads ``PREFECT_API_URL`` from the environment first. Without it, Prefect may still find a
    URL in a profile (``prefect config set``, ``prefect cloud login``), a ``.env``,
    ``prefect.toml`` or ``pyproject.toml`` of the working directory; only when one of those
    files mentions the API is Prefect's own settings loader asked (it is slow to import), so a
    machine with no Prefect configuration decides without importing Prefect.
    """
    if os.environ.get("PREFECT_API_URL", "").strip():
        return os.environ["PREFECT_API_URL"].strip()
    if "prefect.settings" not in sys.modules:
        home = Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()
        profiles = Path(os.environ.get("PREFECT_PROFILES_PATH") or home / "profiles.toml").expanduser()
        cwd = Path.cwd()
        candidates = [
            _mentions(profiles, "PREFECT_API_URL"),
            _mentions(cwd / ".env", "PREFECT_API_URL"),
            (cwd / "prefect.toml").is_file(),
            _mentions(cwd / "pyproject.toml", "tool.prefect"),
        ]
        if not any(candidates):
            return None
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    return str(url) if url else None


# ---------------------------------------------------------------- flow runs owned by a process

RUNS_DIR = "flow-runs"


def _process_started(pid: int) -> float | None:
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def _owner_alive(record: dict[str, Any]) -> bool:
    started = _process_started(int(record.get("pid", -1)))
    return started is not None and abs(started - float(record.get("process_started", 0))) < 1.0


def claim_flow_run(state_dir: Path, flow_run_id: str, api: str | None) -> Path | None:
    """Record that this process runs ``flow_run_id`` (``_state/flow-runs/<id>.json``: pid, host,
    process start time, API URL), so a later run can tell when the process died without ending
    it. Returns the record's path (None if it could not be written)."""
    import socket

    if not flow_run_id:
        return None
    folder = state_dir / RUNS_DIR
    record = {"flow_run_id": flow_run_id, "pid": os.getpid(), "host": socket.gethostname(),
              "process_started": _process_started(os.getpid()), "api_url": api, "claimed_at": time.time()}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{flow_run_id}.json"
        tmp = folder / f".{flow_run_id}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(record), encoding="utf-8")
        tmp.replace(path)
        return path
    except OSError:
        return None


def release_flow_run(path: Path | None) -> None:
    if path is not None:
        with contextlib.suppress(OSError):
            path.unlink()


def abandoned_flow_runs(state_dir: Path, api: str | None, max_age_days: float = 30) -> list[tuple[Path, dict[str, Any]]]:
    """Records of flow runs whose process on this host has died (and that reported to ``api``).
    Records older than ``max_age_days`` whose owner cannot be checked are dropped."""
    import socket

    host = socket.gethostname()
    out = []
    for path in sorted((state_dir / RUNS_DIR).glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            release_flow_run(path)
            continue
        if not isinstance(record, dict):
            release_flow_run(path)
            continue
        if record.get("host") != host or record.get("api_url") != api:
            if time.time() - float(record.get("claimed_at", 0)) > max_age_days * 86400:
                release_flow_run(path)
            continue
        if not _owner_alive(record):
            out.append((path, record))
    return out


def crash_abandoned_flow_runs(state_dir: Path, api: str | None) -> list[str]:
    """Mark Crashed every flow run (and its unfinished task runs) whose owning process died
    without ending it; returns their ids. Runs already in a final state are left as they are."""
    abandoned = abandoned_flow_runs(state_dir, api)
    if not abandoned:
        return []
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.states import Crashed

    crashed = []
    with get_client(sync_client=True) as client:
        for path, record in abandoned:
            fid = record["flow_run_id"]
            try:
                run = client.read_flow_run(fid)
            except Exception:  # deleted from the server, or not reachable: nothing to mark
                release_flow_run(path)
                continue
            message = (f"the process that ran this flow run (pid {record.get('pid')} on {record.get('host')}) "
                       "ended without reporting a final state (killed?); marked by a later run")
            if run.state is not None and not run.state.is_final():
                client.set_flow_run_state(fid, Crashed(message=message), force=True)
                crashed.append(fid)
                for task_run in client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[fid]))):
                    if task_run.state is not None and not task_run.state.is_final():
                        client.set_task_run_state(task_run.id, Crashed(message=message), force=True)
            release_flow_run(path)
    return crashed


@contextlib.contextmanager
def prefect_run(data_dir: str | Path | None) -> Iterator[PrefectExecutor]:
    """The executor for a Prefect flow run's body: first marks Crashed the runs that dead
    processes left Running (recorded in ``<data_dir>/_state/flow-runs``), then records this run
    for the same check, and removes the record when the body ends (however it ends)."""
    executor = PrefectExecutor()
    record = None
    if data_dir is not None and "://" not in str(data_dir):
        state_dir = Path(data_dir) / "_state"
        from prefect.settings import get_current_settings

        api = get_current_settings().api.url
        api = str(api) if api else None
        for fid in _crash_quietly(state_dir, api):
            executor.log(f"flow run {fid} was left Running by a process that died; marked Crashed", logging.WARNING)
        record = claim_flow_run(state_dir, executor.flow_run_id(), api)
    try:
        with use(executor):
            yield executor
    finally:
        release_flow_run(record)


def _crash_quietly(state_dir: Path, api: str | None) -> list[str]:
    try:
        return crash_abandoned_flow_runs(state_dir, api)
    except Exception as exc:  # never let the check sink the run
        progress_log.warning("could not check for abandoned flow runs: %s", first_line(exc))
        return []
