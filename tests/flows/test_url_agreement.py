"""connectors and rules canonicalise URLs separately (neither may import the other); a link a
connector stores must meet the same URL written in the catalogue's known_media."""

import pytest

from connectors.urls import canonical_url, video_ref
from rules.normalise import canonical_media

YOUTUBE_FORMS = [
    "https://www.youtube.com/watch?v=dQw4w9WgXcQ&feature=share",
    "https://youtu.be/dQw4w9WgXcQ?si=abc",
    "https://m.youtube.com/watch?v=dQw4w9WgXcQ",
    "https://www.youtube.com/shorts/dQw4w9WgXcQ",
    "https://www.youtube.com/embed/dQw4w9WgXcQ?start=3",
    "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ",
    "youtube.com/watch?v=dQw4w9WgXcQ",
    "https://www.youtube.com/live/dQw4w9WgXcQ",
    "HTTPS://WWW.YOUTUBE.COM/watch?v=dQw4w9WgXcQ#t=10",
]

OTHER_LINKS = [
    "https://www.dawn.com/news/1870474?utm_source=x#frag",
    "http://m.facebook.com/watch/?v=123&fbclid=zz",
    "https://example.org/a/b/?b=2&a=1",
    "https://example.org/clip?id=7&share_id=abc&pp=xyz",
    "https://news.example.pk/v?yclid=1&gbraid=2&wbraid=3&mkt_tok=4&_hsenc=5&_hsmla=6&s_cid=7&x=1",
    "https://www.youtube.com/channel/UCabc",
]


@pytest.mark.parametrize("url", YOUTUBE_FORMS)
def test_every_youtube_form_becomes_the_same_video_reference_on_both_sides(url):
    assert video_ref(url) == canonical_media(url) == "youtube:dQw4w9WgXcQ"


@pytest.mark.parametrize("url", YOUTUBE_FORMS + OTHER_LINKS)
def test_a_stored_link_meets_the_catalogue_spelling_of_the_same_url(url):
    stored = video_ref(url) or canonical_url(url)
    assert canonical_media(stored) == canonical_media(url)
