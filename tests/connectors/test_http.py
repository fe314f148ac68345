import gzip
import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx
import pytest

from connectors.errors import (
    BlockedURLError,
    ConfigError,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    ParseError,
    TooLargeError,
)
from connectors.http import (
    HttpClient,
    HttpSettings,
    mask_url,
    parse_retry_after,
    retry_delay,
)
from tests.loopback import LoopbackServer, Reply

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def client(handler=None, sleeps=None, **settings):
    settings.setdefault("allow_private", True)
    transport = httpx.MockTransport(handler) if handler else None
    return HttpClient(HttpSettings(**settings), transport,
                      sleep=(sleeps.append if sleeps is not None else (lambda s: None)),
                      rand=lambda: 1.0, resolver=lambda host: ["93.184.215.14"])


# --- the retry decision, on its own -------------------------------------------------------------

S = HttpSettings(retries=3, backoff=0.5, backoff_max=4, retry_after_max=60)


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 599])
def test_retryable_statuses_back_off_exponentially(status):
    assert [retry_delay(n, S, status=status, rand=lambda: 1.0) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]


@pytest.mark.parametrize("status", [200, 304, 400, 401, 403, 404, 410, 501])
def test_other_statuses_are_not_retried(status):
    assert retry_delay(1, S, status=status) is None


def test_backoff_is_capped_and_jittered():
    s = HttpSettings(retries=10, backoff=1, backoff_max=4)
    assert retry_delay(8, s, status=500, rand=lambda: 1.0) == 4
    assert retry_delay(8, s, status=500, rand=lambda: 0.25) == 1


def test_gives_up_after_the_configured_retries():
    assert retry_delay(4, S, status=503) is None


def test_connection_errors_and_timeouts_are_retried_but_not_bad_urls():
    assert retry_delay(1, S, error=httpx.ConnectError("refused"), rand=lambda: 1.0) == 0.5
    assert retry_delay(1, S, error=httpx.ReadTimeout("slow"), rand=lambda: 1.0) == 0.5
    assert retry_delay(1, S, error=httpx.RemoteProtocolError("cut"), rand=lambda: 1.0) == 0.5
    assert retry_delay(1, S, error=httpx.UnsupportedProtocol("ftp")) is None


def test_retry_after_in_seconds_and_as_http_date():
    assert retry_delay(1, S, status=429, retry_after="7") == 7
    later = format_datetime(NOW + timedelta(seconds=30), usegmt=True)
    assert retry_delay(1, S, status=503, retry_after=later, now=NOW) == 30
    assert parse_retry_after(format_datetime(NOW - timedelta(seconds=30), usegmt=True), NOW) == 0


def test_retry_after_beyond_the_cap_means_give_up_this_run():
    assert retry_delay(1, S, status=429, retry_after="3600") is None


def test_unreadable_retry_after_falls_back_to_backoff():
    assert retry_delay(1, S, status=429, retry_after="soon", rand=lambda: 1.0) == 0.5


# --- the client ---------------------------------------------------------------------------------

def test_500_then_success_is_retried_with_the_injected_sleep():
    replies = iter([httpx.Response(500), httpx.Response(502), httpx.Response(200, content=b"ok")])
    sleeps = []
    c = client(lambda req: next(replies), sleeps)
    r = c.get("https://example.org/x")
    assert (r.status_code, r.content) == (200, b"ok")
    assert sleeps == [0.5, 1.0]


def test_429_honours_retry_after():
    replies = iter([httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200, content=b"ok")])
    sleeps = []
    assert client(lambda req: next(replies), sleeps).get("https://example.org/x").content == b"ok"
    assert sleeps == [3]


def test_final_status_error_names_url_and_status():
    with pytest.raises(HTTPStatusError) as e:
        client(lambda req: httpx.Response(404)).get("https://example.org/missing")
    assert e.value.status_code == 404
    assert "https://example.org/missing: HTTP 404; check the URL" in str(e.value)


