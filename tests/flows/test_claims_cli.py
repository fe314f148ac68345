import json
import re
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from flows.commands import claims as claims_cmd

ROOT = Path(__file__).resolve().parents[2]
CR = ROOT / "tests" / "connectors" / "fixtures" / "claimreview"

ACTIVE = {
    "claim_id": "edited-clip", "status": "active", "title": "Edited clip", "text": "A clip was edited.",
    "verdict": "altered", "required_entities": [["trump"], ["khan"]],
    "fact_checks": [{"publisher": "Desk", "url": "https://factcheck.example/a", "date": "2024-11-20", "rating": "Altered"}],
}
IMPORTED = {"claim_id": "imported-one", "status": "imported", "title": "Imported", "text": "An imported claim.",
            "verdict": "false", "fact_checks": [{"url": "https://factcheck.example/b"}]}
NO_FACT_CHECK = {"claim_id": "no-source", "status": "imported", "text": "A claim without a fact check."}


@pytest.fixture
def claims_dir(tmp_path):
    d = tmp_path / "claims"
    (d / "imported").mkdir(parents=True)
    (d / "edited-clip.yaml").write_text("# kept comment\n" + yaml.safe_dump(ACTIVE, sort_keys=False))
    (d / "imported" / "imported-one.yaml").write_text(yaml.safe_dump(IMPORTED, sort_keys=False))
    (d / "imported" / "no-source.yaml").write_text(yaml.safe_dump(NO_FACT_CHECK, sort_keys=False))
    return d


def cli(*args):
    app = typer.Typer()
    app.callback()(lambda: None)
    claims_cmd.register(app)
    return CliRunner().invoke(app, ["claims", *map(str, args)])


def status_of(path):
    return yaml.safe_load(Path(path).read_text())["status"]


def test_list_shows_id_status_verdict_title(claims_dir):
    r = cli("list", "--claims", claims_dir)
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["ID", "STATUS", "VERDICT", "TITLE"]
    assert lines[1].split()[:4] == ["edited-clip", "active", "altered", "Edited"]
    assert [line.split()[0] for line in lines[1:]] == ["edited-clip", "imported-one", "no-source"]


def test_list_filters_by_status_and_speaks_json(claims_dir):
    r = cli("list", "--claims", claims_dir, "--status", "imported", "--json")
    assert [json.loads(line)["claim_id"] for line in r.stdout.splitlines()] == ["imported-one", "no-source"]
    bad = cli("list", "--claims", claims_dir, "--status", "pending")
    assert bad.exit_code == 2 and "--status must be" in bad.stderr


def test_show_prints_the_file_and_fields(claims_dir):
    r = cli("show", "edited-clip", "--claims", claims_dir)
    assert r.exit_code == 0 and r.stdout.startswith(f"# {claims_dir / 'edited-clip.yaml'}")
    shown = yaml.safe_load(r.stdout)
    assert shown["fact_checks"][0]["url"] == "https://factcheck.example/a"
    missing = cli("show", "nope", "--claims", claims_dir)
    assert missing.exit_code == 2 and "no claim 'nope'" in missing.stderr  # a mistyped id is bad input


def test_approve_makes_an_imported_claim_active_and_keeps_the_rest_of_the_file(claims_dir):
    path = claims_dir / "imported" / "imported-one.yaml"
    before = path.read_text()
    r = cli("approve", "imported-one", "--claims", claims_dir)
    assert r.exit_code == 0 and "approved imported-one" in r.stdout
    assert status_of(path) == "active"
    assert path.read_text() == before.replace("status: imported", "status: active")
    assert not list(path.parent.glob(".*.tmp"))  # the atomic write left no temporary file


def test_approve_refuses_active_claims_and_claims_without_a_fact_check(claims_dir):
    r = cli("approve", "edited-clip", "--claims", claims_dir)
    assert r.exit_code == 2 and "is active; only imported claims are approved" in r.stderr  # usage
    r = cli("approve", "no-source", "--claims", claims_dir)
    assert r.exit_code == 1 and "has no fact_checks" in r.stderr  # the claim's data needs a fix
    assert status_of(claims_dir / "imported" / "no-source.yaml") == "imported"


def test_retire_keeps_comments_and_is_idempotent(claims_dir):
    r = cli("retire", "edited-clip", "--claims", claims_dir)
    assert r.exit_code == 0
    text = (claims_dir / "edited-clip.yaml").read_text()
    assert text.startswith("# kept comment\n") and status_of(claims_dir / "edited-clip.yaml") == "retired"
    again = cli("retire", "edited-clip", "--claims", claims_dir)
    assert again.exit_code == 0 and "already retired" in again.stdout


