"""`claimwatch run` end to end on the bundled demo (recorded responses, no network).

Runs the CLI in this process against the shared Prefect harness (conftest.py), so as a Prefect
flow run; one test runs it as a subprocess with no Prefect API configured, exactly as a user
would, where it runs in-process and never imports Prefect.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from flows import execution, steps
from flows.store import Store
from flows.cli import app
from flows.config import CLAIMS_DIR, DEMO_DIR
from flows.store import KEYS, TABLES

pytestmark = [pytest.mark.prefect]

RUN_TABLES = tuple(t for t in TABLES if t != "reviews")  # reviews are written by reviewers, not by runs
EXPECTED = list(csv.DictReader((DEMO_DIR / "expected_labels.csv").open(encoding="utf-8")))
CLAIMWATCH = Path(sys.executable).with_name("claimwatch")


# what `claimwatch run` sets in the environment (flows/prefect_env.py); tests undo it afterwards
CLI_ENV = ("PREFECT_HOME", "PREFECT_LOGGING_LEVEL", "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "PREFECT_SERVER_LOGGING_LEVEL", "PREFECT_SERVER_UI_ENABLED",
           "DO_NOT_TRACK", "PREFECT_SERVER_ANALYTICS_ENABLED", "PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY",
           "PREFECT_TELEMETRY_ENABLE_RESOURCE_METRICS")


def protect_env(mp: pytest.MonkeyPatch) -> None:
    for key in CLI_ENV:
        if key in os.environ:
            mp.setenv(key, os.environ[key])
        else:
            mp.delenv(key, raising=False)


@pytest.fixture
def cli(monkeypatch, tmp_path):
    """Invoke `claimwatch ...` in-process; environment changes the CLI makes are undone after."""
    protect_env(monkeypatch)
    monkeypatch.setenv("PREFECT_HOME", os.environ.get("PREFECT_HOME", str(tmp_path / ".prefect")))

    def invoke(*args: str):
        return CliRunner().invoke(app, list(args))

    return invoke


def table(data_dir: Path, name: str) -> pl.DataFrame:
    files = list(data_dir.glob(f"{name}/date=*/*.parquet"))
    if not files:
        return pl.DataFrame()
    return pl.read_parquet(f"{data_dir}/{name}/**/*.parquet", hive_partitioning=True)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, prefect_harness):
    """The demo run twice into one data dir: (first result, second result, data dir)."""
    data_dir = tmp_path_factory.mktemp("demo") / "claimwatch-data"
    runner = CliRunner()
    with pytest.MonkeyPatch.context() as mp:
        protect_env(mp)
        first = runner.invoke(app, ["run", "--data-dir", str(data_dir)])
        snapshot = {t: table(data_dir, t) for t in TABLES}
        second = runner.invoke(app, ["run", "--data-dir", str(data_dir)])
    return first, second, data_dir, snapshot


def test_the_demo_run_completes_and_prints_its_summary(demo_run):
    first, _, data_dir, _ = demo_run
    assert first.exit_code == 0, first.output
    out = first.stdout
    assert "posts per source:" in out and "new flags per claim and label:" in out
    for source in ("example-news", "masto-imrankhan", "bsky-khan-trump", "yt-khan-trump", "tg-kaptaan-updates"):
        assert source in out
    assert "trump-khan-release-clip" in out and "likely_misinformation" in out
    assert "errors per source: none" in out
    assert f"files: {data_dir.resolve()}/" in out
    assert "Traceback" not in first.output


def test_every_demo_post_is_stored_once(demo_run):
    _, _, data_dir, snap = demo_run
    posts = snap["posts"]
    assert sorted(posts["url"]) == sorted(row["url"] for row in EXPECTED)
    assert posts["post_id"].is_unique().all()


FLAGS_FOR_A_CLAIM = ("likely_misinformation", "debunk")


@pytest.mark.parametrize("row", EXPECTED, ids=[r["url"].split("/", 3)[-1][:60] for r in EXPECTED])
def test_every_matches_row_of_each_demo_post_is_right(demo_run, row):
    """The expected (claim, label, stance) row exists, and no other claim is flagged
    likely_misinformation or debunk for the post (other claims may only be needs_review/no_flag)."""
    posts, matches = demo_run[3]["posts"], demo_run[3]["matches"]
    post_id = posts.filter(pl.col("url") == row["url"])["post_id"].item()
    rows = {r["claim_id"]: (r["label"], r["stance"]) for r in matches.filter(pl.col("post_id") == post_id).iter_rows(named=True)}
    assert matches.filter(pl.col("post_id") == post_id)["claim_id"].is_unique().all()
    claim, label, stance = row["claim_id"], row["label"], row["stance"]
    if claim and label != "no_flag":
        assert rows.get(claim) == (label, stance), f"{row['note']}: {claim} got {rows.get(claim)}; all rows {rows}"
    elif claim:
        assert rows.get(claim, ("no_flag",))[0] == "no_flag", f"{row['note']}: {claim} got {rows.get(claim)}"
        if claim in rows:
            assert rows[claim][1] == stance, row["note"]
    wrong = {c: lab for c, (lab, _) in rows.items() if c != claim and lab in FLAGS_FOR_A_CLAIM}
    assert not wrong, f"{row['note']}: other claims flagged {wrong}"
    if not claim:
        assert all(lab in ("needs_review", "no_flag") for lab, _ in rows.values()), f"{row['note']}: {rows}"


def test_every_table_is_written_with_run_and_health_rows(demo_run):
    _, _, data_dir, snap = demo_run
    for t in RUN_TABLES:
        assert snap[t].height > 0, t
    assert snap["runs"]["status"].to_list() == ["ok"]
    assert set(snap["source_health"]["status"]) == {"ok"}
    assert set(snap["claims"]["claim_id"]) >= {"trump-khan-release-clip"}
    assert list((data_dir / "_state" / "cursors").glob("*.json"))
    assert not list(data_dir.rglob("*.tmp"))


def test_running_twice_adds_no_duplicate_rows(demo_run):
    _, second, data_dir, snap = demo_run
    assert second.exit_code == 0, second.output
    assert "none (posts and matches already in the dataset" in second.stdout
    for t in ("posts", "matches", "claims"):
        now = table(data_dir, t)
        assert now.height == snap[t].height, t
        assert now.select(KEYS[t]).is_duplicated().sum() == 0, t
    runs = table(data_dir, "runs")
    assert runs.height == 2 and runs["run_id"].is_unique().all()  # one row per run, by design
    health = table(data_dir, "source_health")
    assert health.height == 2 * snap["source_health"].height
    assert health.filter(pl.col("run_id") == runs.sort("started_at")["run_id"][-1])["new"].sum() == 0


def test_a_bad_claim_file_is_one_line_and_writes_nothing(cli, tmp_path):
    claims = tmp_path / "claims"
    shutil.copytree(CLAIMS_DIR, claims)
    (claims / "broken-claim.yaml").write_text("claim_id: broken-claim\nstatus: active\ntext: [unclosed\n")
    data_dir = tmp_path / "data"
    result = cli("run", "--claims", str(claims), "--data-dir", str(data_dir))
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "broken-claim.yaml" in lines[0], result.stderr
    assert "Traceback" not in result.output
    assert not data_dir.exists()


def test_a_bad_sources_file_names_the_file_source_and_option(cli, tmp_path):
    sources = tmp_path / "sources.toml"
    sources.write_text('[[sources]]\nname = "masto"\nkind = "mastodon"\nhashtag = "x"\ninstance = "mastodon.social"\n')
    data_dir = tmp_path / "data"
    result = cli("run", "--sources", str(sources), "--demo", "--data-dir", str(data_dir))
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert "\n" not in line and str(sources) in line and "'masto'" in line and "instance" in line
    assert not data_dir.exists()


def test_a_truncated_payload_is_one_source_error_and_the_other_sources_land(prefect_harness, cli, tmp_path):
    demo = tmp_path / "demo"
    shutil.copytree(DEMO_DIR, demo)
    page = demo / "responses" / "mastodon" / "tag_ImranKhan_page1.json"
    page.write_bytes(page.read_bytes()[: len(page.read_bytes()) // 2])
    data_dir = tmp_path / "data"
    result = cli("run", "--sources", str(demo / "sources.toml"), "--replay", str(demo / "responses" / "manifest.toml"),
                 "--data-dir", str(data_dir))
    assert result.exit_code == 0, result.output
    assert "errors per source:\n  masto-imrankhan: " in result.stdout
    assert "Traceback" not in result.output
    health = table(data_dir, "source_health")
    bad = health.filter(pl.col("source") == "masto-imrankhan").row(0, named=True)
    assert bad["status"] == "error" and "JSON" in bad["error"]
    assert bad["error"].endswith("mastodon/tag_ImranKhan_page1.json)")
    assert set(health.filter(pl.col("source") != "masto-imrankhan")["status"]) == {"ok"}
    posts = table(data_dir, "posts")
    assert set(posts["source"]) == {"example-news", "bsky-khan-trump", "yt-khan-trump", "tg-kaptaan-updates"}
    assert table(data_dir, "runs")["status"].to_list() == ["partial"]

    cursors = Store(data_dir).read_cursors()
    assert "masto-imrankhan" not in cursors and "bsky-khan-trump" in cursors
    assert not list(data_dir.rglob("*.tmp"))


def user_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a user with no Prefect configuration: no PREFECT_* variables, an empty
    Prefect home (so no profile of this machine's user counts)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_") and k != "DO_NOT_TRACK"}
    env["PREFECT_HOME"] = str(home)
    env.update(extra)
    return env


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_claimwatch_run_without_a_prefect_api_runs_in_process_and_never_imports_prefect(tmp_path):
    env = user_env(tmp_path / "prefect-home")
    cmd = [sys.executable, "-X", "importtime", "-m", "flows.cli", "run"]
    first = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=200)
    assert first.returncode == 0, first.stdout + first.stderr[-3000:]
    second = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=200)
    assert second.returncode == 0, second.stdout + second.stderr[-3000:]
    for done in (first, second):
        messages = [line for line in done.stderr.splitlines() if not line.startswith("import time:")]
        assert "in this process, no Prefect API" in messages[0]
        assert not any("Traceback" in line for line in messages)
        imported = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
        assert not {m for m in imported if m == "prefect" or m.startswith(("prefect.", "uvicorn"))}
    assert "trump-khan-release-clip" in first.stdout and "likely_misinformation" in first.stdout
    assert "none (posts and matches already in the dataset" in second.stdout
    reports = tmp_path / "claimwatch-data" / "_reports"
    assert f"report: {reports / 'claimwatch-run-summary.md'}" in second.stdout
    summary = (reports / "claimwatch-run-summary.md").read_text(encoding="utf-8")
    run_ids = table(tmp_path / "claimwatch-data", "runs").sort("started_at")["run_id"].to_list()
    assert len(run_ids) == 2 and len(set(run_ids)) == 2 and f"`{run_ids[1]}`" in summary
    assert not (tmp_path / ".prefect").exists() and not (tmp_path / "prefect-home").exists()


def test_a_prefect_profile_that_names_an_api_is_honoured_and_none_means_in_process(tmp_path):
    probe = [sys.executable, "-c", "import sys; from flows.execution import api_url; "
             "print(api_url(), 'prefect' in sys.modules)"]
    home = tmp_path / "home"
    home.mkdir()
    nothing = subprocess.run(probe, cwd=tmp_path, env=user_env(home), capture_output=True, text=True, timeout=60)
    assert nothing.stdout.split() == ["None", "False"], nothing.stderr
    (home / "profiles.toml").write_text('active = "team"\n[profiles.team]\nPREFECT_API_URL = "http://127.0.0.1:9/api"\n')
    profile = subprocess.run(probe, cwd=tmp_path, env=user_env(home), capture_output=True, text=True, timeout=60)
    assert profile.stdout.split()[0] == "http://127.0.0.1:9/api", profile.stderr
    env = subprocess.run(probe, cwd=tmp_path, env=user_env(tmp_path / "none", PREFECT_API_URL="http://127.0.0.1:8/api"),
                         capture_output=True, text=True, timeout=60)
    assert env.stdout.split() == ["http://127.0.0.1:8/api", "False"], env.stderr


def test_run_local_is_in_process_even_with_an_api_configured(prefect_harness, cli, tmp_path):
    data_dir = tmp_path / "data"
    result = cli("run", "--local", "--data-dir", str(data_dir))
    assert result.exit_code == 0, result.output
    assert "in this process, no Prefect API" in result.stderr
    runs = table(data_dir, "runs")
    assert runs["flow_run_id"].to_list() == [""] and runs["status"].to_list() == ["ok"]
    assert (data_dir / "_reports" / "claimwatch-new-misinformation.md").is_file()


# ---------------------------------------------------------------- the flow itself

FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>Checks</title><link>https://checks.example.org/</link>
<item><title>Fact check: clip of Trump pledging Khan's release is edited</title>
<link>https://checks.example.org/2024/11/trump-khan-clip</link><guid>https://checks.example.org/2024/11/trump-khan-clip</guid>
<pubDate>Wed, 20 Nov 2024 10:00:00 GMT</pubDate></item></channel></rss>"""
REVIEW = """<html lang="en"><head><title>Fact check</title><script type="application/ld+json">
{"@context": "https://schema.org", "@type": "ClaimReview", "url": "https://checks.example.org/2024/11/trump-khan-clip",
 "claimReviewed": "Video shows Trump promising to free Imran Khan", "datePublished": "2024-11-20",
 "author": {"@type": "Organization", "name": "Example Checks"},
 "reviewRating": {"@type": "Rating", "alternateName": "Altered video"}}
</script></head><body><p>The clip was edited.</p></body></html>"""


