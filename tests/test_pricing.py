"""Pricing tests. Expected values are hand computations from the published per-MTok
prices (/work/shared/reference/pricing.md), never from the code under test."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spendtui.core import config
from spendtui.core.pricing import (
    Cost,
    PriceTable,
    format_cost,
    normalize_model_id,
    update_from_litellm,
)
from spendtui.core.usage import Usage

USD = 10**12  # pico-dollars per dollar, written out independently of pricing.PICO


def pico(usd: Decimal) -> int:
    """An exact dollar amount in pico-dollars; fails if it is not a whole number of picos."""
    v = usd * USD
    assert v == v.to_integral_value(), usd
    return int(v)


def per_mtok(price: str, tokens: int) -> Decimal:
    """tokens at ``price`` USD per million tokens."""
    return Decimal(price) * tokens / 10**6


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """No test reads the developer's real config or cache."""
    monkeypatch.setenv("SPENDTUI_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.setenv("SPENDTUI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SPENDTUI_DATA_DIR", str(tmp_path / "data"))
    PriceTable.clear_default()
    yield
    PriceTable.clear_default()


@pytest.fixture
def table() -> PriceTable:
    return PriceTable.embedded()


# ------------------------------------------------------------------ the table itself

# pricing.md §1.1 official table: id, input, 5m write, 1h write, cache read, output
OFFICIAL = [
    ("claude-opus-4-6", "5", "6.25", "10", "0.50", "25"),
    ("claude-opus-4-5-20251101", "5", "6.25", "10", "0.50", "25"),
    ("claude-opus-4-1-20250805", "15", "18.75", "30", "1.50", "75"),
    ("claude-opus-4-20250514", "15", "18.75", "30", "1.50", "75"),
    ("claude-sonnet-4-6", "3", "3.75", "6", "0.30", "15"),
    ("claude-sonnet-4-5-20250929", "3", "3.75", "6", "0.30", "15"),
    ("claude-sonnet-4-20250514", "3", "3.75", "6", "0.30", "15"),
    ("claude-3-7-sonnet-20250219", "3", "3.75", "6", "0.30", "15"),
    ("claude-3-5-sonnet-20240620", "3", "3.75", "6", "0.30", "15"),
    ("claude-3-5-sonnet-20241022", "3", "3.75", "6", "0.30", "15"),
    ("claude-haiku-4-5-20251001", "1", "1.25", "2", "0.10", "5"),
    ("claude-3-5-haiku-20241022", "0.80", "1.00", "1.60", "0.08", "4"),
    ("claude-3-opus-20240229", "15", "18.75", "30", "1.50", "75"),
    ("claude-3-haiku-20240307", "0.25", "0.30", "0.50", "0.03", "1.25"),
    # pricing.md §1.2 (2026 models)
    ("claude-opus-4-7", "5", "6.25", "10", "0.50", "25"),
    ("claude-opus-4-8", "5", "6.25", "10", "0.50", "25"),
    ("claude-opus-5", "5", "6.25", "10", "0.50", "25"),
    ("claude-opus-5-5", "4", "5", "8", "0.20", "20"),
    ("claude-sonnet-5", "2", "2.50", "4", "0.20", "10"),
    ("claude-fable-5", "10", "12.50", "20", "1.00", "50"),
    ("claude-mythos-5", "10", "12.50", "20", "1.00", "50"),
    ("claude-fable-5-1", "10", "12.50", "20", "0.25", "50"),
]


@pytest.mark.parametrize(("model", "inp", "w5", "w1", "rd", "out"), OFFICIAL)
def test_each_token_kind_matches_official_table(table, model, inp, w5, w1, rd, out):
    when = datetime(2026, 6, 1, tzinfo=timezone.utc)
    kinds = {
        "input": (Usage(input_tokens=1234), inp, "input_pico"),
        "output": (Usage(output_tokens=567), out, "output_pico"),
        "5m": (Usage(cache_creation_input_tokens=890, ephemeral_5m_input_tokens=890), w5,
               "cache_write_5m_pico"),
        "1h": (Usage(cache_creation_input_tokens=432, ephemeral_1h_input_tokens=432), w1,
               "cache_write_1h_pico"),
        "read": (Usage(cache_read_input_tokens=10_007), rd, "cache_read_pico"),
    }
    for name, (usage, price, attr) in kinds.items():
        tokens = usage.prompt_tokens + usage.output_tokens
        c = table.cost(model, usage, when)
        expected = pico(per_mtok(price, tokens))
        assert c.priced and c.rule == "table", name
        assert getattr(c, attr) == expected, name
        assert c.total_pico == expected, name


def test_all_kinds_together_sonnet_4_5(table):
    u = Usage(input_tokens=1234, output_tokens=567, cache_creation_input_tokens=1322,
              cache_read_input_tokens=10_000, ephemeral_5m_input_tokens=890,
              ephemeral_1h_input_tokens=432)
    c = table.cost("claude-sonnet-4-5-20250929", u)
    expected = (Decimal(3) * 1234 + Decimal(15) * 567 + Decimal("3.75") * 890
                + Decimal(6) * 432 + Decimal("0.30") * 10_000) / 10**6
    assert c.total_pico == pico(expected)
    assert c.usd == expected
    assert isinstance(c.total_pico, int)
    assert c.model_key == "claude-sonnet-4-5"
    assert not (c.long_context or c.fast or c.geo_us)


def test_cache_write_ttl_split(table):
    # from a transcript line with the breakdown: 5m and 1h priced separately
    raw = {"input_tokens": 10, "cache_creation_input_tokens": 3000,
           "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000}}
    c = table.cost("claude-opus-4-5", Usage.from_json(raw))
    assert c.cache_write_5m_pico == pico(per_mtok("6.25", 1000))
    assert c.cache_write_1h_pico == pico(per_mtok("10", 2000))
    # no breakdown: all creation is a 5-minute write (API default TTL)
    c = table.cost("claude-opus-4-5", Usage(cache_creation_input_tokens=3000))
    assert c.cache_write_5m_pico == pico(per_mtok("6.25", 3000))
    assert c.cache_write_1h_pico == 0
    # hand-built usage whose total exceeds the split: remainder is 5m
    c = table.cost("claude-opus-4-5", Usage(cache_creation_input_tokens=3000,
                                            ephemeral_1h_input_tokens=500))
    assert c.cache_write_5m_pico == pico(per_mtok("6.25", 2500))
    assert c.cache_write_1h_pico == pico(per_mtok("10", 500))


# ------------------------------------------------------------------ long context


def _long_usage(prompt: int) -> Usage:
    # input + 5m write + 1h write + read = prompt; 2,000 output tokens
    return Usage(input_tokens=prompt - 150_000, output_tokens=2_000,
                 cache_creation_input_tokens=50_000, ephemeral_5m_input_tokens=30_000,
                 ephemeral_1h_input_tokens=20_000, cache_read_input_tokens=100_000)


def test_sonnet_4_5_whole_request_premium_above_200k(table):
    over = table.cost("claude-sonnet-4-5-20250929", _long_usage(200_001))
    # premium: input $6, output $22.50, 5m $7.50, 1h $12, read $0.60 on EVERY token
    expected = (per_mtok("6", 50_001) + per_mtok("22.50", 2_000) + per_mtok("7.50", 30_000)
                + per_mtok("12", 20_000) + per_mtok("0.60", 100_000))
    assert over.total_pico == pico(expected)
    assert over.long_context is True
    assert over.output_pico == pico(per_mtok("22.50", 2_000))

    at = table.cost("claude-sonnet-4-5-20250929", _long_usage(200_000))
    expected = (per_mtok("3", 50_000) + per_mtok("15", 2_000) + per_mtok("3.75", 30_000)
                + per_mtok("6", 20_000) + per_mtok("0.30", 100_000))
    assert at.total_pico == pico(expected)
    assert at.long_context is False


def test_per_request_tier_differs_from_ccusage_marginal_tiering(table):
    # ccusage tiers each category separately (first 200K of each at base): a request of
    # 150K input + 100K cache reads would cost nothing extra there. Anthropic bills all of it
    # at premium because the prompt (250K) exceeds 200K.
    u = Usage(input_tokens=150_000, cache_read_input_tokens=100_000, output_tokens=1_000)
    ours = table.cost("claude-sonnet-4", u).total_pico
    ccusage_style = pico(per_mtok("3", 150_000) + per_mtok("0.30", 100_000)
                         + per_mtok("15", 1_000))
    anthropic = pico(per_mtok("6", 150_000) + per_mtok("0.60", 100_000)
                     + per_mtok("22.50", 1_000))
    assert ours == anthropic != ccusage_style


def test_models_without_premium_stay_flat_above_200k(table):
    u = Usage(input_tokens=500_000, output_tokens=1_000)
    c = table.cost("claude-opus-4-7", u)
    assert c.total_pico == pico(per_mtok("5", 500_000) + per_mtok("25", 1_000))
    assert not c.long_context


def test_haiku_5_5_reprices_whole_request_above_100k(table):
    base = table.cost("claude-haiku-5-5", Usage(input_tokens=100_000, output_tokens=10))
    assert base.total_pico == pico(per_mtok("0.10", 100_000) + per_mtok("0.50", 10))
    high = table.cost("claude-haiku-5-5", Usage(input_tokens=100_001, output_tokens=10))
    assert high.total_pico == pico(per_mtok("0.50", 100_001) + per_mtok("2.50", 10))


# ------------------------------------------------------------------ dates


def test_long_context_premium_ended_2026_03_13_for_4_6_models(table):
    u = Usage(input_tokens=300_000, output_tokens=1_000)
    before = datetime(2026, 3, 12, 23, 59, tzinfo=timezone.utc)
    after = datetime(2026, 3, 13, 0, 0, tzinfo=timezone.utc)
    c = table.cost("claude-opus-4-6", u, before)
    assert c.long_context and c.total_pico == pico(per_mtok("10", 300_000)
                                                   + per_mtok("37.50", 1_000))
    c = table.cost("claude-opus-4-6", u, after)
    assert not c.long_context and c.total_pico == pico(per_mtok("5", 300_000)
                                                       + per_mtok("25", 1_000))
    c = table.cost("claude-sonnet-4-6", u, before)
    assert c.total_pico == pico(per_mtok("6", 300_000) + per_mtok("22.50", 1_000))
    c = table.cost("claude-sonnet-4-6", u, after)
    assert c.total_pico == pico(per_mtok("3", 300_000) + per_mtok("15", 1_000))
    # 20:00 on the 12th in UTC-5 is already the 13th in UTC: no premium
    est = datetime(2026, 3, 12, 20, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert not table.cost("claude-sonnet-4-6", u, est).long_context
    # naive datetimes are UTC
    assert table.cost("claude-sonnet-4-6", u, datetime(2026, 3, 12, 23, 0)).long_context


def test_sonnet_5_5_cache_read_price_change(table):
    u = Usage(cache_read_input_tokens=1_000_000, input_tokens=10)
    before = table.cost("claude-sonnet-5-5", u, datetime(2026, 10, 6, 12, tzinfo=timezone.utc))
    after = table.cost("claude-sonnet-5-5", u, datetime(2026, 10, 7, 0, tzinfo=timezone.utc))
    assert before.cache_read_pico == pico(per_mtok("0.20", 1_000_000))
    assert after.cache_read_pico == pico(per_mtok("0.10", 1_000_000))
    assert before.input_pico == after.input_pico == pico(per_mtok("2", 10))


# ------------------------------------------------------------------ fast / geo / web search


def test_fast_mode_multipliers(table):
    u = Usage(input_tokens=10_000, output_tokens=2_000, speed="fast")
    c = table.cost("claude-opus-4-6", u)  # launch fast price $30/$150 = 6x
    assert c.fast and c.total_pico == pico(per_mtok("30", 10_000) + per_mtok("150", 2_000))
    c = table.cost("claude-opus-4-8", u)  # $10/$50 = 2x
    assert c.fast and c.total_pico == pico(per_mtok("10", 10_000) + per_mtok("50", 2_000))
    c = table.cost("claude-opus-5-5", u)  # $8/$40
    assert c.total_pico == pico(per_mtok("8", 10_000) + per_mtok("40", 2_000))
    # no fast mode on Opus 4.7 / Sonnet 4.5: standard rates
    for model, i, o in (("claude-opus-4-7", "5", "25"), ("claude-sonnet-4-5", "3", "15")):
        c = table.cost(model, u)
        assert not c.fast and c.total_pico == pico(per_mtok(i, 10_000) + per_mtok(o, 2_000))


def test_fast_request_over_200k_gets_no_long_context_premium(table):
    u = Usage(input_tokens=250_000, output_tokens=1_000, speed="fast")
    c = table.cost("claude-opus-4-6", u, datetime(2026, 2, 20, tzinfo=timezone.utc))
    assert c.fast and not c.long_context
    assert c.total_pico == pico(6 * (per_mtok("5", 250_000) + per_mtok("25", 1_000)))


def test_us_inference_geo(table):
    u = Usage(input_tokens=10_000, output_tokens=1_000, cache_read_input_tokens=5_000,
              inference_geo="us")
    c = table.cost("claude-sonnet-4-6", u)
    assert c.geo_us
    assert c.total_pico == pico(Decimal("1.1") * (per_mtok("3", 10_000) + per_mtok("15", 1_000)
                                                 + per_mtok("0.30", 5_000)))
    # older models reject inference_geo: no multiplier
    c = table.cost("claude-haiku-4-5", u)
    assert not c.geo_us
    assert c.total_pico == pico(per_mtok("1", 10_000) + per_mtok("5", 1_000)
                                + per_mtok("0.10", 5_000))
    # "global" is the default price
    g = table.cost("claude-sonnet-4-6", Usage(input_tokens=10_000, inference_geo="global"))
    assert not g.geo_us and g.total_pico == pico(per_mtok("3", 10_000))
    # stacks with fast: Opus 4.8 2x * 1.1
    f = table.cost("claude-opus-4-8", Usage(input_tokens=10_000, speed="fast", inference_geo="us"))
    assert f.fast and f.geo_us
    assert f.total_pico == pico(Decimal("2.2") * per_mtok("5", 10_000))


def test_web_search_one_cent_each_not_multiplied(table):
    u = Usage(input_tokens=1_000, web_search_requests=3, web_fetch_requests=5, inference_geo="us")
    c = table.cost("claude-sonnet-4-6", u)
    assert c.web_search_pico == pico(Decimal("0.03"))
    assert c.total_pico == pico(Decimal("0.03") + Decimal("1.1") * per_mtok("3", 1_000))


# ------------------------------------------------------------------ ids


@pytest.mark.parametrize(
    ("model_id", "key"),
    [
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("claude-sonnet-4-5", "claude-sonnet-4-5"),
        ("claude-sonnet-4-5-20250929[1m]", "claude-sonnet-4-5"),
        ("Claude-Opus-4-6[1M]", "claude-opus-4-6"),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
        ("anthropic.claude-3-5-sonnet-20241022-v2:0", "claude-3-5-sonnet"),
        ("anthropic/claude-opus-4-1", "claude-opus-4-1"),
        ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),
        ("claude-3-7-sonnet-latest", "claude-3-7-sonnet"),
        ("claude-opus-4-20250514", "claude-opus-4"),
        ("claude-opus-4-0", "claude-opus-4"),
        ("claude-opus-4-6-20260205", "claude-opus-4-6"),
    ],
)
def test_ids_resolve_to_table(table, model_id, key):
    m, rule = table.resolve(model_id)
    assert m is not None and m.key == key and rule == "table"
    assert table.cost(model_id, Usage(input_tokens=1)).model_key == key


def test_normalize_model_id():
    assert normalize_model_id(" us.anthropic.claude-opus-4-1-20250805-v1:0 ") == \
        "claude-opus-4-1-20250805"
    assert normalize_model_id("claude-sonnet-4-6[1m]") == "claude-sonnet-4-6"
    assert normalize_model_id("claude-sonnet-4-5@20250929") == "claude-sonnet-4-5"
    assert normalize_model_id("ANTHROPIC/claude-haiku-4-5") == "claude-haiku-4-5"


def test_context_window(table):
    assert table.context_window("claude-sonnet-4-5-20250929") == 200_000
    assert table.context_window("claude-sonnet-4-5-20250929[1m]") == 1_000_000
    assert table.context_window("claude-opus-4-6") == 1_000_000
    assert table.context_window("claude-haiku-4-5") == 200_000
    assert table.context_window("gpt-4o") is None
    assert table.max_output("claude-opus-4-6") == 128_000


def test_unknown_model_in_known_family_priced_by_family(table):
    # claude-opus-4-8 is in pricing.md §1.2, so it is a table entry; 4.9 is not
    assert table.resolve("claude-opus-4-8")[1] == "table"
    u = Usage(input_tokens=1_000, output_tokens=100)
    c = table.cost("claude-opus-4-9", u)
    assert c.priced and c.rule == "family" and c.model_key == "claude-opus-4-8"
    assert c.total_pico == pico(per_mtok("5", 1_000) + per_mtok("25", 100))
    c = table.cost("claude-sonnet-4-9-20270101", u)
    assert c.rule == "family" and c.model_key == "claude-sonnet-4-6"
    assert c.total_pico == pico(per_mtok("3", 1_000) + per_mtok("15", 100))
    c = table.cost("claude-haiku-5", u)
    assert c.rule == "family" and c.model_key == "claude-haiku-4-5"
    # newer than everything known: the newest known opus (Opus 5.5, $4/$20)
    c = table.cost("claude-opus-9-20300101", u)
    assert c.rule == "family" and c.model_key == "claude-opus-5-5"
    assert c.total_pico == pico(per_mtok("4", 1_000) + per_mtok("20", 100))


@pytest.mark.parametrize("model_id", ["gpt-4o", "<synthetic>", "", "claude-2.1", "gemini-opus"])
def test_unknown_model_is_unpriced_not_free(table, model_id):
    c = table.cost(model_id, Usage(input_tokens=1_000, output_tokens=1_000))
    assert c == Cost(priced=False, total_pico=0, rule="unknown", model_key=None)
    assert format_cost(c.total_pico, c.priced) == "unknown"
    assert table.resolve(model_id) == (None, "unknown")


# ------------------------------------------------------------------ LiteLLM import

LITELLM = {
    "sample_spec": {"input_cost_per_token": 0, "output_cost_per_token": 0},
    # a Claude model we do not know, with a long-context tier
    "claude-opus-4-9": {
        "litellm_provider": "anthropic", "mode": "chat",
        "input_cost_per_token": 7e-06, "output_cost_per_token": 3.5e-05,
        "cache_creation_input_token_cost": 8.75e-06,
        "cache_creation_input_token_cost_above_1hr": 1.4e-05,
        "cache_read_input_token_cost": 7e-07,
        "input_cost_per_token_above_200k_tokens": 1.4e-05,
        "output_cost_per_token_above_200k_tokens": 5.25e-05,
        "cache_read_input_token_cost_above_200k_tokens": 1.4e-06,
        "max_input_tokens": 1000000, "max_output_tokens": 128000,
        "provider_specific_entry": {"us": 1.1, "fast": 2.0},
    },
    # no family word at all: unknown before the import
    "claude-zeta-1": {"litellm_provider": "anthropic", "input_cost_per_token": 1.5e-06,
                      "output_cost_per_token": 7.5e-06},
    # known to us: the embedded price must win
    "claude-sonnet-4-5": {"litellm_provider": "anthropic", "input_cost_per_token": 9e-06,
                          "output_cost_per_token": 9e-05},
    "claude-sonnet-4-5-20250929": {"litellm_provider": "anthropic",
                                   "input_cost_per_token": 9e-06,
                                   "output_cost_per_token": 9e-05},
    # other providers are dropped
    "bedrock/us.anthropic.claude-omega-1-v1:0": {"litellm_provider": "bedrock",
                                                  "input_cost_per_token": 1e-06,
                                                  "output_cost_per_token": 1e-06},
    "gpt-4o": {"litellm_provider": "openai", "input_cost_per_token": 2.5e-06,
               "output_cost_per_token": 1e-05},
}


def test_litellm_import_adds_unknown_claude_models(tmp_path):
    src = tmp_path / "model_prices_and_context_window.json"
    src.write_text(json.dumps(LITELLM))
    before = PriceTable.default()
    assert before.resolve("claude-opus-4-9")[1] == "family"
    assert before.resolve("claude-zeta-1") == (None, "unknown")

    out = update_from_litellm(src)
    assert out == tmp_path / "cache" / "litellm-prices.json" and out.is_file()
    saved = json.loads(out.read_text())
    keys = {m["key"] for m in saved["models"]}
    assert keys == {"claude-opus-4-9", "claude-zeta-1", "claude-sonnet-4-5",
                    "claude-sonnet-4-5-20250929"}

    t = PriceTable.default()
    assert t is not before  # the import invalidated the cached default
    u = Usage(input_tokens=1_000, output_tokens=100, cache_read_input_tokens=2_000)
    c = t.cost("claude-zeta-1", u)
    assert c.priced and c.rule == "litellm"
    # per-token floats become exact per-MTok prices: 1.5e-06 -> $1.50, read defaults to 0.1x
    assert c.total_pico == pico(per_mtok("1.5", 1_000) + per_mtok("7.5", 100)
                                + per_mtok("0.15", 2_000))
    c = t.cost("claude-opus-4-9", u)
    assert c.rule == "litellm"
    assert c.total_pico == pico(per_mtok("7", 1_000) + per_mtok("35", 100)
                                + per_mtok("0.7", 2_000))
    # the _above_200k_tokens fields are a whole-request premium tier
    big = Usage(input_tokens=150_000, cache_read_input_tokens=60_000, output_tokens=100)
    c = t.cost("claude-opus-4-9", big)
    assert c.long_context
    assert c.total_pico == pico(per_mtok("14", 150_000) + per_mtok("1.4", 60_000)
                                + per_mtok("52.5", 100))
    assert t.context_window("claude-opus-4-9") == 1_000_000
    # multipliers from provider_specific_entry
    f = t.cost("claude-opus-4-9", Usage(input_tokens=1_000, speed="fast"))
    assert f.fast and f.total_pico == pico(2 * per_mtok("7", 1_000))
    # embedded table wins for ids it knows
    for model_id in ("claude-sonnet-4-5", "claude-sonnet-4-5-20250929"):
        c = t.cost(model_id, Usage(input_tokens=1_000))
        assert c.rule == "table" and c.total_pico == pico(per_mtok("3", 1_000))
    assert {e.source for e in t.entries() if "sonnet-4-5" in e.key} == {"table"}
    assert t.resolve("claude-omega-1") == (None, "unknown")


def test_litellm_import_rejects_files_without_claude(tmp_path):
    src = tmp_path / "x.json"
    src.write_text(json.dumps({"gpt-4o": LITELLM["gpt-4o"]}))
    with pytest.raises(ValueError, match="no Anthropic Claude entries"):
        update_from_litellm(src)


def test_litellm_bad_1h_quirk_is_replaced_by_2x_input(tmp_path):
    src = tmp_path / "p.json"
    src.write_text(json.dumps({"claude-3-haiku-20991231x": {
        "litellm_provider": "anthropic", "input_cost_per_token": 2.5e-07,
        "output_cost_per_token": 1.25e-06, "cache_creation_input_token_cost_above_1hr": 6e-06}}))
    update_from_litellm(src)
    c = PriceTable.default().cost("claude-3-haiku-20991231x",
                                  Usage(cache_creation_input_tokens=1_000,
                                        ephemeral_1h_input_tokens=1_000))
    assert c.rule == "litellm"
    assert c.cache_write_1h_pico == pico(per_mtok("0.50", 1_000))


# ------------------------------------------------------------------ user overrides


def test_config_overrides_win(tmp_path, monkeypatch):
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        '[prices."claude-sonnet-4-5-20250929"]\ninput = 2\noutput = "10"\n\n'
        '[prices."my-private-model"]\ninput = 1.5\noutput = 6\ncache_read = 0.05\n'
    )
    monkeypatch.setenv("SPENDTUI_CONFIG", str(cfg))
    t = PriceTable.default(refresh=True)
    u = Usage(input_tokens=1_000, output_tokens=100, cache_creation_input_tokens=1_000,
              cache_read_input_tokens=1_000)
    c = t.cost("claude-sonnet-4-5", u)
    assert c.rule == "override" and c.model_key == "claude-sonnet-4-5"
    # cache rates follow the new input: 5m 1.25 x 2, read 0.1 x 2
    assert c.total_pico == pico(per_mtok("2", 1_000) + per_mtok("10", 100)
                                + per_mtok("2.50", 1_000) + per_mtok("0.20", 1_000))
    # the long-context tier of the table entry is kept
    assert t.cost("claude-sonnet-4-5", Usage(input_tokens=300_000)).long_context
    c = t.cost("my-private-model", u)
    assert c.rule == "override"
    assert c.total_pico == pico(per_mtok("1.5", 1_000) + per_mtok("6", 100)
                                + per_mtok("1.875", 1_000) + per_mtok("0.05", 1_000))
    # untouched models keep table prices
    assert t.cost("claude-haiku-4-5", Usage(input_tokens=1_000)).rule == "table"


def test_bad_config_names_the_file(tmp_path, monkeypatch):
    cfg = tmp_path / "config.toml"
    cfg.write_text("[prices\ninput = ")
    monkeypatch.setenv("SPENDTUI_CONFIG", str(cfg))
    with pytest.raises(config.ConfigError, match=r"config\.toml") as exc:
        PriceTable.default(refresh=True)
    assert exc.value.path == cfg
    cfg.write_text('[prices."claude-opus-4-5"]\ninptu = 3\n')
    with pytest.raises(config.ConfigError, match="inptu"):
        PriceTable.default(refresh=True)
    cfg.write_text('[prices."brand-new"]\ninput = 3\n')
    with pytest.raises(config.ConfigError, match="output"):
        PriceTable.default(refresh=True)


def test_config_paths_and_missing_file(tmp_path, monkeypatch):
    assert config.config_path() == tmp_path / "no-config.toml"
    assert config.cache_dir() == tmp_path / "cache"
    assert config.data_dir() == tmp_path / "data"
    assert config.load_config() == {}
    monkeypatch.delenv("SPENDTUI_CONFIG")
    assert config.config_path().name == "config.toml"
    assert "spendtui" in str(config.config_path())


# ------------------------------------------------------------------ format / misc


@pytest.mark.parametrize(
    ("pico_value", "text"),
    [
        (0, "$0.0000"),
        (12_345_678_901, "$0.0123"),
        (999_940_000_000, "$0.9999"),
        (999_960_000_000, "$1.00"),
        (1_000_000_000_000, "$1.00"),
        (12_345_000_000_000, "$12.35"),
        (1_234_567_000_000_000, "$1234.57"),
    ],
)
def test_format_cost(pico_value, text):
    assert format_cost(pico_value) == text


def test_format_cost_unknown():
    assert format_cost(None) == "unknown"
    assert format_cost(5 * USD, priced=False) == "unknown"


def test_rows_and_json(table):
    rows = table.rows()
    sonnet = next(r for r in rows if r["model"] == "claude-sonnet-4-5")
    assert sonnet["input"] == "3.00" and sonnet["cache_read"] == "0.30"
    assert "claude-sonnet-4-5-20250929" in sonnet["aliases"]
    doc = json.loads(table.to_json())
    keys = [m["key"] for m in doc["models"]]
    assert "claude-opus-4-6" in keys and keys.count("claude-sonnet-5-5") == 2


def test_embedded_cache_multipliers_are_official(table):
    # 5m = 1.25x, 1h = 2x input everywhere except the one row the official table prints
    # differently (Claude 3 Haiku 5m = $0.30)
    for m in table.entries():
        for r in filter(None, (m.base, m.long_context)):
            if m.key != "claude-3-haiku":
                assert r.cache_write_5m == r.input * Decimal("1.25"), m.key
            assert r.cache_write_1h == r.input * 2, m.key


# ------------------------------------------------------------------ properties

counts = st.integers(min_value=0, max_value=3_000_000)
KINDS = ("input_tokens", "output_tokens", "ephemeral_5m_input_tokens",
         "ephemeral_1h_input_tokens", "cache_read_input_tokens", "web_search_requests")


def _usage(**kw: int) -> Usage:
    return Usage(
        input_tokens=kw.get("input_tokens", 0),
        output_tokens=kw.get("output_tokens", 0),
        cache_creation_input_tokens=kw.get("ephemeral_5m_input_tokens", 0)
        + kw.get("ephemeral_1h_input_tokens", 0),
        ephemeral_5m_input_tokens=kw.get("ephemeral_5m_input_tokens", 0),
        ephemeral_1h_input_tokens=kw.get("ephemeral_1h_input_tokens", 0),
        cache_read_input_tokens=kw.get("cache_read_input_tokens", 0),
        web_search_requests=kw.get("web_search_requests", 0),
    )


@settings(max_examples=200, deadline=None)
@given(st.fixed_dictionaries({k: counts for k in KINDS}),
       st.sampled_from(["claude-opus-4-5", "claude-haiku-4-5", "claude-3-haiku",
                        "claude-opus-4-7", "claude-sonnet-5-5"]))
def test_cost_is_additive_over_token_kinds(kw, model):
    t = PriceTable.embedded()
    whole = t.cost(model, _usage(**kw))
    parts = [t.cost(model, _usage(**{k: v})) for k, v in kw.items()]
    assert whole.total_pico == sum(p.total_pico for p in parts)
    assert whole.total_pico == (whole.input_pico + whole.output_pico + whole.cache_write_5m_pico
                                + whole.cache_write_1h_pico + whole.cache_read_pico
                                + whole.web_search_pico)


@settings(max_examples=200, deadline=None)
@given(st.fixed_dictionaries({k: st.integers(0, 60_000) for k in KINDS}))
def test_additive_within_base_tier_for_tiered_model(kw):
    # below the 200K threshold Sonnet 4.5 is additive too (5 x 60K = 300K > 200K would not be,
    # so cap the prompt)
    t = PriceTable.embedded()
    u = _usage(**kw)
    if u.prompt_tokens > 200_000:
        return
    whole = t.cost("claude-sonnet-4-5", u)
    assert whole.total_pico == sum(
        t.cost("claude-sonnet-4-5", _usage(**{k: v})).total_pico for k, v in kw.items())


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({k: st.integers(0, 150_000) for k in KINDS}),
       st.sampled_from(KINDS), st.integers(1, 200_000),
       st.sampled_from(["claude-sonnet-4-5", "claude-haiku-5-5", "claude-opus-4-6",
                        "claude-sonnet-4-6"]),
       st.sampled_from([None, "fast"]), st.sampled_from([None, "us"]),
       st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31)))
