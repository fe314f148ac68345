"""The reviewer loop end to end: a run flags a true post, a reviewer marks it "true content", the
next run no longer flags it nor a close paraphrase of it, and ``report --quality`` shows the
verdict.

Two runs of the real pipeline over recorded responses (a JSON Feed served by the replay
transport; the second run's feed adds the paraphrase and a post that really spreads the claim),
against a one-claim catalogue written here, so catalogue edits elsewhere cannot move the test.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.store import Store
from tests.flows.test_label import CLAIM, CLAIM_YAML, PARAPHRASE, SPREADING, TRUE_POST
from tests.flows.test_run_demo import protect_env

pytestmark = [pytest.mark.prefect]

FEED = "https://news.example.pk/feed.json"
SOURCES = f"""\
[settings]
user_agent = "claimwatch-test/0.1 (+mailto:desk@example.org)"
allow_private_links = true

# the loop is about counter-examples, not stance: the cue lists read the calm true report as
# spreading (the claim has no true statement yet), where the stance model is unsure of it and
# would send it to review without a flag to lift
[matching]
stance = "cues"

[[sources]]
name = "pk-news"
kind = "rss"
url = "{FEED}"
"""


def post_id(item: dict) -> str:
    return f"news:{item['url']}"


def write_feed(folder: Path, name: str, items: list[dict]) -> Path:
    (folder / f"{name}.json").write_text(json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "PK News",
                                                     "language": "en", "items": items}), encoding="utf-8")
    manifest = folder / f"{name}.toml"
    manifest.write_text(f'[[response]]\nurl = "{FEED}"\nfile = "{name}.json"\n'
                        'content_type = "application/feed+json; charset=utf-8"\n', encoding="utf-8")
    return manifest


def latest(data_dir: Path) -> dict[str, tuple[str, str]]:
    m = Store(data_dir).read("matches").filter(pl.col("claim_id") == CLAIM)
    m = m.sort("flagged_at").unique(["post_id", "claim_id"], keep="last")
    return {r["post_id"]: (r["label"], r["evidence"]) for r in m.iter_rows(named=True)}


def test_a_true_post_marked_true_content_is_not_flagged_again_nor_its_paraphrase(tmp_path, prefect_harness):
    claims = tmp_path / "claims"
    claims.mkdir()
    (claims / f"{CLAIM}.yaml").write_text(CLAIM_YAML, encoding="utf-8")
    sources = tmp_path / "sources.toml"
    sources.write_text(SOURCES, encoding="utf-8")
    first_feed = write_feed(tmp_path, "first", [TRUE_POST])
    second_feed = write_feed(tmp_path, "second", [SPREADING, PARAPHRASE, TRUE_POST])
    data = tmp_path / "claimwatch-data"
    runner = CliRunner()

    def cw(*args):
        with pytest.MonkeyPatch.context() as mp:
            protect_env(mp)
            return runner.invoke(app, [str(a) for a in args])

    run = ("run", "--sources", sources, "--claims", claims, "--data-dir", data)
    first = cw(*run, "--replay", first_feed)
    assert first.exit_code == 0, first.output
    assert latest(data)[post_id(TRUE_POST)][0] == "likely_misinformation", "the first run must flag the true post"

    queue = json.loads(cw("review", "list", "--format", "json", "--data-dir", data).stdout)["queue"]
    assert [(q["post_id"], q["claim_id"]) for q in queue] == [(post_id(TRUE_POST), CLAIM)]
    marked = cw("review", "mark", post_id(TRUE_POST), CLAIM, "true content", "--reviewer", "ayesha",
                "--note", "the real roadside fire of May 2024", "--data-dir", data)
    assert marked.exit_code == 0, marked.output

    second = cw(*run, "--replay", second_feed)
    assert second.exit_code == 0, second.output
    now = latest(data)
    assert now[post_id(SPREADING)][0] == "likely_misinformation", now  # the claim itself still flags
    for item in (TRUE_POST, PARAPHRASE):
        label, evidence = now.get(post_id(item), ("no row", ""))
        assert label == "no_flag", (item["title"], label, evidence)
        # the evidence says why: the reviewed post, as the reviewer saw it
        assert evidence.startswith("closer to true statement: Fire near Faisal Mosque in Islamabad A roadside fire"), evidence
    queue = json.loads(cw("review", "list", "--format", "json", "--data-dir", data).stdout)["queue"]
    assert [(q["post_id"], q["claim_id"]) for q in queue] == [(post_id(SPREADING), CLAIM)]  # the judged post left it

    # claimwatch label with the data dir labels a batch as the run did; without it, as before review
    batch = tmp_path / "batch.jsonl"
    batch.write_text("".join(json.dumps({"post_id": post_id(i), "title": i["title"], "text": i["content_text"]}) + "\n"
                             for i in (TRUE_POST, PARAPHRASE, SPREADING)), encoding="utf-8")
    for extra, expected in (((), "likely_misinformation"), (("--data-dir", data), "no_flag")):
        out = tmp_path / f"labels{len(extra)}.csv"
        res = cw("label", "--posts", batch, "--claims", claims, "--out", out, "--set", "stance=cues", *extra)
        assert res.exit_code == 0, res.output
        labels = dict(pl.read_csv(out).filter(pl.col("claim_id") == CLAIM).select("post_id", "label").rows())
        assert labels[post_id(PARAPHRASE)] == labels[post_id(TRUE_POST)] == expected, (extra, labels)
        assert labels[post_id(SPREADING)] == "likely_misinformation"

    quality = cw("report", "--quality", "--format", "json", "--data-dir", data)
    assert quality.exit_code == 0, quality.output
    rows = {(r["by"], r["value"]): r for r in json.loads(quality.stdout)["quality"]}
    clip = rows[("claim", CLAIM)]
    assert (clip["label"], clip["reviewed"], clip["true_content"], clip["confirmed"], clip["precision"]) == \
        ("likely_misinformation", 1, 1, 0, 0.0)
    assert rows[("platform", "news")]["true_content"] == 1 and rows[("language", "en")]["reviewed"] == 1
