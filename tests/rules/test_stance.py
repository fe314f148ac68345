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


@pytest.mark.parametrize("text,stance", [
    # Urdu-script and Roman Urdu spellings of the same verdicts
    ("منگھڑت کہانی ہے یہ", "debunks"),
    ("ایڈیٹ شدہ ویڈیو ہے، اصل کلپ کچھ اور ہے", "debunks"),
    ("آفریدی نے یہ بات نہیں کہی", "debunks"),
    ("ye afwa hai", "debunks"),
    ("FO ne tardid ki hai", "debunks"),
    ("puraani video hai", "debunks"),
    ("edit ki hui video hai", "debunks"),
    # media dated to a past year or "not new"
    ("That photo of Imran Khan in a hospital bed is from 2013, after he fell at a Lahore rally.", "debunks"),
    ("یہ تصویر 2013 کی ہے جب عمران خان جلسے میں گرے تھے", "debunks"),
    ("That fire video is from last May.", "debunks"),
    # a debunk word asked about, wished for, or naming something else is no verdict
    ("kya ye fake hai?", "unclear"),
    ("کیا یہ ویڈیو جعلی ہے؟", "unclear"),
    ("Allah kare ye jhoot ho, Imran Khan ki wafat ki khabar aayi hai", "spreads"),
    ("جھوٹا میڈیا یہ ویڈیو نہیں دکھائے گا", "spreads"),
    ("jhoote cases mein andar hai Khan, ab Trump bolega", "spreads"),
])
def test_spellings_and_forms_of_debunk_cues(text, stance):
    assert stance_of(text) == stance


def test_an_explicit_debunk_cue_decides_over_an_unsure_or_spreading_model_reading():
    from rules.normalise import normalise
    from rules.stance_model import default_model

    model = default_model()
    assert model.debunk_cue_decides
    for text in ("ye video jhooti hai", "یہ خبر بے بنیاد ہے", "dubbing ki gayi hai"):
        assert model.predict([normalise(text)], [text]) == ["debunks"], text
    # a wish that the news be false stays a hedged spreading post, not a debunk
    text = "خدا کرے یہ خبر جھوٹی ہو"
    assert model.predict([normalise(text)], [text]) != ["debunks"]


def test_a_question_the_cue_lists_find_is_never_read_as_spreading():
    import json

    from rules.normalise import normalise
    from rules.stance_model import CUE_FEATURES, MODEL_PATH, StanceModel, cue_frame, default_model

    model = default_model()
    assert model.question_cue_decides
    text = "کیا یہ سچ ہے کہ فیصل مسجد پر ڈرون گرا؟ ویڈیو میں تو آگ ہی آگ ہے، اللہ خیر کرے"
    args = ([normalise(text)], [text])
    assert cue_frame(*args)[0, CUE_FEATURES.index("cue_unclear")] == 1.0  # the cue lists read a question
    assert model.predict(*args) == ["unclear"]
    spec = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    # the model alone reads it as spreading
    assert StanceModel({**spec, "question_cue_decides": False}).predict(*args) == ["spreads"]
    # a statement with no question keeps the model's reading
    text = "Faisal Masjid pe drone gira, aag hi aag hai, share karo"
    assert model.predict([normalise(text)], [text]) == ["spreads"]