@pytest.fixture
def mixed_sources(tmp_path):
    """A fact-check feed, a working Mastodon tag, and a Mastodon server that answers 401."""
    return write_mixed_sources(tmp_path)


def write_mixed_sources(tmp_path: Path) -> tuple[Path, Path]:
    """Write the sources file and replay manifest of :func:`mixed_sources` into ``tmp_path``."""
    resp = tmp_path / "responses"
    shutil.copytree(DEMO_DIR / "responses" / "mastodon", resp / "mastodon")
    (resp / "feed.xml").write_text(FEED)
    (resp / "review.html").write_text(REVIEW)
    (resp / "manifest.toml").write_text("""
[[response]]
url = "https://checks.example.org/feed.xml"
file = "feed.xml"
content_type = "application/rss+xml"
[[response]]
url = "https://checks.example.org/2024/11/trump-khan-clip"
file = "review.html"
content_type = "text/html; charset=utf-8"
[[response]]
url = "https://mastodon.social/api/v1/timelines/tag/ImranKhan"
file = "mastodon/tag_ImranKhan_page1.json"
content_type = "application/json"
[[response]]
url = "https://locked.example.org/api/v1/timelines/tag/ImranKhan"
status = 401
body = '{"error": "The access token is invalid"}'
""")
    sources = tmp_path / "sources.toml"
    sources.write_text("""
[settings]
allow_private_links = true
retries = 0
[alerts]
spreading_threshold = 1
window = "5000d"
[runner]
batch_size = 2
[[sources]]
name = "checks"
kind = "factchecks"
feed_url = "https://checks.example.org/feed.xml"
[[sources]]
name = "masto"
kind = "mastodon"
instance = "https://mastodon.social"
hashtag = "ImranKhan"
max_pages = 1
[[sources]]
name = "locked"
kind = "mastodon"
instance = "https://locked.example.org"
hashtag = "ImranKhan"
""")
    return sources, resp / "manifest.toml"


