"""JSON for the hook's fast path without ``import json``.

``import json`` pulls in ``re`` and ``enum``: about 6 ms of a hook call that has 50 ms in
all. The C accelerators in ``_json``, which the ``json`` module itself uses, parse and
encode without them. Where ``_json`` is missing or differs (not CPython), ``json`` is used.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time: this is the hook's fast path
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_WHITESPACE = " \t\n\r"


class _Options:
    """The attributes ``_json.make_scanner`` reads: ``json.loads``'s defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float  # NaN, Infinity, -Infinity: float() reads all three


def _unencodable(value: object) -> object:
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


_scan: Callable[[str, int], tuple[Any, int]] | None
_encode: Callable[[Any, int], Any] | None
try:
    import _json

    _scan = _json.make_scanner(_Options())  # type: ignore[arg-type]  # reads these attributes
    # markers, default, encoder, indent, key_separator, item_separator, sort_keys,
    # skipkeys, allow_nan: json.dumps(ensure_ascii=False, separators=(",", ":"))
    _encode = _json.make_encoder(
        None, _unencodable, _json.encode_basestring, None, ":", ",", False, False, True
    )
except (ImportError, AttributeError, TypeError):  # pragma: no cover - not CPython
    _scan = _encode = None


def loads(data: bytes) -> Any:
    """Parse one JSON document (UTF-8, optional BOM), like ``json.loads``.

    Raises:
        ValueError: not UTF-8, not JSON, or trailing data.
        RecursionError: nested too deeply.
    """
    text = data.decode("utf-8")
    if text.startswith("\ufeff"):
        text = text[1:]
    if _scan is None:  # pragma: no cover - not CPython
        import json

        return json.loads(text)
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        value, end = _scan(text, start)
    except StopIteration as exc:
        raise ValueError(f"Expecting value: line 1 column {exc.value + 1}") from None
    if text[end:].strip(_WHITESPACE):
        raise ValueError(f"Extra data at character {end}")
    return value


def dumps(value: Any) -> str:
    """Compact JSON text, non-ASCII kept as is."""
    if _encode is None:  # pragma: no cover - not CPython
        import json

        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return "".join(_encode(value, 0))
