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
