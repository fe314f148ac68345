import pytest

from connectors.urls import canonical_url, video_ref, youtube_id

ID = "dQw4w9WgXcQ"


@pytest.mark.parametrize("url", [
    f"https://www.youtube.com/watch?v={ID}",
    f"https://youtube.com/watch?feature=share&v={ID}&t=42s",
    f"http://m.youtube.com/watch?v={ID}&si=tracking",
    f"https://music.youtube.com/watch?v={ID}&list=RDxyz",
    f"https://youtu.be/{ID}",
    f"https://youtu.be/{ID}?si=AbCdEf&t=10",
    f"https://www.youtube.com/shorts/{ID}",
    f"https://youtube.com/shorts/{ID}?feature=share",
    f"https://www.youtube.com/embed/{ID}?start=3",
    f"https://www.youtube-nocookie.com/embed/{ID}",
    f"https://www.youtube.com/live/{ID}?si=x",
    f"https://www.youtube.com/v/{ID}?version=3",
    f"youtube.com/watch?v={ID}",
    f"www.youtu.be/{ID}",
    f"https://WWW.YouTube.com/watch?v={ID}#t=1m",
    f"https://www.youtube.com/attribution_link?u=/watch%3Fv%3D{ID}%26feature%3Dshare",
])
def test_every_youtube_form_gives_the_same_id(url):
    assert youtube_id(url) == ID
    assert video_ref(url) == f"youtube:{ID}"
    assert canonical_url(url) == f"https://youtube.com/watch?v={ID}"


@pytest.mark.parametrize("url", [
    "https://www.youtube.com/channel/UCK8sQmJBp8GCxrOtXWBpyEA",
    "https://www.youtube.com/@somechannel",
    "https://www.youtube.com/playlist?list=PL123",
    "https://www.youtube.com/results?search_query=imran+khan",
    "https://www.youtube.com/watch?v=tooshort",
    "https://www.youtube.com/watch?v=dQw4w9WgXcQextra",
    "https://notyoutube.com/watch?v=dQw4w9WgXcQ",
    "https://youtube.com.evil.example/watch?v=dQw4w9WgXcQ",
    "ftp://youtu.be/dQw4w9WgXcQ",
    "",
    None,
    "not a url at all",
    "https://[broken",
])
def test_non_video_links_have_no_id(url):
    assert youtube_id(url) is None
    assert video_ref(url) is None


def test_canonical_url_drops_tracking_fragment_www_and_sorts_query():
    assert (canonical_url("http://www.Dawn.com/news/1868021/?utm_source=tw&b=2&a=1&fbclid=x#comments")
            == "https://dawn.com/news/1868021?a=1&b=2")


def test_canonical_url_strips_mobile_host_and_default_port_but_keeps_others():
    assert canonical_url("https://m.facebook.com:443/story.php?id=5") == "https://facebook.com/story.php?id=5"
    assert canonical_url("https://example.org:8443/a") == "https://example.org:8443/a"


def test_canonical_url_keeps_music_subdomain_of_other_sites_and_bare_hosts():
    assert canonical_url("https://music.apple.com/pk/album/1") == "https://music.apple.com/pk/album/1"
    assert canonical_url("https://m.co/") == "https://m.co/"


def test_canonical_url_rejects_non_http():
    assert canonical_url("javascript:alert(1)") is None
    assert canonical_url("mailto:desk@example.org") is None
    assert canonical_url(None) is None


def test_canonical_url_is_idempotent():
    for u in ["https://www.geo.tv/latest/1?utm_medium=x", f"https://youtu.be/{ID}", "https://t.me/s/chan"]:
        once = canonical_url(u)
        assert canonical_url(once) == once


# --- only web URLs are stored ---------------------------------------------------------------------

