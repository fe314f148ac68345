import re
from pathlib import Path

import pytest

from connectors import telegram
from connectors.errors import ConfigError, HTTPStatusError, ParseError
from tests.connectors.support import assert_slow_and_cut_off_answers_fail, loopback_client as client
from tests.loopback import LoopbackServer, Reply

FIX = Path(__file__).parent / "fixtures" / "telegram"
PAGE = "/s/newsdesk"
HTML = {"Content-Type": "text/html; charset=utf-8"}


def fragment(name, number=None):
    html = (FIX / name).read_text(encoding="utf-8")
    if number is not None:  # the same real message, renumbered into one test channel
        html = re.sub(r'data-post="[^"]+"', f'data-post="newsdesk/{number}"', html, count=1)
    return html


def page(*messages):
    return ("<!DOCTYPE html><html><head><title>News desk – Telegram</title></head><body>"
            '<section class="tgme_channel_history js-message_history">'
            + "".join(messages) + "</section></body></html>").encode("utf-8")


def source(srv, c, **opts):
    return telegram.Source("tg", {"channel": "newsdesk", "base_url": srv.url(""), **opts}, c)


NEWEST = page(fragment("message_media_photo_and_video.html", 103),
              fragment("message_media_forwarded_from.html", 104), fragment("message_text.html", 105))
OLDER = page(fragment("message_voice.html", 101), fragment("message_link_preview_video.html", 102))
EMPTY = page()


# -- parse -------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,count", [("33.4K", 33400), ("214.4K", 214400), ("1.2M", 1200000),
                                        ("987", 987), ("1,024", 1024), ("", None), ("n/a", None)])
def test_view_counts(text, count):
    assert telegram.parse_count(text) == count


def test_text_message():
    [row] = telegram.parse(fragment("message_text.html").encode())
    assert row["post_id"] == "telegram:topwar_official/70991"
    assert row["url"] == "https://t.me/topwar_official/70991"
    assert row["text"].startswith("Неопознанный летающий объект замечен в 160 – 200 км от Петербурга\n\nПо данным")
    assert row["views"] == 33400 and row["author"] == "Военное обозрение"
    assert row["published_at"].isoformat() == "2023-02-28T08:48:01+00:00"
    assert row["video_ids"] == [] and row["title"] is None


def test_forwarded_message_records_the_origin():
    [row] = telegram.parse(fragment("message_media_forwarded_from.html").encode())
    assert row["title"] == "Forwarded from Пул N3"
    assert "https://t.me/dimsmirnov175/44604" in row["links"]
    assert row["media_urls"][0].startswith("https://cdn4.telegram-cdn.org/file/")


def test_video_messages_and_link_preview_video():
    [grouped] = telegram.parse(fragment("message_media_photo_and_video.html").encode())
    assert grouped["video_ids"] == ["https://t.me/anna_news/46908"]
    assert any(u.split("?")[0].endswith(".mp4") for u in grouped["media_urls"])
    assert "#Белгород" in grouped["text"]
    assert all("?q=" not in link for link in grouped["links"])  # hashtag searches are not links
    [preview] = telegram.parse(fragment("message_link_preview_video.html").encode())
    assert preview["links"] == ["https://t.me/shalnyak/5410"] and preview["video_ids"] == ["https://t.me/shalnyak/5410"]


def test_signed_author_and_messages_without_text():
    [signed] = telegram.parse(fragment("message_with_from_author.html").encode())
    assert signed["author"] == "🅰️rkadiy Ivanov" and signed["text"] == "test"
    for name in ("message_poll.html", "message_sticker.html"):
        [row] = telegram.parse(fragment(name).encode())
        assert row["text"] == ""


def test_youtube_link_in_text():
    html = fragment("message_text.html").replace(
        "сообщает.", 'сообщает. <a href="https://youtu.be/dQw4w9WgXcQ?si=x" target="_blank">youtu.be/dQw4w9WgXcQ</a>')
    [row] = telegram.parse(html.encode())
    assert row["video_ids"] == ["youtube:dQw4w9WgXcQ"]


