"""``json.loads`` / ``json.dumps`` for the status line, without importing ``json``.

Why: the ``json`` package imports ``re``, and on a machine where Python starts in 11 ms
the two cost another 10 ms, most of what ``spendtui statusline`` does besides starting.
Its C accelerator ``_json`` (what ``json`` itself uses) needs neither, so this drives it
directly, with the same settings as ``json.loads(s)`` and
``json.dumps(o, separators=(",", ":"))``; tests hold the results equal. Where ``_json``
is missing (not CPython), or on an error (to raise json's own ``JSONDecodeError``), the
``json`` package is imported after all.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

try:
    from _json import encode_basestring_ascii as _ascii
    from _json import make_encoder as _make_encoder
    from _json import make_scanner as _make_scanner
except ImportError:  # pragma: no cover - other interpreters
    _make_scanner = _make_encoder = _ascii = None

_WS = " \t\n\r"  # json.decoder.WHITESPACE
_NAN = float("nan")
_CONSTANTS = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": _NAN}


class _Context:
    """The attributes ``json.JSONDecoder`` hands its C scanner."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_int = int

    def __init__(self, parse_constant: Callable[[str], Any], parse_float: Callable[[str], Any]) -> None:
        self.parse_constant = parse_constant
        self.parse_float = parse_float
        self.memo: dict[str, str] = {}


def _error(msg: str, s: str, pos: int) -> Exception:
    from json import JSONDecodeError

    return JSONDecodeError(msg, s, pos)


def scanner(parse_constant: Callable[[str], Any] = _CONSTANTS.__getitem__,
            parse_float: Callable[[str], Any] = float) -> Callable[[str], Any]:
    """A ``loads(text)`` like ``json.loads(text, parse_constant=..., parse_float=...)``."""
    if _make_scanner is None:  # pragma: no cover - other interpreters
        import json

        return lambda s: json.loads(s, parse_constant=parse_constant, parse_float=parse_float)
    scan = _make_scanner(_Context(parse_constant, parse_float))

    def loads(s: str) -> Any:
        if s.startswith("\ufeff"):
            raise _error("Unexpected UTF-8 BOM (decode using utf-8-sig)", s, 0)
        i = len(s) - len(s.lstrip(_WS))
        try:
            obj, end = scan(s, i)
        except StopIteration as e:
            raise _error("Expecting value", s, e.value) from None
        if s[end:].lstrip(_WS):
            raise _error("Extra data", s, len(s) - len(s[end:].lstrip(_WS)))
        return obj

    return loads


loads = scanner()


def _default(o: Any) -> Any:
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


def dumps(obj: Any) -> str:
    """``json.dumps(obj, separators=(",", ":"))``."""
    if _make_encoder is None:  # pragma: no cover - other interpreters
        import json

        return json.dumps(obj, separators=(",", ":"))
    if isinstance(obj, str):
        return _ascii(obj)
    return "".join(_make_encoder({}, _default, _ascii, None, ":", ",", False, False, True)(obj, 0))
