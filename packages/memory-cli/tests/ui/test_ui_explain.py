"""``matched_words``: the query words a hit contains, by the search's own stemmer."""

from __future__ import annotations

from memory_cli.ui.explain import matched_words


def test_words_match_through_stemming_and_ignore_stopwords() -> None:
    task = "Add health endpoints to the billing API"
    assert matched_words("add a health endpoint", task) == ["add", "health", "endpoint"]
    assert matched_words("bill", task) == ["bill"]
    assert matched_words("the and of", task) == []
    assert matched_words("Health HEALTH health", task) == ["health"]
    assert matched_words("deploy kubernetes", task) == []
