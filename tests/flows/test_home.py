"""A claim catalogue outside the package: CLAIMWATCH_HOME, --claims, `claimwatch init`, and no
writes into an installed package (proved with a real non-editable install into a temporary venv)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from flows import home
from flows.commands import claims as claims_cmd
from flows.commands import init as init_cmd

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "tests" / "connectors" / "fixtures" / "claimreview" / "single.html"


def cli(*args, env=None):
    app = typer.Typer()
    app.callback()(lambda: None)
    claims_cmd.register(app)
    init_cmd.register(app)
    return CliRunner().invoke(app, [*map(str, args)], env=env)


def shipped_files():
    return sorted(p.relative_to(home.SHIPPED_CLAIMS_DIR) for p in home.SHIPPED_CLAIMS_DIR.rglob("*.yaml"))


def test_the_catalogue_is_the_option_then_claimwatch_home_then_the_shipped_one(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("CLAIMWATCH_HOME", raising=False)
    assert home.claims_dir() == home.SHIPPED_CLAIMS_DIR
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("CLAIMWATCH_HOME", str(tmp_path))
    assert home.claims_dir() == home.SHIPPED_CLAIMS_DIR  # no claims/ there yet: said once, on stderr
    assert home.claims_dir() == home.SHIPPED_CLAIMS_DIR
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (f"claimwatch: CLAIMWATCH_HOME={tmp_path} holds no claims folder; using the shipped catalogue "
                    f"{home.SHIPPED_CLAIMS_DIR} (run `claimwatch init {tmp_path}` to make one there)")
    (tmp_path / "rules" / "claims").mkdir(parents=True)
    assert home.claims_dir() == tmp_path / "rules" / "claims"  # CLAIMWATCH_HOME is a checkout
    (tmp_path / "claims").mkdir()
    assert home.claims_dir() == tmp_path / "claims"  # made by claimwatch init: it wins
    assert home.claims_dir(tmp_path / "other") == tmp_path / "other"


def test_init_copies_the_shipped_catalogue_and_says_what_to_set(tmp_path, monkeypatch):
    from rules.catalogue import load_catalogue

    monkeypatch.delenv("CLAIMWATCH_HOME", raising=False)
    r = cli("init", tmp_path / "desk")
    assert r.exit_code == 0, r.output
    dest = tmp_path / "desk" / "claims"
    assert f"export CLAIMWATCH_HOME={(tmp_path / 'desk').resolve()}" in r.stdout
    assert sorted(p.relative_to(dest) for p in dest.rglob("*.yaml")) == shipped_files()
    assert (dest / "imported").is_dir()
    assert load_catalogue(dest).version == load_catalogue(home.SHIPPED_CLAIMS_DIR).version
    # never overwrites: an edited catalogue stays as it is
    (dest / "note.yaml").write_text("# mine\n")
    again = cli("init", tmp_path / "desk")
    assert again.exit_code == 2 and "exists already; it is left as it is" in again.stderr
    assert (dest / "note.yaml").read_text() == "# mine\n"
    assert cli("init", PAGE).exit_code == 2  # a file, not a folder


def test_claims_commands_read_and_write_the_catalogue_claimwatch_home_names(tmp_path, monkeypatch):
    monkeypatch.setenv("CLAIMWATCH_HOME", str(tmp_path))
    assert cli("init").exit_code == 0  # DIR defaults to CLAIMWATCH_HOME
    r = cli("claims", "import", PAGE)
    assert r.exit_code == 0, r.output
    (written,) = (tmp_path / "claims" / "imported").glob("cr-*.yaml")
    cid = written.stem
    assert cli("claims", "approve", cid).exit_code == 0
    assert yaml.safe_load(written.read_text())["status"] == "active"
    assert not list(home.SHIPPED_CLAIMS_DIR.rglob(f"{cid}.yaml"))


def test_the_pipeline_reads_the_catalogue_claimwatch_home_names(tmp_path, monkeypatch):
    from flows.steps import _load_catalogue

    monkeypatch.setenv("CLAIMWATCH_HOME", str(tmp_path))
    assert cli("init").exit_code == 0
    (tmp_path / "claims" / "trump-khan-release-clip.yaml").unlink()
    assert "trump-khan-release-clip" not in _load_catalogue(None)
    assert "trump-khan-release-clip" in _load_catalogue(str(home.SHIPPED_CLAIMS_DIR))


def test_writes_into_an_installed_package_are_refused_in_one_line(tmp_path, monkeypatch):
    site = tmp_path / "lib" / "site-packages"
    catalogue = site / "rules" / "claims"
    shutil.copytree(home.SHIPPED_CLAIMS_DIR, catalogue)
    monkeypatch.setattr(home, "_install_dirs", lambda: [site.resolve()])
    assert home.inside_installed_package(catalogue) and not home.inside_installed_package(tmp_path / "home")
    before = sorted(p.name for p in catalogue.rglob("*"))
    for args in (["claims", "import", PAGE, "--claims", catalogue], ["claims", "retire", "trump-khan-release-clip", "--claims", catalogue],
                 ["claims", "approve", "trump-khan-release-clip", "--claims", catalogue]):
        r = cli(*args)
        assert r.exit_code == 2, r.output
        (line,) = r.stderr.strip().splitlines()
        assert "is inside the installed package" in line and "run `claimwatch init DIR`" in line
    assert sorted(p.name for p in catalogue.rglob("*")) == before
    assert "status: active" in (catalogue / "trump-khan-release-clip.yaml").read_text()
    assert cli("claims", "list", "--claims", catalogue).exit_code == 0  # reading is fine


@pytest.mark.slow
def test_a_non_editable_install_never_writes_into_site_packages(tmp_path):
    """`pip install .` (as the Dockerfile does) into a fresh venv; dependencies come from this
    environment through a .pth file, so nothing is downloaded."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for name in ("connectors", "rules", "flows"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    purelib = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    deps = [p for p in sys.path if p.endswith("site-packages")]
    Path(purelib, "claimwatch-test-deps.pth").write_text("\n".join(deps) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("CLAIMWATCH_HOME", "PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONDONTWRITEBYTECODE="1")
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", str(src)],
                   check=True, env=env, cwd=tmp_path, capture_output=True)
    claimwatch = venv / "bin" / "claimwatch"
    where = subprocess.run([py, "-c", "import flows.home as h; print(h.SHIPPED_CLAIMS_DIR)"], env=env, cwd=tmp_path,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert where.startswith(purelib), where  # the installed copy, not this checkout
    installed = Path(where)
    before = sorted(str(p.relative_to(installed)) for p in installed.rglob("*"))

    def run(*args, **extra):
        return subprocess.run([str(claimwatch), *map(str, args)], env={**env, **extra}, cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)

    refused = run("claims", "import", PAGE)
    assert refused.returncode == 2, refused.stderr
    (line,) = refused.stderr.strip().splitlines()
    assert "is inside the installed package" in line and "claimwatch init" in line
    desk = tmp_path / "desk"
    made = run("init", desk)
    assert made.returncode == 0, made.stderr
    assert f"export CLAIMWATCH_HOME={desk.resolve()}" in made.stdout
    imported = run("claims", "import", PAGE, CLAIMWATCH_HOME=str(desk))
    assert imported.returncode == 0, imported.stderr
    (written,) = (desk / "claims" / "imported").glob("cr-*.yaml")
    assert run("claims", "approve", written.stem).returncode == 2  # without CLAIMWATCH_HOME: the package's
    approved = run("claims", "approve", written.stem, CLAIMWATCH_HOME=str(desk))
    assert approved.returncode == 0, approved.stderr
    assert yaml.safe_load(written.read_text())["status"] == "active"
    assert sorted(str(p.relative_to(installed)) for p in installed.rglob("*")) == before


def test_the_image_gives_claimwatch_home_a_catalogue_its_user_can_write():
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "CLAIMWATCH_HOME=/app" in text
    install, init = text.index("/opt/claimwatch/bin/pip install -c constraints.txt ."), text.index("&& claimwatch init /app")
    assert install < text.index("COPY --from=build /opt/claimwatch /opt/claimwatch") < init < text.index("chown -R claimwatch /app/claimwatch-data /app/claims") < text.index("USER claimwatch")


def test_the_image_check_script_is_valid_bash_and_mounts_files_that_exist():
    script = ROOT / "deploy" / "check-image.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    for rel in ("tests/connectors/fixtures/claimreview/single.html", "tests/flows/fixtures/claimreview_rated_true.html"):
        assert rel in text and (ROOT / rel).is_file(), rel
    dockerignore = (ROOT / ".dockerignore").read_text().split()
    for copied in ("connectors", "rules", "flows", "deploy", "pyproject.toml", "constraints.txt", "README.md"):
        assert copied in (ROOT / "deploy" / "Dockerfile").read_text() and copied not in dockerignore, copied


def test_serve_passes_the_catalogue_to_the_pipeline_and_refuses_a_broken_one(tmp_path, monkeypatch):
    import prefect

    from flows import prefect_env
    from flows.commands import serve as serve_cmd

    monkeypatch.setattr(prefect_env, "configure", lambda **kw: {})
    served = {}
    monkeypatch.setattr(prefect, "serve", lambda *deployments, **kw: served.update(deployments=deployments))
    app = typer.Typer()
    app.callback()(lambda: None)
    serve_cmd.register(app)
    assert cli("init", tmp_path / "desk").exit_code == 0
    r = CliRunner().invoke(app, ["serve", "--demo", "--claims", str(tmp_path / "desk" / "claims")])
    assert r.exit_code == 0, r.output
    pipeline = next(d for d in served["deployments"] if d.name == "ingest-and-detect")
    assert pipeline.parameters["claims_dir"] == str((tmp_path / "desk" / "claims").resolve())
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "x.yaml").write_text("claim_id: [unclosed\n")
    r = CliRunner().invoke(app, ["serve", "--demo", "--claims", str(broken)])
    assert r.exit_code == 2 and r.stderr.startswith("claimwatch serve: --claims ") and "not valid YAML" in r.stderr


def test_claims_dir_is_the_same_option_as_claims_in_every_command(tmp_path, monkeypatch):
    import prefect

    from flows import prefect_env
    from flows.cli import app

    monkeypatch.setattr(prefect_env, "configure", lambda **kw: {})
    served = {}
    monkeypatch.setattr(prefect, "serve", lambda *deployments, **kw: served.update(deployments=deployments))
    assert cli("init", tmp_path / "desk").exit_code == 0
    desk = tmp_path / "desk" / "claims"
    r = CliRunner().invoke(app, ["serve", "--demo", "--claims-dir", str(desk)])
    assert r.exit_code == 0, r.output
    pipeline = next(d for d in served["deployments"] if d.name == "ingest-and-detect")
    assert pipeline.parameters["claims_dir"] == str(desk.resolve())
    missing = tmp_path / "no-such-catalogue"
    for args in (["match", "--posts", tmp_path / "p.jsonl", "--out", tmp_path / "o.csv"],
                 ["claims", "list"], ["run", "--sources", tmp_path / "missing.toml"]):
        r = CliRunner().invoke(app, [*map(str, args), "--claims-dir", str(missing)])
        assert r.exit_code != 0 and "No such option" not in r.output, (args, r.output)
