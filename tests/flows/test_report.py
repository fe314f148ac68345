"""``claimwatch report`` and the queries behind it, over a small dataset in the documented layout."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from connectors.schema import make_post, metrics_frame, posts_frame
from flows import report as rep
from flows.commands import report as report_command
from rules.schema import CLAIMS_SCHEMA, MATCHES_SCHEMA

UTC = timezone.utc
CLIP = "trump-khan-release-clip"
OTHER = "ballot-burning-video"


def _write(data_dir: Path, table: str, df: pl.DataFrame, run_id: str) -> None:
    for (day,), part in df.group_by(pl.col("_day")):
        out = data_dir / table / f"date={day}" / f"part-{run_id}.parquet"
        out.parent.mkdir(parents=True, exist_ok=True)
        part.drop("_day").write_parquet(out, compression="zstd")


def write_sample_dataset(data_dir: Path, now: datetime | None = None) -> Path:
    """Two runs over three days: clip spreading on several platforms, debunks, a re-match."""
    now = now or datetime(2024, 11, 22, 12, 0, tzinfo=UTC)
    d0 = now - timedelta(days=2)
    vid = "youtube:AbCdEfGhIj0"
    rows = [
        # post, platform, author, published, claim, label, stance, score, run
        ("mastodon", "mastodon.social/1", "@pti_fan", d0 + timedelta(hours=1), CLIP, "likely_misinformation", "spreads", 91.0, "r1", [vid]),
        ("youtube", "AbCdEfGhIj0", "Khan Updates", d0 + timedelta(hours=2), CLIP, "likely_misinformation", "spreads", 97.0, "r1", [vid]),
        ("reddit", "t3_abc", "u/lahori", d0 + timedelta(hours=11), CLIP, "needs_review", "spreads", 64.0, "r1", []),
        ("news", "https://www.dawn.com/news/1", "Dawn", d0 + timedelta(days=1, hours=3), CLIP, "debunk", "debunks", 88.0, "r2", []),
        ("bluesky", "at://did:plc:x/app.bsky.feed.post/1", "x.bsky.social", d0 + timedelta(days=1, hours=4), CLIP, "likely_misinformation", "spreads", 84.0, "r2", [vid]),
        ("telegram", "insafpk/101", "insafpk", d0 + timedelta(days=2, hours=1), CLIP, "likely_misinformation", "spreads", 90.0, "r2", [vid]),
        ("mastodon", "mastodon.social/2", "@desk", d0 + timedelta(days=2, hours=2), CLIP, "debunk", "debunks", 80.0, "r2", []),
        ("news", "https://example.pk/ballot", "Example", d0 + timedelta(days=1, hours=6), OTHER, "needs_review", "mentions", 55.0, "r2", []),
        ("reddit", "t3_zzz", "u/someone", d0 + timedelta(days=1, hours=7), None, "no_flag", None, 20.0, "r2", []),
    ]
    posts, matches = [], []
    for platform, native, author, published, claim, label, stance, score, run, videos in rows:
        url = native if native.startswith("http") else f"https://{platform}.example/{native}"
        post = make_post(
            platform, native, source=f"{platform}-demo", url=url, canonical_url=url, author=author,
            author_id=f"id-{author.strip('@').lower()}", author_handle=author, author_followers=10 * len(author),
            published_at=published, fetched_at=published + timedelta(minutes=20), lang="en",
            text=f"post by {author}", video_ids=videos, run_id=run, likes=len(posts) + 1, reposts=1,
        )
        posts.append(post)
        matches.append({
            "run_id": run, "post_id": post["post_id"], "claim_id": claim or "", "score": score, "rank": 1,
            "score_lexical": score, "score_fuzzy": score, "score_media": 100.0 if videos else 0.0,
            "entities_ok": True, "stance": stance, "label": label, "evidence": "trump; imran khan",
            "catalogue_version": "v1" if run == "r1" else "v2",
            "flagged_at": published + timedelta(minutes=25),
        })
    # the first Mastodon post matched again in run 2 under the new catalogue, with a higher score
    rematch = dict(matches[0], run_id="r2", score=95.0, catalogue_version="v2", flagged_at=now)
    matches.append(rematch)

    pf = posts_frame(posts).with_columns(pl.col("fetched_at").dt.date().alias("_day"))
    # reach over time: the first reading at fetch time, and a re-read two hours later with more
    # likes for the posts matched in the first run
    first = metrics_frame(posts_frame(posts), "fetch", "r1")
    later = (metrics_frame(posts_frame(posts).filter(pl.col("run_id") == "r1"), "refetch", "r2")
             .with_columns(pl.col("observed_at") + timedelta(hours=2), pl.col("likes") * 10, pl.col("reposts") + 4))
    for run, part in (("r1", first), ("r2", later)):
        _write(data_dir, "post_metrics", part.with_columns(pl.col("observed_at").dt.date().alias("_day")), run)
    mf = pl.DataFrame(matches, schema=MATCHES_SCHEMA).with_columns(pl.col("flagged_at").dt.date().alias("_day"))
    for run in ("r1", "r2"):
        _write(data_dir, "posts", pf.filter(pl.col("run_id") == run), run)
        _write(data_dir, "matches", mf.filter(pl.col("run_id") == run), run)
    claims = pl.DataFrame(
        [
            {"claim_id": CLIP, "text": "Trump pledges to free Imran Khan", "title": "Edited clip", "variants": [],
             "verdict": "altered", "media_category": "EditedOrCroppedContent", "required_entities": [["trump"], ["imran khan"]],
             "known_media": [vid], "fact_check_urls": ["https://factcheck.example/clip"], "status": "active",
             "catalogue_version": "v2"},
            {"claim_id": OTHER, "text": "Video shows ballots burnt", "title": "Ballot video", "variants": [],
             "verdict": "false", "media_category": None, "required_entities": [["ballot"]], "known_media": [],
             "fact_check_urls": ["https://factcheck.example/ballot"], "status": "active", "catalogue_version": "v2"},
        ],
        schema=CLAIMS_SCHEMA,
    ).with_columns(pl.lit(now.date()).alias("_day"))
    _write(data_dir, "claims", claims, "r2")

    runs, health = [], []
    for i, run in enumerate(("r1", "r2")):
        started = d0 + timedelta(days=i, hours=12)
        runs.append({"run_id": run, "started_at": started, "status": "ok" if i else "partial", "catalogue_version": f"v{i + 1}"})
        for platform in ("mastodon", "youtube", "reddit", "news"):
            failed = run == "r1" and platform == "reddit"
            health.append({
                "run_id": run, "source": f"{platform}-demo", "kind": platform, "status": "error" if failed else "ok",
                "items_fetched": 0 if failed else 3, "new": 0 if failed else 2,
                "error": "HTTP 503 from https://www.reddit.com/r/pakistan/new.json; retry later" if failed else None,
                "checked_at": started,
            })
    _write(data_dir, "runs", pl.DataFrame(runs).with_columns(pl.col("started_at").dt.date().alias("_day")), "r2")
    _write(data_dir, "source_health", pl.DataFrame(health).with_columns(pl.col("checked_at").dt.date().alias("_day")), "r2")
    return data_dir


def run_demo(data_dir: Path) -> Path:
    """The bundled demo through the real pipeline (needs the ``prefect_harness`` fixture)."""
    from flows.pipeline import run_pipeline

    run_pipeline(data_dir=str(data_dir), demo=True)
    return data_dir


@pytest.fixture(scope="module")
def demo(tmp_path_factory, prefect_harness) -> Path:
    return run_demo(tmp_path_factory.mktemp("report-demo") / "claimwatch-data")


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    return write_sample_dataset(tmp_path / "data")


def invoke(*args: str):
    app = typer.Typer()
    app.callback()(lambda: None)  # a command group, as in flows.cli, whatever else is registered
    report_command.register(app)
    return CliRunner().invoke(app, ["report", *args])


# --- parsing options -------------------------------------------------------------------------

NOW = datetime(2024, 11, 22, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", NOW - timedelta(days=7)),
        ("24h", NOW - timedelta(hours=24)),
        (" 30m ", NOW - timedelta(minutes=30)),
        ("2W", NOW - timedelta(weeks=2)),
        ("2024-11-20", datetime(2024, 11, 20, tzinfo=UTC)),
        ("2024-11-20T08:30", datetime(2024, 11, 20, 8, 30, tzinfo=UTC)),
        ("2024-11-20T13:30+05:00", datetime(2024, 11, 20, 8, 30, tzinfo=UTC)),
        ("2024-11-20T08:30Z", datetime(2024, 11, 20, 8, 30, tzinfo=UTC)),
    ],
)
def test_since_accepts_dates_and_spans(text, expected):
    assert rep.parse_since(text, now=NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "7 days", "-3d", "2024-13-01", "", "7y"])
def test_since_rejects_anything_else_naming_the_forms(text):
    with pytest.raises(rep.ReportError, match="7d, 24h"):
        rep.parse_since(text, now=NOW)


@pytest.mark.parametrize("text", ["2024-11-23", "2024-11-22T12:01", "2024-11-22T18:00+05:00", "2030-01-01"])
def test_since_in_the_future_is_refused_rather_than_matching_nothing(text):
    with pytest.raises(rep.ReportError, match=r"is in the future \(now 2024-11-22 12:00 UTC\)"):
        rep.parse_since(text, now=NOW)
    assert rep.parse_since("2024-11-22T12:00", now=NOW) == NOW  # now itself is fine


def test_labels_default_to_every_claim_label_and_accept_lists_and_all():
    assert rep.parse_labels(None) == ("likely_misinformation", "needs_review", "debunk")
    assert rep.parse_labels(["debunk, needs_review"]) == ("debunk", "needs_review")
    assert rep.parse_labels(["all"]) == rep.ALL_LABELS
    with pytest.raises(rep.ReportError, match="'spam' is not a label"):
        rep.parse_labels(["likely_misinformation,spam"])


# --- queries ---------------------------------------------------------------------------------


def test_flagged_posts_keep_one_row_per_post_and_claim_with_the_latest_match(sample):
    flags = rep.flagged_posts(sample).collect()
    assert flags.height == 8  # 10 match rows: one no_flag left out, one re-match folded in
    first = flags.filter(pl.col("post_id") == "mastodon:mastodon.social/1").row(0, named=True)
    assert first["score"] == 95.0 and first["catalogue_version"] == "v2"
    assert first["time"] == datetime(2024, 11, 20, 13, 0, tzinfo=UTC)  # published, not flagged
    assert set(flags["kind"]) == {"spreading", "debunking", "other"}


def test_latest_flags_are_newest_first_with_the_report_columns(sample):
    latest = rep.latest_flags(rep.flagged_posts(sample), limit=3)
    assert latest.columns == ["time", "platform", "claim_id", "label", "stance", "score", "url"]
    assert latest["platform"].to_list() == ["mastodon", "telegram", "news"]
    assert latest["time"].is_sorted(descending=True)


def test_daily_counts_split_spreading_from_debunking(sample):
    daily = rep.daily_counts(rep.flagged_posts(sample))
    clip = daily.filter(pl.col("claim_id") == CLIP)
    # the Reddit post spreads the clip but is only needs_review: "other", not "spreading"
    assert clip.select("day", "spreading", "debunking", "other", "total").rows() == [
        (datetime(2024, 11, 20).date(), 2, 0, 1, 3),
        (datetime(2024, 11, 21).date(), 1, 1, 0, 2),
        (datetime(2024, 11, 22).date(), 1, 1, 0, 2),
    ]
    assert daily.filter(pl.col("claim_id") == OTHER)["other"].to_list() == [1]


def test_since_a_date_starts_at_midnight_in_the_chosen_time_zone():
    # midnight in Karachi (UTC+5) is 19:00 UTC the day before
    assert rep.parse_since("2024-11-21", now=NOW, tz="Asia/Karachi") == datetime(2024, 11, 20, 19, tzinfo=UTC)
    assert rep.parse_since("2024-11-21T08:00", now=NOW, tz="Asia/Karachi") == datetime(2024, 11, 21, 3, tzinfo=UTC)
    # an explicit offset wins over --tz
    assert rep.parse_since("2024-11-21T08:00+00:00", now=NOW, tz="Asia/Karachi") == datetime(2024, 11, 21, 8, tzinfo=UTC)
    with pytest.raises(rep.ReportError, match=r"in the future \(now 2024-11-22 17:00 Asia/Karachi\)"):
        rep.parse_since("2024-11-23", now=NOW, tz="Asia/Karachi")


def test_since_and_the_daily_view_count_the_same_day_in_the_same_time_zone(sample):
    # The Reddit post went out at 23:00 UTC on the 20th, 04:00 on the 21st in Karachi. The daily
    # view in Karachi time puts it on the 21st; --since 2024-11-21 --tz Asia/Karachi must keep it.
    def day_21(*extra):
        r = invoke("--data-dir", str(sample), "--view", "daily", "--format", "json", "--claim", CLIP,
                   "--tz", "Asia/Karachi", *extra)
        assert r.exit_code == 0, r.output
        return [d for d in json.loads(r.stdout)["daily"] if d["day"] == "2024-11-21"]

    everything, since = day_21(), day_21("--since", "2024-11-21")
    assert everything and since == everything
    assert since[0]["total"] == 3


def test_days_follow_the_chosen_time_zone(sample):
    # the Reddit post went out at 23:00 UTC on the 20th: 04:00 on the 21st in Karachi
    def days(tz):
        flags = rep.flagged_posts(sample, rep.Filters(claims=(CLIP,), tz=tz))
        return [(d.day, n) for d, n in rep.daily_counts(flags).select("day", "total").rows()]

    assert days("UTC") == [(20, 3), (21, 2), (22, 2)]
    assert days("Asia/Karachi") == [(20, 2), (21, 3), (22, 2)]


def test_filters_narrow_by_since_platform_and_label(sample):
    since = rep.flagged_posts(sample, rep.Filters(since=datetime(2024, 11, 22, tzinfo=UTC))).collect()
    assert since["post_id"].to_list() and (since["time"] >= datetime(2024, 11, 22, tzinfo=UTC)).all()
    yt = rep.flagged_posts(sample, rep.Filters(platforms=("youtube",))).collect()
    assert yt["post_id"].to_list() == ["youtube:AbCdEfGhIj0"]
    debunks = rep.flagged_posts(sample, rep.Filters(labels=("debunk",))).collect()
    assert set(debunks["kind"]) == {"debunking"} and debunks.height == 2


# --- the command -----------------------------------------------------------------------------


def test_report_table_shows_flags_and_daily_counts(sample):
    result = invoke("--data-dir", str(sample))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Flagged posts (latest 8" in out and "Per claim per day" in out
    assert "https://telegram.example/insafpk/101" in out
    header = next(line for line in out.splitlines() if line.startswith("time"))
    assert header.split() == ["time", "platform", "claim_id", "label", "stance", "score", "url"]


def test_report_csv_and_json_are_machine_readable(sample):
    result = invoke("--data-dir", str(sample), "--format", "csv", "--label", "likely_misinformation")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 4 and {r["label"] for r in rows} == {"likely_misinformation"}
    assert rows[0]["time"].startswith("2024-11-22")

    result = invoke("--data-dir", str(sample), "--format", "json", "--claim", CLIP, "--since", "2024-11-21")
    payload = json.loads(result.stdout)
    assert {r["claim_id"] for r in payload["flags"]} == {CLIP}
    assert [d["day"] for d in payload["daily"]] == ["2024-11-21", "2024-11-22"]

    daily = invoke("--data-dir", str(sample), "--format", "csv", "--view", "daily")
    assert daily.stdout.splitlines()[0] == "claim_id,day,spreading,debunking,other,total"


def test_report_limit_and_time_zone(sample):
    result = invoke("--data-dir", str(sample), "--limit", "1", "--view", "flags", "--tz", "Asia/Karachi")
    assert result.exit_code == 0, result.output
    assert "2024-11-22 19:00  mastodon" in result.stdout  # published 14:00 UTC, 19:00 in Karachi
    assert "latest 1;" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "last week"], "--since 'last week' is neither"),
        (["--label", "fake"], "--label 'fake' is not a label"),
        (["--claim", "no-such-claim"], "--claim 'no-such-claim' does not occur"),
        (["--platform", "myspace"], "--platform 'myspace' does not occur"),
        (["--tz", "Mars/Olympus"], "--tz 'Mars/Olympus' is not a known time zone"),
        (["--format", "csv", "--view", "both"], "add --view flags or --view daily"),
        (["--plot", "out.svg"], "ending in .png"),
        (["--since="], "--since '' is neither"),
        (["--claim="], "--claim is empty; give a value or leave the option out"),
        (["--platform", " , "], "--platform is empty; give a value or leave the option out"),
        (["--label="], "--label is empty; use one of"),
    ],
)
def test_report_bad_options_give_one_clear_line(sample, args, message):
    result = invoke("--data-dir", str(sample), *args)
    assert result.exit_code == 2  # a bad option value is a usage mistake, like an unknown option
    assert message in result.stderr
    assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1


def test_platform_and_claim_match_whatever_their_case(sample):
    for args in (["--platform", "Youtube"], ["--platform", "YOUTUBE,youtube"], ["--claim", CLIP.upper(), "--platform", "YouTube"]):
        result = invoke("--data-dir", str(sample), "--format", "json", "--view", "flags", *args)
        assert result.exit_code == 0, result.output
        assert [f["post_id"] if "post_id" in f else f["url"] for f in json.loads(result.stdout)["flags"]] == [
            "https://youtube.example/AbCdEfGhIj0"]


def test_exit_codes_are_two_for_usage_and_one_for_data_and_the_help_says_so(sample, tmp_path):
    usage = [["--tz", "Nowhere/Else"], ["--since", "soon"], ["--label", "x"], ["--platform", "myspace"],
             ["--format", "csv", "--view", "both"], ["--plot", str(tmp_path / "missing" / "x.png")],
             ["--limit", "-1"], ["--no-such-option"]]
    for args in usage:
        assert invoke("--data-dir", str(sample), *args).exit_code == 2, args
    junk = sample / "posts" / "date=2024-11-20" / "part-junk.parquet"
    junk.write_text("not parquet")
    assert invoke("--data-dir", str(sample)).exit_code == 1
    assert invoke("--data-dir", str(tmp_path / "nowhere")).exit_code == 1
    help_text = " ".join(invoke("--help").stdout.split())
    assert "Exit codes: 0 done; 1 the data cannot be used" in help_text and "2 a bad option value or usage" in help_text


def test_missing_or_empty_data_dir_says_to_run_first(tmp_path):
    for path in (tmp_path / "nowhere", tmp_path):
        result = invoke("--data-dir", str(path))
        assert result.exit_code == 1
        assert result.stderr.strip().splitlines() == [
            f"claimwatch report: no claimwatch data in {path} "
            + ("(directory missing)" if path.name == "nowhere" else "(no Parquet files)")
            + f": run `claimwatch run --data-dir {path}` first"
        ]


def test_filters_that_match_nothing_say_so(sample):
    result = invoke("--data-dir", str(sample), "--platform", "youtube", "--label", "debunk")
    assert result.exit_code == 0
    assert result.stdout.count("none match these filters") == 2


def test_json_with_no_rows_is_still_a_document_with_both_lists(sample):
    result = invoke("--data-dir", str(sample), "--format", "json", "--platform", "youtube", "--label", "debunk")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"flags": [], "daily": []}
    only_daily = invoke("--data-dir", str(sample), "--format", "json", "--view", "daily", "--claim", OTHER, "--label", "debunk")
    assert json.loads(only_daily.stdout) == {"daily": []}
    csv_out = invoke("--data-dir", str(sample), "--format", "csv", "--platform", "youtube", "--label", "debunk")
    assert csv_out.stdout == "time,platform,claim_id,label,stance,score,url\n"


def test_since_in_the_future_is_one_line_at_the_command(sample):
    result = invoke("--data-dir", str(sample), "--since", "2999-01-01")
    assert result.exit_code == 2
    assert result.stderr.startswith("claimwatch report: --since '2999-01-01' is in the future (now ")
    assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""


def test_a_junk_part_file_is_named_in_one_line(sample):
    junk = sample / "matches" / "date=2024-11-21" / "part-junk.parquet"
    junk.write_text("not parquet at all\n", encoding="utf-8")
    for args in ((), ("--format", "json"), ("--claim", CLIP), ("--view", "daily")):
        result = invoke("--data-dir", str(sample), *args)
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output and result.stdout == ""
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith(f"claimwatch report: {junk}: ") and "move it away or delete it" in line


def test_a_part_file_with_damaged_data_is_named_in_one_line(sample):
    part = sample / "posts" / "date=2024-11-20" / "part-r1.parquet"
    data = bytearray(part.read_bytes())
    data[8 : len(data) // 2] = b"\x55" * (len(data) // 2 - 8)  # magic bytes and footer intact
    part.write_bytes(bytes(data))
    result = invoke("--data-dir", str(sample))
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"claimwatch report: {part}: ") and "move it away or delete it" in line


def test_a_dataset_without_posts_still_reports_its_matches(sample):
    import shutil

    shutil.rmtree(sample / "posts")
    flags = rep.flagged_posts(sample).collect()
    assert flags.height == 8
    assert flags["source"].null_count() == flags["author"].null_count() == 8
    assert set(flags["platform"]) == {"mastodon", "youtube", "reddit", "news", "bluesky", "telegram"}  # from post_id
    result = invoke("--data-dir", str(sample), "--format", "json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["flags"]) == 8


def test_a_dataset_with_only_runs_says_nothing_is_matched_yet(sample):
    import shutil

    for table in ("posts", "matches", "claims", "source_health"):
        shutil.rmtree(sample / table)
    result = invoke("--data-dir", str(sample), "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"flags": [], "daily": []}
    assert result.stderr.strip().splitlines() == [
        f"claimwatch report: {sample} has no matches yet, so nothing is flagged; "
        f"`claimwatch run --data-dir {sample}` matches the posts it fetches"
    ]


def test_a_file_given_as_data_dir_is_refused(sample):
    part = next((sample / "runs").glob("date=*/*.parquet"))
    result = invoke("--data-dir", str(part))
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"claimwatch report: {part} is a file, not a claimwatch data dir: "
        "pass the folder given to `claimwatch run --data-dir`"
    )


# --- on what the demo pipeline writes ----------------------------------------------------------


@pytest.mark.prefect
def test_report_on_the_demo_shows_the_clip_spreading_and_debunked(demo):
    result = invoke("--data-dir", str(demo), "--format", "json", "--limit", "0")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    flags, daily = payload["flags"], payload["daily"]
    assert flags and {f["label"] for f in flags} <= set(rep.DEFAULT_LABELS)
    assert all(f["url"].startswith("https://") and f["claim_id"] for f in flags)
    clip = [d for d in daily if d["claim_id"] == CLIP]
    assert sum(d["spreading"] for d in clip) >= 3 and sum(d["debunking"] for d in clip) >= 1
    assert sum(d["total"] for d in daily) == len(flags)
    platforms = {f["platform"] for f in flags}
    assert len(platforms) >= 3, platforms

    table = invoke("--data-dir", str(demo), "--claim", CLIP, "--label", "likely_misinformation", "--view", "flags")
    rows = [line for line in table.stdout.splitlines()[3:] if line.strip()]
    assert rows and all(CLIP in line and "likely_misinformation" in line for line in rows)


@pytest.mark.prefect
def test_report_reads_the_same_after_a_second_run_and_compaction(demo, tmp_path):
    import shutil

    from flows.pipeline import compact_dataset

    before = json.loads(invoke("--data-dir", str(demo), "--format", "json", "--limit", "0").stdout)
    copy = tmp_path / "claimwatch-data"
    shutil.copytree(demo, copy)
    run_demo(copy)  # the same window again: nothing new
    parts = len(list(copy.glob("**/*.parquet")))
    compact_dataset(data_dir=str(copy))
    assert len(list(copy.glob("**/*.parquet"))) < parts
    after = json.loads(invoke("--data-dir", str(copy), "--format", "json", "--limit", "0").stdout)
    assert after == before


@pytest.mark.prefect
def test_every_stored_demo_post_with_text_has_a_language(demo):
    from connectors.lang import MIN_LETTERS

    posts = pl.read_parquet(sorted(demo.glob("posts/date=*/*.parquet")))
    letters = (pl.concat_str([pl.col("title").fill_null(""), pl.col("text").fill_null(""),
                              pl.col("transcript").fill_null("")], separator="\n")
               .str.count_matches(r"\p{L}"))
    missing = posts.filter((letters >= MIN_LETTERS) & pl.col("lang").is_null())
    assert missing.is_empty(), missing.select("post_id", "text").rows()
    # Telegram and YouTube give no language: these were detected, Roman Urdu included
    detected = posts.filter(pl.col("platform").is_in(["telegram", "youtube"]))
    assert detected.height and detected["lang"].null_count() == 0
    assert "roman-ur" in detected["lang"].to_list()
