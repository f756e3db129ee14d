"""The tokenizer and Porter stemmer that lexical search and retrieval share."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from memory_core._text import STOPWORDS, stem, terms, tokenize

# (word, stem) pairs from the examples in Porter's 1980 paper, step by step
PORTER_EXAMPLES = [
    ("caresses", "caress"),
    ("ponies", "poni"),
    ("ties", "ti"),
    ("caress", "caress"),
    ("cats", "cat"),
    ("feed", "feed"),
    ("agreed", "agre"),
    ("plastered", "plaster"),
    ("bled", "bled"),
    ("motoring", "motor"),
    ("sing", "sing"),
    ("conflated", "conflat"),
    ("troubled", "troubl"),
    ("sized", "size"),
    ("hopping", "hop"),
    ("tanned", "tan"),
    ("falling", "fall"),
    ("hissing", "hiss"),
    ("fizzed", "fizz"),
    ("failing", "fail"),
    ("filing", "file"),
    ("happy", "happi"),
    ("sky", "sky"),
    ("relational", "relat"),
    ("conditional", "condit"),
    ("rational", "ration"),
    ("valenci", "valenc"),
    ("digitizer", "digit"),
    ("radicalli", "radic"),
    ("differentli", "differ"),
    ("vietnamization", "vietnam"),
    ("predication", "predic"),
    ("operator", "oper"),
    ("feudalism", "feudal"),
    ("decisiveness", "decis"),
    ("hopefulness", "hope"),
    ("callousness", "callous"),
    ("formaliti", "formal"),
    ("sensitiviti", "sensit"),
    ("sensibiliti", "sensibl"),
    ("triplicate", "triplic"),
    ("formative", "form"),
    ("formalize", "formal"),
    ("electrical", "electr"),
    ("goodness", "good"),
    ("revival", "reviv"),
    ("allowance", "allow"),
    ("inference", "infer"),
    ("airliner", "airlin"),
    ("adjustable", "adjust"),
    ("defensible", "defens"),
    ("irritant", "irrit"),
    ("replacement", "replac"),
    ("adjustment", "adjust"),
    ("dependent", "depend"),
    ("adoption", "adopt"),
    ("communism", "commun"),
    ("activate", "activ"),
    ("angulariti", "angular"),
    ("homologous", "homolog"),
    ("effective", "effect"),
    ("bowdlerize", "bowdler"),
    ("probate", "probat"),
    ("rate", "rate"),
    ("cease", "ceas"),
    ("controll", "control"),
    ("roll", "roll"),
]


@pytest.mark.parametrize(("word", "expected"), PORTER_EXAMPLES)
def test_porter_examples(word: str, expected: str) -> None:
    assert stem(word) == expected


def test_inflections_share_a_term() -> None:
    assert terms("running tests") == terms("run test")
    assert terms("connected connections connecting") == ["connect"] * 3
    assert terms("Deployment deployments") == terms("deployment") * 2


def test_tokenize_lowercases_folds_and_splits() -> None:
    assert tokenize("Ünïcode-Café, HTTP/2 foo_bar 3.14") == [
        "unicode",
        "cafe",
        "http",
        "2",
        "foo",
        "bar",
        "3",
        "14",
    ]
    assert tokenize("") == []
    assert tokenize("  ?! -- ") == []


def test_terms_drop_stopwords_and_keep_order_and_repeats() -> None:
    assert terms("How to fix the bug and the bug") == ["how", "fix", "bug", "bug"]
    assert terms("the and of") == []
    assert {"the", "and", "of", "to"} <= STOPWORDS
    assert "fix" not in STOPWORDS and "error" not in STOPWORDS


def test_short_numeric_and_non_ascii_words_are_not_stemmed() -> None:
    assert stem("is") == "is"
    assert stem("v2s") == "v2s"
    assert stem("данные") == "данные"
    assert terms("данные 日本語") == ["данные", "日本語"]


def test_very_long_tokens_are_truncated() -> None:
    (t,) = tokenize("x" * 10_000)
    assert len(t) == 64


@given(st.text())
def test_terms_never_fail_and_are_clean(text: str) -> None:
    for term in terms(text):
        assert term and term == term.lower()
        assert all(ch.isalnum() for ch in term)
        assert term not in STOPWORDS or stem(term) != term


@given(st.from_regex(r"[a-z]{1,20}", fullmatch=True))
def test_stem_never_grows_and_is_nonempty(word: str) -> None:
    s = stem(word)
    assert 0 < len(s) <= len(word)
    assert s[:1] == word[:1]
