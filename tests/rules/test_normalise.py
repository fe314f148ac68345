"""One normalisation for claims and posts: scripts, spellings, tweet furniture, URLs."""

import time

import polars as pl

from rules.normalise import canonical_media, extract_urls, normalise, normalise_series


def test_tweet_tail_keeps_the_author_name_but_drops_handle_date_and_links():
    raw = "Iran could threaten Trump hotels https://t.co/abc pic.twitter.com/3S32De8ekP — Ilhan Omar (@IlhanMN) January 6, 2020"
    assert normalise(raw) == "iran could threaten trump hotels ilhan omar"


def test_hashtags_and_mentions_keep_their_words_and_camel_case_is_split():
    assert normalise("#FreeImranKhan now @ImranKhanPTI") == "free imran khan now imran khan pti"
    assert "#" not in normalise("#Trump2024") and "@" not in normalise("@someone")


def test_urdu_script_variants_fold_to_one_form():
    arabic_forms = "عمران خان كي رِہائی ـــ ويڈيو"  # Arabic kaf/yeh, kasra, tatweel
    urdu_forms = "عمران خان کی رہائی ویڈیو"
    assert normalise(arabic_forms) == normalise(urdu_forms)
    assert normalise("أحمد") == normalise("احمد")
    assert normalise("۲۰۲۴") == "2024"


def test_roman_urdu_spellings_fold_to_one_form():
    assert normalise("Imran Kahn ki rehai") == normalise("imran khan ki rihai") == normalise("Imran Khan ki rihayi")
    assert normalise("jhuta vedio") == normalise("jhoota video") == normalise("jhoot vidio")
    assert normalise("Trump ne kha") == "trump ne kaha"
    assert normalise("azad karwaonga") == normalise("aazaad karwaunga") == normalise("azaad karwayenge")
    assert normalise("jail se chhuda lunga") == normalise("jail se chhurwa lunga")
    assert normalise("rehaa") == normalise("riha") != normalise("rihai")


def test_emoji_nfkc_and_case_folding():
    assert normalise("Ｆａｋｅ 🔥🔥 Straße 👍🏽") == "fake strasse"
    assert normalise("😀😀😀") == ""


def test_empty_none_and_huge_inputs():
    assert normalise("") == "" and normalise(None) == ""
    big = "word " * 200_000
    t = time.perf_counter()
    assert normalise(big).count("word") == 200_000
    assert time.perf_counter() - t < 5


def test_series_and_scalar_agree():
    texts = ["Trump ne kha", None, "ٹرمپ", "Khan's VIDEO"]
    assert normalise_series(pl.Series(texts)).to_list() == [normalise(t) for t in texts]


def test_youtube_forms_canonicalise_to_one_id():
    forms = [
        "https://youtu.be/dQw4w9WgXcQ?si=abc", "https://m.youtube.com/watch?v=dQw4w9WgXcQ&feature=share",
        "youtube.com/shorts/dQw4w9WgXcQ", "https://www.youtube.com/embed/dQw4w9WgXcQ",
        "https://www.youtube.com/watch?app=desktop&v=dQw4w9WgXcQ&t=5s", "youtube:dQw4w9WgXcQ",
    ]
    assert {canonical_media(f) for f in forms} == {"youtube:dQw4w9WgXcQ"}


def test_other_urls_lose_www_tracking_and_fragment_and_bad_ones_are_none():
    assert canonical_media("HTTP://WWW.Example.com/a/b/?utm_source=x&id=3&fbclid=9#top") == "https://example.com/a/b?id=3"
    assert canonical_media("not a url") is None
    assert canonical_media("ftp://example.com/x") is None
    assert canonical_media("youtube:short") is None


def test_an_ipv6_host_keeps_its_brackets_in_the_key_and_in_the_text():
    key = "https://[2001:db8::1]/clip.mp4"
    assert canonical_media("http://[2001:DB8:0::1]:80/clip.mp4?utm_source=x") == key
    assert canonical_media("https://[2001:db8::1]:8443/clip.mp4") == "https://[2001:db8::1]:8443/clip.mp4"
    assert canonical_media("http://[::1]/v#top") == "https://[::1]/v"
    assert canonical_media("http://[zz::1]/clip.mp4") is None
    text = "the clip: http://[2001:db8::1]/clip.mp4, mirrored"
    assert extract_urls(text) == ["http://[2001:db8::1]/clip.mp4"]
    assert normalise(text) == "the clip mirrored"


def test_urls_are_extracted_before_they_are_removed():
    text = "watch https://youtu.be/dQw4w9WgXcQ. and www.example.com/x"
    assert extract_urls(text) == ["https://youtu.be/dQw4w9WgXcQ", "www.example.com/x"]
    assert "youtu" not in normalise(text)
