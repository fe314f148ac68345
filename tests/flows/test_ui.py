"""What an operator sees in the Prefect UI, on a real loopback ``prefect server start``.

The module runs, against the shared server: ``claimwatch run`` twice on sources where one
source answers 401 (the second run finds nothing new), the compaction flow twice (the second has
nothing to merge), the fact-check import flow, and the pipeline flow with a sources file that
does not exist, each in its own process as a user or worker would. The tests then read what the
API holds; the last one opens the UI itself in headless Chromium (skipped, saying so, where no
Chromium is installed) and keeps screenshots of it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.browser import Browser, chromium
from tests.flows.prefect_server import CLAIMWATCH, api_client
from tests.flows.test_run_demo import write_mixed_sources

pytestmark = [pytest.mark.prefect, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
NAME = re.compile(r"^(ingest|compact|factchecks|refresh)\b.* [A-Z][a-z]{2} \d\d \d\d:\d\dZ\b")

FLOWS_SCRIPT = """
import json, sys
from flows.pipeline import compact_dataset, import_factchecks, refresh_metrics, run_pipeline
sources, replay, data_dir, missing = sys.argv[1:5]
ids = {}
for key in ("compact_merged", "compact_nothing"):
    ids[key] = str(compact_dataset(data_dir=data_dir, return_state=True).state_details.flow_run_id)
ids["factchecks"] = str(import_factchecks(config=sources, data_dir=data_dir, replay=replay,
                                          return_state=True).state_details.flow_run_id)
ids["refresh"] = str(refresh_metrics(config=sources, data_dir=data_dir, replay=replay,
                                     return_state=True).state_details.flow_run_id)
ids["missing_sources"] = str(run_pipeline(config=missing, data_dir=data_dir, return_state=True).state_details.flow_run_id)
print(json.dumps(ids))
"""


@pytest.fixture(scope="module")
def runs(server, tmp_path_factory):
    root = tmp_path_factory.mktemp("ui")
    sources, manifest = write_mixed_sources(root)
    data_dir = root / "data"
    cmd = [str(CLAIMWATCH), "run", "--sources", str(sources), "--replay", str(manifest), "--data-dir", str(data_dir)]
    env = {**server.env, "PREFECT_LOGGING_LEVEL": "", "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": ""}
    env = {k: v for k, v in env.items() if v}  # the CLI's own defaults, as a user gets them
    first = subprocess.run(cmd, env=env, cwd=root, capture_output=True, text=True, timeout=300)
    second = subprocess.run(cmd, env=env, cwd=root, capture_output=True, text=True, timeout=300)
    flows = subprocess.run([sys.executable, "-c", FLOWS_SCRIPT, str(sources), str(manifest), str(data_dir),
                            str(root / "missing.toml")],
                           env={**env, "PREFECT_LOGGING_LEVEL": "INFO"}, cwd=root, capture_output=True, text=True,
                           timeout=300)
    assert flows.returncode == 0, flows.stderr[-3000:]
    ids = json.loads(flows.stdout.strip().splitlines()[-1])
    return {"first": first, "second": second, "ids": ids, "data_dir": data_dir, "root": root, "server": server}


def _run_id(result: subprocess.CompletedProcess) -> str:
    """The flow run id of a ``claimwatch run``: its run id ends in the flow run id's first 8 characters."""
    return re.search(r"claimwatch run \d{8}T\d{6}Z-([0-9a-f]{8}):", result.stdout).group(1)


def _flow_run(client, result: subprocess.CompletedProcess):
    prefix = _run_id(result)
    (run,) = [r for r in client.read_flow_runs() if str(r.id).startswith(prefix)]
    return run


def test_a_run_with_a_failed_source_is_degraded_and_tagged_with_the_source(runs):
    first = runs["first"]
    assert first.returncode == 0, first.stderr[-3000:]  # the CLI still exits 0: data was written
    with api_client(runs["server"]) as client:
        run = _flow_run(client, first)
    assert run.state.name == "Degraded" and run.state.type.value == "FAILED"
    assert run.state.message == "2 of 3 sources ok; failed: locked"
    assert {"degraded", "failed:locked"} <= set(run.tags)
    assert run.name.endswith(" · 2/3 ok · failed: locked") and len(run.name) <= 60


