"""Entity guards that survive spelling, and a surname that never stands for a person alone."""

from pathlib import Path

import polars as pl
import pytest
import yaml

from rules.catalogue import CatalogueError, load_catalogue
from rules.entities import EntityGroup, EntityGuard, skeleton, words_match
from rules.match import Matcher
from rules.normalise import normalise

ROOT = Path(__file__).resolve().parents[2]
CAT = load_catalogue(ROOT / "rules" / "claims")


def names(claim_id, group, text):
    return EntityGuard([CAT.get(claim_id).entity_groups[group]]).check(normalise(text))[0]


@pytest.mark.parametrize("a,b", [("londn", "london"), ("landan", "london"), ("muneer", "munir"), ("israil", "israel"),
                                 ("trmp", "trump"), ("inteqal", "intekal"), ("wafat", "wafaat"), ("imraan", "imran"),
                                 ("hopsital", "hospital"), ("خاں", "خان"), ("لنڈن", "لندن")])
def test_spellings_of_one_name_match(a, b):
    assert words_match(a, b) or skeleton(a) == skeleton(b) and len(a) < 4


@pytest.mark.parametrize("a,b", [("wafaqi", "wafat"), ("rehaish", "rehai"), ("minor", "munir"), ("drove", "drone"),
                                 ("attach", "attack"), ("faisalabad", "faisal"), ("khan", "khana"), ("ik", "is")])
def test_other_words_do_not(a, b):
    assert not words_match(a, b)


@pytest.mark.parametrize("text", [
    "Imran Khan", "IMRAN KAHN", "Imraan Khan", "#ReleaseImranKhan", "imrankhan", "عمران خاں", "bani PTI ki sehat",
    "IK ki rihai ka waqt aa gaya, PTI zindabad", "Kaptaan Adiala jail mein", "Khan sahab ko jail mein rakha hai",
])
def test_imran_khan_is_named(text):
    assert names("trump-khan-release-clip", 1, text)


@pytest.mark.parametrize("text", [
    "Khan", "Sadiq Khan hits back after Trump calls him a terrible mayor", "Khan sahab, chai pilao",
    "IK", "Kaptaan ne toss jeeta", "Shah Rukh Khan new film", "Bollywood actor Imran Khan returns",
])
def test_a_surname_or_one_word_alias_alone_is_not_imran_khan(text):
    assert not names("trump-khan-release-clip", 1, text)


@pytest.mark.parametrize("claim_id,group,text", [
    ("pti-italy-march-london-protest", 1, "protest in londn against army chief"),
    ("pti-italy-march-london-protest", 0, "General Muneer ke khilaf ehtijaj"),
    ("trump-khan-israel-ai-video", 2, "Trump ne kaha Khan israil ka hami hai"),
    ("afridi-ispr-dog-remarks-dubbed", 1, "#DGISPR ko jawab"),
    ("afridi-ispr-dog-remarks-dubbed", 1, "I.S.P.R ka bayan"),
    ("imran-khan-death-fake-press-release", 1, "Imran Khan ki wafat ki khabar"),
    ("imran-khan-death-fake-press-release", 1, "Imran Khan ka intekal ho gaya"),
    ("imran-khan-death-fake-press-release", 1, "Imran Khan is no more"),
    ("imran-khan-2013-injury-footage", 1, "Imran Khan ko PIMS le jaya gaya"),
    ("trump-khan-release-clip", 0, "#Trump2024 wins"),
])
def test_spellings_and_synonyms_from_real_posts_name_the_entity(claim_id, group, text):
    assert names(claim_id, group, text)


@pytest.mark.parametrize("claim_id,group,text", [
    ("trump-khan-release-clip", 0, "Melania Trump visits a school"),
    ("trump-khan-release-clip", 0, "he played his trump card"),
    ("trump-khan-israel-ai-video", 2, "Bani Israil ka waqia"),
    ("imran-khan-death-fake-press-release", 1, "the death penalty case"),
    ("imran-khan-death-fake-press-release", 1, "deadline kal hai"),
    ("imran-khan-2013-injury-footage", 1, "the hospitality industry"),
    ("pti-italy-march-london-protest", 1, "Londonderry and New London"),
])
def test_other_things_with_the_same_word_do_not(claim_id, group, text):
    assert not names(claim_id, group, text)


