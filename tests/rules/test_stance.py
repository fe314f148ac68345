"""Stance cues in English, Urdu and Roman Urdu, negation-aware."""

import pytest

from rules.stance import stance_of


@pytest.mark.parametrize("text,stance", [
    ("This video is fake, it was edited", "debunks"),
    ("this is not fake", "spreads"),
    ("yeh video jaali nahi hai", "spreads"),
    ("ٹرمپ کی ویڈیو جعلی ہے", "debunks"),
    ("ye video fake hai bhai", "debunks"),
    ("Is this real? Trump and Khan", "unclear"),
    ("kya yeh sach hai", "unclear"),
    ("A video circulating online reportedly shows Trump", "mentions"),
    ("Fake news media won't show you this", "spreads"),
    ("", "spreads"),
])
def test_cues(text, stance):
    assert stance_of(text) == stance


def test_link_to_a_fact_check_debunks():
    assert stance_of("see this", links=["https://factcheck.afp.com/doc.afp.com.34X9"]) == "debunks"
    assert stance_of("see this", links=["https://example.org/x"], fact_check_keys={"https://example.org/x"}) == "debunks"


def test_a_fact_check_section_index_is_not_a_fact_check():
    from rules.stance import is_fact_check_url

    assert not is_fact_check_url("https://news.example.pk/fact-check")
    assert is_fact_check_url("https://news.example.pk/fact-check/trump-khan-video")
    assert is_fact_check_url("https://factcheck.afp.com/doc.afp.com.34X9")


def test_hedges_and_questions():
    from rules.stance import stance_of

    assert stance_of("Is the Trump video about Imran Khan real? Seen it everywhere") == "unclear"
    assert stance_of("analysis: doctored clips, including one of Trump, went viral") == "mentions"
    assert stance_of("ab bolo? Trump ne rihai ka waada kiya") == "spreads"
