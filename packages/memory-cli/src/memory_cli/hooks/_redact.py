"""Redacting secrets from text before a hook event is written anywhere.

Runs in the hook's fast path, so a secret never reaches the spool file, the database or
the log. What is removed: provider API keys and tokens by their documented prefixes,
bearer/basic credentials, private key blocks, JSON Web Tokens, passwords in URLs, the
value of any ``NAME=value`` environment assignment (``.env`` lines, ``export``, ``FOO=bar
cmd``), the value after a secret-named key or flag (``api_key: …``, ``--password …``), and
long random-looking strings.

Each rule has a cheap test that must hold wherever its pattern can match (a literal it
needs, in lower case); a rule's regex is compiled, and ``re`` imported, only when that
test passes. Most tool calls (a path, a plain command) need no regex at all, and ``re``
plus the compiles would cost a hook call ~8 ms. The result equals applying every rule.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time: this is the hook's fast path
if TYPE_CHECKING:
    from collections.abc import Callable
    from re import Pattern

REDACTED = "[REDACTED]"

_SECRET_NAME = (
    r"[A-Za-z0-9_.-]*(?:api[_-]?key|apikey|token|secret|passw(?:or)?d|pwd|passphrase"
    r"|credentials?|private[_-]?key|access[_-]?key|auth[_-]?key|session[_-]?key|cookie)"
    r"[A-Za-z0-9_.-]*"
)
# Every spelling _SECRET_NAME matches contains one of these (lower case).
_SECRET_WORDS = ("key", "token", "secret", "passw", "pwd", "passphrase", "credential", "cookie")
_ENV_NAME_END = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def _any(*needles: str) -> Callable[[str, str], bool]:
    return lambda text, low: any(n in low for n in needles)


def _env_assignment(text: str, low: str) -> bool:
    """Some ``=`` right after an upper-case name character (``NAME=``)."""
    at = text.find("=", 1)
    while at > 0:
        if text[at - 1] in _ENV_NAME_END:
            return True
        at = text.find("=", at + 1)
    return False


def _secret_key(text: str, low: str) -> bool:
    return ("=" in text or ":" in text) and any(w in low for w in _SECRET_WORDS)


def _secret_flag(text: str, low: str) -> bool:
    return "-" in text and any(w in low for w in _SECRET_WORDS)


def _long_word(text: str, low: str) -> bool:
    """A run of 32+ non-space characters (what the random-string rule needs)."""
    return any(len(word) >= 32 for word in text.split())


# (pattern, replacement, when it can match). The patterns carry their flags inline.
RULES: tuple[tuple[str, str, Callable[[str, str], bool]], ...] = (
    # PEM private keys, whole block (or to the end when the block is cut).
    (
        r"(?s)-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)",
        REDACTED,
        _any("private key"),
    ),
    # Authorization headers and bare bearer/basic credentials.
    (
        r"(?i)\b(authorization\s*[:=]\s*)(?:\w+\s+)?[^\s'\"]+",
        r"\1" + REDACTED,
        _any("authorization"),
    ),
    (r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}", r"\1 " + REDACTED, _any("bearer")),
    (
        r"(?i)\b(basic)\s+(?=\S*[0-9=])[A-Za-z0-9+/]{12,}={0,2}",
        r"\1 " + REDACTED,
        _any("basic"),
    ),
    # Passwords in URLs: scheme://user:password@host
    (
        r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]*):[^\s@/]+@",
        r"\1:" + REDACTED + "@",
        lambda text, low: "://" in text and "@" in text,
    ),
    # Well-known key formats.
    (r"\bsk-(?:ant-|proj-|live-|test-)?[A-Za-z0-9_-]{16,}", REDACTED, _any("sk-")),
    (
        r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}|\bgithub_pat_[A-Za-z0-9_]{20,}",
        REDACTED,
        _any("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    ),
    (r"\bglpat-[A-Za-z0-9_-]{20,}", REDACTED, _any("glpat-")),
    (r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", REDACTED, _any("akia", "asia")),
    (r"\bxox[abposr]-[A-Za-z0-9-]{10,}", REDACTED, _any("xox")),
    (r"\bAIza[0-9A-Za-z_-]{35}", REDACTED, _any("aiza")),
    (r"\b(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{16,}", REDACTED, _any("_live_", "_test_")),
    (r"\bnpm_[A-Za-z0-9]{30,}", REDACTED, _any("npm_")),
    (r"\bhf_[A-Za-z0-9]{30,}", REDACTED, _any("hf_")),
    (r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", REDACTED, _any("eyj")),
    # NAME=value environment assignments (.env lines, export, inline env): the value never
    # belongs in memory, secret-named or not.
    (
        r"(?m)(^|[\s;&|(]|\bexport\s+)([A-Z][A-Z0-9_]*)=(\"[^\"]*\"|'[^']*'|[^\s;&|)]+)",
        r"\1\2=" + REDACTED,
        _env_assignment,
    ),
    # secret-named keys and flags: api_key: v, "password": "v", --token v, --secret=v
    (
        r"(?i)(\b" + _SECRET_NAME + r"\b[\"']?\s*[:=]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;&|)}]+)",
        r"\1" + REDACTED,
        _secret_key,
    ),
    (
        r"(?i)(--?" + _SECRET_NAME + r"[ =])(?!-)(\"[^\"]*\"|'[^']*'|\S+)",
        r"\1" + REDACTED,
        _secret_flag,
    ),
    # Long random-looking strings: 32+ characters mixing upper case, lower case and digits.
    (
        r"\b(?=[A-Za-z0-9+/_-]*[A-Z])(?=[A-Za-z0-9+/_-]*[a-z])(?=[A-Za-z0-9+/_-]*[0-9])"
        r"[A-Za-z0-9+/_-]{32,}={0,2}",
        REDACTED,
        _long_word,
    ),
)

_compiled: dict[int, Pattern[str]] = {}


def _pattern(index: int) -> Pattern[str]:
    pattern = _compiled.get(index)
    if pattern is None:
        import re

        pattern = _compiled[index] = re.compile(RULES[index][0])
    return pattern


def redact(text: str) -> str:
    """``text`` with every secret-looking part replaced by ``[REDACTED]``."""
    low = text.lower()
    for index, (_, replacement, possible) in enumerate(RULES):
        if possible(text, low):
            changed = _pattern(index).sub(replacement, text)
            if changed != text:
                text, low = changed, changed.lower()
    return text
