"""Pricing one API call: model id + ``Usage`` + time -> exact cost in pico-dollars.

Costs are integers in pico-dollars (``PICO`` = 10**12 per USD). A price of ``p`` USD per
million tokens is ``p * 10**6`` pico-dollars per token, so with the published prices (at most
a few decimals per MTok) every product is an exact integer; we compute with ``Decimal`` at
high precision and round each category once (half-even) only when a multiplier or an imported
LiteLLM price leaves a fraction of a pico-dollar. No float ever enters a sum.

Where the prices come from (``PriceTable.default()``), in increasing priority:

1. the embedded table ``spendtui/data/prices.toml`` (rule ``"table"``),
2. ``<cache dir>/litellm-prices.json`` written by ``update_from_litellm()``; it only *adds*
   models the embedded table does not know (rule ``"litellm"``),
3. ``[prices."<model id>"]`` tables in the user's config TOML (rule ``"override"``).

An unknown id that names a known family (``claude-opus-4-9``) is priced like a known model of
that family (rule ``"family"``); anything else is not priced (``Cost.priced`` is False, rule
``"unknown"``) and must be shown as unknown, never as $0.

Billing rules, all from /work/shared/reference/pricing.md (sections cited as "pricing.md §x"),
see also docs/pricing.md:

* Cache writes are split by TTL (pricing.md §1.1: 5m write = 1.25x input, 1h write = 2x input,
  read = 0.1x). Without a breakdown all cache creation is a 5-minute write (the API default).
* Long context (pricing.md §1.1 "Long context"): when ``input + cache writes + cache reads``
  of ONE request exceeds the threshold (200K), the **entire request** - input, both cache
  writes, cache reads and output - is billed at the premium rates ("Not marginal"). ccusage
  instead tiers each token category separately and only the part above 200K
  (pricing.md §1.4), which under-counts such turns. The premium ended for Opus/Sonnet 4.6 on
  2026-03-13 (1M GA at flat price); Haiku 5.5 re-prices the whole request above 100K.
* Fast mode (pricing.md §1.1 "Fast mode"): ``usage.speed == "fast"`` multiplies every token
  category by the model's fast multiplier (Opus 4.6 6x; Opus 4.8 / 5 / 5.5 2x); models
  without fast mode are billed at standard rates. "Fast mode applies across the full context
  window, including requests over 200k": a fast request never gets the long-context premium.
* Data residency (pricing.md §1.1 "Data residency"): ``usage.inference_geo == "us"`` costs
  1.1x on all token categories for Opus 4.6, Sonnet 4.6 and later; it stacks with fast mode.
* Web search (pricing.md §1.1): $10 per 1,000 searches = $0.01 per
  ``usage.web_search_requests``, not multiplied; web fetch has no extra charge.
* Batch (50% off) is not applied: Claude Code never uses the Batch API (pricing.md §1.1).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

from spendtui.core import config as _config
from spendtui.core.usage import Usage, fast_pickle

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on 3.10
    import tomli as tomllib

PICO = 10**12
"""Pico-dollars per US dollar."""

_PICO_PER_TOKEN = 10**6  # 1 USD/MTok = 10**12 pico / 10**6 tokens
_CTX = Context(prec=60, rounding=ROUND_HALF_EVEN)
_MICRO = Decimal("0.000001")

LITELLM_URL = (
    "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json"
)
LITELLM_CACHE_NAME = "litellm-prices.json"

RULES = ("table", "family", "override", "litellm", "unknown")

# official cache multipliers, pricing.md §1.1
CACHE_5M_FACTOR = Decimal("1.25")
CACHE_1H_FACTOR = Decimal(2)
CACHE_READ_FACTOR = Decimal("0.1")

DEFAULT_CONTEXT_WINDOW = 200_000
DEFAULT_LONG_CONTEXT_THRESHOLD = 200_000
DEFAULT_WEB_SEARCH_USD = Decimal("0.01")
ONE_MILLION_CONTEXT = 1_000_000


# ---------------------------------------------------------------------------- values


def _dec(value: Any, what: str) -> Decimal:
    """An exact, finite, non-negative Decimal from a TOML/JSON number or numeric string."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{what}: expected a number, got {value!r}")
    try:
        if isinstance(value, Decimal):
            d = value
        elif isinstance(value, int):
            d = Decimal(value)
        elif isinstance(value, float):
            d = Decimal(repr(value))  # the shortest repr is the decimal the file spelled
        elif isinstance(value, str):
            d = Decimal(value.strip())
        else:
            raise ValueError(f"{what}: expected a number, got {value!r}")
    except InvalidOperation:
        raise ValueError(f"{what}: {value!r} is not a number") from None
    if not d.is_finite() or d < 0:
        raise ValueError(f"{what}: {value!r} must be a finite number >= 0")
    return d


def _int_field(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, float, str)):
        raise ValueError(f"{what}: expected an integer, got {value!r}")
    d = _dec(value, what)
    if d != d.to_integral_value():
        raise ValueError(f"{what}: expected an integer, got {value!r}")
    return int(d)


