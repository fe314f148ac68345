from datetime import datetime, timezone

import polars as pl
import pytest

from connectors.captions import Cue
from connectors.schema import POSTS_SCHEMA, make_post, posts_frame

CUE = pl.Struct({"start": pl.Float64, "end": pl.Float64, "text": pl.String})


def test_transcript_cues_column_is_a_list_of_timed_texts():
    assert POSTS_SCHEMA["transcript_cues"] == pl.List(CUE)
    assert POSTS_SCHEMA["transcript"] == pl.String


def test_make_post_defaults_cues_to_an_empty_list():
    row = make_post("news", "https://x.example/a", text="hello")
    assert row["transcript_cues"] == []
    frame = posts_frame([row])
    assert frame.schema == pl.Schema(POSTS_SCHEMA)
    assert frame["transcript_cues"].to_list() == [[]]


def test_make_post_takes_cue_objects_or_dicts_and_stores_dicts():
    row = make_post("captions", "a.vtt", transcript="hi\nthere",
                    transcript_cues=[Cue(1, 2.5, "hi"), {"start": 2.5, "end": 4, "text": "there"}])
    assert row["transcript_cues"] == [{"start": 1.0, "end": 2.5, "text": "hi"},
                                      {"start": 2.5, "end": 4.0, "text": "there"}]
    frame = posts_frame([row, make_post("news", "b")])
    assert frame["transcript_cues"].to_list()[0][1] == {"start": 2.5, "end": 4.0, "text": "there"}
    exploded = frame.select(pl.col("transcript_cues").explode().struct.field("start")).drop_nulls()
    assert exploded.to_series().to_list() == [1.0, 2.5]


def test_cue_times_do_not_change_the_content_hash():
    a = make_post("captions", "a", transcript="hi", transcript_cues=[Cue(0, 1, "hi")])
    b = make_post("captions", "a", transcript="hi", transcript_cues=[Cue(5, 6, "hi")])
    assert a["content_hash"] == b["content_hash"]


@pytest.mark.parametrize("bad", [
    {"start": "0:01", "end": 2, "text": "x"},
    {"start": 1, "end": None, "text": "x"},
    {"start": -1, "end": 2, "text": "x"},
    {"start": True, "end": 2, "text": "x"},
    {"start": 1, "end": 2, "text": None},
    "00:01 --> 00:02 x",
])
def test_bad_cues_are_a_connector_bug(bad):
    with pytest.raises(TypeError, match="transcript_cues"):
        make_post("captions", "a", transcript_cues=[bad])


def test_times_and_unknown_fields_still_checked():
    with pytest.raises(TypeError, match="unknown post fields"):
        make_post("news", "a", cues=[])
    row = make_post("news", "a", published_at=datetime(2026, 11, 1, 12))
    assert row["published_at"].tzinfo == timezone.utc
