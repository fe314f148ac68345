from pathlib import Path

import pytest

from connectors.captions import Cue, detect_format, parse, parse_cues, parse_cues_counted, transcript
from connectors.errors import ParseError

FIX = Path(__file__).parent / "fixtures" / "captions"


def cues(name):
    return parse_cues((FIX / name).read_bytes(), name=name)


def test_plain_webvtt_keeps_every_cue_with_its_times():
    got = cues("sample.vtt")
    assert len(got) == 16
    assert got[0] == Cue(0.5, 7.0, "Caption text #1")
    assert got[-1] == Cue(61.35, 64.3, "Caption text #16")


def test_bom_is_ignored():
    got = cues("captions_with_bom.vtt")
    assert got[0].text == "Caption text #1" and len(got) == 4


def test_metadata_headers_are_not_cues():
    assert [c.text for c in cues("metadata_headers.vtt")] == ["Caption text #1", "Caption text #2"]


def test_style_blocks_are_skipped_and_tags_removed():
    assert cues("styles.vtt") == [Cue(0.0, 10.0, "- Hello world.")]


def test_cue_tags_and_inline_timestamps_are_removed_and_hours_may_be_omitted():
    assert cues("cue_tags.vtt") == [
        Cue(16.5, 18.5, "When the moon hits your eye"),
        Cue(18.5, 20.5, "Like a big-a pizza pie"),
        Cue(20.5, 21.5, "That's amore"),
    ]


def test_youtube_rolling_lines_are_not_repeated():
    got = cues("youtube_dl.vtt")
    assert [c.text for c in got] == ["yeah", "what", "this will happen is I'm telling"]
    assert got[0].start == pytest.approx(286.07)
    assert transcript(got).count("yeah") == 1


def test_block_without_timing_is_skipped_and_counted():
    got, skipped = parse_cues_counted((FIX / "missing_timeframe.vtt").read_bytes())
    assert skipped == 1
    assert "Caption text #2" not in [c.text for c in got]
    assert [c.text for c in got][:2] == ["Caption text #1", "Caption text #3"]


def test_srt():
    got = cues("sample.srt")
    assert got[0] == Cue(0.5, 7.0, "Caption text #1") and len(got) == 5
    assert cues("one_caption.srt") == [Cue(0.5, 7.0, "Caption text #1")]


def test_sbv_multiline_cue_and_end_before_start():
    got = cues("sample.sbv")
    assert got[2] == Cue(13.489, 15.489, "Caption text #3 (line 1)\nCaption text #3 (line 2)")
    assert got[4].start == got[4].end == pytest.approx(17.484)  # end given before start: clamped
    assert detect_format((FIX / "sample.sbv").read_text()) == "sbv"


def test_empty_file_is_a_clear_error():
    with pytest.raises(ParseError, match="empty.vtt: empty caption file"):
        cues("empty.vtt")


def test_vtt_without_header_is_a_clear_error_with_or_without_a_file_name():
    with pytest.raises(ParseError, match="without the 'WEBVTT' header"):
        cues("invalid.vtt")
    with pytest.raises(ParseError, match="without the 'WEBVTT' header"):
        parse_cues((FIX / "invalid.vtt").read_bytes())


def test_not_captions_at_all():
    with pytest.raises(ParseError, match="not a WebVTT, SRT or SBV"):
        parse_cues(b"<html><body>404 page</body></html>", name="x.vtt")
    with pytest.raises(ParseError, match="no cues"):
        parse_cues(b"WEBVTT\n\nNOTE nothing here\n")


def test_cue_right_after_header_and_entities():
    assert parse_cues(b"WEBVTT\n00:01.000 --> 00:02.000\n<v Roger>Trump &amp; Khan\n") == [
        Cue(1.0, 2.0, "Trump & Khan")]


def test_crlf_and_utf16():
    data = "WEBVTT\r\n\r\n00:00:01.000 --> 00:00:02.000\r\nعمران خان\r\n".encode("utf-16")
    assert parse_cues(data) == [Cue(1.0, 2.0, "عمران خان")]


def test_every_fixture_either_parses_or_raises_parse_error():
    for path in sorted(FIX.iterdir()):
        try:
            parse_cues(path.read_bytes(), name=path.name)
        except ParseError:
            assert path.name in {"empty.vtt", "invalid.vtt"}


def test_parse_gives_one_row_with_the_transcript():
    [row] = parse((FIX / "cue_tags.vtt").read_bytes(), url="https://captions.example.org/abc.vtt", source="t")
    assert row["platform"] == "captions" and row["source"] == "t"
    assert row["transcript"] == "When the moon hits your eye\nLike a big-a pizza pie\nThat's amore"


def test_parse_keeps_the_cue_times_beside_the_plain_transcript():
    [row] = parse((FIX / "cue_tags.vtt").read_bytes(), url="https://captions.example.org/abc.vtt")
    assert row["transcript"] == "\n".join(c["text"] for c in row["transcript_cues"])
    assert row["transcript_cues"] == [{"start": c.start, "end": c.end, "text": c.text} for c in cues("cue_tags.vtt")]
    assert all(isinstance(c["start"], float) and c["start"] <= c["end"] for c in row["transcript_cues"])


def test_every_caption_file_gets_its_own_post_id():
    vtt, srt = (FIX / "sample.vtt").read_bytes(), (FIX / "sample.srt").read_bytes()
    assert parse(vtt, url="https://c.example.org/a.vtt")[0]["post_id"] == "captions:https://c.example.org/a.vtt"
    assert parse(vtt, name="clips/a.vtt")[0]["post_id"] == "captions:clips/a.vtt"
    assert parse(vtt, name="a.vtt")[0]["post_id"] != parse(vtt, name="b.vtt")[0]["post_id"]
    by_content = {parse(vtt)[0]["post_id"], parse(srt)[0]["post_id"]}
    assert len(by_content) == 2 and all(p.startswith("captions:sha256:") for p in by_content)
    assert parse(vtt)[0]["post_id"] == parse(vtt)[0]["post_id"]  # stable across runs
    assert "captions:file" not in by_content
