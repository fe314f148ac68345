"""Deployments: prefect.yaml and ``claimwatch serve`` agree, and a served pipeline runs on a real server.

The first tests read files only. ``test_served_pipeline_runs_on_a_real_server`` starts
``prefect server start`` on loopback and ``claimwatch serve --demo`` as subprocesses, triggers
the ingest-and-detect deployment through the API, and reads the run's artifacts back.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import inspect
import subprocess
import sys
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from flows import deployments as dep
from flows.commands import serve as serve_command
from tests.flows.prefect_server import api_client, wait_for_run

ROOT = Path(__file__).resolve().parents[2]
PREFECT_YAML = ROOT / "deploy" / "prefect.yaml"
AUTOMATION = ROOT / "deploy" / "automations" / "claim-spreading.yaml"
CLAIMWATCH = Path(sys.executable).with_name("claimwatch")
PREFECT = Path(sys.executable).with_name("prefect")


def load_yaml() -> dict:
    return yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8"))


# --- prefect.yaml and flows/deployments.py ----------------------------------------------------


def test_prefect_yaml_is_valid_for_prefect_deploy():
    from prefect.cli.deploy._models import PrefectYamlModel
    from prefect.client.schemas.schedules import CronSchedule

    model = PrefectYamlModel.model_validate(load_yaml())
    assert [d.name for d in model.deployments] == ["ingest-and-detect", "import-factchecks", "refresh-metrics",
                                                   "compact-dataset"]
    for d in model.deployments:
        assert d.work_pool is not None and d.work_pool.name == dep.WORK_POOL
        assert d.schedules and len(d.schedules) == 1
        raw = load_yaml()["deployments"][[x["name"] for x in load_yaml()["deployments"]].index(d.name)]
        schedule = CronSchedule(cron=raw["schedules"][0]["cron"], timezone=raw["schedules"][0]["timezone"])
        assert schedule.timezone == "Asia/Karachi"


def test_yaml_and_serve_declare_the_same_deployments_and_schedules():
    declared = {
        d["name"]: (
            d["entrypoint"],
            d["schedules"][0]["cron"],
            d["schedules"][0]["timezone"],
            d["concurrency_limit"]["limit"],
            d["concurrency_limit"]["collision_strategy"],
            tuple(d["tags"]),
            d["description"],
        )
        for d in load_yaml()["deployments"]
    }
    defined = {
        s.name: (s.entrypoint, s.cron, s.timezone, s.concurrency_limit, s.collision_strategy, s.tags, s.description)
        for s in dep.DEPLOYMENTS
    }
    assert declared == defined
    assert defined["ingest-and-detect"][1] == "*/15 * * * *"
    assert defined["import-factchecks"][1] == "0 7 * * *"  # daily, 07:00 Karachi
    assert defined["compact-dataset"][1] == "30 2 * * *"  # nightly, 02:30 Karachi
    assert defined["refresh-metrics"][1] == "5 * * * *"  # hourly


@pytest.mark.parametrize("spec", dep.DEPLOYMENTS, ids=lambda s: s.name)
def test_entrypoints_are_real_flows_accepting_the_yaml_parameters(spec):
    from prefect import Flow

    path, func = spec.entrypoint.split(":")
    assert (ROOT / path).is_file()
    flow = spec.load_flow()
    assert isinstance(flow, Flow) and flow.fn.__name__ == func
    params = next(d for d in load_yaml()["deployments"] if d["name"] == spec.name)["parameters"]
    accepted = inspect.signature(flow.fn).parameters
    assert set(params) <= set(accepted), f"{spec.name}: {set(params) - set(accepted)} not accepted"
    required = {n for n, p in accepted.items() if p.default is inspect.Parameter.empty}
    assert required <= set(params), f"{spec.name}: yaml leaves {required - set(params)} unset"


def test_serve_builds_each_deployment_with_its_schedule_limit_and_parameters(tmp_path):
    from flows.config import DEMO_MANIFEST

    built = {d.name: d for d in dep.runner_deployments(data_dir=tmp_path, demo=True, paused=True)}
    assert set(built) == {s.name for s in dep.DEPLOYMENTS}
    for spec in dep.DEPLOYMENTS:
        d = built[spec.name]
        (schedule,) = d.schedules
        assert schedule.schedule.cron == spec.cron and schedule.schedule.timezone == "Asia/Karachi"
        assert schedule.active is False  # paused: runs only when triggered
        assert d.concurrency_limit == spec.concurrency_limit
        assert d.concurrency_options.collision_strategy.value == spec.collision_strategy
        assert d.parameters["data_dir"] == str(tmp_path)
    assert built["ingest-and-detect"].parameters["demo"] is True
    assert built["import-factchecks"].parameters["replay"] == str(DEMO_MANIFEST)


def _serve_cli(*args: str):
    app = typer.Typer()
    app.callback()(lambda: None)
    serve_command.register(app)
    return CliRunner().invoke(app, ["serve", *args])


BAD_SOURCES = "[[sources]]\nname = \"x\"\nkind = \"myspace\"\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--only", "nightly"], "--only: no deployment named 'nightly'; choose from ingest-and-detect, import-factchecks, refresh-metrics, compact-dataset"),
        ([], "give --sources FILE"),
        (["--sources", "/nonexistent/sources.toml"], "--sources /nonexistent/sources.toml: no such file"),
        (["--sources", "{tmp}"], "--sources {tmp}: is a folder; pass the sources file (TOML) itself"),
        (["--sources", "{tmp}/bad.toml"], "--sources {tmp}/bad.toml: source 'x': option 'kind' is 'myspace'"),
        (["--demo", "--sources", "{tmp}/bad.toml"], "--demo uses the bundled demo sources; drop --sources or --demo"),
        (["--demo", "--data-dir", "{tmp}/bad.toml"], "--data-dir {tmp}/bad.toml: exists and is not a folder"),
        (["--demo", "--limit", "0"], "'--limit'"),
    ],
)
def test_serve_rejects_bad_options_in_one_line_with_exit_2_like_run(args, message, monkeypatch, tmp_path):
    import prefect

    from flows import prefect_env

    monkeypatch.setattr(prefect_env, "configure", lambda **kw: {})  # keep this process's environment
    monkeypatch.setattr(prefect, "serve", lambda *a, **kw: pytest.fail("served despite a bad option"))
    (tmp_path / "bad.toml").write_text(BAD_SOURCES, encoding="utf-8")
    result = _serve_cli(*[a.format(tmp=tmp_path) for a in args])
    assert result.exit_code == 2, result.output
    assert message.format(tmp=tmp_path) in result.stderr
    if not args or args[-1] != "0":  # typer's own usage box for --limit is several lines
        assert len(result.stderr.strip().splitlines()) == 1
        assert result.stderr.startswith("claimwatch serve: --" if args else "claimwatch serve: give --sources")


def test_serve_demo_serves_what_the_demo_can_run_and_passes_the_options(monkeypatch, tmp_path):
    import prefect

    from flows import prefect_env

    from flows import execution

    monkeypatch.setattr(prefect_env, "configure", lambda **kw: {})
    monkeypatch.setattr(execution, "api_url", lambda: None)
    monkeypatch.setattr(prefect_env, "temporary_api", lambda **kw: "http://127.0.0.1:9/api")
    served = {}
    monkeypatch.setattr(prefect, "serve", lambda *deployments, **kw: served.update(deployments=deployments, **kw))
    result = _serve_cli("--demo", "--data-dir", str(tmp_path), "--limit", "2")
    assert result.exit_code == 0, result.output
    names = [d.name for d in served["deployments"]]
    assert names == ["ingest-and-detect", "compact-dataset"]  # the demo sources have no fact-check feed
    assert "import-factchecks is not served" in result.stderr
    assert "no Prefect API is configured, so runs go to a temporary local API" in result.stderr
    assert "temporary Prefect API on http://127.0.0.1:9/api" in result.stderr
    assert served["limit"] == 2
    assert all(d.parameters["data_dir"] == str(tmp_path) for d in served["deployments"])


# --- the example automation --------------------------------------------------------------------


def test_automation_file_is_what_prefect_automation_create_accepts():
    from prefect.events.schemas.automations import AutomationCore, EventTrigger

    automation = AutomationCore.model_validate(yaml.safe_load(AUTOMATION.read_text(encoding="utf-8")))
    assert isinstance(automation.trigger, EventTrigger)
    assert automation.trigger.expect == {"claimwatch.claim.spreading"}
    assert automation.trigger.match.root == {"prefect.resource.id": "claimwatch.claim.*"}
    assert automation.trigger.for_each == {"prefect.resource.id"}
    (action,) = automation.actions
    assert action.type == "send-notification"


def test_automation_reacts_to_each_crossing_with_a_quiet_period_per_claim():
    from prefect.events.schemas.automations import AutomationCore, Posture

    trigger = AutomationCore.model_validate(yaml.safe_load(AUTOMATION.read_text(encoding="utf-8"))).trigger
    # the pipeline counts posts against [alerts] spreading_threshold within [alerts] window and
    # emits once per crossing, so one event is enough to tell the desk
    assert trigger.posture == Posture.Reactive and trigger.threshold == 1
    # a reactive trigger fires on the first event, then ignores the claim for `within`
    assert trigger.within == dt.timedelta(hours=6)


def _spreading_event(**payload):
    from prefect.events.schemas.events import ReceivedEvent

    now = dt.datetime(2024, 11, 9, 7, 0, tzinfo=dt.timezone.utc)
    return ReceivedEvent(
        event="claimwatch.claim.spreading",
        resource={"prefect.resource.id": "claimwatch.claim.trump-khan-release-clip",
                  "prefect.resource.name": "Trump pledges to work for Imran Khan's release (edited clip)"},
        payload={"claim_id": "trump-khan-release-clip", "count": 4, "window": "1h", "threshold": 3,
                 "run_id": "20241109T070000Z-abcd1234", "catalogue_version": "9ad9fe1b",
                 "data_dir": "/srv/claimwatch-data", **payload},
        occurred=now, received=now,
    )


def _render(event):
    from prefect.server.utilities.user_templates import render_user_template_sync, validate_user_template

    action = yaml.safe_load(AUTOMATION.read_text(encoding="utf-8"))["actions"][0]
    for template in (action["subject"], action["body"]):
        validate_user_template(template)
    return [render_user_template_sync(t, {"event": event}) for t in (action["subject"], action["body"])]


def test_automation_message_names_the_claim_and_the_count():
    subject, body = _render(_spreading_event())
    assert subject == "claimwatch: Trump pledges to work for Imran Khan's release (edited clip) is spreading (4 posts in 1h)"
    assert body.splitlines()[0] == (
        "4 posts spread the debunked claim \"Trump pledges to work for Imran Khan's release (edited clip)\" "
        "(trump-khan-release-clip) within 1h (alert threshold 3)."
    )
    assert "Run 20241109T070000Z-abcd1234, catalogue 9ad9fe1b" in body
    assert "claimwatch report --data-dir /srv/claimwatch-data --claim trump-khan-release-clip --since 24h" in body


def test_automation_message_falls_back_to_the_claim_id_without_a_title_and_the_default_data_dir():
    event = _spreading_event(count=7)
    event.resource.root.pop("prefect.resource.name")
    event.payload.pop("data_dir")  # an event from before the payload named the data dir
    subject, body = _render(event)
    assert subject == "claimwatch: claimwatch.claim.trump-khan-release-clip is spreading (7 posts in 1h)"
    assert body.startswith("7 posts spread the debunked claim")
    assert "claimwatch report --data-dir claimwatch-data --claim" in body


# --- a real server -----------------------------------------------------------------------------


class _Webhook:
    """A loopback endpoint that records the JSON bodies POSTed to it (the desk's chat, in the test)."""

    def __init__(self) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.received: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.received.append(json.loads(body or b"{}"))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = "http://127.0.0.1:%d/notify" % self.httpd.server_address[1]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.prefect
@pytest.mark.slow
@pytest.mark.timeout(240)
def test_served_pipeline_runs_on_a_real_server(server, tmp_path):
    from prefect.blocks.notifications import CustomWebhookNotificationBlock
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.deployments import run_deployment

    data_dir = tmp_path / "data"
    webhook = _Webhook()
    serve = server.start("serve", str(CLAIMWATCH), "serve", "--demo", "--data-dir", str(data_dir),
                         "--only", "ingest-and-detect", "--paused", cwd=tmp_path)
    try:
        with api_client(server) as client:
            # the example automation, pointed at a webhook block on loopback, created with the CLI
            block_id = CustomWebhookNotificationBlock(
                name="claimwatch desk", url=webhook.url, json_data={"subject": "{{subject}}", "body": "{{body}}"},
            ).save("claimwatch-desk")
            automation = yaml.safe_load(AUTOMATION.read_text(encoding="utf-8"))
            automation["actions"][0]["block_document_id"] = str(block_id)
            (tmp_path / "automation.yaml").write_text(yaml.safe_dump(automation), encoding="utf-8")
            created = server.cli("automation", "create", "--from-file", str(tmp_path / "automation.yaml"))
            assert created.returncode == 0 and "Created automation" in created.stdout, created.stdout + created.stderr

            def deployment():
                with contextlib.suppress(Exception):
                    return client.read_deployment_by_name("claimwatch-pipeline/ingest-and-detect")
                return None

            deployed = server.wait("the served deployment", deployment, 60)
            assert deployed.parameters == {"data_dir": str(data_dir), "demo": True, "run_budget": 840}
            assert deployed.schedules[0].schedule.timezone == "Asia/Karachi"

            flow_run = run_deployment("claimwatch-pipeline/ingest-and-detect", timeout=0, as_subflow=False)
            run = wait_for_run(server, client, flow_run.id)
            assert run.state.is_completed(), f"{run.state.type}: {run.state.message}"

            artifacts = client.read_artifacts(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
            by_key = {a.key: a for a in artifacts if a.key}
            assert "claimwatch-run-summary" in by_key, sorted(by_key)
            assert by_key["claimwatch-run-summary"].type == "markdown"
            summary = by_key["claimwatch-run-summary"].data
            assert "# claimwatch run" in summary
            assert all(a.flow_run_id == run.id for a in artifacts)

            # the run's claimwatch.claim.spreading event fired the automation: the desk was told
            assert "Spreading alerts" in summary and "trump-khan-release-clip" in summary
            notes = server.wait("the spreading notification", lambda: [
                n for n in webhook.received if "trump-khan-release-clip" in n.get("body", "")], 60)
            assert notes[0]["subject"].startswith("claimwatch: ") and " is spreading (" in notes[0]["subject"]
            assert " posts spread the debunked claim " in notes[0]["body"]
            assert f"claimwatch report --data-dir {data_dir} --claim trump-khan-release-clip --since 24h" in notes[0]["body"]
    finally:
        server.stop(serve)
        webhook.close()

    # the run wrote the demo into the data dir given to serve, and the report reads it
    assert list(data_dir.glob("posts/date=*/part-*.parquet"))
    from flows import report as rep

    assert rep.flagged_posts(data_dir).collect().height > 0


@pytest.mark.prefect
@pytest.mark.slow
@pytest.mark.timeout(240)
def test_prefect_yaml_deploys_to_a_work_pool_and_a_worker_runs_it(server, tmp_path):
    from prefect.deployments import run_deployment

    from flows.config import DEMO_SOURCES

    pool = server.cli("work-pool", "create", "claimwatch", "--type", "process")
    assert pool.returncode == 0, pool.stdout + pool.stderr
    deployed = server.cli("deploy", "--no-prompt", "--prefect-file", str(PREFECT_YAML), "--all", cwd=ROOT)
    assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]

    with api_client(server) as client:
        for spec in dep.DEPLOYMENTS:
            d = client.read_deployment_by_name(f"{spec.load_flow().name}/{spec.name}")
            assert d.work_pool_name == "claimwatch" and d.entrypoint == spec.entrypoint
            (schedule,) = d.schedules
            assert (schedule.schedule.cron, schedule.schedule.timezone, schedule.active) == (spec.cron, "Asia/Karachi", True)
            assert d.concurrency_options.collision_strategy.value == spec.collision_strategy
            assert d.global_concurrency_limit.limit == spec.concurrency_limit
            assert d.pull_steps == [{"prefect.deployments.steps.set_working_directory": {"directory": "{{ $CLAIMWATCH_HOME }}"}}]

        # a process worker on the pool runs the pipeline from the checkout named by CLAIMWATCH_HOME
        worker = server.start("worker", str(PREFECT), "worker", "start", "--pool", "claimwatch", CLAIMWATCH_HOME=str(ROOT))
        try:
            data_dir = tmp_path / "data"
            flow_run = run_deployment(
                "claimwatch-pipeline/ingest-and-detect", timeout=0, as_subflow=False,
                parameters={"config": str(DEMO_SOURCES), "demo": True, "data_dir": str(data_dir)},
            )
            run = wait_for_run(server, client, flow_run.id)
            assert run.state.is_completed(), f"{run.state.type}: {run.state.message}"
            assert run.work_pool_name == "claimwatch"
        finally:
            server.stop(worker)
    assert list(data_dir.glob("matches/date=*/part-*.parquet"))


# --- the documentation of the set-up -------------------------------------------------------------


def _readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(f"### {title}\n")
    rest = text[start + len(title) + 5:]
    return rest[: min(i for i in (rest.find("\n## "), rest.find("\n### "), len(rest)) if i >= 0)]


def test_readme_explains_the_team_set_up_itself_and_links_the_details():
    section = _readme_section("Scheduled runs and the team set-up")
    for step in ("prefect server start", "prefect work-pool create claimwatch", "prefect worker start --pool claimwatch",
                 "prefect deploy --prefect-file deploy/prefect.yaml --all", "prefect cloud login",
                 "PREFECT_API_URL", "PREFECT_API_KEY", "claimwatch serve", "(docs/deploy.md)"):
        assert step in section, step
    pool = yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8"))["definitions"]["work_pool"]["name"]
    assert f"--pool {pool}" in section and f"work-pool create {pool}" in section


def test_deploy_doc_describes_the_automation_as_the_file_declares_it():
    doc = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    automation = yaml.safe_load(AUTOMATION.read_text(encoding="utf-8"))
    trigger = automation["trigger"]
    assert f"| `within`    | `{trigger['within']}` (6 hours)" in doc
    assert f"| `threshold` | `{trigger['threshold']}`" in doc
    for key in ("claim_id", "count", "window", "threshold", "run_id", "catalogue_version"):
        assert f"`{key}`" in doc
    assert "{{ event.payload." + "count }}" in automation["actions"][0]["subject"]


# --- secrets never reach an output ---------------------------------------------------------------


@pytest.mark.prefect
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_planted_api_key_reaches_no_output_nor_the_prefect_database(server, tmp_path):
    """YouTube API answers that the parsers refuse (200 without items, an HTML page, a 400 whose
    body echoes the key): the key of their ``key=`` parameter is in no output."""
    import json
    import secrets as pysecrets

    import polars as pl
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId

    from tests.loopback import LoopbackServer, Reply

    key = "AIzaPLANTED" + pysecrets.token_hex(14)
    data_dir = tmp_path / "data"
    with LoopbackServer() as yt:
        yt.route("/a/search", Reply(200, b'{"kind": "youtube#searchListResponse", "pageInfo": {"totalResults": 0}}',
                                    {"Content-Type": "application/json"}))
        yt.route("/b/search", Reply(200, b"<html><body>Before you continue</body></html>", {"Content-Type": "text/html"}))
        echo = json.dumps({"error": {"code": 400, "message": f"Bad request for key={key} ({key})",
                                     "errors": [{"reason": "badRequest", "message": key}]}})
        yt.route("/c/search", Reply(400, echo.encode(), {"Content-Type": "application/json"}))
        sources = tmp_path / "sources.toml"
        sources.write_text("[settings]\nallow_private_links = true\nretries = 0\n" + "".join(
            f'[[sources]]\nname = "yt-{n}"\nkind = "youtube"\nquery = "imran khan"\napi_key_env = "CW_PLANTED_KEY"\n'
            f'base_url = "{yt.url("/" + n)}"\n' for n in "abc"), encoding="utf-8")
        env = {**server.env, "CW_PLANTED_KEY": key, "PREFECT_LOGGING_LEVEL": "DEBUG"}
        done = subprocess.run([str(CLAIMWATCH), "run", "--sources", str(sources), "--data-dir", str(data_dir), "--verbose"],
                              env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240)
        assert [r.path.split("?")[0] for r in yt.requests] == ["/a/search", "/b/search", "/c/search"] or \
            sorted(r.path.split("?")[0] for r in yt.requests) == ["/a/search", "/b/search", "/c/search"]
        assert all(f"key={key}" in r.path for r in yt.requests)  # the key was really sent
    assert done.returncode == 1, done.stdout + done.stderr  # every source failed
    assert "yt-a" in done.stdout and "key=***" in done.stdout + done.stderr
    leaks = [name for name, text in (("stdout", done.stdout), ("stderr", done.stderr)) if key in text]

    # every table of the dataset, and every other file in the data dir
    for path in sorted(data_dir.rglob("*")):
        if path.is_file():
            text = pl.read_parquet(path).write_ndjson() if path.suffix == ".parquet" else path.read_bytes().decode("latin-1")
            if key in text:
                leaks.append(str(path.relative_to(data_dir)))
    health = pl.read_parquet(next(data_dir.glob("source_health/date=*/*.parquet")))
    assert health["status"].to_list() == ["error"] * 3 and all(health["error"].str.contains("key=\\*\\*\\*|\\*\\*\\*"))

    # what the Prefect server stored: the run's logs, task states, artifacts and events
    runs = pl.read_parquet(next(data_dir.glob("runs/date=*/*.parquet")))
    flow_run_id = runs["flow_run_id"][0]
    with api_client(server) as client:
        run = client.read_flow_run(flow_run_id)
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])), limit=200)
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
        artifacts = client.read_artifacts(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))

        def events():
            page, found = client.read_events(limit=50), []
            while True:
                found += [e.model_dump_json() for e in page.events]
                if not page.next_page:
                    break
                page = client.read_events_page(page.next_page)
            return found if any(flow_run_id in e and "prefect.flow-run.Failed" in e for e in found) else None

        stored_events = server.wait("the run's events", events, 60)
    assert any("no 'items' list" in log.message for log in logs)  # the failures were logged ...
    stored = {"flow run": run.model_dump_json(), "logs": json.dumps([log.model_dump(mode="json") for log in logs]),
              "task runs": json.dumps([t.model_dump(mode="json") for t in tasks]),
              "artifacts": json.dumps([a.model_dump(mode="json") for a in artifacts]),
              "events": json.dumps(stored_events)}
    leaks += [name for name, text in stored.items() if key in text]
    # ... and nothing under the server's home (its SQLite database, WAL included) holds the key
    for path in (server.root / "prefect-home").rglob("*"):
        if path.is_file() and key.encode() in path.read_bytes():
            leaks.append(f"prefect-home/{path.relative_to(server.root / 'prefect-home')}")
    assert not leaks, f"the planted key leaked into: {leaks}"
