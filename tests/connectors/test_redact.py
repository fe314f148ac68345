"""Secrets never reach a message: redaction where exceptions are created, whoever raises them."""

import logging

import pytest

from connectors import redact as red
from connectors.errors import ConnectorError, ParseError
from tests.connectors.support import loopback_client
from tests.loopback import LoopbackServer, Reply


@pytest.mark.parametrize("text, expected", [
    ("https://www.googleapis.com/youtube/v3/search?part=snippet&key=AIzaSyA-1_x&q=a",
     "https://www.googleapis.com/youtube/v3/search?part=snippet&key=***&q=a"),
    ("https://me:pa55@feeds.example.org/x", "https://***@feeds.example.org/x"),
    ('{"access_token": "eyJhbGci", "token":"abc"}', '{"access_token": "***", "token":"***"}'),
    ("GET /v1?session=s3ss&code=c0de&x=1", "GET /v1?session=***&code=***&x=1"),
    ("file:///etc/passwd: only http and https links are followed", None),
    ("YouTube says keyInvalid: the API key is not valid", None),
])
def test_redact_masks_secret_looking_values_and_nothing_else(text, expected):
    assert red.redact(text) == (text if expected is None else expected)


def test_a_registered_value_is_masked_in_every_connector_error_wherever_it_appears():
    red.register("hunter2-registered-secret")
    err = ParseError("page hunter2-registered-secret/feed: not a feed (hunter2-registered-secret)")
    assert "hunter2" not in str(err) and str(err).count("***") == 2
    assert "hunter2" not in str(ConnectorError("token hunter2-registered-secret"))


def test_httpx_request_logs_are_redacted(caplog):
    with LoopbackServer() as srv:
        srv.route("/v3/search", Reply(200, b"{}"))
        caplog.set_level(logging.INFO, logger="httpx")
        loopback_client().get(srv.url("/v3/search"), params={"key": "AIzaLOGGED-KEY-123", "q": "x"})
    assert "HTTP Request" in caplog.text and "AIzaLOGGED" not in caplog.text and "key=***" in caplog.text


@pytest.mark.parametrize("body, ctype", [
    (b'{"kind": "youtube#searchListResponse"}', "application/json"),  # 200 without items
    (b"<html><body>consent</body></html>", "text/html"),  # an HTML page instead of JSON
    (b"{not json", "application/json"),
])
def test_a_youtube_answer_the_parser_refuses_does_not_leak_the_key(body, ctype, monkeypatch):
    from connectors import youtube

    key = "AIzaSyPLANTED-0123456789abcdefXYZ"
    monkeypatch.setenv("CW_REDACT_YT_KEY", key)
    with LoopbackServer() as srv:
        srv.route("/yt/search", Reply(200, body, {"Content-Type": ctype}))
        source = youtube.Source("yt", {"query": "imran khan", "api_key_env": "CW_REDACT_YT_KEY",
                                       "base_url": srv.url("/yt")}, loopback_client())
        with pytest.raises(ParseError) as e:
            source.fetch(None)
        assert key in srv.requests[0].path  # the key was sent ...
    assert key not in str(e.value) and "key=***" in str(e.value)  # ... and never shown