def test_import_a_fact_check_page_writes_imported_yaml_that_the_catalogue_loads(claims_dir):
    r = cli("import", CR / "single.html", "--claims", claims_dir)
    assert r.exit_code == 0, r.output
    (written,) = [p for p in (claims_dir / "imported").glob("cr-*.yaml")]
    claim = yaml.safe_load(written.read_text())
    assert claim["status"] == "imported" and claim["verdict"] == "altered"
    assert claim["fact_checks"][0]["url"] == "https://factcheck.example/doc/trump-khan-clip"
    assert claim["known_media"][0] == "youtube:dQw4w9WgXcQ"
    listed = cli("list", "--claims", claims_dir, "--status", "imported", "--json")
    assert claim["claim_id"] in listed.stdout
    approve = cli("approve", claim["claim_id"], "--claims", claims_dir)
    assert approve.exit_code == 0 and status_of(written) == "active"


def test_import_jsonl_from_parse_and_never_overwrite(claims_dir, tmp_path):
    from connectors import claimreview

    rows = claimreview.parse((CR / "list.html").read_bytes())
    jsonl = tmp_path / "reviews.jsonl"
    jsonl.write_text("\n".join(json.dumps({**r, "source_file": "list.html"}) for r in rows) + "\n")
    first = cli("import", jsonl, "--claims", claims_dir)
    assert first.exit_code == 0 and "2 imported, 0 already present, 0 failed" in first.stdout
    target = claims_dir / "imported" / f"{rows[0]['claim_id']}.yaml"
    target.write_text(target.read_text() + "# reviewer note\n")
    second = cli("import", jsonl, "--claims", claims_dir)
    assert second.exit_code == 0 and "0 imported, 2 already present" in second.stdout
    assert target.read_text().endswith("# reviewer note\n")


def test_import_bad_inputs_are_one_line_each_and_the_rest_goes_on(claims_dir, tmp_path):
    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text('{"claim_id": "Bad ID!", "text": "x"}\n')
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n")
    r = cli("import", CR / "none.html", bad_json, broken, tmp_path / "missing.html", CR / "graph.html",
            "--claims", claims_dir)
    assert r.exit_code == 2  # a file that does not exist is a bad argument
    errors = r.stderr.splitlines()
    assert len(errors) == 4 and "Traceback" not in r.output
    assert "no ClaimReview markup" in errors[0]
    assert "must match [a-z0-9-]+" in errors[1]
    assert "line 1: not valid JSON" in errors[2]
    assert "no such file" in errors[3]
    assert "1 imported" in r.stdout


def test_import_data_problems_exit_one_and_bad_arguments_two(claims_dir, tmp_path):
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n")
    assert cli("import", broken, "--claims", claims_dir).exit_code == 1
    assert cli("import", CR / "none.html", "--claims", claims_dir).exit_code == 1
    assert cli("import", tmp_path / "nope.jsonl", "--claims", claims_dir).exit_code == 2
    assert cli("retire", "nope", "--claims", claims_dir).exit_code == 2
    assert cli("approve", "nope", "--claims", claims_dir).exit_code == 2
    assert cli("list", "--no-such-option").exit_code == 2
    help_text = " ".join(cli("--help").stdout.split())
    assert "Exit codes: 0 done; 1 the data cannot be used or written" in help_text
    assert "2 a bad input or usage" in help_text


def test_imported_claims_get_readable_ids_and_titles(claims_dir, tmp_path):
    page = (CR / "single.html").read_text().replace(
        '"https://factcheck.example/doc/trump-khan-clip"', '"https://factcheck.example/news/30279001"')
    page = page.replace('"@type": "ClaimReview",', '"@type": "ClaimReview", "headline": "Fact Check: Is a video of '
                        'Trump pledging to free Imran Khan real? - News Nation",', 1)
    saved = tmp_path / "review.html"
    saved.write_text(page)
    r = cli("import", saved, "--claims", claims_dir)
    assert r.exit_code == 0, r.output
    (written,) = (claims_dir / "imported").glob("cr-*.yaml")
    claim = yaml.safe_load(written.read_text())
    assert re.fullmatch(r"cr-donald-trump-promising-work-release-imran-khan-[0-9a-f]{10}", claim["claim_id"]), claim["claim_id"]
    assert claim["title"] == "Is a video of Trump pledging to free Imran Khan real?"
    # a re-import finds it, and so does one of a claim imported before under an unreadable id
    again = cli("import", saved, "--claims", claims_dir)
    assert again.exit_code == 0 and "0 imported, 1 already present" in again.stdout
    digest = claim["claim_id"].rsplit("-", 1)[1]
    old_id = f"cr-30279001-{digest}"
    written.rename(written.with_name(f"{old_id}.yaml"))
    moved = written.with_name(f"{old_id}.yaml")
    moved.write_text(moved.read_text().replace(claim["claim_id"], old_id))
    third = cli("import", saved, "--claims", claims_dir)
    assert third.exit_code == 0 and f"already in the catalogue as {old_id}" in third.stdout
    assert sorted(p.name for p in (claims_dir / "imported").glob("cr-*.yaml")) == [f"{old_id}.yaml"]