def test_the_flow_names_failed_sources_and_publishes_artifacts_and_events(prefect_harness, mixed_sources, tmp_path, monkeypatch):
    import flows.pipeline as pipeline
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    events = []
    monkeypatch.setattr(execution, "event", lambda **kw: events.append(kw))
    sources, manifest = mixed_sources
    data_dir = tmp_path / "data"
    state = pipeline.run_pipeline(config=str(sources), data_dir=str(data_dir), replay=str(manifest), return_state=True)

    # data from two sources is written, yet the run is not a green "Completed": a source needs a hand
    assert state.is_failed() and state.name == "Degraded"
    assert state.message == "2 of 3 sources ok; failed: locked"
    summary = state.result(raise_on_failure=False)
    assert summary["status"] == "partial"
    locked = next(s for s in summary["sources"] if s["source"] == "locked")
    assert "HTTP 401" in locked["error"]

    claims = table(data_dir, "claims")
    imported = claims.filter(pl.col("status") == "imported")
    assert imported["text"].to_list() == ["Video shows Trump promising to free Imran Khan"]
    assert imported["catalogue_version"].to_list() == ["imported"]

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(state.state_details.flow_run_id)
        assert run.name.startswith("ingest ") and run.name.endswith("Z · 2/3 ok · failed: locked"), run.name
        assert len(run.name) <= 60 and {"degraded", "failed:locked"} <= set(run.tags)
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
        fetches = {t.name: t for t in tasks if t.name.startswith("fetch_source")}
        assert set(fetches) == {"fetch_source[checks]", "fetch_source[masto]", "fetch_source[locked]"}
        assert {"source:locked", "kind:mastodon"} <= set(fetches["fetch_source[locked]"].tags)
        assert fetches["fetch_source[locked]"].state.is_failed()
        assert sum(t.name.startswith("match_batch") for t in tasks) >= 2  # batches of 2 posts
        keys = {a.key for a in client.read_artifacts() if a.flow_run_id == run.id}
    assert {"claimwatch-run-summary", "claimwatch-matching", "claimwatch-new-misinformation"} <= keys
    assert any(f["label"] == "likely_misinformation" for f in summary["flags"])
    matches = table(data_dir, "matches")
    spreading = matches.filter((pl.col("stance") == "spreads") & (pl.col("label") == "likely_misinformation"))
    per_claim = dict(spreading.group_by("claim_id").agg(pl.col("post_id").n_unique()).iter_rows())
    for e in events:
        assert e["event"] == "claimwatch.claim.spreading"
        assert e["resource"]["prefect.resource.id"] == f"claimwatch.claim.{e['payload']['claim_id']}"
        # the recorded statuses were published in November 2024: alerts count by publication
        # time, so only a window reaching back that far counts them
        assert e["payload"]["window"] == "5000d" and e["payload"]["count"] == per_claim[e["payload"]["claim_id"]]
    assert {e["payload"]["claim_id"] for e in events} == set(per_claim)
    # a second run with nothing new: the claims are still above, no new event
    events.clear()
    again = pipeline.run_pipeline(config=str(sources), data_dir=str(data_dir), replay=str(manifest), return_state=True)
    assert again.result(raise_on_failure=False)["alerts"] == [] and events == []