def test_cost_is_monotone_in_each_count(kw, kind, extra, model, speed, geo, when):
    t = PriceTable.embedded()

    def usage(d):
        u = _usage(**d)
        return Usage(u.input_tokens, u.output_tokens, u.cache_creation_input_tokens,
                     u.cache_read_input_tokens, u.ephemeral_5m_input_tokens,
                     u.ephemeral_1h_input_tokens, u.web_search_requests, 0, speed, geo)

    lo = t.cost(model, usage(kw), when).total_pico
    hi = t.cost(model, usage({**kw, kind: kw[kind] + extra}), when).total_pico
    assert hi >= lo
    if kind != "web_search_requests":
        assert hi > lo  # every token kind has a positive price


def test_corrupt_litellm_cache_is_ignored_with_a_warning(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "litellm-prices.json").write_text("{not json")
    with pytest.warns(UserWarning, match="LiteLLM price cache"):
        t = PriceTable.default()
    assert t.cost("claude-haiku-4-5", Usage(input_tokens=1_000)).total_pico == \
        pico(per_mtok("1", 1_000))


def test_override_can_drop_the_long_context_premium(tmp_path, monkeypatch):
    cfg = tmp_path / "config.toml"
    cfg.write_text('[prices."claude-sonnet-4"]\nlong_context = false\n')
    monkeypatch.setenv("SPENDTUI_CONFIG", str(cfg))
    c = PriceTable.default(refresh=True).cost("claude-sonnet-4-20250514",
                                              Usage(input_tokens=300_000))
    assert c.rule == "override" and not c.long_context
    assert c.total_pico == pico(per_mtok("3", 300_000))