def test_broken_message_is_skipped_and_counted():
    bad = fragment("message_text.html", 106).replace('data-post="newsdesk/106"', 'data-post="newsdesk/abc"')
    nodate = re.sub(r"<time[^>]*>.*?</time>", "", fragment("message_poll.html", 107), flags=re.S)
    noviews = fragment("message_sticker.html", 108).replace("tgme_widget_message_views", "x")
    rows, skipped, numbers = telegram.parse_page(page(bad, nodate, noviews))
    assert skipped == 1 and numbers == [107, 108]
    assert rows[0]["published_at"] is None and rows[1]["views"] is None


def test_not_a_channel_page():
    with pytest.raises(ParseError, match="not a Telegram channel preview"):
        telegram.parse(b"<html><body><div class='tgme_page'>If you have Telegram, you can contact</div></body></html>")
    with pytest.raises(ParseError, match="JSON"):
        telegram.parse(b'{"ok": false}')
    with pytest.raises(ParseError):
        telegram.parse(fragment("media_video.html").encode())  # part of a message, no message id
    assert telegram.parse(EMPTY) == []


# -- fetch -------------------------------------------------------------------------------------

def test_before_paging_and_cursor():
    with LoopbackServer() as srv:
        srv.route(PAGE, [Reply(200, NEWEST, HTML), Reply(200, OLDER, HTML), Reply(200, EMPTY, HTML)])
        result = source(srv, client(), max_pages=5).fetch(None)
        assert [r[1] for r in srv.requests] == [PAGE, PAGE + "?before=103", PAGE + "?before=101"]
        assert sorted(p["post_id"] for p in result.posts) == [f"telegram:newsdesk/{n}" for n in range(101, 106)]
        assert result.cursor == {"newest": 105}


def test_resume_stops_at_the_newest_message_already_read():
    newer = page(fragment("message_text.html", 104), fragment("message_with_from_author.html", 106),
                 fragment("message_poll.html", 107))
    with LoopbackServer() as srv:
        srv.route(PAGE, [Reply(200, newer, HTML), Reply(200, OLDER, HTML)])
        result = source(srv, client()).fetch({"newest": 105})
        assert [p["post_id"] for p in result.posts] == ["telegram:newsdesk/106", "telegram:newsdesk/107"]
        assert result.requests == 1 and result.cursor == {"newest": 107}


def test_nothing_new_refetches_one_page_only():
    with LoopbackServer() as srv:
        srv.route(PAGE, Reply(200, NEWEST, HTML))
        result = source(srv, client()).fetch({"newest": 105})
        assert result.posts == [] and result.requests == 1 and result.cursor == {"newest": 105}


def test_max_pages_bounds_the_run():
    with LoopbackServer() as srv:
        srv.route(PAGE, [Reply(200, NEWEST, HTML), Reply(200, OLDER, HTML)])
        result = source(srv, client(), max_pages=1).fetch({"newest": 50})
        assert result.requests == 1 and any("max_pages" in w for w in result.warnings)


def test_429_500_timeout_truncated_and_wrong_content():
    with LoopbackServer() as srv:
        srv.route(PAGE, [Reply(429, b"", {"Retry-After": "3"}), Reply(500), Reply(200, EMPTY, HTML)])
        c = client()
        assert source(srv, c, max_pages=1).fetch(None).posts == [] and c.sleeps[0] == 3.0 and len(c.sleeps) == 2
        assert_slow_and_cut_off_answers_fail(srv, PAGE, NEWEST, HTML, 3000,
                                             lambda **kw: source(srv, client(**kw)).fetch(None))
        srv.route(PAGE, Reply(200, b'{"error": "json"}', {"Content-Type": "application/json"}))
        with pytest.raises(ParseError):
            source(srv, client()).fetch(None)
        srv.route(PAGE, Reply(404, b""))
        with pytest.raises(HTTPStatusError):
            source(srv, client()).fetch(None)


@pytest.mark.parametrize("given", ["newsdesk", "@newsdesk", "https://t.me/newsdesk", "t.me/s/newsdesk"])
def test_channel_forms(given):
    assert telegram.Source("tg", {"channel": given}, None).channel == "newsdesk"


def test_bad_channel_is_a_config_error():
    with pytest.raises(ConfigError, match="channel"):
        telegram.Source("tg", {"channel": "no spaces allowed"}, None)