def test_persistent_503_gives_up_after_retries():
    calls = []

    def handler(req):
        calls.append(req)
        return httpx.Response(503)

    with pytest.raises(HTTPStatusError, match="HTTP 503 after 4 attempts"):
        client(handler, retries=3).get("https://example.org/x")
    assert len(calls) == 4


def test_304_is_a_response_not_an_error():
    r = client(lambda req: httpx.Response(304, headers={"ETag": '"v1"'})).get(
        "https://example.org/feed", headers={"If-None-Match": '"v1"'})
    assert r.not_modified and r.content == b"" and r.header("etag") == '"v1"'


def test_user_agent_carries_the_configured_contact():
    seen = []
    client(lambda req: seen.append(req.headers["user-agent"]) or httpx.Response(200),
           user_agent="claimwatch/0.1 (+mailto:desk@example.org)").get("https://example.org/")
    assert seen == ["claimwatch/0.1 (+mailto:desk@example.org)"]


def test_redirects_are_followed_and_bounded():
    def handler(req):
        n = int(req.url.path.strip("/") or 0)
        return httpx.Response(302, headers={"Location": f"/{n + 1}"}) if n < 3 else httpx.Response(200, content=b"end")

    r = client(handler, max_redirects=5).get("https://example.org/0")
    assert r.content == b"end" and r.url == "https://example.org/3"
    with pytest.raises(FetchError, match="more than 2 redirects"):
        client(handler, max_redirects=2).get("https://example.org/0")


def test_redirect_to_a_private_address_is_blocked_unless_allowed():
    handler = lambda req: (httpx.Response(302, headers={"Location": "http://169.254.169.254/latest"})
                           if req.url.host == "example.org" else httpx.Response(200, content=b"meta"))
    with pytest.raises(BlockedURLError, match="169.254.169.254"):
        client(handler, allow_private=False).get("https://example.org/")
    assert client(handler, allow_private=True).get("https://example.org/").content == b"meta"


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "http://10.1.2.3/x", "http://192.168.0.1/", "http://172.16.5.4/",
    "http://169.254.169.254/latest/meta-data", "http://[::1]/", "http://[fe80::1]/",
    "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/", "http://localhost:8080/", "file:///etc/passwd",
    "ftp://example.org/x", "javascript:alert(1)", "gopher://example.org/",
])
def test_links_to_private_or_non_http_addresses_are_refused(url):
    with pytest.raises(BlockedURLError):
        client(allow_private=False).check_url(url)


def test_host_names_are_resolved_for_the_address_check():
    c = HttpClient(HttpSettings(), resolver=lambda host: {"intranet.example": ["10.0.0.8"],
                                                          "news.example": ["93.184.215.14"]}[host])
    with pytest.raises(BlockedURLError, match="10.0.0.8"):
        c.check_url("https://intranet.example/a")
    assert c.check_url("https://news.example/a") == "https://news.example/a"


def test_allow_private_lets_loopback_links_through_but_never_other_schemes():
    c = client(allow_private=True)
    assert c.check_url("http://127.0.0.1:9/x") == "http://127.0.0.1:9/x"
    with pytest.raises(BlockedURLError):
        c.check_url("file:///etc/passwd")


def test_unresolvable_host_is_a_fetch_error():
    def fail(host):
        raise OSError("Name or service not known")

    with pytest.raises(FetchError, match="cannot resolve host"):
        HttpClient(HttpSettings(), resolver=fail).check_url("https://nowhere.invalid/")


def test_body_cap_while_streaming():
    big = httpx.Response(200, stream=httpx.ByteStream(b"x" * 5000))
    with pytest.raises(TooLargeError, match="larger than 1000 bytes"):
        client(lambda req: big, max_bytes=1000).get("https://example.org/")


def test_declared_content_length_over_cap_fails_before_reading():
    r = httpx.Response(200, headers={"Content-Length": "999999999"}, stream=httpx.ByteStream(b""))
    with pytest.raises(TooLargeError, match="999999999"):
        client(lambda req: r, max_bytes=1000).get("https://example.org/")