def test_a_broken_catalogue_is_reported_not_raised(tmp_path):
    d = tmp_path / "claims"
    d.mkdir()
    (d / "x.yaml").write_text("claim_id: [unclosed\n")
    r = cli("list", "--claims", d)
    assert r.exit_code == 2 and "not valid YAML" in r.stderr and "Traceback" not in r.output


def test_default_claims_dir_is_the_projects_catalogue(monkeypatch):
    monkeypatch.delenv("CLAIMWATCH_HOME", raising=False)
    assert claims_cmd.DEFAULT_CLAIMS_DIR == ROOT / "rules" / "claims"
    r = cli("list", "--json")
    assert r.exit_code == 0 and "trump-khan-release-clip" in r.stdout


@pytest.mark.parametrize("command", [["list"], ["show", "edited-clip"], ["approve", "imported-one"],
                                     ["retire", "edited-clip"], ["import", "x.jsonl"]])
def test_the_catalogue_option_is_claims_as_in_run_and_the_old_name_is_hidden(command):
    help_text = _words(cli(*command[:1], "--help").stdout)
    assert "--claims <path> Claim catalogue folder, as in `claimwatch run --claims`" in help_text
    assert "--claims-dir" not in help_text


def test_the_old_claims_dir_name_still_works(claims_dir):
    for args in (["--claims-dir", claims_dir], [f"--claims-dir={claims_dir}"]):
        r = cli("list", *args, "--status", "imported", "--json")
        assert r.exit_code == 0, r.output
        assert sorted(json.loads(line)["claim_id"] for line in r.stdout.splitlines()) == ["imported-one", "no-source"]


def test_claims_and_run_name_the_catalogue_folder_alike():
    from flows.commands import run as run_cmd

    app = typer.Typer()
    app.callback()(lambda: None)
    run_cmd.register(app)
    claims_cmd.register(app)
    run_help = _words(CliRunner().invoke(app, ["run", "--help"]).stdout)
    list_help = _words(CliRunner().invoke(app, ["claims", "list", "--help"]).stdout)
    assert "--claims <path> Claim catalogue folder" in run_help
    assert "--claims <path> Claim catalogue folder" in list_help