def test_every_source_failing_fails_the_run_but_still_records_it(prefect_harness, mixed_sources, tmp_path):
    import flows.pipeline as pipeline

    sources, _ = mixed_sources
    empty_manifest = tmp_path / "none.toml"
    empty_manifest.write_text('[[response]]\nurl = "https://nowhere.example.org/"\nbody = ""\n')
    data_dir = tmp_path / "data"
    state = pipeline.run_pipeline(config=str(sources), data_dir=str(data_dir), replay=str(empty_manifest),
                                  return_state=True)
    assert state.is_failed()
    assert state.message == "every source failed: checks, masto, locked"
    assert table(data_dir, "runs")["status"].to_list() == ["failed"]
    assert set(table(data_dir, "source_health")["status"]) == {"error"}
    assert table(data_dir, "posts").height == 0


def test_import_factchecks_writes_imported_claims_once(prefect_harness, mixed_sources, tmp_path):
    from flows.pipeline import import_factchecks

    sources, manifest = mixed_sources
    data_dir = tmp_path / "data"
    first = import_factchecks(config=str(sources), data_dir=str(data_dir), replay=str(manifest))
    assert first["imported"] == 1 and first["errors"] == {}
    import shutil

    shutil.rmtree(data_dir / "_state" / "cursors")  # forget what was seen: the same claim comes again
    again = import_factchecks(config=str(sources), data_dir=str(data_dir), replay=str(manifest))
    assert again["imported"] == 0
    assert table(data_dir, "claims").height == 1


