"""The media step inside a run: it gets at most the time the run hands it."""

from __future__ import annotations

from datetime import date

import polars as pl

from connectors.schema import MEDIA_ITEM
from flows.config import DEMO_MANIFEST, DEMO_SOURCES, load_config
from flows.steps import media_step
from flows.store import Store

THUMB = "https://i.ytimg.com/vi/Vt7wQ2mXc9A/mqdefault.jpg"  # replayed from the demo's recorded responses
STILL = "https://files.mastodon.social/cache/preview_cards/images/118/201/442/original/3c9a1f0e7d2b5a44.jpg"


def posts() -> pl.DataFrame:
    return pl.DataFrame({"post_id": ["youtube:Vt7wQ2mXc9A", "youtube:other"], "source": ["yt", "yt"],
                         "media": [[{"url": THUMB, "kind": "thumbnail"}], [{"url": STILL, "kind": "image"}]]},
                        schema={"post_id": pl.String, "source": pl.String, "media": pl.List(MEDIA_ITEM)})


def test_the_media_step_takes_no_more_than_the_time_the_run_has_left(tmp_path):
    """A run hands the media step half of its time left; with none left every medium is skipped and
    counted for its source (source_health), nothing is fetched or stored, and the run goes on to
    match. With time, the same media are fingerprinted and stored."""
    cfg = load_config(DEMO_SOURCES)
    store = Store(str(tmp_path / "data"))
    media, health = media_step(cfg, store, posts(), "run-1", date(2026, 1, 5), str(DEMO_MANIFEST), time_limit=0.0)
    assert media.is_empty()
    assert (health["yt"].skipped, health["yt"].fingerprinted, health["yt"].failed) == (2, 0, 0)
    media, health = media_step(cfg, store, posts(), "run-2", date(2026, 1, 5), str(DEMO_MANIFEST), time_limit=60.0)
    assert health["yt"].skipped == 0 and health["yt"].fingerprinted + health["yt"].failed == 2
    assert THUMB in media.filter(pl.col("status") == "ok")["media_url"].to_list()