def test_context_must_be_near():
    guard = EntityGuard([EntityGroup(("imran khan",), ("khan",), ("pti",))])
    assert guard.check(normalise("khan " + "word " * 5 + "pti"))[0]
    assert not guard.check(normalise("khan " + "word " * 40 + "pti"))[0]


def test_the_evidence_names_the_spellings_read_by_similarity():
    m = Matcher(CAT)
    out = m.match(pl.DataFrame({"post_id": ["p"], "text": ["Huge crowd protests against Asim Muneer in Londn, massive!"]}))
    row = out.filter(pl.col("rank") == 1).row(0, named=True)
    assert row["claim_id"] == "pti-italy-march-london-protest" and row["entities_ok"]
    assert "entities spelled" in row["evidence"] and "londn~london" in row["evidence"]


def _claim(tmp_path, groups):
    claim = {"claim_id": "x", "status": "active", "text": "Trump will free Imran Khan.", "verdict": "false",
             "fact_checks": [{"url": "https://f.example/x"}], "required_entities": groups}
    (tmp_path / "x.yaml").write_text(yaml.safe_dump(claim, allow_unicode=True))
    return tmp_path / "x.yaml"


@pytest.mark.parametrize("groups,message", [
    ([["imran khan", "khan"]], "group 1: alias 'khan' is one word of 'imran khan': a surname or one-word alias never "
                               "stands for a person alone"),
    ([{"names": ["imran khan"], "with_context": ["khan"]}], "group 1: with_context aliases need a context list"),
    ([{"names": ["imran khan"], "aliases": ["ik"]}], "group 1: unknown key 'aliases'"),
    ([{"context": ["pti"]}], "group 1: needs names or with_context aliases"),
    ([["trump"], {"names": "imran khan"}], "group 2: names must be a list of strings"),
    (["trump"], "must be a list of groups"),
])
def test_bad_entity_groups_are_refused_in_one_line(tmp_path, groups, message):
    with pytest.raises(CatalogueError, match="field 'required_entities': " + message.replace("(", r"\(")) as exc:
        load_catalogue(_claim(tmp_path, groups))
    assert "\n" not in str(exc.value)


def test_a_mapping_group_round_trips_through_content(tmp_path):
    group = {"names": ["imran khan"], "with_context": ["khan", "ik"], "context": ["pti"], "exclude": ["imran khan actor"]}
    claim = load_catalogue(_claim(tmp_path, [["trump"], group])).get("x")
    assert claim.required_entities == (("trump",), ("imran khan", "khan", "ik"))
    assert claim.content()["required_entities"] == [["trump"], group]
    assert claim.entity_groups[1] == EntityGroup(("imran khan",), ("khan", "ik"), ("pti",), ("imran khan actor",))


def test_a_debunk_goes_to_the_claim_whose_entities_it_names_in_the_larger_share():
    # names Trump only: half of the release clip's groups, a third of the Israel video's (Trump,
    # Khan, Israel), although its words score a little closer to the Israel video's debunk texts
    from pathlib import Path

    import polars as pl

    from rules.catalogue import load_catalogue
    from rules.match import Matcher

    root = Path(__file__).resolve().parents[2]
    m = Matcher(load_catalogue(root / "rules" / "claims"))
    out = m.match(pl.DataFrame({"post_id": ["d"], "text": [
        "Trump ne aisa kuch nahi kaha, ye purana interview hai jis pe nayi awaz lagayi gayi"]}))
    first = out.filter(pl.col("rank") == 1).row(0, named=True)
    assert (first["claim_id"], first["label"]) == ("trump-khan-release-clip", "debunk"), out
    guard = m.index.entities[m.claim_ids.index("trump-khan-israel-ai-video")]
    assert guard.scan("trump ne aisa kuch nahi kaha")[0::2] == (False, 1 / 3)
    assert guard.check("trump ne kaha imran khan israel ka hami") == (True, [])