HOSTILE_FEED = b"""<?xml version="1.0"?><rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>t</title>
<item><title>Script link</title><link>javascript:alert(document.cookie)</link><guid isPermaLink="false">javascript:alert(1)</guid>
  <description><![CDATA[<a href="javascript:alert(2)">x</a> <a href="https://ok.example.org/a">ok</a>]]></description>
  <enclosure url="data:video/mp4;base64,AAAA" type="video/mp4" length="4"/>
  <media:content url="file:///etc/passwd"/><media:thumbnail url=" https://ok.example.org/t.jpg"/></item>
<item><title>Data id</title><guid isPermaLink="false">  DATA:text/html,&lt;script&gt;alert(3)&lt;/script&gt;</guid></item>
<item><title>File link</title><link>file:///home/desk/secrets.txt</link></item>
</channel></rss>"""


def _assert_only_web_urls(rows):
    for r in rows:
        for value in (r["post_id"].split(":", 1)[1], r["url"], r["canonical_url"], *r["links"], *r["media_urls"]):
            assert value is None or not value.strip().lower().startswith(("javascript:", "data:", "file:")), (r["post_id"], value)
        for value in (r["url"], r["canonical_url"], *r["links"], *r["media_urls"]):
            assert value is None or value.startswith(("http://", "https://")), value


def test_javascript_data_and_file_urls_never_become_url_post_id_links_or_media():
    from connectors import rss

    rows = rss.parse(HOSTILE_FEED)
    assert [r["title"] for r in rows] == ["Script link", "Data id", "File link"]
    _assert_only_web_urls(rows)
    assert rows[0]["url"] is None and rows[0]["links"] == ["https://ok.example.org/a"]
    assert rows[0]["media_urls"] == ["https://ok.example.org/t.jpg"]
    assert rows[1]["post_id"].startswith("news:sha256-")
    assert rows[1]["post_id"] == rss.parse(HOSTILE_FEED)[1]["post_id"]  # still stable across runs


def test_json_feed_and_article_pages_keep_only_web_urls_too():
    import json

    from connectors import article, rss

    feed = json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": [
        {"id": "javascript:alert(1)", "url": "javascript:alert(1)", "title": "x", "image": "data:image/png;base64,AA",
         "attachments": [{"url": "file:///etc/passwd"}, {"url": "https://ok.example.org/v.mp4"}]}]}).encode()
    rows = rss.parse(feed)
    _assert_only_web_urls(rows)
    assert rows[0]["media_urls"] == ["https://ok.example.org/v.mp4"]
    page = (b'<html><head><title>T</title><link rel="canonical" href="javascript:alert(1)">'
            b'<meta property="og:image" content="data:image/png;base64,AA"></head>'
            b'<body><p>Body text here.</p><video src="file:///etc/passwd"></video><a href=" javascript:x">j</a></body></html>')
    rows = article.parse(page)
    _assert_only_web_urls(rows)


def test_make_post_refuses_non_web_urls_whatever_the_connector():
    from connectors.schema import make_post

    row = make_post("bluesky", "at://did:plc:abc/app.bsky.feed.post/1", url="vbscript:msgbox",
                    links=["tg://resolve?domain=x", "https://t.me/x", "mailto:a@b.org"],
                    media_urls=["blob:https://x.org/1", "https://cdn.example.org/1.jpg"])
    assert row["post_id"] == "bluesky:at://did:plc:abc/app.bsky.feed.post/1"  # other id schemes are fine
    assert (row["url"], row["links"], row["media_urls"]) == (None, ["https://t.me/x"], ["https://cdn.example.org/1.jpg"])


@pytest.mark.parametrize("url, expected", [
    ("http://[2001:db8::1]:8080/a/?utm_source=x&b=1", "https://[2001:db8::1]:8080/a?b=1"),
    ("https://[::1]/x", "https://[::1]/x"),
    ("https://[2001:DB8::A]:443/", "https://[2001:db8::a]/"),
])
def test_canonical_url_keeps_ipv6_brackets(url, expected):
    assert canonical_url(url) == expected
