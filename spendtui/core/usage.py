"""Token usage of one API call, named after the anthropic SDK's ``Usage`` model.

We keep a slotted dataclass instead of the SDK's pydantic model on the hot path
(building a pydantic model per transcript line costs ~10x more), but every field
name matches ``anthropic.types.Usage`` and ``to_sdk()`` builds the real thing; a
test keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_MAX_TOKENS = 10**12  # anything larger is corrupt data, not a real request
_COUNTERS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


def _int(value: Any) -> int | None:
    """A non-negative token count, or None when the value is unusable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= _MAX_TOKENS else None
    if isinstance(value, float) and value.is_integer():
        return _int(int(value))
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return _int(int(value.strip()))
    return None


def _shown(value: Any) -> str:
    """A bad value as a skip reason names it: itself when short, else only its kind and
    size. It may be the user's text, and reasons are printed, saved and shown."""
    r = repr(value)
    if len(r) <= 32:
        return r
    if isinstance(value, str):
        return f"a string of {len(value):,} characters"
    if isinstance(value, (list, dict)):
        return f"a {type(value).__name__} of {len(value):,} items"
    return f"a {type(value).__name__} of {len(r):,} characters"


def fast_pickle(cls: Any) -> Any:
    """Pickle a slots dataclass as (class, field values): the dataclass default goes
    through ``fields()`` per object, which made loading a cached session 3x slower."""
    from dataclasses import fields

    names = tuple(f.name for f in fields(cls))

    def __reduce__(self: Any) -> tuple[Any, tuple[Any, ...]]:
        return (cls, tuple([getattr(self, n) for n in names]))

    cls.__reduce__ = __reduce__
    return cls


class UsageError(ValueError):
    """The usage object exists but cannot be trusted (wrong types, negative numbers)."""


@fast_pickle
@dataclass(slots=True, frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    # usage.cache_creation.ephemeral_5m_input_tokens / ephemeral_1h_input_tokens
    ephemeral_5m_input_tokens: int = 0
    ephemeral_1h_input_tokens: int = 0
    # usage.server_tool_use.web_search_requests / web_fetch_requests
    web_search_requests: int = 0
    web_fetch_requests: int = 0
    speed: str | None = None
    inference_geo: str | None = None
    service_tier: str | None = None

    @classmethod
    def from_json(cls, raw: Any) -> Usage:
        """Build from a transcript's ``message.usage``; raise UsageError on bad shape.

        Missing counters are 0 (older Claude Code omits some); present but invalid
        ones (negative, strings that are not digits, null where a number must be)
        make the whole line untrustworthy, so we refuse it rather than guess.
        """
        if type(raw) is dict:
            fast = cls._from_plain(raw)
            if fast is not None:
                return fast
        return cls._from_json_checked(raw)

    @classmethod
    def _from_plain(cls, raw: dict[str, Any]) -> Usage | None:
        """The usual shape (plain ints, a complete breakdown), built with few checks;
        None sends anything else through the careful path."""
        g = raw.get
        if "input_tokens" not in raw and "output_tokens" not in raw:
            return None  # the careful path decides (it refuses an object without counters)
        inp, out = g("input_tokens", 0), g("output_tokens", 0)
        cc, cr = g("cache_creation_input_tokens", 0), g("cache_read_input_tokens", 0)
        b = g("cache_creation")
        if b is None:
            e5, e1 = cc, 0
        elif type(b) is dict:
            e5, e1 = b.get("ephemeral_5m_input_tokens", 0), b.get("ephemeral_1h_input_tokens", 0)
        else:
            return None
        stu = g("server_tool_use")
        ws = wf = 0
        if stu is not None:
            if type(stu) is not dict:
                return None
            ws, wf = stu.get("web_search_requests", 0), stu.get("web_fetch_requests", 0)
        for v in (inp, out, cc, cr, e5, e1, ws, wf):
            if type(v) is not int or not 0 <= v <= _MAX_TOKENS:
                return None
        if b is not None and e5 + e1 != cc:
            return None  # an old inconsistent breakdown: the careful path reconciles it
        sp, geo, tier = g("speed"), g("inference_geo"), g("service_tier")
        return cls(inp, out, cc, cr, e5, e1, ws, wf, sp if type(sp) is str else None,
                   geo if type(geo) is str else None, tier if type(tier) is str else None)

    @classmethod
    def _from_json_checked(cls, raw: Any) -> Usage:
        if not isinstance(raw, dict):
            raise UsageError("usage is not an object")
        if not any(k in raw for k in _COUNTERS):
            # an empty or foreign object: counting it as a call of 0 tokens would invent a call
            raise UsageError("no token counts")

        def count(d: dict[str, Any], key: str) -> int:
            if key not in d:
                return 0
            v = _int(d[key])
            if v is None:
                raise UsageError(f"usage.{key} is {_shown(d[key])}")
            return v

        inp = count(raw, "input_tokens")
        out = count(raw, "output_tokens")
        cc = count(raw, "cache_creation_input_tokens")
        cr = count(raw, "cache_read_input_tokens")
        e5 = e1 = 0
        breakdown = raw.get("cache_creation")
        if isinstance(breakdown, dict):
            e5 = count(breakdown, "ephemeral_5m_input_tokens")
            e1 = count(breakdown, "ephemeral_1h_input_tokens")
        if e5 + e1:
            # Claude Code < 2.1.152 sometimes wrote cache_creation_input_tokens=0 with a
            # non-zero breakdown; the breakdown is what was billed.
            cc = max(cc, e5 + e1)
            if cc > e5 + e1:
                # the total says more than the split: the remainder is 5-minute writes,
                # the API default TTL
                e5 = cc - e1
        else:
            e5 = cc
        ws = wf = 0
        stu = raw.get("server_tool_use")
        if isinstance(stu, dict):
            ws = count(stu, "web_search_requests")
            wf = count(stu, "web_fetch_requests")

        def text(key: str) -> str | None:
            v = raw.get(key)
            return v if isinstance(v, str) else None

        return cls(inp, out, cc, cr, e5, e1, ws, wf, text("speed"), text("inference_geo"),
                   text("service_tier"))

    @property
    def prompt_tokens(self) -> int:
        """Everything sent in the request: the context size of this call."""
        return self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.output_tokens

    def to_sdk(self) -> Any:
        """The same numbers as an ``anthropic.types.Usage`` (imported lazily: it is heavy)."""
        from anthropic.types import CacheCreation, ServerToolUsage
        from anthropic.types import Usage as SdkUsage

        return SdkUsage(
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cache_creation_input_tokens=self.cache_creation_input_tokens,
            cache_read_input_tokens=self.cache_read_input_tokens,
            cache_creation=CacheCreation(
                ephemeral_5m_input_tokens=self.ephemeral_5m_input_tokens,
                ephemeral_1h_input_tokens=self.ephemeral_1h_input_tokens,
            ),
            server_tool_use=ServerToolUsage(
                web_search_requests=self.web_search_requests,
                web_fetch_requests=self.web_fetch_requests,
            ),
            service_tier=self.service_tier if self.service_tier in ("standard", "priority", "batch") else None,
        )