def _date_field(value: Any, what: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return _utc_date(value)
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    raise ValueError(f"{what}: expected a date (YYYY-MM-DD), got {value!r}")


def _utc_date(when: datetime | date | None) -> date:
    """The UTC calendar day of ``when`` (naive datetimes are taken as UTC; None = today)."""
    if when is None:
        return datetime.now(timezone.utc).date()
    if isinstance(when, datetime):
        if when.tzinfo is not None:
            when = when.astimezone(timezone.utc)
        return when.date()
    return when


def _fmt_dec(d: Decimal) -> str:
    """Plain decimal text without exponent or trailing zeros: 3, 3.75, 0.3, 0.000125."""
    s = format(d.normalize(), "f")
    return s


# ---------------------------------------------------------------------------- model ids

_BRACKET_SUFFIX = re.compile(r"\[[^\]]*\]\s*$")
_REGION_PREFIX = re.compile(r"^(?:[a-z]{2,8}\.)?anthropic\.")  # us.anthropic., anthropic.
_VERTEX_AT = re.compile(r"@[a-z0-9._-]*$")  # claude-sonnet-4-5@20250929
_BEDROCK_VERSION = re.compile(r"-v\d+(?::\d+)?$")  # ...-v1:0, claude-3-5-sonnet-v2
_DATE_SUFFIX = re.compile(r"^(.+)-\d{8}$")
_ONE_M = re.compile(r"\[1m\]", re.IGNORECASE)


def normalize_model_id(s: str) -> str:
    """Canonical lookup form of a model id as Claude Code, Bedrock, Vertex or LiteLLM spell it.

    Lowercases; drops the client-side ``[1m]`` suffix, path-like provider prefixes
    (``anthropic/``, ``bedrock/…/``, ARNs), ``anthropic.`` / ``us.anthropic.`` prefixes,
    Vertex ``@20250929`` and Bedrock ``-v1:0`` suffixes. The ``-YYYYMMDD`` date is kept
    (lookups retry without it).
    """
    s = s.strip().lower()
    while True:
        t = _BRACKET_SUFFIX.sub("", s).strip()
        if t == s:
            break
        s = t
    if "/" in s:
        s = s.rsplit("/", 1)[-1]
    s = _REGION_PREFIX.sub("", s)
    s = _VERTEX_AT.sub("", s)
    s = _BEDROCK_VERSION.sub("", s)
    return s


def _lookup_candidates(norm: str) -> Iterator[str]:
    yield norm
    s = norm
    if s.endswith("-latest"):
        s = s[: -len("-latest")]
        yield s
    m = _DATE_SUFFIX.match(s)
    if m:
        yield m.group(1)


def _parse_family(norm: str, words: Mapping[str, str]) -> tuple[str, tuple[int, ...]] | None:
    """(family, version) of an id such as claude-opus-4-8, claude-3-5-haiku, claude-haiku-5.

    Both naming orders are understood: numbers before (claude-3-5-sonnet) or after
    (claude-sonnet-4-5) the family word. Dates and ``-latest`` are ignored.
    """
    s = norm
    if s.endswith("-latest"):
        s = s[: -len("-latest")]
    m = _DATE_SUFFIX.match(s)
    if m:
        s = m.group(1)
    tokens = [t for t in s.split("-") if t]
    if not tokens:
        return None
    if tokens[0] == "claude":
        tokens = tokens[1:]
    elif tokens[0] not in words:
        return None  # not a Claude id (e.g. some other vendor's "...-opus")
    family = next((words[t] for t in tokens if t in words), None)
    if family is None:
        return None
    version = tuple(int(t) for t in tokens if t.isdigit() and len(t) <= 2)[:2]
    return family, version


def _version_key(v: tuple[int, ...]) -> tuple[int, int]:
    padded = (*v, 0, 0)
    return padded[0], padded[1]


# ---------------------------------------------------------------------------- data types


@dataclass(frozen=True, slots=True)
class Rates:
    """USD per million tokens for each token category."""

    input: Decimal
    output: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal
    cache_read: Decimal

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any], what: str) -> Rates:
        """Read rates; missing cache rates follow the official multipliers of ``input``."""
        if "input" not in d or "output" not in d:
            raise ValueError(f"{what}: needs at least input and output")
        inp = _dec(d["input"], f"{what}.input")

        def opt(name: str, factor: Decimal) -> Decimal:
            v = d.get(name)
            return _dec(v, f"{what}.{name}") if v is not None else inp * factor

        return cls(
            input=inp,
            output=_dec(d["output"], f"{what}.output"),
            cache_write_5m=opt("cache_write_5m", CACHE_5M_FACTOR),
            cache_write_1h=opt("cache_write_1h", CACHE_1H_FACTOR),
            cache_read=opt("cache_read", CACHE_READ_FACTOR),
        )

    def to_dict(self) -> dict[str, str]:
        return {
            "input": _fmt_dec(self.input),
            "output": _fmt_dec(self.output),
            "cache_write_5m": _fmt_dec(self.cache_write_5m),
            "cache_write_1h": _fmt_dec(self.cache_write_1h),
            "cache_read": _fmt_dec(self.cache_read),
        }


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """The price of one model over one date range (``valid_until`` exclusive, UTC days)."""

    key: str
    family: str | None
    aliases: tuple[str, ...]
    valid_from: date | None
    valid_until: date | None
    base: Rates
    long_context: Rates | None = None
    long_context_threshold: int = DEFAULT_LONG_CONTEXT_THRESHOLD
    long_context_until: date | None = None  # first UTC day with no premium
    fast_multiplier: Decimal | None = None  # None: the model has no fast mode
    geo_us_multiplier: Decimal | None = None  # None: inference_geo is not offered
    web_search_usd: Decimal = DEFAULT_WEB_SEARCH_USD
    context_window: int = DEFAULT_CONTEXT_WINDOW
    max_output: int | None = None
    source: str = "table"  # "table" | "litellm" | "override"
    verified: bool = True

    def valid_on(self, day: date) -> bool:
        if self.valid_from is not None and day < self.valid_from:
            return False
        return self.valid_until is None or day < self.valid_until

    def long_context_on(self, day: date) -> bool:
        """Whether this model charges the long-context premium on ``day``."""
        if self.long_context is None:
            return False
        return self.long_context_until is None or day < self.long_context_until

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (prices as decimal strings); ``_model_from_mapping`` reads it."""
        d: dict[str, Any] = {"key": self.key, "family": self.family, "aliases": list(self.aliases)}
        if self.valid_from:
            d["valid_from"] = self.valid_from.isoformat()
        if self.valid_until:
            d["valid_until"] = self.valid_until.isoformat()
        d.update(self.base.to_dict())
        if self.long_context is not None:
            lc: dict[str, Any] = {"threshold": self.long_context_threshold}
            if self.long_context_until:
                lc["until"] = self.long_context_until.isoformat()
            lc.update(self.long_context.to_dict())
            d["long_context"] = lc
        if self.fast_multiplier is not None:
            d["fast_multiplier"] = _fmt_dec(self.fast_multiplier)
        if self.geo_us_multiplier is not None:
            d["geo_us_multiplier"] = _fmt_dec(self.geo_us_multiplier)
        d["web_search_usd"] = _fmt_dec(self.web_search_usd)
        d["context_window"] = self.context_window
        if self.max_output is not None:
            d["max_output"] = self.max_output
        d["source"] = self.source
        d["verified"] = self.verified
        return d


_MODEL_FIELDS = frozenset(
    {
        "key", "family", "aliases", "valid_from", "valid_until", "input", "output",
        "cache_write_5m", "cache_write_1h", "cache_read", "long_context", "fast_multiplier",
        "geo_us_multiplier", "web_search_usd", "context_window", "max_output", "source",
        "verified",
    }
)
_LONG_CONTEXT_FIELDS = frozenset(
    {"threshold", "until", "input", "output", "cache_write_5m", "cache_write_1h", "cache_read"}
)


def _model_from_mapping(
    d: Mapping[str, Any], *, source: str, defaults: Mapping[str, Any] | None = None
) -> ModelPrice:
    defaults = defaults or {}
    key_raw = d.get("key")
    if not isinstance(key_raw, str) or not key_raw.strip():
        raise ValueError(f"model entry without a key: {dict(d)!r}")
    key = normalize_model_id(key_raw)
    what = f"model {key!r}"
    unknown = set(d) - _MODEL_FIELDS
    if unknown:
        raise ValueError(f"{what}: unknown field(s) {', '.join(sorted(unknown))}")
    aliases_raw = d.get("aliases", ())
    if isinstance(aliases_raw, str) or not isinstance(aliases_raw, (list, tuple)):
        raise ValueError(f"{what}.aliases: expected a list of strings")
    aliases = tuple(normalize_model_id(str(a)) for a in aliases_raw)
    family = d.get("family")
    if family is not None and not isinstance(family, str):
        raise ValueError(f"{what}.family: expected a string")

    lc_rates: Rates | None = None
    threshold = _int_field(
        defaults.get("long_context_threshold", DEFAULT_LONG_CONTEXT_THRESHOLD), "threshold"
    )
    lc_until = None
    lc = d.get("long_context")
    if lc is not None:
        if not isinstance(lc, Mapping):
            raise ValueError(f"{what}.long_context: expected a table")
        bad = set(lc) - _LONG_CONTEXT_FIELDS
        if bad:
            raise ValueError(f"{what}.long_context: unknown field(s) {', '.join(sorted(bad))}")
        lc_rates = Rates.from_mapping(lc, f"{what}.long_context")
        if lc.get("threshold") is not None:
            threshold = _int_field(lc["threshold"], f"{what}.long_context.threshold")
        lc_until = _date_field(lc.get("until"), f"{what}.long_context.until")

    def opt_dec(name: str) -> Decimal | None:
        v = d.get(name, defaults.get(name))
        return None if v is None else _dec(v, f"{what}.{name}")

    web = opt_dec("web_search_usd")
    cw = d.get("context_window", defaults.get("context_window", DEFAULT_CONTEXT_WINDOW))
    mo = d.get("max_output")
    return ModelPrice(
        key=key,
        family=family,
        aliases=aliases,
        valid_from=_date_field(d.get("valid_from"), f"{what}.valid_from"),
        valid_until=_date_field(d.get("valid_until"), f"{what}.valid_until"),
        base=Rates.from_mapping(d, what),
        long_context=lc_rates,
        long_context_threshold=threshold,
        long_context_until=lc_until,
        fast_multiplier=opt_dec("fast_multiplier"),
        geo_us_multiplier=opt_dec("geo_us_multiplier"),
        web_search_usd=DEFAULT_WEB_SEARCH_USD if web is None else web,
        context_window=_int_field(cw, f"{what}.context_window"),
        max_output=None if mo is None else _int_field(mo, f"{what}.max_output"),
        source=source,
        verified=bool(d.get("verified", True)),
    )


@fast_pickle
@dataclass(frozen=True, slots=True)
class Cost:
    """The price of one API call. ``priced=False`` means unknown, not free."""

    total_pico: int = 0
    input_pico: int = 0
    output_pico: int = 0
    cache_write_5m_pico: int = 0
    cache_write_1h_pico: int = 0
    cache_read_pico: int = 0
    web_search_pico: int = 0
    priced: bool = True
    model_key: str | None = None
    rule: str = "table"  # one of RULES
    long_context: bool = False
    fast: bool = False
    geo_us: bool = False

    @property
    def usd(self) -> Decimal:
        return Decimal(self.total_pico).scaleb(-12)

    @classmethod
    def unknown(cls) -> Cost:
        return cls(priced=False, model_key=None, rule="unknown")


def format_cost(pico: int | None, priced: bool = True) -> str:
    """``$12.34`` at or above one dollar, ``$0.0123`` below; ``unknown`` when not priced."""
    if pico is None or not priced:
        return "unknown"
    amount = Decimal(pico).scaleb(-12)
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    small = amount.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    if small < 1:
        return f"{sign}${small}"
    return f"{sign}${amount.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}"


# ---------------------------------------------------------------------------- the table


def _pico(tokens: int, usd_per_mtok: Decimal, multiplier: Decimal) -> int:
    if tokens <= 0:
        return 0
    per_token = _CTX.multiply(usd_per_mtok, Decimal(_PICO_PER_TOKEN))
    if multiplier == 1 and per_token == per_token.to_integral_value():
        # the common case: a price with at most 6 decimals is a whole number of
        # pico-dollars per token, so plain integer arithmetic is exact (and ~10x faster)
        return tokens * int(per_token)
    exact = _CTX.multiply(_CTX.multiply(Decimal(tokens), per_token), multiplier)
    return int(exact.to_integral_value(rounding=ROUND_HALF_EVEN, context=_CTX))


_DEFAULT: PriceTable | None = None
_EMBEDDED: PriceTable | None = None


class PriceTable:
    """An immutable set of model prices with lookup (aliases, dates, families) and costing."""

    def __init__(
        self,
        models: Iterable[ModelPrice],
        families: Mapping[str, Iterable[str]] | None = None,
        *,
        checked: date | None = None,
        sources: Iterable[str] = (),
    ) -> None:
        self.families: dict[str, tuple[str, ...]] = {
            name: tuple(w.lower() for w in words) for name, words in (families or {}).items()
        }
        self._words: dict[str, str] = {
            w: name for name, words in self.families.items() for w in words
        }
        self.checked = checked
        self.sources: tuple[str, ...] = tuple(sources)
        by_key: dict[str, list[ModelPrice]] = {}
        for m in models:
            if m.family is None:
                parsed = _parse_family(m.key, self._words)
                if parsed is not None:
                    m = replace(m, family=parsed[0])
            by_key.setdefault(m.key, []).append(m)
        self._entries: dict[str, tuple[ModelPrice, ...]] = {
            k: tuple(sorted(v, key=lambda e: e.valid_from or date.min)) for k, v in by_key.items()
        }
        self._aliases: dict[str, str] = {}
        for k, entries in self._entries.items():
            for e in entries:
                for a in e.aliases:
                    if a not in self._entries:
                        self._aliases.setdefault(a, k)
        self._id_cache: dict[str, tuple[str | None, str]] = {}
        self._resolved: dict[tuple[str, date], tuple[ModelPrice | None, str]] = {}

    # -- construction ------------------------------------------------------------------

    @classmethod
    def from_toml(cls, text: str, *, source: str = "table", origin: str = "") -> PriceTable:
        """Parse a price table in the embedded format (see spendtui/data/prices.toml)."""
        data = tomllib.loads(text)
        defaults = data.get("defaults", {})
        families = {
            name: tuple(spec.get("words", (name,)))
            for name, spec in data.get("families", {}).items()
        }
        models = [
            _model_from_mapping(m, source=source, defaults=defaults)
            for m in data.get("models", [])
        ]
        checked = _date_field(data.get("checked"), "checked")
        label = origin or "table"
        if checked:
            label += f" (checked {checked.isoformat()})"
        return cls(models, families, checked=checked, sources=[label])

    @classmethod
    def embedded(cls) -> PriceTable:
        """The table shipped in the package (parsed once)."""
        global _EMBEDDED
        if _EMBEDDED is None:
            res = resources.files("spendtui").joinpath("data").joinpath("prices.toml")
            text = res.read_text("utf-8")
            _EMBEDDED = cls.from_toml(text, origin="embedded")
        return _EMBEDDED

    @classmethod
    def load(
        cls,
        *,
        config_path: Path | str | None = None,
        litellm_path: Path | str | None = None,
    ) -> PriceTable:
        """Embedded + LiteLLM cache (if present) + config overrides, without caching.

        ``config_path`` / ``litellm_path`` default to the platformdirs locations (or
        ``SPENDTUI_CONFIG`` / ``SPENDTUI_CACHE_DIR``). A broken config raises ConfigError;
        a broken LiteLLM cache only warns (it is re-creatable).
        """
        table = cls.embedded()
        lp = Path(litellm_path) if litellm_path is not None else litellm_cache_path()
        if lp.is_file():
            try:
                table = table.with_litellm(lp)
            except (OSError, ValueError) as exc:
                warnings.warn(f"ignoring LiteLLM price cache {lp}: {exc}", stacklevel=2)
        cp = Path(config_path) if config_path is not None else _config.config_path()
        conf = _config.load_config(cp)
        prices = conf.get("prices")
        if prices is not None:
            if not isinstance(prices, Mapping):
                raise _config.ConfigError(cp, "[prices] must be a table of model ids")
            try:
                table = table.with_overrides(prices, origin=str(cp))
            except ValueError as exc:
                raise _config.ConfigError(cp, str(exc)) from exc
        return table

    @classmethod
    def default(cls, *, refresh: bool = False) -> PriceTable:
        """The process-wide table (``load()`` with default paths), built once."""
        global _DEFAULT
        if _DEFAULT is None or refresh:
            _DEFAULT = cls.load()
        return _DEFAULT

    @staticmethod
    def clear_default() -> None:
        """Forget the cached ``default()`` table (after an import or a config change)."""
        global _DEFAULT
        _DEFAULT = None

    def with_litellm(self, source: Path | str | Mapping[str, Any]) -> PriceTable:
        """A copy that also knows the models of a LiteLLM cache file this table lacks."""
        if isinstance(source, Mapping):
            data: Any = source
            label = "litellm"
        else:
            path = Path(source)
            data = json.loads(path.read_text("utf-8"), parse_float=Decimal)
            label = f"litellm ({path})"
        if not isinstance(data, Mapping) or not isinstance(data.get("models"), list):
            raise ValueError("not a spendtui LiteLLM price cache (no 'models' list)")
        added: list[ModelPrice] = []
        seen: set[str] = set()
        for raw in data["models"]:
            m = _model_from_mapping(raw, source="litellm")
            m = replace(m, source="litellm")
            if self._find_key(m.key) is not None or m.key in seen:
                continue  # the embedded table wins for ids it knows
            seen.add(m.key)
            added.append(replace(m, aliases=tuple(a for a in m.aliases if self._find_key(a) is None)))
        if data.get("imported_at"):
            label += f", imported {data['imported_at']}"
        return PriceTable(
            [*self.entries(), *added], self.families, checked=self.checked,
            sources=[*self.sources, label],
        )

    def with_overrides(
        self, prices: Mapping[str, Any], *, origin: str = "overrides"
    ) -> PriceTable:
        """A copy where ``{"model-id": {"input": 3, "output": 15, ...}}`` replace prices.

        A known id (or alias) keeps whatever the override does not set; when ``input`` is
        set without the cache rates, those follow the official multipliers of the new input.
        A new id needs ``input`` and ``output``. Overrides apply on every date.
        """
        replaced: dict[str, ModelPrice] = {}
        for model_id, spec in prices.items():
            what = f'[prices."{model_id}"]'
            if not isinstance(spec, Mapping):
                raise ValueError(f"{what} must be a table like {{ input = 3, output = 15 }}")
            allowed = _MODEL_FIELDS - {"key", "source", "verified", "valid_from", "valid_until"}
            bad = set(spec) - allowed
            if bad:
                raise ValueError(f"{what}: unknown field(s) {', '.join(sorted(bad))}")
            norm = normalize_model_id(str(model_id))
            known = self._find_key(norm)
            if known is None:
                try:
                    m = _model_from_mapping({"key": norm, **spec}, source="override")
                except ValueError as exc:
                    raise ValueError(f"{what}: {exc}") from None
                replaced[norm] = m
                continue
            base_entry = self._entry_for(known, _utc_date(None))
            merged: dict[str, Any] = base_entry.to_dict()
            for k in ("source", "verified", "valid_from", "valid_until"):
                merged.pop(k, None)
            if "input" in spec:
                for k in ("cache_write_5m", "cache_write_1h", "cache_read"):
                    merged.pop(k, None)
            spec = dict(spec)
            lc = spec.pop("long_context", None)
            merged.update(spec)
            if lc is False:  # `long_context = false`: no premium for this model
                merged.pop("long_context", None)
            elif isinstance(lc, Mapping):
                old = merged.get("long_context") if "input" not in lc else None
                if isinstance(old, Mapping) and "input" not in lc:
                    merged["long_context"] = {**old, **lc}
                else:
                    merged["long_context"] = dict(lc)
            elif lc is not None:
                raise ValueError(f"{what}: long_context must be a table or false")
            try:
                m = _model_from_mapping(merged, source="override")
            except ValueError as exc:
                raise ValueError(f"{what}: {exc}") from None
            replaced[known] = m
        models = [e for e in self.entries() if e.key not in replaced]
        models.extend(replaced.values())
        return PriceTable(
            models, self.families, checked=self.checked,
            sources=[*self.sources, f"overrides ({origin})"],
        )

    # -- lookup ------------------------------------------------------------------------

    def entries(self) -> list[ModelPrice]:
        """Every entry, grouped by key in table order."""
        return [e for es in self._entries.values() for e in es]

    def keys(self) -> list[str]:
        return list(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def _find_key(self, norm: str) -> str | None:
        for cand in _lookup_candidates(norm):
            if cand in self._entries:
                return cand
            if cand in self._aliases:
                return self._aliases[cand]
        return None

    def _family_key(self, norm: str) -> str | None:
        parsed = _parse_family(norm, self._words)
        if parsed is None:
            return None
        family, wanted = parsed
        known: list[tuple[tuple[int, int], int, str]] = []
        for k, es in self._entries.items():
            if es[0].family != family:
                continue
            p = _parse_family(k, self._words)
            ver = _version_key(p[1]) if p else (0, 0)
            known.append((ver, 1 if es[0].source == "table" else 0, k))
        if not known:
            return None
        known.sort()
        if not wanted:
            return known[-1][2]
        w = _version_key(wanted)
        not_newer = [x for x in known if x[0] <= w]
        return (not_newer or known[:1])[-1][2]

    def _entry_for(self, key: str, day: date) -> ModelPrice:
        entries = self._entries[key]
        for e in entries:
            if e.valid_on(day):
                return e
        first = entries[0]
        if first.valid_from is not None and day < first.valid_from:
            return first
        return entries[-1]

    def _key_and_rule(self, model_id: str) -> tuple[str | None, str]:
        hit = self._id_cache.get(model_id)
        if hit is not None:
            return hit
        norm = normalize_model_id(model_id)
        key = self._find_key(norm)
        if key is not None:
            result: tuple[str | None, str] = (key, self._entries[key][0].source)
        else:
            fam = self._family_key(norm)
            result = (fam, "family") if fam is not None else (None, "unknown")
        if len(self._id_cache) < 4096:
            self._id_cache[model_id] = result
        return result

    def resolve(
        self, model_id: str, when: datetime | date | None = None
    ) -> tuple[ModelPrice | None, str]:
        """The price entry for ``model_id`` at ``when`` (UTC; None = now) and how it was found.

        The rule is "table" / "litellm" / "override" for a direct hit (key, alias, the id
        without its date or ``-latest``), "family" for a family fallback, else "unknown".
        """
        if not isinstance(model_id, str):
            return None, "unknown"
        key, rule = self._key_and_rule(model_id)
        if key is None:
            return None, "unknown"
        return self._entry_for(key, _utc_date(when)), rule

    def _prepare(self, model_id: str, day: date) -> tuple[Any, str, Any, Any, int]:
        """Resolve once per (model, day) and precompute integer pico-per-token rates.

        A rate is usable by the fast path only when it is a whole number of
        pico-dollars per token (any price with at most 6 decimals per MTok); the
        long-context rates only when the premium applies on that day.
        """
        m, rule = self.resolve(model_id, day)
        if m is None:
            return None, rule, None, None, 0

        def ints(r: Rates) -> tuple[int, ...] | None:
            vals = [_CTX.multiply(v, Decimal(_PICO_PER_TOKEN)) for v in
                    (r.input, r.output, r.cache_write_5m, r.cache_write_1h, r.cache_read)]
            if any(v != v.to_integral_value() for v in vals):
                return None
            return tuple(int(v) for v in vals)

        base = ints(m.base)
        long = ints(m.long_context) if m.long_context is not None and m.long_context_on(day) else None
        if m.long_context is not None and m.long_context_on(day) and long is None:
            base = None  # premium rates not whole: let the general path price it
        search = _CTX.multiply(m.web_search_usd, Decimal(PICO))
        if search != search.to_integral_value():
            base = None
        return m, rule, base, long, int(search)

    def context_window(self, model_id: str) -> int | None:
        """The model's window in tokens; a ``[1m]`` suffix means 1,000,000; None if unknown."""
        if isinstance(model_id, str) and _ONE_M.search(model_id):
            return ONE_MILLION_CONTEXT
        m, _ = self.resolve(model_id)
        return None if m is None else m.context_window

    def max_output(self, model_id: str) -> int | None:
        m, _ = self.resolve(model_id)
        return None if m is None else m.max_output

    # -- costing -----------------------------------------------------------------------

    def cost(self, model_id: str, usage: Usage, when: datetime | date | None = None) -> Cost:
        """Price one API call. Unknown models give ``Cost(priced=False, rule="unknown")``."""
        day = _utc_date(when)
        hit = self._resolved.get((model_id, day))
        if hit is None:
            hit = self._resolved[(model_id, day)] = self._prepare(model_id, day)
        m, rule, base_int, long_int, search_pico = hit
        if m is None:
            return Cost.unknown()
        # Fast path, exact: whole pico-dollars per token, no multiplier (the common call).
        w1h = usage.ephemeral_1h_input_tokens
        w5m = max(usage.cache_creation_input_tokens - w1h, usage.ephemeral_5m_input_tokens)
        if base_int is not None and usage.speed != "fast" and (usage.inference_geo or "").lower() != "us":
            prompt = usage.input_tokens + w5m + w1h + usage.cache_read_input_tokens
            long_ctx = long_int is not None and prompt > m.long_context_threshold
            ri, ro, r5, r1, rr = long_int if long_ctx else base_int
            parts = (usage.input_tokens * ri, usage.output_tokens * ro, w5m * r5, w1h * r1,
                     usage.cache_read_input_tokens * rr, usage.web_search_requests * search_pico)
            return Cost(sum(parts), *parts, True, m.key, rule, long_ctx, False, False)
        return self._cost_general(m, rule, day, usage)

    def _cost_general(self, m: ModelPrice, rule: str, day: date, usage: Usage) -> Cost:
        """Every rule with Decimal arithmetic: multipliers, rates that are not whole pico."""
        w1h = usage.ephemeral_1h_input_tokens
        w5m = max(usage.cache_creation_input_tokens - w1h, usage.ephemeral_5m_input_tokens)

        # Cache writes by TTL (w5m/w1h above). Usage.from_json keeps 5m + 1h == cache_creation;
        # for a Usage built by hand, creation not covered by the breakdown is a 5-minute write
        # (the API default TTL) and a breakdown larger than the total wins (it is what was billed).
        prompt = usage.input_tokens + w5m + w1h + usage.cache_read_input_tokens

        fast = usage.speed == "fast" and m.fast_multiplier is not None
        # Per request, not per category (pricing.md §1.1): the whole call at premium rates.
        # No premium for fast requests ("applies across the full context window").
        long_ctx = (
            not fast and m.long_context_on(day) and prompt > m.long_context_threshold
        )
        geo = (usage.inference_geo or "").lower() == "us" and m.geo_us_multiplier is not None
        rates = m.long_context if long_ctx and m.long_context is not None else m.base
        mult = Decimal(1)
        if fast and m.fast_multiplier is not None:
            mult *= m.fast_multiplier
        if geo and m.geo_us_multiplier is not None:
            mult *= m.geo_us_multiplier

        parts = {
            "input_pico": _pico(usage.input_tokens, rates.input, mult),
            "output_pico": _pico(usage.output_tokens, rates.output, mult),
            "cache_write_5m_pico": _pico(w5m, rates.cache_write_5m, mult),
            "cache_write_1h_pico": _pico(w1h, rates.cache_write_1h, mult),
            "cache_read_pico": _pico(usage.cache_read_input_tokens, rates.cache_read, mult),
            # $0.01 per search, not affected by fast/geo (those are token multipliers)
            "web_search_pico": _pico(
                usage.web_search_requests, m.web_search_usd, Decimal(_PICO_PER_TOKEN)
            ),
        }
        return Cost(
            total_pico=sum(parts.values()),
            **parts,
            priced=True,
            model_key=m.key,
            rule=rule,
            long_context=long_ctx,
            fast=fast,
            geo_us=geo,
        )

    # -- display -----------------------------------------------------------------------

    def rows(self) -> list[dict[str, str]]:
        """One row per entry, all values as display strings (USD per MTok).

        Columns: model, aliases, source, valid, input, output, cache_write_5m,
        cache_write_1h, cache_read, long_context, fast, geo_us, context, max_output.
        """

        def money(d: Decimal) -> str:
            q = d.quantize(Decimal("0.01")) if d == d.quantize(Decimal("0.01")) else d.normalize()
            return format(q, "f")

        out: list[dict[str, str]] = []
        for e in self.entries():
            valid = ""
            if e.valid_from or e.valid_until:
                valid = (
                    f"{e.valid_from.isoformat() if e.valid_from else ''}.."
                    f"{e.valid_until.isoformat() if e.valid_until else ''}"
                )
            lc = ""
            if e.long_context is not None:
                lc = (
                    f">{e.long_context_threshold // 1000}K: {money(e.long_context.input)}/"
                    f"{money(e.long_context.output)}"
                )
                if e.long_context_until:
                    lc += f" until {e.long_context_until.isoformat()}"
            out.append(
                {
                    "model": e.key,
                    "aliases": ", ".join(e.aliases),
                    "source": e.source if e.verified else f"{e.source} (unverified)",
                    "valid": valid,
                    "input": money(e.base.input),
                    "output": money(e.base.output),
                    "cache_write_5m": money(e.base.cache_write_5m),
                    "cache_write_1h": money(e.base.cache_write_1h),
                    "cache_read": money(e.base.cache_read),
                    "long_context": lc,
                    "fast": f"{_fmt_dec(e.fast_multiplier)}x" if e.fast_multiplier else "",
                    "geo_us": f"{_fmt_dec(e.geo_us_multiplier)}x" if e.geo_us_multiplier else "",
                    "context": f"{e.context_window:,}",
                    "max_output": f"{e.max_output:,}" if e.max_output else "",
                }
            )
        return out

    def to_json(self) -> str:
        """The whole table as JSON (prices as decimal strings, USD per MTok)."""
        doc = {
            "unit": "USD per million tokens",
            "checked": self.checked.isoformat() if self.checked else None,
            "sources": list(self.sources),
            "families": {k: list(v) for k, v in self.families.items()},
            "models": [e.to_dict() for e in self.entries()],
        }
        return json.dumps(doc, indent=2)


