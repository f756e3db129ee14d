"""Redacting secrets from text before a hook event is written anywhere.

Runs in the hook's fast path (standard library only), so a secret never reaches the
spool file, the database or the log. What is removed: provider API keys and tokens by
their documented prefixes, bearer/basic credentials, private key blocks, JSON Web
Tokens, passwords in URLs, the value of any ``NAME=value`` environment assignment
(``.env`` lines, ``export``, ``FOO=bar cmd``), the value after a secret-named key or
flag (``api_key: …``, ``--password …``), and long random-looking strings.
"""

from __future__ import annotations

import re

REDACTED = "[REDACTED]"

_SECRET_NAME = (
    r"[A-Za-z0-9_.-]*(?:api[_-]?key|apikey|token|secret|passw(?:or)?d|pwd|passphrase"
    r"|credentials?|private[_-]?key|access[_-]?key|auth[_-]?key|session[_-]?key|cookie)"
    r"[A-Za-z0-9_.-]*"
)

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # PEM private keys, whole block (or to the end when the block is cut).
    (
        re.compile(
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)",
            re.DOTALL,
        ),
        REDACTED,
    ),
    # Authorization headers and bare bearer/basic credentials.
    (re.compile(r"(?i)\b(authorization\s*[:=]\s*)(?:\w+\s+)?[^\s'\"]+"), r"\1" + REDACTED),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + REDACTED),
    (re.compile(r"(?i)\b(basic)\s+(?=\S*[0-9=])[A-Za-z0-9+/]{12,}={0,2}"), r"\1 " + REDACTED),
    # Passwords in URLs: scheme://user:password@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]*):[^\s@/]+@"), r"\1:" + REDACTED + "@"),
    # Well-known key formats.
    (re.compile(r"\bsk-(?:ant-|proj-|live-|test-)?[A-Za-z0-9_-]{16,}"), REDACTED),
    (
        re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}|\bgithub_pat_[A-Za-z0-9_]{20,}"),
        REDACTED,
    ),
    (re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}"), REDACTED),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), REDACTED),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), REDACTED),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}"), REDACTED),
    (re.compile(r"\b(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"), REDACTED),
    (re.compile(r"\bnpm_[A-Za-z0-9]{30,}"), REDACTED),
    (re.compile(r"\bhf_[A-Za-z0-9]{30,}"), REDACTED),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), REDACTED),
    # NAME=value environment assignments (.env lines, export, inline env): the value never
    # belongs in memory, secret-named or not.
    (
        re.compile(
            r"(?m)(^|[\s;&|(]|\bexport\s+)([A-Z][A-Z0-9_]*)=(\"[^\"]*\"|'[^']*'|[^\s;&|)]+)"
        ),
        r"\1\2=" + REDACTED,
    ),
    # secret-named keys and flags: api_key: v, "password": "v", --token v, --secret=v
    (
        re.compile(
            r"(?i)(\b" + _SECRET_NAME + r"\b[\"']?\s*[:=]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;&|)}]+)"
        ),
        r"\1" + REDACTED,
    ),
    (
        re.compile(r"(?i)(--?" + _SECRET_NAME + r"[ =])(?!-)(\"[^\"]*\"|'[^']*'|\S+)"),
        r"\1" + REDACTED,
    ),
    # Long random-looking strings: 32+ characters mixing upper case, lower case and digits.
    (
        re.compile(
            r"\b(?=[A-Za-z0-9+/_-]*[A-Z])(?=[A-Za-z0-9+/_-]*[a-z])(?=[A-Za-z0-9+/_-]*[0-9])[A-Za-z0-9+/_-]{32,}={0,2}"
        ),
        REDACTED,
    ),
)


def redact(text: str) -> str:
    """``text`` with every secret-looking part replaced by ``[REDACTED]``."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text
