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
