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
    assert missing.exit_code == 1 and "no claim 'nope'" in missing.stderr


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
    assert r.exit_code == 1 and "is active; only imported claims are approved" in r.stderr
    r = cli("approve", "no-source", "--claims", claims_dir)
    assert r.exit_code == 1 and "has no fact_checks" in r.stderr
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
    assert r.exit_code == 1
    errors = r.stderr.splitlines()
    assert len(errors) == 4 and "Traceback" not in r.output
    assert "no ClaimReview markup" in errors[0]
    assert "must match [a-z0-9-]+" in errors[1]
    assert "line 1: not valid JSON" in errors[2]
    assert "no such file" in errors[3]
    assert "1 imported" in r.stdout


def test_a_broken_catalogue_is_reported_not_raised(tmp_path):
    d = tmp_path / "claims"
    d.mkdir()
    (d / "x.yaml").write_text("claim_id: [unclosed\n")
    r = cli("list", "--claims", d)
    assert r.exit_code == 2 and "not valid YAML" in r.stderr and "Traceback" not in r.output


def test_default_claims_dir_is_the_projects_catalogue():
    assert claims_cmd.DEFAULT_CLAIMS_DIR == ROOT / "rules" / "claims"
    assert cli("list").exit_code == 0


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
    assert cli("add-media", "nope", DEMO_CLIP, "--claims", claims_dir).exit_code == 1
