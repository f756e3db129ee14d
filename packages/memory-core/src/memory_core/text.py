"""Text helpers shared by the core and storage backends: one tokenizer, one stopword
list and one stemmer, so every backend's lexical search agrees on what a term is."""

from memory_core._text import STOPWORDS, terms, tokenize

__all__ = ["STOPWORDS", "terms", "tokenize"]
