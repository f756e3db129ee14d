"""The tokenizer, stopwords and Snowball stemmer that every index and query share."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from memory_core._text import STOPWORDS, stem, terms, tokenize

# Porter2 (Snowball English) cases that Porter's 1980 rules get differently: the
# exceptional forms of the published algorithm and its 1a/1b refinements.
SNOWBALL_EXAMPLES = [
    ("skis", "ski"),
    ("skies", "sky"),
    ("dying", "die"),
    ("lying", "lie"),
    ("news", "news"),
    ("atlas", "atlas"),
    ("innings", "inning"),
    ("succeeding", "succeed"),
    ("generously", "generous"),
    ("gently", "gentl"),
    ("consignment", "consign"),
    ("failing", "fail"),
    ("filing", "file"),
    ("using", "use"),
    ("uses", "use"),
]


@pytest.mark.parametrize(("word", "expected"), SNOWBALL_EXAMPLES)
def test_snowball_examples(word: str, expected: str) -> None:
    assert stem(word) == expected


def test_no_stopword_survives_as_a_stem() -> None:
    """Porter's rules made ``using`` -> ``us`` (a stopword) match ``uses``; no term of
    any text is a stopword, and ``us`` never appears."""
    assert terms("sign-in with Google using a third-party identity provider") == [
        "sign",
        "googl",
        "use",
        "third",
        "parti",
        "ident",
        "provid",
    ]
    assert "us" not in terms("let us see: uses, used, using, us")
    assert terms("grandmother's birthday, don't") == ["grandmoth", "birthday"]


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
    assert terms("How to fix the bug and the bug") == ["fix", "bug", "bug"]
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
        assert term not in STOPWORDS


@given(st.from_regex(r"[a-z]{1,20}", fullmatch=True))
def test_stem_never_grows_and_is_nonempty(word: str) -> None:
    s = stem(word)
    assert 0 < len(s) <= len(word)
    assert s[:1] == word[:1]