def test_the_compact_flow_merges_two_runs_without_changing_rows(prefect_harness, demo_run, tmp_path):
    from flows.pipeline import compact_dataset

    data_dir = tmp_path / "data"
    shutil.copytree(demo_run[2], data_dir)
    before = {t: table(data_dir, t).sort(list(KEYS[t])) for t in RUN_TABLES}
    out = compact_dataset(data_dir=str(data_dir))
    assert [p["files"] for p in out["runs"]] == [2] and [p["files"] for p in out["source_health"]] == [2]
    for t in RUN_TABLES:
        assert len(list(data_dir.glob(f"{t}/date=*/*.parquet"))) == 1, t
        assert table(data_dir, t).sort(list(KEYS[t])).equals(before[t]), t


def test_a_server_error_is_retried_by_the_client_only_and_a_401_is_not(prefect_harness, tmp_path):
    import flows.pipeline as pipeline
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    (tmp_path / "manifest.toml").write_text("""
[[response]]
url = "https://down.example.org/api/v1/timelines/tag/x"
status = 503
body = "busy"
[[response]]
url = "https://locked.example.org/api/v1/timelines/tag/x"
status = 401
body = "no"
""")
    (tmp_path / "sources.toml").write_text("""
[settings]
retries = 1
backoff = 0
[[sources]]
name = "down"
kind = "mastodon"
instance = "https://down.example.org"
hashtag = "x"
[[sources]]
name = "locked"
kind = "mastodon"
instance = "https://locked.example.org"
hashtag = "x"
""")
    state = pipeline.run_pipeline(config=str(tmp_path / "sources.toml"), data_dir=str(tmp_path / "data"),
                                  replay=str(tmp_path / "manifest.toml"), return_state=True)
    assert state.is_failed()
    with get_client(sync_client=True) as client:
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id])))
    attempts = {t.name: t.run_count for t in tasks if t.name.startswith("fetch_source")}
    assert attempts == {"fetch_source[down]": 1, "fetch_source[locked]": 1}  # no task-level retry
    health = {r["source"]: r["error"] for r in table(tmp_path / "data", "source_health").iter_rows(named=True)}
    assert "HTTP 503 after 2 attempts" in health["down"] and "HTTP 401" in health["locked"]


# ---------------------------------------------------------------- matching catches up

