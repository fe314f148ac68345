"""Synthetic feeds for speed and memory measurements (and the tests that need a big feed).

    from bench.feeds import rss_feed, rss_chunks
    data = rss_feed(100_000)                    # bytes of an RSS 2.0 feed, newest item first
    chunks = rss_chunks(100_000)                # the same feed as an iterator of chunks, never whole

Items look like a news site's: a title, a link with a slug, a guid, an RFC 822 date one minute
apart, a category and a description of a few HTML paragraphs (about 600 bytes an item), so
``rss_feed(100_000)`` is about 60 MB. The same ``n`` and ``seed`` always give the same bytes.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Iterator

WORDS = ("khan trump release video court hearing adjourned minister party election rally claim "
         "report statement spokesman islamabad lahore karachi government opposition protest senate "
         "budget inflation flood relief cricket match verdict appeal bail jail interview press").split()
START = datetime(2026, 11, 1, tzinfo=timezone.utc)


def _item(i: int, n: int, rng: random.Random, base: str) -> str:
    words = [rng.choice(WORDS) for _ in range(9)]
    title = " ".join(words).capitalize()
    slug = "-".join(words[:6])
    when = format_datetime(START + timedelta(minutes=n - i), usegmt=True)
    paragraphs = "".join(f"<p>{' '.join(rng.choice(WORDS) for _ in range(28))}.</p>" for _ in range(3))
    return (f"<item><title>{title} {i}</title><link>{base}/news/{i}/{slug}</link>"
            f'<guid isPermaLink="false">item-{i}</guid><pubDate>{when}</pubDate>'
            f"<category>pakistan</category><description><![CDATA[{paragraphs}]]></description></item>\n")


def rss_chunks(n: int, *, seed: int = 7, base: str = "https://news.example.pk", items_per_chunk: int = 500) -> Iterator[bytes]:
    """An RSS 2.0 feed of ``n`` items (newest first) as chunks of ``items_per_chunk`` items."""
    rng = random.Random(seed)
    yield (b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
           b"<title>Synthetic news</title><link>" + base.encode() + b"</link><language>en</language>\n")
    for start in range(0, n, items_per_chunk):
        yield "".join(_item(i, n, rng, base) for i in range(start, min(n, start + items_per_chunk))).encode()
    yield b"</channel></rss>\n"


def rss_feed(n: int, **kw) -> bytes:
    return b"".join(rss_chunks(n, **kw))
