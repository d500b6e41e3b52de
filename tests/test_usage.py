"""Usage parsing: the quick path agrees with the careful one, and the SDK's field names."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spendtui.core.usage import Usage, UsageError

counts = st.one_of(st.integers(0, 10**7), st.integers(-5, -1), st.just(10**13), st.none(), st.text(max_size=3),
                   st.floats(allow_nan=False, max_value=1e7), st.booleans())
maybe = st.one_of(st.just("absent"), counts)


def _put(d: dict[str, Any], key: str, v: Any) -> None:
    if v != "absent":
        d[key] = v


@settings(max_examples=500, deadline=None)
@given(inp=maybe, out=maybe, cc=maybe, cr=maybe, e5=maybe, e1=maybe, breakdown=st.booleans(),
       ws=maybe, speed=st.sampled_from([None, "fast", 3]), geo=st.sampled_from([None, "us", ""]))
def test_quick_path_agrees_with_careful_path(inp, out, cc, cr, e5, e1, breakdown, ws, speed, geo) -> None:
    raw: dict[str, Any] = {}
    for k, v in (("input_tokens", inp), ("output_tokens", out), ("cache_creation_input_tokens", cc),
                 ("cache_read_input_tokens", cr)):
        _put(raw, k, v)
    if breakdown:
        raw["cache_creation"] = {}
        _put(raw["cache_creation"], "ephemeral_5m_input_tokens", e5)
        _put(raw["cache_creation"], "ephemeral_1h_input_tokens", e1)
    if ws != "absent":
        raw["server_tool_use"] = {"web_search_requests": ws}
    raw["speed"], raw["inference_geo"] = speed, geo
    quick = Usage._from_plain(raw)
    try:
        careful = Usage._from_json_checked(raw)
    except UsageError:
        careful = None
    if quick is not None:
        assert quick == careful
    assert Usage.from_json(raw) == careful if careful is not None else True
    if careful is None:
        with pytest.raises(UsageError):
            Usage.from_json(raw)


def test_sdk_field_names_match() -> None:
    u = Usage.from_json({"input_tokens": 3, "output_tokens": 5, "cache_creation_input_tokens": 30,
                         "cache_read_input_tokens": 7,
                         "cache_creation": {"ephemeral_5m_input_tokens": 10, "ephemeral_1h_input_tokens": 20},
                         "server_tool_use": {"web_search_requests": 2}, "service_tier": "standard"})
    sdk = u.to_sdk()
    assert (sdk.input_tokens, sdk.output_tokens, sdk.cache_creation_input_tokens, sdk.cache_read_input_tokens) == \
        (3, 5, 30, 7)
    assert (sdk.cache_creation.ephemeral_5m_input_tokens, sdk.cache_creation.ephemeral_1h_input_tokens) == (10, 20)
    assert sdk.server_tool_use.web_search_requests == 2
    assert u.prompt_tokens == 3 + 30 + 7