def test_gzip_is_inflated_under_a_separate_cap():
    body = gzip.compress(b"a" * 100_000)
    h = lambda req: httpx.Response(200, content=body, headers={"Content-Encoding": "gzip"})
    assert len(client(h, max_bytes=10_000, max_decompressed_bytes=200_000).get("https://e.org/").content) == 100_000
    with pytest.raises(TooLargeError, match="decompressed body larger than 50000"):
        client(h, max_bytes=10_000, max_decompressed_bytes=50_000).get("https://e.org/")


def test_corrupt_gzip_is_a_fetch_error():
    h = lambda req: httpx.Response(200, stream=httpx.ByteStream(b"not gzip at all"), headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchError, match="corrupt gzip"):
        client(h).get("https://example.org/")


def test_secrets_are_masked_in_errors_and_logs(caplog):
    def handler(req):
        return httpx.Response(500)

    c = client(handler, retries=1, secrets=["s3cr3t-token-value"])
    caplog.set_level(logging.INFO, logger="claimwatch.http")
    with pytest.raises(HTTPStatusError) as e:
        c.get("https://api.example.org/v1/s3cr3t-token-value/feed", params={"access_token": "abcdef123"})
    text = str(e.value) + caplog.text
    assert "s3cr3t-token-value" not in text and "abcdef123" not in text
    assert "***" in str(e.value) and "retrying" in caplog.text


def test_secret_added_at_run_time_is_masked():
    c = client(lambda req: httpx.Response(403))
    c.add_secret("session-jwt-xyz")
    with pytest.raises(HTTPStatusError) as e:
        c.get("https://example.org/session-jwt-xyz")
    assert "session-jwt-xyz" not in str(e.value)


def test_mask_url_hides_credentials_and_secret_params():
    assert mask_url("https://me:pw@example.org/a?key=K&q=khan") == "https://***@example.org/a?key=***&q=khan"


def test_invalid_json_and_deep_json_are_parse_errors():
    assert client(lambda req: httpx.Response(200, content=b'{"a": [1]}')).get_json("https://e.org/") == {"a": [1]}
    with pytest.raises(ParseError, match="not valid JSON"):
        client(lambda req: httpx.Response(200, content=b"<html>")).get_json("https://e.org/")
    with pytest.raises(ParseError, match="nested deeper"):
        client(lambda req: httpx.Response(200, content=b"[" * 100_000)).get_json("https://e.org/")


def test_non_http_url_is_refused_before_any_request():
    with pytest.raises(BlockedURLError):
        client().get("file:///etc/passwd")


def test_min_interval_spaces_requests_to_one_host():
    sleeps, now = [], [100.0]
    c = HttpClient(HttpSettings(min_interval=2.0), httpx.MockTransport(lambda req: httpx.Response(200)),
                   sleep=lambda s: (sleeps.append(s), now.__setitem__(0, now[0] + s)),
                   clock=lambda: now[0])
    c.get("https://a.example/1")
    c.get("https://a.example/2")
    c.get("https://b.example/1")
    assert sleeps == [2.0]