def test_claimwatch_run_sends_progress_and_source_errors_to_the_server_at_info(runs):
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    with api_client(runs["server"]) as client:
        run = _flow_run(client, runs["first"])
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])))
    lines = [(log.level, log.message) for log in logs]
    assert (20, "fetched masto: 5 items") in lines
    assert any(level == 20 and msg.startswith("stored 5 new posts") for level, msg in lines)
    assert any(level == 30 and msg.startswith("source locked failed: ") and "HTTP 401" in msg for level, msg in lines)
    # and the terminal stayed quiet: progress lines only, no Prefect log records
    assert " | INFO " not in runs["first"].stderr and "Traceback" not in runs["first"].stderr


def test_every_flow_type_gets_a_short_name_that_says_what_when_and_how_it_ended(runs):
    ids = runs["ids"]
    with api_client(runs["server"]) as client:
        names = {k: client.read_flow_run(v).name for k, v in ids.items()}
        names["first"] = _flow_run(client, runs["first"]).name
        names["second"] = _flow_run(client, runs["second"]).name
    for key, name in names.items():
        assert len(name) <= 60 and NAME.match(name), (key, name)
    assert names["second"].endswith(" · 2/3 ok · failed: locked")
    assert re.search(r" · \d+ files -> \d+$", names["compact_merged"]), names["compact_merged"]
    assert names["compact_nothing"].endswith(" · nothing to merge")
    assert names["factchecks"].endswith(" · 0 new claims")  # the pipeline run already stored it
    assert names["missing_sources"].endswith(" · sources file unreadable")
    assert re.search(r"^refresh .* · \d+/\d+ re-read\b", names["refresh"]), names["refresh"]
    assert " 0 sources" not in " ".join(names.values())


def test_a_worker_facing_error_names_the_deployment_parameter_not_a_flag(runs):
    with api_client(runs["server"]) as client:
        run = client.read_flow_run(runs["ids"]["missing_sources"])
    assert run.state.is_failed()
    assert "sources file not found; pass an existing file to the deployment parameter `config`" in run.state.message
    assert "--sources" not in run.state.message


def _artifacts(client, key: str):
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    return sorted(client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))),
                  key=lambda a: a.created)


def test_the_summary_names_the_data_location(runs):
    with api_client(runs["server"]) as client:
        run = _flow_run(client, runs["first"])
        summary = [a for a in _artifacts(client, "claimwatch-run-summary") if a.flow_run_id == run.id][0]
    data_dir = str(runs["data_dir"].resolve())
    assert f"**Data:** `{data_dir}`" in summary.data
    assert f"claimwatch report --data-dir {data_dir}" in summary.data


def test_the_flags_table_shows_titles_excerpts_rounded_scores_and_links_and_is_refreshed_by_a_zero_flag_run(runs):
    with api_client(runs["server"]) as client:
        first, second = _flow_run(client, runs["first"]), _flow_run(client, runs["second"])
        versions = [a for a in _artifacts(client, "claimwatch-new-misinformation") if a.flow_run_id in (first.id, second.id)]
    assert [a.flow_run_id for a in versions] == [first.id, second.id]
    flagged, latest = versions[0].data, versions[1].data
    assert "## Trump pledges to work for Imran Khan's release (edited clip)" in flagged  # the claim's title
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in flagged.splitlines()
            if re.match(r"\| \d+ \|", line)]
    assert len(rows) == 2
    score, stance, post, published, link = rows[0]
    assert score.isdigit() and stance == "spreads"  # a rounded score, the stance
    assert link.startswith("[mastodon.social](https://mastodon.social/@")
    assert 20 < len(post) <= 60 and post.endswith("…")  # an excerpt, not the whole post
    # the second run flagged nothing: the latest version says so instead of repeating the first run's rows
    assert "No post was newly labelled likely_misinformation in this run." in latest
    assert "Trump pledges" not in latest


