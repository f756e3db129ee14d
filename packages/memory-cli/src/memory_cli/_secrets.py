"""Masking secrets before anything is printed: tokens in URLs, passwords, API keys."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "********"
_SECRET_PARAM = re.compile(r"token|key|secret|password|passwd|auth", re.IGNORECASE)


def mask_url(url: str | None) -> str | None:
    """Hide the password of ``user:pass@host`` and secret-looking query parameters."""
    if not url or ("://" not in url and "?" not in url):
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user, sep, _password = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{host}" if sep else f"{MASK}@{host}" if not user else netloc
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, MASK if _SECRET_PARAM.search(k) else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