def test_per_host_concurrency_is_bounded():
    active, peak, lock = [0], [0], threading.Lock()

    def handler(req):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1
        return httpx.Response(200)

    c = client(handler, per_host_concurrency=2)
    threads = [threading.Thread(target=c.get, args=(f"https://example.org/{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 2


def test_settings_from_the_sources_file():
    s = HttpSettings.from_mapping({"user_agent": "x/1 (+mailto:a@b.org)", "allow_private_links": True,
                                   "timeout": 5, "max_bytes": 1000, "flag_threshold": 70})
    assert (s.user_agent, s.allow_private, s.timeout, s.max_bytes) == ("x/1 (+mailto:a@b.org)", True, 5.0, 1000)
    with pytest.raises(ConfigError, match="max_bytes"):
        HttpSettings.from_mapping({"max_bytes": "lots"})
    with pytest.raises(ConfigError, match="allow_private_links"):
        HttpSettings.from_mapping({"allow_private_links": "yes"})


# --- against the loopback server ----------------------------------------------------------------

def test_loopback_timeout_is_retried_then_reported():
    with LoopbackServer() as srv:
        srv.route("/slow", Reply(200, b"late", delay=1.0))
        with pytest.raises(FetchTimeout, match="timed out after 2 attempts"):
            client(timeout=0.2, retries=1).get(srv.url("/slow"))


def test_loopback_truncated_body_is_retried_then_succeeds():
    with LoopbackServer() as srv:
        srv.route("/t", [Reply(200, b"0123456789", truncate_to=4), Reply(200, b"0123456789")])
        assert client().get(srv.url("/t")).content == b"0123456789"


def test_loopback_truncated_every_time_is_a_fetch_error():
    with LoopbackServer() as srv:
        srv.route("/t", Reply(200, b"0123456789", truncate_to=4))
        with pytest.raises(FetchError, match="attempts"):
            client(retries=1).get(srv.url("/t"))


def test_loopback_429_then_success():
    with LoopbackServer() as srv:
        srv.route("/r", [Reply(429, headers={"Retry-After": "1"}), Reply(200, b"ok")])
        sleeps = []
        assert client(sleeps=sleeps).get(srv.url("/r")).content == b"ok"
        assert sleeps == [1.0]


def test_loopback_refused_connection_is_a_fetch_error():
    with LoopbackServer() as srv:
        url = srv.url("/gone")
    with pytest.raises(FetchError):
        client(retries=1).get(url)


def test_loopback_is_blocked_without_allow_private_when_it_is_a_content_link():
    with LoopbackServer() as srv:
        with pytest.raises(BlockedURLError):
            client(allow_private=False).check_url(srv.url("/x"))


def test_response_headers_are_case_insensitive():
    r = client(lambda req: httpx.Response(200, headers={"Link": '<https://e.org/2>; rel="next"'})).get("https://e.org/")
    assert r.headers.get("Link") == r.headers.get("link") == r.header("LINK") == '<https://e.org/2>; rel="next"'


def test_json_error_message_masks_secret_query_values():
    with pytest.raises(ParseError) as e:
        client(lambda req: httpx.Response(200, content=b"nope")).get_json("https://api.example/v3/search?key=AIzaSECRET")
    assert "AIzaSECRET" not in str(e.value) and "key=***" in str(e.value)


def test_foreign_exceptions_never_escape():
    def boom(req):
        raise httpx.LocalProtocolError("bad header")

    with pytest.raises(FetchError, match="LocalProtocolError"):
        client(boom).get("https://example.org/")


def test_credentials_are_not_forwarded_to_another_host_on_redirect():
    seen = {}

    def handler(req):
        seen[req.url.host] = req.headers.get("authorization")
        if req.url.host == "api.example.org":
            return httpx.Response(302, headers={"Location": "https://cdn.example.net/file"})
        return httpx.Response(200, content=b"ok")

    client(handler).get("https://api.example.org/x", headers={"Authorization": "Bearer tok"})
    assert seen == {"api.example.org": "Bearer tok", "cdn.example.net": None}


# --- POST -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("status", [408, 500, 502, 504])
def test_post_is_not_retried_on_a_status_the_server_may_have_acted_on(status):
    assert retry_delay(1, S, status=status, method="POST") is None
    assert retry_delay(1, S, status=status, retry_after="1", method="POST") is None


def test_post_is_retried_on_429_and_503_only_with_retry_after():
    assert retry_delay(1, S, status=429, retry_after="4", method="POST") == 4
    assert retry_delay(1, S, status=503, retry_after="4", method="POST") == 4
    assert retry_delay(1, S, status=429, method="POST") is None
    assert retry_delay(1, S, status=503, retry_after="soon", method="POST") is None
    assert retry_delay(1, S, status=503, retry_after="3600", method="POST") is None  # over the cap
    assert retry_delay(4, S, status=429, retry_after="4", method="POST") is None  # out of retries


def test_post_is_retried_on_connection_errors_but_not_after_the_request_may_have_arrived():
    assert retry_delay(1, S, error=httpx.ConnectError("refused"), method="POST", rand=lambda: 1.0) == 0.5
    assert retry_delay(1, S, error=httpx.ConnectTimeout("syn"), method="POST", rand=lambda: 1.0) == 0.5
    assert retry_delay(1, S, error=httpx.ReadTimeout("slow"), method="POST") is None
    assert retry_delay(1, S, error=httpx.RemoteProtocolError("cut"), method="POST") is None
    assert retry_delay(1, S, error=httpx.ReadError("reset"), method="POST") is None


def test_post_sends_json_and_form_bodies_and_basic_auth():
    seen = []

    def handler(req):
        seen.append((req.method, req.headers.get("content-type"), req.headers.get("authorization"), req.content))
        return httpx.Response(200, json={"ok": True})

    c = client(handler, user_agent="claimwatch/0.1 (+mailto:desk@example.org)")
    assert c.post("https://example.org/login", json={"identifier": "me", "password": "pw-1"}).json() == {"ok": True}
    c.post("https://example.org/token", data={"grant_type": "client_credentials"}, auth=("id", "sec-2"))
    c.post("https://example.org/raw", data=b"a=1", headers={"Content-Type": "text/plain"})
    assert seen[0][:2] == ("POST", "application/json") and b'"password":"pw-1"' in seen[0][3].replace(b" ", b"")
    assert seen[1][1] == "application/x-www-form-urlencoded" and seen[1][3] == b"grant_type=client_credentials"
    assert seen[1][2] == "Basic aWQ6c2VjLTI="  # id:sec-2
    assert seen[2][1:] == ("text/plain", None, b"a=1")
    assert c.mask("pw-1 sec-2") == "*** ***"  # the password field and the Basic password


def test_post_500_is_final_after_one_attempt():
    calls = []

    def handler(req):
        calls.append(req)
        return httpx.Response(500, text="session store down")

    with pytest.raises(HTTPStatusError, match="HTTP 500") as e:
        client(handler, retries=3).post("https://example.org/login", json={})
    assert len(calls) == 1 and e.value.body == "session store down"


def test_post_429_with_retry_after_is_retried_through_the_injected_sleep():
    replies = iter([httpx.Response(429, headers={"Retry-After": "2"}), httpx.Response(200, json={"t": 1})])
    sleeps = []
    assert client(lambda req: next(replies), sleeps).post("https://example.org/token", data={}).json() == {"t": 1}
    assert sleeps == [2]


def test_post_503_without_retry_after_is_not_retried():
    calls = []

    def handler(req):
        calls.append(req)
        return httpx.Response(503)

    with pytest.raises(HTTPStatusError, match="503"):
        client(handler, retries=3).post("https://example.org/token", data={})
    assert len(calls) == 1


def test_post_connection_refused_is_retried_but_a_read_timeout_is_not():
    attempts = []

    def refused_once(req):
        attempts.append(req)
        if len(attempts) == 1:
            raise httpx.ConnectError("refused")
        return httpx.Response(200, json={})

    sleeps = []
    client(refused_once, sleeps).post("https://example.org/token", data={})
    assert len(attempts) == 2 and sleeps == [0.5]

    slow = []

    def read_timeout(req):
        slow.append(req)
        raise httpx.ReadTimeout("no answer")

    with pytest.raises(FetchTimeout, match="after 1 attempt"):
        client(read_timeout, retries=3).post("https://example.org/token", data={})
    assert len(slow) == 1


def test_post_does_not_follow_redirects_and_says_where_they_pointed():
    hosts = []

    def handler(req):
        hosts.append(req.url.host)
        return httpx.Response(307, headers={"Location": "http://169.254.169.254/latest/?token=abc"})

    with pytest.raises(HTTPStatusError, match="redirect to http://169.254.169.254/latest/\\?token=\\*\\*\\*; "
                                              "a POST is not followed") as e:
        client(handler).post("https://example.org/login", json={"password": "pw"})
    assert hosts == ["example.org"] and e.value.status_code == 307


def test_post_body_cap_masking_and_bad_urls():
    big = client(lambda req: httpx.Response(200, content=b"x" * 2000), max_bytes=1000)
    with pytest.raises(TooLargeError, match="over the cap of 1000"):
        big.post("https://example.org/login", json={})
    with pytest.raises(HTTPStatusError) as e:
        client(lambda req: httpx.Response(401, text='{"error":"AuthenticationRequired","message":"bad pw-9"}')).post(
            "https://example.org/login?token=t0k", json={"identifier": "me", "password": "pw-9"})
    assert "t0k" not in str(e.value) and "pw-9" not in e.value.body and "***" in e.value.body
    with pytest.raises(BlockedURLError, match="only http and https"):
        client(lambda req: httpx.Response(200)).post("file:///etc/passwd", data=b"")
    with pytest.raises(FetchError, match="not a valid URL"):
        client(lambda req: httpx.Response(200)).post("http://[::1", data=b"")


def test_loopback_post_records_the_body_and_answers_from_the_route():
    with LoopbackServer() as srv:
        srv.route("/xrpc/login", Reply(200, b'{"accessJwt": "j"}', {"Content-Type": "application/json"}))
        r = client().post(srv.url("/xrpc/login"), json={"identifier": "me"})
        assert r.json() == {"accessJwt": "j"}
        method, path, headers = srv.requests[0]
        assert (method, path, headers["Content-Type"]) == ("POST", "/xrpc/login", "application/json")
        assert srv.requests[0].body == b'{"identifier":"me"}' and srv.posted("/xrpc/login") == [srv.requests[0].body]


# --- error bodies ---------------------------------------------------------------------------------

def test_final_error_keeps_a_short_masked_excerpt_of_the_body():
    text = '{"error": "key=AIzaSECRET is not valid", "pad": "' + "é" * 2000 + '"}'
    with pytest.raises(HTTPStatusError) as e:
        client(lambda req: httpx.Response(400, text=text, headers={"Content-Type": "application/json"})).get(
            "https://api.example/v3/search?key=AIzaSECRET")
    body = e.value.body
    assert body.startswith('{"error": "key=*** is not valid"') and "AIzaSECRET" not in body
    assert len(body.encode()) <= 500 and "\ufffd" not in body  # cut on a character boundary
    assert "AIzaSECRET" not in str(e.value)


def test_error_excerpt_after_retries_is_inflated_and_masks_run_time_secrets():
    gz = gzip.compress(b'{"message": "Bearer tok-XYZ expired"}')
    c = client(lambda req: httpx.Response(503, content=gz, headers={"Content-Encoding": "gzip"}), retries=1)
    c.add_secret("tok-XYZ")
    with pytest.raises(HTTPStatusError, match="after 2 attempts") as e:
        c.get("https://example.org/x")
    assert e.value.body == '{"message": "Bearer *** expired"}'


def test_error_without_a_body_or_with_a_corrupt_one_has_body_none():
    with pytest.raises(HTTPStatusError) as e:
        client(lambda req: httpx.Response(404)).get("https://example.org/x")
    assert e.value.body is None
    with LoopbackServer() as srv:
        srv.route("/x", Reply(403, b"not gzip", {"Content-Encoding": "gzip"}))
        with pytest.raises(HTTPStatusError) as e:
            client().get(srv.url("/x"))
    assert e.value.status_code == 403 and e.value.body is None


def test_a_huge_error_body_is_not_read_whole():
    with LoopbackServer() as srv:
        chunk = b"e" * 65536
        reply = Reply(500, stream=lambda: (chunk for _ in range(1000)))  # 64 MB
        srv.route("/err", reply)
        with pytest.raises(HTTPStatusError) as e:
            client(retries=0).get(srv.url("/err"))
        assert e.value.body == "e" * 500


# --- the loopback server's streaming replies -------------------------------------------------------

@pytest.mark.parametrize("chunked", [False, True])
def test_loopback_streams_without_content_length(chunked):
    with LoopbackServer() as srv:
        reply = Reply(200, headers={"Content-Type": "text/plain"}, chunked=chunked,
                      stream=lambda: iter([b"one ", b"", b"two ", b"three"]))
        srv.route("/s", reply)
        r = client().get(srv.url("/s"))
        assert r.content == b"one two three" and reply.sent == 13
        assert r.header("content-length") is None
        assert (r.header("transfer-encoding") == "chunked") is chunked
        assert client().get(srv.url("/s")).content == b"one two three"  # a callable answers again


# --- deadlines that hold ----------------------------------------------------------------------------

def test_headers_trickled_one_byte_at_a_time_are_cut_off_at_the_total_deadline():
    """Each byte resets a per-read timeout; only a deadline over the whole answer stops this."""
    with LoopbackServer() as srv:
        reply = Reply(200, b"<rss/>", {"Content-Type": "application/rss+xml"}, trickle=0.1)
        srv.route("/feed", reply)
        started = time.monotonic()
        with pytest.raises(FetchTimeout, match=r"no complete answer within total_timeout = 1 s "
                                               r"\(connect, headers and body\)"):
            client(timeout=5, total_timeout=1, retries=3).get(srv.url("/feed"))
        elapsed = time.monotonic() - started
        assert elapsed < 2.5, f"took {elapsed:.1f} s"
        assert len(srv.requests) == 1  # a total deadline is final, not retried
        assert reply.sent < 30  # the answer was far from complete


def test_a_body_trickled_after_quick_headers_is_cut_off_too():
    with LoopbackServer() as srv:
        body = b"x" * 200
        srv.route("/b", Reply(200, stream=lambda: (time.sleep(0.1) or body[i:i + 1] for i in range(len(body)))))
        started = time.monotonic()
        with pytest.raises(FetchTimeout, match="total_timeout = 1 s"):
            client(timeout=5, total_timeout=1).get(srv.url("/b"))
        assert time.monotonic() - started < 2.5


def test_the_client_really_bounds_socket_calls():
    assert HttpClient(HttpSettings()).socket_deadlines  # direct and proxied transports
    assert not client(lambda req: httpx.Response(200)).socket_deadlines  # an injected transport


def test_a_budget_cut_off_mid_read_stops_the_request_and_every_later_one():
    from connectors.deadlines import Budget
    from connectors.errors import BudgetExceeded

    with LoopbackServer() as srv:
        srv.route("/slow", Reply(200, b"late", delay=5))
        srv.route("/fast", Reply(200, b"ok"))
        budget = Budget(1.0, "source budget of 1 s")
        c = HttpClient(HttpSettings(allow_private=True, timeout=30, total_timeout=60), budget=budget)
        started = time.monotonic()
        with pytest.raises(BudgetExceeded, match="source budget of 1 s used up"):
            c.get(srv.url("/slow"))
        assert time.monotonic() - started < 2.0
        with pytest.raises(BudgetExceeded):
            c.get(srv.url("/fast"))
        assert [r.path for r in srv.requests] == ["/slow"]


def test_cancelling_the_run_budget_stops_a_blocked_read_within_a_second():
    from connectors.deadlines import Budget
    from connectors.errors import BudgetExceeded

    with LoopbackServer() as srv:
        srv.route("/hang", Reply(200, b"late", delay=8))
        run = Budget(None, "run budget")
        c = HttpClient(HttpSettings(allow_private=True, timeout=30), budget=Budget(300, "source budget", parent=run))
        threading.Timer(0.3, run.cancel, args=("run stopped (SIGTERM)",)).start()
        started = time.monotonic()
        with pytest.raises(BudgetExceeded, match=r"run stopped \(SIGTERM\)"):
            c.get(srv.url("/hang"))
        assert time.monotonic() - started < 1.5


def test_a_retry_wait_longer_than_the_budget_left_is_not_started():
    from connectors.deadlines import Budget
    from connectors.errors import BudgetExceeded

    replies = iter([httpx.Response(429, headers={"Retry-After": "50"}), httpx.Response(200)])
    sleeps = []
    c = HttpClient(HttpSettings(retry_after_max=100), httpx.MockTransport(lambda req: next(replies)),
                   sleep=sleeps.append, budget=Budget(10, "source budget of 10 s"))
    with pytest.raises(BudgetExceeded, match="would wait 50.0 s but the source budget of 10 s has"):
        c.get("https://example.org/x")
    assert sleeps == []