# ---------------------------------------------------------------------------- LiteLLM import


def litellm_cache_path() -> Path:
    """``<cache dir>/litellm-prices.json`` (``SPENDTUI_CACHE_DIR`` moves the dir)."""
    return _config.cache_dir() / LITELLM_CACHE_NAME


def _per_mtok(value: Any) -> Decimal | None:
    """LiteLLM's USD-per-token number as exact USD per MTok, rounded to $0.000001/MTok."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return None
    d = value if isinstance(value, Decimal) else Decimal(repr(value))
    if not d.is_finite() or d < 0:
        return None
    return (d * _PICO_PER_TOKEN).quantize(_MICRO, rounding=ROUND_HALF_EVEN)


def _litellm_model(key: str, entry: Mapping[str, Any]) -> dict[str, Any] | None:
    inp = _per_mtok(entry.get("input_cost_per_token"))
    out = _per_mtok(entry.get("output_cost_per_token"))
    if inp is None or out is None:
        return None

    def rates(suffix: str, inp: Decimal, out: Decimal) -> dict[str, Decimal]:
        w5 = _per_mtok(entry.get(f"cache_creation_input_token_cost{suffix}"))
        w1 = _per_mtok(entry.get(f"cache_creation_input_token_cost_above_1hr{suffix}"))
        rd = _per_mtok(entry.get(f"cache_read_input_token_cost{suffix}"))
        # LiteLLM quirk (pricing.md §1.3): "_above_1hr" is 6e-06 on Claude 3 Opus/Haiku and
        # 3.5 Haiku, far from the official 2x input; treat anything above 3x input as bad data.
        if w1 is not None and w1 > inp * 3:
            w1 = None
        return {
            "input": inp,
            "output": out,
            "cache_write_5m": w5 if w5 is not None else inp * CACHE_5M_FACTOR,
            "cache_write_1h": w1 if w1 is not None else inp * CACHE_1H_FACTOR,
            "cache_read": rd if rd is not None else inp * CACHE_READ_FACTOR,
        }

    model: dict[str, Any] = {"key": key, **rates("", inp, out)}
    lc_in = _per_mtok(entry.get("input_cost_per_token_above_200k_tokens"))
    lc_out = _per_mtok(entry.get("output_cost_per_token_above_200k_tokens"))
    if lc_in is not None:
        lc = rates("_above_200k_tokens", lc_in, lc_out if lc_out is not None else out)
        model["long_context"] = {"threshold": DEFAULT_LONG_CONTEXT_THRESHOLD, **lc}
    pse = entry.get("provider_specific_entry")
    if isinstance(pse, Mapping):
        for src, dst in (("us", "geo_us_multiplier"), ("fast", "fast_multiplier")):
            v = pse.get(src)
            if isinstance(v, (int, float, Decimal)) and not isinstance(v, bool) and v > 0:
                model[dst] = v if isinstance(v, Decimal) else Decimal(repr(v))
    search = entry.get("search_context_cost_per_query")
    if isinstance(search, Mapping):
        vals = [
            v if isinstance(v, Decimal) else Decimal(repr(v))
            for v in search.values()
            if isinstance(v, (int, float, Decimal)) and not isinstance(v, bool)
        ]
        if vals:
            model["web_search_usd"] = max(vals)
    for src, dst in (("max_input_tokens", "context_window"), ("max_output_tokens", "max_output")):
        v = entry.get(src)
        if isinstance(v, int) and not isinstance(v, bool) and v > 0:
            model[dst] = v
    return model


def _json_default(o: Any) -> Any:
    if isinstance(o, Decimal):
        return _fmt_dec(o)
    if isinstance(o, date):
        return o.isoformat()
    raise TypeError(f"cannot serialise {type(o).__name__}")


def update_from_litellm(source: str | Path) -> Path:
    """Import Claude prices from LiteLLM's ``model_prices_and_context_window.json``.

    ``source`` is a local file or an http(s) URL (fetched with urllib; only call this with
    a URL when the user asked for a network update, e.g. ``LITELLM_URL``). Keeps the
    Anthropic-provider Claude entries, converts USD/token floats to exact USD/MTok, keeps
    the ``*_above_200k_tokens`` rates as the long-context tier, and writes
    ``<cache dir>/litellm-prices.json`` atomically. Returns that path. The cached
    ``PriceTable.default()`` is dropped so the next call sees the new models.
    """
    src = str(source)
    if src.startswith(("http://", "https://")):
        import urllib.request

        req = urllib.request.Request(src, headers={"User-Agent": "spendtui"})
        with urllib.request.urlopen(req, timeout=60) as resp:  # the user asked for it
            text = resp.read().decode("utf-8")
    else:
        text = Path(source).read_text("utf-8")
    data = json.loads(text, parse_float=Decimal)
    if not isinstance(data, dict):
        raise ValueError(f"{src}: expected a JSON object of models")

    models: list[dict[str, Any]] = []
    seen: set[str] = set()
    # plain keys first so "claude-x" beats "anthropic/claude-x" on a collision
    for raw_key in sorted(data, key=lambda k: ("/" in k or "." in k, k)):
        entry = data[raw_key]
        if not isinstance(entry, Mapping) or "claude" not in raw_key.lower():
            continue
        provider = entry.get("litellm_provider")
        if provider not in (None, "anthropic"):
            continue  # bedrock / vertex / openrouter ... carry their own regional prices
        if entry.get("mode") not in (None, "chat"):
            continue
        key = normalize_model_id(raw_key)
        if key in seen:
            continue
        m = _litellm_model(key, entry)
        if m is None:
            continue
        seen.add(key)
        models.append(m)
    if not models:
        raise ValueError(f"{src}: no Anthropic Claude entries with prices found")

    doc = {
        "format": "spendtui-litellm-prices",
        "schema": 1,
        "source": src,
        "imported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "unit": "USD per million tokens",
        "models": models,
    }
    out = litellm_cache_path()
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".litellm-", suffix=".json", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=1, default=_json_default)
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    PriceTable.clear_default()
    return out


__all__ = [
    "LITELLM_URL",
    "PICO",
    "RULES",
    "Cost",
    "ModelPrice",
    "PriceTable",
    "Rates",
    "format_cost",
    "litellm_cache_path",
    "normalize_model_id",
    "update_from_litellm",
]