LABELLED = [json.loads(line) for line in
            (Path(__file__).resolve().parents[1] / "rules" / "data" / "labelled_posts.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]


class Source:
    """A connector (registered as kind 'once' by the tests) that delivers its posts on the first
    fetch only; later fetches, with the cursor it returned, bring nothing."""

    def __init__(self, name, options, client):
        self.name = name

    def fetch(self, cursor):
        from connectors.base import FetchResult
        from connectors.schema import make_post

        if cursor and cursor.get("done"):
            return FetchResult([], cursor)
        picked = [p for p in LABELLED if p["label"] != "no_flag"][:12]
        posts = [make_post("reddit", f"t3_{p['post_id']}", text=p["text"], title=p["title"], links=p["links"],
                           source=self.name) for p in picked]
        return FetchResult(posts, {"done": True})


@pytest.fixture
def once_source(tmp_path, monkeypatch):
    from connectors import registry

    monkeypatch.setitem(registry.KINDS, "once", __name__)
    path = tmp_path / "once.toml"
    path.write_text('[runner]\nbatch_size = 5\n[[sources]]\nname = "once"\nkind = "once"\n')
    return path


def matches_of(data_dir: Path) -> pl.DataFrame:
    return (table(data_dir, "matches").select("post_id", "claim_id", "catalogue_version", "score", "label", "stance")
            .sort("post_id", "claim_id"))


def test_a_run_whose_matching_failed_is_caught_up_by_the_next_run(prefect_harness, once_source, tmp_path, monkeypatch):
    import flows.pipeline as pipeline

    monkeypatch.setattr(execution, "event", lambda **kw: None)
    good = pipeline.run_pipeline(config=str(once_source), data_dir=str(tmp_path / "good"), return_state=True)
    assert good.is_completed()
    expected = matches_of(tmp_path / "good")
    assert expected.filter(pl.col("label") == "likely_misinformation").height > 0

    data_dir = tmp_path / "data"

    def broken(*args):
        raise RuntimeError("matcher crashed")

    with monkeypatch.context() as mp:
        mp.setattr(steps, "_matcher", broken)
        failed = pipeline.run_pipeline(config=str(once_source), data_dir=str(data_dir), return_state=True)
    assert failed.is_failed() and "matching failed: RuntimeError: matcher crashed" in failed.message
    assert table(data_dir, "posts").height == 12 and not list(data_dir.glob("matches/date=*/*.parquet"))

    caught = pipeline.run_pipeline(config=str(once_source), data_dir=str(data_dir), return_state=True)
    assert caught.is_completed()
    summary = caught.result()
    assert summary["posts_fetched"] == 0 and summary["caught_up"] == 12
    from flows.commands.run import format_summary

    assert "also checked 12 recent stored posts with no match for this catalogue" in format_summary(summary)
    assert matches_of(data_dir).equals(expected)
    # and nothing is matched twice: a third run finds no post left to catch up
    third = pipeline.run_pipeline(config=str(once_source), data_dir=str(data_dir), return_state=True).result()
    assert third["matches_new"] == 0 and matches_of(data_dir).equals(expected)
    # every post was matched once for this catalogue, also those no claim scored for
    assert third["caught_up"] == 0
    assert table(data_dir, "matched_posts")["post_id"].n_unique() == 12


def test_a_junk_part_file_stops_claimwatch_run_with_one_line_before_fetching(cli, tmp_path):
    data_dir = tmp_path / "claimwatch-data"
    junk = data_dir / "matches" / "date=2026-11-28" / "part-junk.parquet"
    junk.parent.mkdir(parents=True)
    junk.write_text("junk")
    result = cli("run", "--data-dir", str(data_dir))
    assert result.exit_code == 1
    assert result.stderr.strip() == f"claimwatch run: {junk}: not a Parquet file (no PAR1 magic bytes); move it away or delete it"
    assert not (data_dir / "posts").exists()


@pytest.mark.parametrize("damage", ["data page", "columns of another table"])
def test_a_damaged_part_file_stops_claimwatch_run_with_one_line_naming_it_before_fetching(cli, tmp_path, damage):
    from datetime import date

    data_dir = tmp_path / "claimwatch-data"
    store = Store(data_dir)
    rows = pl.DataFrame({"post_id": [f"p{i}" for i in range(300)], "claim_id": ["c"] * 300,
                         "catalogue_version": ["v"] * 300, "evidence": [f"words {i} " * 30 for i in range(300)]})
    store.write("matches", rows, "r1", date(2026, 11, 28))
    (part,) = store.files("matches")
    if damage == "data page":  # magic bytes and footer intact: the schema still reads
        data = bytearray(part.read_bytes())
        data[8: len(data) // 2] = b"\x55" * (len(data) // 2 - 8)
        part.write_bytes(bytes(data))
    else:
        pl.DataFrame({"url": ["https://example.org/"], "post_id": ["x"]}).write_parquet(part)
    result = cli("run", "--data-dir", str(data_dir))
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"claimwatch run: {part}: ") and line.endswith("move it away or delete it")
    assert not (data_dir / "posts").exists()  # nothing fetched, nothing written


# ---------------------------------------------------------------- spreading alerts per window


class Catalogue:
    version = "v1"

    def __contains__(self, cid):
        return False


def spreading(store, run, claim, posts, at):
    frame = pl.DataFrame({"post_id": posts, "claim_id": [claim] * len(posts), "catalogue_version": ["v1"] * len(posts),
                          "label": ["likely_misinformation"] * len(posts), "stance": ["spreads"] * len(posts),
                          "flagged_at": [at] * len(posts)})
    store.write("matches", frame, run, at.date())


def test_a_spreading_alert_counts_posts_in_the_window_and_fires_once_per_crossing(tmp_path, monkeypatch):
    from datetime import datetime, timedelta, timezone

    import flows.pipeline as pipeline
    from flows.store import Store

    events = []
    monkeypatch.setattr(execution, "event", lambda **kw: events.append(kw["payload"]))
    store = Store(tmp_path)
    t0 = datetime(2026, 11, 28, 12, tzinfo=timezone.utc)

    def alerts(run, now):
        return pipeline.spreading_alerts(store, Catalogue(), 3, "1h", 3600, run, now)

    spreading(store, "r0", "c1", ["old1", "old2"], t0 - timedelta(hours=2))  # outside the window
    spreading(store, "r1", "c1", ["a", "b"], t0 - timedelta(minutes=40))
    store.write("matches", pl.DataFrame({"post_id": ["n"], "claim_id": ["c1"], "catalogue_version": ["v1"],
                                         "label": ["needs_review"], "stance": ["spreads"], "flagged_at": [t0]}), "r1b", t0.date())
    assert alerts("r1", t0) == [] and events == []
    # one more run adds a single post: the window, not the run, counts -> 3 crosses the threshold
    spreading(store, "r2", "c1", ["c"], t0 + timedelta(minutes=5))
    fired = alerts("r2", t0 + timedelta(minutes=5))
    assert [(a["claim_id"], a["count"], a["window"]) for a in fired] == [("c1", 3, "1h")]
    assert events == fired
    # still above on the next run: no second event
    spreading(store, "r3", "c1", ["d"], t0 + timedelta(minutes=10))
    assert alerts("r3", t0 + timedelta(minutes=10)) == [] and len(events) == 1
    assert "c1" in Store(tmp_path).read_state("alerts")
    # the same post under a new catalogue version is not new again
    store.write("matches", pl.DataFrame({"post_id": ["a"], "claim_id": ["c1"], "catalogue_version": ["v2"],
                                         "label": ["likely_misinformation"], "stance": ["spreads"],
                                         "flagged_at": [t0 + timedelta(minutes=15)]}), "r4", t0.date())
    assert pipeline.spreading_counts(store, t0 + timedelta(minutes=15), 3600) == {"c1": 4}
    # the window moves on, the claim falls below, and a later crossing alerts again
    assert alerts("r5", t0 + timedelta(hours=3)) == []
    spreading(store, "r6", "c1", ["e", "f", "g"], t0 + timedelta(hours=3, minutes=1))
    assert [a["count"] for a in alerts("r6", t0 + timedelta(hours=3, minutes=1))] == [3]
    assert len(events) == 2


def test_alerts_count_posts_by_publication_time_and_never_fire_on_backfill(tmp_path, monkeypatch):
    from datetime import datetime, timedelta, timezone

    import flows.pipeline as pipeline
    from connectors.schema import make_post, posts_frame
    from flows.store import Store

    events = []
    monkeypatch.setattr(execution, "event", lambda **kw: events.append(kw["payload"]))
    store = Store(tmp_path)
    now = datetime(2026, 11, 28, 12, tzinfo=timezone.utc)
    # a first run over a channel's history: seven posts from November 2024, all matched just now
    old = [make_post("telegram", f"ch/{i}", text="clip", source="s", published_at=datetime(2024, 11, 20, 8 + i, tzinfo=timezone.utc),
                     fetched_at=now - timedelta(minutes=2)) for i in range(7)]
    store.write("posts", posts_frame(old), "r1", now.date())
    spreading(store, "r1", "c1", [p["post_id"] for p in old], now - timedelta(minutes=1))
    assert pipeline.spreading_counts(store, now, 3600) == {}
    assert pipeline.spreading_alerts(store, Catalogue(), 3, "1h", 3600, "r1", now) == [] and events == []
    # posts published inside the window count, however late they were matched
    fresh = [make_post("bluesky", f"at://x/{i}", text="clip", source="s", published_at=now - timedelta(minutes=50 - i),
                       fetched_at=now) for i in range(3)]
    store.write("posts", posts_frame(fresh), "r2", now.date())
    spreading(store, "r2", "c1", [p["post_id"] for p in fresh], now + timedelta(minutes=5))
    later = now + timedelta(minutes=5)
    assert pipeline.spreading_counts(store, later, 3600) == {"c1": 3}
    assert [(a["claim_id"], a["count"]) for a in pipeline.spreading_alerts(store, Catalogue(), 3, "1h", 3600, "r2", later)] == [("c1", 3)]
    # a post without a publication time is placed at its fetch time
    undated = make_post("reddit", "t3_u", text="clip", source="s", fetched_at=later - timedelta(hours=2))
    store.write("posts", posts_frame([undated]), "r3", now.date())
    spreading(store, "r3", "c1", [undated["post_id"]], later)
    assert pipeline.spreading_counts(store, later, 3600) == {"c1": 3}


def test_catching_up_takes_recent_unmatched_posts_newest_first_within_the_limits(tmp_path):
    from datetime import datetime, timedelta, timezone

    from connectors.schema import make_post, posts_frame
    from flows.pipeline import posts_to_catch_up
    from flows.store import Store

    store = Store(tmp_path)
    now = datetime(2026, 11, 28, 12, tzinfo=timezone.utc)
    rows = [make_post("reddit", f"t3_{i}", text=f"post {i}", source="s", fetched_at=now - timedelta(days=i))
            for i in range(6)]  # t3_0 fetched now ... t3_5 five days ago
    store.write("posts", posts_frame(rows), "r1", now.date())
    store.write("matches", pl.DataFrame({"post_id": ["reddit:t3_0", "reddit:t3_1"], "claim_id": ["c", "c"],
                                         "catalogue_version": ["v1", "v1"]}), "r1", now.date())

    def ids(version, days=3, limit=100, exclude=None):
        return posts_to_catch_up(store, version, now, days, limit, exclude)["post_id"].to_list()

    assert ids("v1") == ["reddit:t3_2", "reddit:t3_3"]  # within 3 days, no v1 row yet
    # a new catalogue version re-matches every recent post
    assert ids("v2") == ["reddit:t3_0", "reddit:t3_1", "reddit:t3_2", "reddit:t3_3"]
    assert ids("v2", limit=1) == ["reddit:t3_0"] and ids("v2", limit=0) == []
    assert ids("v2", days=10) == [f"reddit:t3_{i}" for i in range(6)]
    assert ids("v2", exclude=posts_frame(rows[:1])) == ["reddit:t3_1", "reddit:t3_2", "reddit:t3_3"]


def test_a_post_no_claim_scores_for_is_matched_once_per_catalogue_version(tmp_path):
    from datetime import datetime, timedelta, timezone

    from connectors.schema import make_post, posts_frame
    from flows.steps import matched_rows, posts_to_catch_up
    from flows.store import Store

    store = Store(tmp_path)
    now = datetime(2026, 11, 28, 12, tzinfo=timezone.utc)
    rows = posts_frame([make_post("reddit", f"t3_{i}", text=f"post {i}", source="s", fetched_at=now - timedelta(hours=i))
                        for i in range(4)])
    store.write("posts", rows, "r1", now.date())
    matches = pl.DataFrame({"post_id": ["reddit:t3_0"], "claim_id": ["c"], "catalogue_version": ["v1"]})
    store.write("matches", matches, "r1", now.date())
    assert posts_to_catch_up(store, "v1", now, 3, 100).height == 3  # no match row: not matched yet
    # the run that matched them records every post, with 0 rows for those no claim scored for
    done = matched_rows(rows, matches, "v1", "r1", now)
    assert dict(done.select("post_id", "matches").iter_rows()) == {
        "reddit:t3_0": 1, "reddit:t3_1": 0, "reddit:t3_2": 0, "reddit:t3_3": 0}
    store.write("matched_posts", done, "r1", now.date())
    assert posts_to_catch_up(store, "v1", now, 3, 100).height == 0
    assert posts_to_catch_up(store, "v2", now, 3, 100).height == 4  # a new catalogue matches them again


# ---------------------------------------------------------------- a full disk


def _full_disk(monkeypatch, tables):
    """Every write of a part file of ``tables`` fails as on a full disk (ENOSPC)."""
    import errno

    import flows.store as store_module

    real_put = store_module._Local.put

    def put(self, rel, data):
        if rel.split("/", 1)[0] in tables:
            raise OSError(errno.ENOSPC, "No space left on device", str(self.root / rel))
        return real_put(self, rel, data)

    monkeypatch.setattr(store_module._Local, "put", put)
    return lambda: setattr(store_module._Local, "put", real_put)


def test_a_full_disk_still_records_the_run_and_its_sources_and_moves_no_cursor(prefect_harness, once_source,
                                                                                  tmp_path, monkeypatch):
    import flows.pipeline as pipeline

    monkeypatch.setattr(execution, "event", lambda **kw: None)
    data_dir = tmp_path / "data"
    space_freed = _full_disk(monkeypatch, {"posts"})  # the big write fails; the small rows still fit
    state = pipeline.run_pipeline(config=str(once_source), data_dir=str(data_dir), return_state=True)
    assert state.is_failed()
    assert state.message.startswith("storing posts failed: ") and "No space left on device" in state.message
    assert "\n" not in state.message
    runs = table(data_dir, "runs")
    assert runs["status"].to_list() == ["failed"] and "No space left on device" in runs["error"].item()
    assert table(data_dir, "source_health")["source"].to_list() == ["once"]
    assert not list(data_dir.glob("posts/date=*/*.parquet")) and not list(data_dir.glob("matches/date=*/*.parquet"))
    assert Store(data_dir).read_cursors() == {}  # the posts were not stored: fetch them again next time
    space_freed()
    again = pipeline.run_pipeline(config=str(once_source), data_dir=str(data_dir), return_state=True)
    assert again.is_completed() and table(data_dir, "posts").height == 12


def test_a_disk_too_full_for_any_row_is_one_line_saying_what_was_not_written(prefect_harness, once_source,
                                                                             tmp_path, monkeypatch):
    import flows.pipeline as pipeline

    from flows.store import SCHEMAS, StoreError

    monkeypatch.setattr(execution, "event", lambda **kw: None)
    data_dir = tmp_path / "data"
    _full_disk(monkeypatch, set(SCHEMAS))
    state = pipeline.run_pipeline(config=str(once_source), data_dir=str(data_dir), return_state=True)
    assert state.is_failed()
    exc = state.result(raise_on_failure=False)
    assert isinstance(exc, StoreError)
    msg = str(exc)
    assert "\n" not in msg and msg.startswith(f"{data_dir}: the source_health and runs rows of run ")
    assert "were not written (" in msg and "No space left on device" in msg
    assert "the posts were not stored and cursors did not move; free space and run again" in msg
