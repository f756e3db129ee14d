"""Why a search hit matched, in words a person checks at a glance: the query's words
found in the task or a step, compared with memory-core's own tokenizer and stemmer (the
ones lexical search ranks with), so "endpoints" in a task counts for "endpoint"."""

from __future__ import annotations

from memory_core.text import STOPWORDS, terms, tokenize


def matched_words(query: str, text: str) -> list[str]:
    """The query's words (as typed, folded, once each) whose search term occurs in
    ``text``; stopwords never count."""
    present = set(terms(text))
    out: list[str] = []
    for word in tokenize(query):
        if word in STOPWORDS or word in out:
            continue
        stemmed = terms(word)
        if stemmed and stemmed[0] in present:
            out.append(word)
    return out
