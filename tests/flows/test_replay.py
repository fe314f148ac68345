"""The replay transport answers recorded files for matching requests and 404 for anything else."""

from __future__ import annotations

import os

import httpx
import pytest

from connectors.errors import HTTPStatusError
from connectors.http import HttpClient, HttpSettings
from flows.config import DEMO_MANIFEST, SourceConfig
from flows.replay import ReplayError, ReplayTransport, placeholder_credentials


@pytest.fixture
def manifest(tmp_path):
    (tmp_path / "a.json").write_text('{"page": 1}')
    (tmp_path / "b.json").write_text('{"page": 2}')
    m = tmp_path / "manifest.toml"
    m.write_text("""
[[response]]
url = "https://api.example.org/v1/items"
file = "a.json"
content_type = "application/json"

[[response]]
url = "https://api.example.org/v1/items"
query = { max_id = "7" }
file = "b.json"
content_type = "application/json"
headers = { ETag = '"b"' }

[[response]]
url = "https://api.example.org/v1/broken"
status = 401
body = "unauthorised"
""")
    return m


def client(transport):
    return httpx.Client(transport=transport)


def test_the_entry_without_query_answers_any_query(manifest):
    with client(ReplayTransport.from_manifest(manifest)) as c:
        r = c.get("https://api.example.org/v1/items", params={"limit": "40"})
    assert r.status_code == 200 and r.json() == {"page": 1}
    assert r.headers["content-type"] == "application/json"


def test_the_most_specific_entry_wins(manifest):
    with client(ReplayTransport.from_manifest(manifest)) as c:
        r = c.get("https://api.example.org/v1/items", params={"limit": "40", "max_id": "7"})
    assert r.json() == {"page": 2} and r.headers["etag"] == '"b"'


def test_an_unmatched_request_is_a_404_and_is_remembered(manifest):
    t = ReplayTransport.from_manifest(manifest)
    with client(t) as c:
        assert c.get("https://api.example.org/v1/other").status_code == 404
        assert c.get("https://elsewhere.example.org/v1/items").status_code == 404
        assert c.get("http://api.example.org/v1/items").status_code == 404  # scheme counts
    assert len(t.unmatched) == 3


def test_status_and_body_entries(manifest):
    with client(ReplayTransport.from_manifest(manifest)) as c:
        r = c.get("https://api.example.org/v1/broken")
    assert r.status_code == 401 and r.text == "unauthorised"


def test_it_plugs_into_the_shared_http_client(manifest):
    settings = HttpSettings(retries=0, allow_private=True)
    with HttpClient(settings, ReplayTransport.from_manifest(manifest)) as c:
        assert c.get_json("https://api.example.org/v1/items") == {"page": 1}
        with pytest.raises(HTTPStatusError) as info:
            c.get("https://api.example.org/v1/missing")
    assert info.value.status_code == 404


@pytest.mark.parametrize("text, expected", [
    ("", "no [[response]] entries"),
    ("[[response]]\nfile = 'a.json'\n", "'url' is missing"),
    ("[[response]]\nurl = 'https://x.org/a'\nfile = 'nope.json'\n", "file 'nope.json' not found"),
    ("[[response]]\nurl = 'https://x.org/a'\nfile = '../../etc/passwd'\n", "is outside"),
    ("[[response]]\nurl = 'https://x.org/a'\nbody = 'x'\nstatus = 'ok'\n", "'status' must be an HTTP status code"),
    ("[[response]]\nurl = 'https://x.org/a'\nbody = 'x'\nmethod = 'POST'\n", "unknown key 'method'"),
    ("[[response]\n", "not a valid TOML manifest"),
    ("[[response]]\nurl = 'ftp://x.org/a'\nbody = 'x'\n", "needs http(s)://host/path"),
])
def test_a_bad_manifest_is_a_one_line_error_naming_the_entry(tmp_path, text, expected):
    (tmp_path / "a.json").write_text("{}")
    m = tmp_path / "manifest.toml"
    m.write_text(text)
    with pytest.raises(ReplayError) as info:
        ReplayTransport.from_manifest(m)
    assert expected in str(info.value) and str(m) in str(info.value) and "\n" not in str(info.value)


def test_a_missing_manifest_says_so(tmp_path):
    with pytest.raises(ReplayError, match="replay manifest not found"):
        ReplayTransport.from_manifest(tmp_path / "none.toml")


def test_the_bundled_demo_manifest_loads_and_every_file_exists():
    t = ReplayTransport.from_manifest(DEMO_MANIFEST)
    assert t.responses
    assert all(r.file is None or r.file.is_file() for r in t.responses)


def test_placeholder_credentials_only_fill_unset_variables_and_are_removed_after(monkeypatch):
    monkeypatch.delenv("CW_TEST_KEY", raising=False)
    monkeypatch.setenv("CW_TEST_SET", "real")
    srcs = [SourceConfig("a", "youtube", {"api_key_env": "CW_TEST_KEY", "x_env": "CW_TEST_SET"})]
    with placeholder_credentials(srcs) as names:
        assert names == ["CW_TEST_KEY"]
        assert os.environ["CW_TEST_KEY"] == "replay-placeholder-credential" and os.environ["CW_TEST_SET"] == "real"
    assert "CW_TEST_KEY" not in os.environ and os.environ["CW_TEST_SET"] == "real"