def _words(help_text: str) -> str:
    """Help text without the boxes and line breaks of rich's layout."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", help_text).split())


# --- verdicts -------------------------------------------------------------------------------------

TRUE_PAGE = ROOT / "tests" / "flows" / "fixtures" / "claimreview_rated_true.html"


@pytest.mark.parametrize("verdict", ["true", "mostly-true"])
def test_approve_refuses_a_claim_rated_true_in_one_line_and_changes_nothing(claims_dir, verdict):
    path = claims_dir / "imported" / "rated-true.yaml"
    path.write_text(yaml.safe_dump({**IMPORTED, "claim_id": "rated-true", "verdict": verdict,
                                    "fact_checks": [{"url": "https://factcheck.example/t", "rating": "Correct"}]}))
    before = path.read_bytes()
    r = cli("approve", "rated-true", "--claims", claims_dir)
    assert r.exit_code == 2 and len(r.stderr.splitlines()) == 1
    assert f"is rated '{verdict}'" in r.stderr and 'rating "Correct"' in r.stderr and "never approved" in r.stderr
    assert path.read_bytes() == before and status_of(path) == "imported"


def test_approve_refuses_a_claim_without_a_verdict_and_notes_a_review_only_one(claims_dir):
    path = claims_dir / "imported" / "unrated.yaml"
    path.write_text(yaml.safe_dump({**IMPORTED, "claim_id": "unrated", "verdict": None}))
    r = cli("approve", "unrated", "--claims", claims_dir)
    assert r.exit_code == 2 and "has no verdict; set `verdict:`" in r.stderr and status_of(path) == "imported"
    path.write_text(yaml.safe_dump({**IMPORTED, "claim_id": "unrated", "verdict": "unproven"}))
    r = cli("approve", "unrated", "--claims", claims_dir)
    assert r.exit_code == 0 and "rated 'unproven'" in r.stdout and "at most needs_review" in r.stdout
    assert status_of(path) == "active"


def test_import_reads_the_publishers_rating_onto_the_scale(claims_dir, tmp_path):
    rows = [{"claim_id": "half", "text": "Half of it is true.", "rating": "Half True", "url": "https://f.example/h",
             "fact_checks": [{"url": "https://f.example/h", "rating": "Half True"}]},
            {"claim_id": "num", "text": "Numeric rating only.", "rating": None, "rating_value": "2", "best_rating": "5",
             "worst_rating": "1", "fact_checks": [{"url": "https://f.example/n"}]},
            {"claim_id": "odd", "text": "A rating nobody reads.", "rating": "Discredited source",
             "fact_checks": [{"url": "https://f.example/o"}]}]
    jsonl = tmp_path / "rows.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert cli("import", jsonl, "--claims", claims_dir).exit_code == 0
    verdicts = {r["claim_id"]: yaml.safe_load((claims_dir / "imported" / f"{r['claim_id']}.yaml").read_text()).get("verdict")
                for r in rows}
    assert verdicts == {"half": "mixture", "num": "misleading", "odd": None}


def test_a_claimreview_page_rated_true_never_flags_a_post(claims_dir):
    """Import a fact check that rates its claim true: approving it is refused, and even when a
    curator sets it active by hand, posts stating the true fact are never likely_misinformation."""
    import polars as pl

    from rules.catalogue import load_catalogue, set_status
    from rules.match import Matcher

    r = cli("import", TRUE_PAGE, "--claims", claims_dir)
    assert r.exit_code == 0, r.output
    (path,) = (claims_dir / "imported").glob("cr-*oxygen-bar*.yaml")
    claim = yaml.safe_load(path.read_text())
    assert (claim["verdict"], claim["fact_checks"][0]["rating"]) == ("true", "True")
    before = path.read_bytes()
    approve = cli("approve", claim["claim_id"], "--claims", claims_dir)
    assert approve.exit_code == 2 and "is rated 'true'" in approve.stderr and path.read_bytes() == before

    posts = pl.DataFrame({"post_id": ["exact", "news", "hype", "roman", "question"], "text": [
        "An oxygen bar has opened in Delhi where customers pay to breathe purified oxygen",
        "Delhi now has an oxygen bar: customers pay Rs 299 to breathe purified oxygen for 15 minutes",
        "BREAKING!! Oxygen bar opened in Delhi, pay and breathe purified oxygen, share with everyone",
        "Delhi mein oxygen bar khul gaya, paise do aur saaf oxygen lo",
        "Is it true an oxygen bar opened in Delhi where you pay to breathe oxygen?",
    ]})
    for status in ("imported", "active"):  # as imported, and as if a curator forced it active
        set_status(path, status)
        out = Matcher(load_catalogue(claims_dir)).match(posts)
        mine = out.filter(pl.col("claim_id") == claim["claim_id"])
        assert mine.height >= 3, out  # the posts do match the claim ...
        assert "likely_misinformation" not in out["label"].to_list()  # ... and none is flagged
    labels = dict(zip(mine["post_id"], mine["label"]))
    assert labels["exact"] == labels["news"] == "no_flag"
DEMO_CLIP = ROOT / "flows" / "demo" / "media" / "demo-clip.mp4"


def test_add_media_fingerprints_a_clip_into_known_media_and_keeps_the_file(claims_dir, tmp_path):
    from rules.catalogue import load_catalogue

    r = cli("add-media", "edited-clip", DEMO_CLIP, "--claims", claims_dir, "--note", "first upload")
    assert r.exit_code == 0, r.output
    assert "added phash fingerprint of demo-clip.mp4 (video" in r.output and "known copy 1" in r.output
    text = (claims_dir / "edited-clip.yaml").read_text()
    assert text.startswith("# kept comment\n")
    fp = load_catalogue(claims_dir).get("edited-clip").fingerprints[0]
    assert fp.kind == "video" and len(set(fp.frame_times)) > 100 and fp.note == "first upload" and fp.source == "demo-clip.mp4"
    assert len(fp.regions) == len(fp.hashes) and {"full", "c5", "tl10"} <= set(fp.regions)
    again = cli("add-media", "edited-clip", DEMO_CLIP, "--claims", claims_dir)
    assert again.exit_code == 0 and "already a known copy" in again.output


def test_add_media_refuses_what_is_not_a_picture_or_video_in_one_line(claims_dir, tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("not a video")
    before = (claims_dir / "edited-clip.yaml").read_text()
    r = cli("add-media", "edited-clip", bad, "--claims", claims_dir)
    assert r.exit_code == 1
    assert r.output.strip().splitlines() == [f"claimwatch claims: {bad}: neither a picture (JPEG, PNG, WebP, GIF, BMP) "
                                             "nor a video (MP4, WebM, MPEG-TS)"]
    assert (claims_dir / "edited-clip.yaml").read_text() == before
    assert cli("add-media", "nope", DEMO_CLIP, "--claims", claims_dir).exit_code == 2
