"""robots.txt: pages found in content (articles, fact-check pages) are fetched only if allowed."""

import pytest

from connectors import rss
from connectors.errors import RobotsDisallowed
from connectors.robots import RobotsCache, agent_token
from tests.connectors.support import loopback_client
from tests.loopback import LoopbackServer, Reply

ROBOTS = b"User-agent: *\nDisallow: /\n\nUser-agent: claimwatch\nDisallow: /private/\nAllow: /\n"
PAGE = b"<html><head><title>Page</title></head><body><p>The article text of this page.</p></body></html>"


def feed(srv, paths):
    items = "".join(f"<item><title>Item {p}</title><link>{srv.url(p)}</link></item>" for p in paths)
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()


def fetch(srv, paths, **settings):
    srv.route("/feed.xml", Reply(200, feed(srv, paths), {"Content-Type": "application/rss+xml"}))
    for p in paths:
        srv.route(p, Reply(200, PAGE, {"Content-Type": "text/html"}))
    source = rss.Source("news", {"url": srv.url("/feed.xml"), "fetch_articles": True},
                        loopback_client(user_agent="claimwatch/0.1 (+mailto:desk@example.org)", **settings))
    return source.fetch(None)


def fetched(srv):
    return [r.path for r in srv.requests]


def test_pages_the_robots_txt_disallows_are_skipped_with_the_reason_and_robots_is_read_once():
    with LoopbackServer() as srv:
        srv.route("/robots.txt", Reply(200, ROBOTS, {"Content-Type": "text/plain"}))
        result = fetch(srv, ["/private/a", "/news/b", "/news/c"])
        assert fetched(srv) == ["/feed.xml", "/robots.txt", "/news/b", "/news/c"]
    rows = {r["url"].rsplit("/", 2)[-2]: r for r in result.posts}
    assert len(result.posts) == 3  # the skipped article keeps the feed's row
    assert rows["private"]["text"] == "" and "article text" in rows["news"]["text"]
    (warning,) = result.warnings
    assert "/private/a: disallowed for 'claimwatch' by http://127.0.0.1:" in warning
    assert "/robots.txt; not fetched (set respect_robots_txt = false in [settings] to ignore robots.txt)" in warning


def test_respect_robots_txt_false_fetches_every_page_without_asking():
    with LoopbackServer() as srv:
        srv.route("/robots.txt", Reply(200, ROBOTS))
        result = fetch(srv, ["/private/a"], respect_robots_txt=False)
        assert fetched(srv) == ["/feed.xml", "/private/a"] and not result.warnings


@pytest.mark.parametrize("status, allowed", [(404, True), (403, True), (503, False)])
def test_missing_robots_allows_everything_and_an_unreadable_one_nothing(status, allowed):
    with LoopbackServer() as srv:
        srv.route("/robots.txt", Reply(status, b"x"))
        result = fetch(srv, ["/a", "/b"], retries=0)
        pages = [p for p in fetched(srv) if p in ("/a", "/b")]
    assert pages == (["/a", "/b"] if allowed else [])
    if not allowed:
        assert all("robots.txt could not be read (HTTP 503), so the site is not crawled this run" in w
                   for w in result.warnings) and len(result.warnings) == 2


def test_one_cache_serves_every_client_of_a_run():
    with LoopbackServer() as srv:
        srv.route("/robots.txt", Reply(200, ROBOTS))
        cache = RobotsCache()
        for _ in range(2):
            client = loopback_client()
            client.robots = cache
            with pytest.raises(RobotsDisallowed) as e:
                client.check_robots(srv.url("/private/x"))
            assert not e.value.temporary
        assert fetched(srv) == ["/robots.txt"]


def test_agent_token():
    assert agent_token("claimwatch/0.1 (+mailto:desk@example.org)") == "claimwatch"
    assert agent_token("DeskBot 2.0") == "DeskBot"