def test_the_spreading_event_carries_count_window_and_threshold_as_resource_labels(runs):
    server = runs["server"]
    found = httpx.post(f"{server.api}/events/filter", json={"filter": {"event": {"name": ["claimwatch.claim.spreading"]}},
                                                             "limit": 50}, timeout=30).json()["events"]
    data_dir = str(runs["data_dir"].resolve())
    mine = [e for e in found if e["payload"].get("data_dir") == data_dir]
    assert mine, found
    resource = mine[0]["resource"]
    assert resource["prefect.resource.id"] == "claimwatch.claim.trump-khan-release-clip"
    # the mixed sources' [alerts] window reaches back to the recorded posts' publication (2024)
    assert (resource["claimwatch.count"], resource["claimwatch.window"], resource["claimwatch.threshold"]) == ("2", "5000d", "1")
    assert resource["claimwatch.summary"] == "2 posts spreading it in 5000d (threshold 1)"


def test_a_compaction_with_nothing_to_merge_still_shows_tasks_a_log_line_and_an_artifact(runs):
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId

    fid = runs["ids"]["compact_nothing"]
    with api_client(runs["server"]) as client:
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[fid])))
        logs = [log.message for log in client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[fid])))]
        artifact = [a for a in _artifacts(client, "claimwatch-compaction") if str(a.flow_run_id) == fid]
    assert {t.name for t in tasks} >= {"compact_table[posts]", "compact_table[matches]", "compact_table[runs]"}
    assert "posts: nothing to merge (no partition has more than one part file)" in logs
    assert artifact and "Nothing to merge: no partition of any table has more than one part file." in artifact[0].data


SHOTS = ("dashboard", "runs", "run", "flags")


@pytest.mark.timeout(300)
@pytest.mark.skipif(chromium() is None, reason="no Chromium on PATH (apt-get install chromium): the UI is not opened, "
                                               "the API-level checks above still ran")
def test_the_ui_shows_degraded_runs_names_and_the_flags_table(runs, tmp_path):
    """Opens the dashboard, the runs list, the degraded run and its flags table in headless
    Chromium, checks what they show and keeps 1600 px screenshots (in docs/img/ when
    CLAIMWATCH_SCREENSHOTS=docs/img is set; that is how the committed ones were made)."""
    server = runs["server"]
    out = Path(os.environ.get("CLAIMWATCH_SCREENSHOTS") or tmp_path)
    out = out if out.is_absolute() else ROOT / out
    with api_client(server) as client:
        run = _flow_run(client, runs["first"])
        (flags,) = [a for a in _artifacts(client, "claimwatch-new-misinformation") if a.flow_run_id == run.id]
    with Browser(1600, 1000) as browser:
        dashboard = browser.open(f"{server.url}/dashboard", until=["Flow Runs", "Task Runs"], settle=3)
        assert "You currently have 0 failed or crashed runs" not in dashboard
        browser.screenshot(out / "dashboard.png")
        listing = browser.open(f"{server.url}/runs", until=[run.name, "Degraded"], settle=2)
        assert "failed:locked" in listing
        browser.screenshot(out / "runs.png")
        page = browser.open(f"{server.url}/runs/flow-run/{run.id}", until=["Degraded", "fetched masto: 5 items"], settle=2)
        assert run.name in page
        browser.screenshot(out / "run.png")
        table = browser.open(f"{server.url}/artifacts/artifact/{flags.id}", until=["Trump pledges", "spreads"], settle=2)
        overflow = browser.call("Runtime.evaluate", returnByValue=True, expression=(
            "Math.max(0, ...[...document.querySelectorAll('table')].map("
            "t => t.scrollWidth - t.parentElement.clientWidth))"))["result"]["value"]
        assert overflow <= 0, f"the flags table is {overflow} px wider than its place on a 1600 px page"
        assert "mastodon.social" in table
        browser.screenshot(out / "flags.png")
    for name in SHOTS:
        assert (out / f"{name}.png").stat().st_size > 20_000, name