@settings(max_examples=300, deadline=None)
@given(
    model=st.sampled_from(["claude-sonnet-4-5-20250929", "claude-opus-4-6", "claude-haiku-4-5-20251001",
                           "claude-sonnet-4-6", "claude-opus-4-1", "claude-3-5-haiku-20241022", "claude-opus-4-9"]),
    day=st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 1, 1)),
    inp=st.integers(0, 400_000), out=st.integers(0, 64_000), w5=st.integers(0, 300_000),
    w1=st.integers(0, 300_000), rd=st.integers(0, 900_000), ws=st.integers(0, 5),
    speed=st.sampled_from([None, "fast", "standard"]), geo=st.sampled_from([None, "us", "", "global"]),
)
def test_integer_fast_path_equals_the_general_rules(model, day, inp, out, w5, w1, rd, ws, speed, geo) -> None:
    """cost() takes an integer shortcut for the common call; it must agree with the
    Decimal path that applies every rule, on any usage, model and date."""
    table = PriceTable.embedded()
    u = Usage(input_tokens=inp, output_tokens=out, cache_creation_input_tokens=w5 + w1,
              cache_read_input_tokens=rd, ephemeral_5m_input_tokens=w5, ephemeral_1h_input_tokens=w1,
              web_search_requests=ws, speed=speed, inference_geo=geo)
    m, rule = table.resolve(model, day)
    assert m is not None
    assert table.cost(model, u, day) == table._cost_general(m, rule, day, u)
