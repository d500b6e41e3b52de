"""Calls Claude Code makes but does not write down, estimated from what it does write.

* **Compaction summaries.** Claude Code 2.1.39 logged the summarising call in
  ``subagents/agent-acompact-*.jsonl``; 2.1.197 logs nothing. When no such file
  covers a ``compact_boundary``, the call is estimated: it re-sends the
  conversation (read from the cache the previous call left: ``cache_read +
  cache_creation`` of that call), adds the summarise instruction and the last
  reply uncached, and writes the summary as output.
* **Title generation.** Interactive sessions (``entrypoint: cli``) ask the model
  for a title once (an ``ai-title`` record appears, the call does not): a short
  instruction plus the first prompt in, a few tokens out, on the session's model.
* **Model probes.** After ``/model`` Claude Code sends a one-token request to
  the new model.

Numbers observed on the wire with the e2e harness (fake API, real CLI 2.1.197):
compaction instruction ~1,500 tokens, title request ~400 tokens in / 16 out,
probe 39 in / 1 out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from spendtui.core.usage import Usage

if TYPE_CHECKING:
    from spendtui.core.context.analyzer import ContextAnalyzer

COMPACT_PROMPT_TOKENS = 1_500
DEFAULT_SUMMARY_TOKENS = 2_000
TITLE_PROMPT_TOKENS = 380
TITLE_MAX_PROMPT = 2_000
TITLE_OUTPUT_TOKENS = 16
PROBE_INPUT_TOKENS = 39
PROBE_OUTPUT_TOKENS = 1
LOGGED_WINDOW = timedelta(minutes=2)


@dataclass(slots=True)
class Unlogged:
    kind: str  # compaction | title | model_probe
    timestamp: datetime | None
    model: str
    usage: Usage
    pico: int

    def to_dict(self) -> dict[str, Any]:
        u = self.usage
        return {"kind": self.kind, "timestamp": self.timestamp.isoformat().replace("+00:00", "Z")
                if self.timestamp else None, "model": self.model,
                "tokens": {"input": u.input_tokens, "cache_read": u.cache_read_input_tokens,
                           "output": u.output_tokens},
                "estimated_usd": round(self.pico / 10**12, 6)}


def _compaction_logged(a: ContextAnalyzer, start: datetime | None, end: datetime | None) -> bool:
    for ag in a.model.agents.values():
        if not (ag.agent_id.startswith("acompact") or ag.agent_type == "compaction"):
            continue
        if start is None or end is None or ag.first_ts is None:
            return True
        if start - LOGGED_WINDOW <= ag.first_ts <= end + LOGGED_WINDOW:
            return True
    return False


def estimate_unlogged(a: ContextAnalyzer) -> list[Unlogged]:
    out: list[Unlogged] = []
    prices = a.prices

    def price(model: str, u: Usage, when: datetime | None) -> int:
        if prices is None:
            return 0
        c = prices.cost(model, u, when)
        return c.total_pico if c.priced else 0

    for ci in a.compactions:
        prev = ci.prev_call
        if prev is None or _compaction_logged(a, prev.timestamp, ci.timestamp):
            continue
        pu = prev.usage
        out_tokens = round(a.ratio * ci.summary_est) if ci.summary_est else DEFAULT_SUMMARY_TOKENS
        u = Usage(input_tokens=COMPACT_PROMPT_TOKENS + pu.input_tokens + pu.output_tokens,
                  cache_read_input_tokens=pu.cache_read_input_tokens + pu.cache_creation_input_tokens,
                  output_tokens=out_tokens)
        out.append(Unlogged("compaction", ci.timestamp, prev.model, u, price(prev.model, u, ci.timestamp)))

    first = a.first_call  # the session's, even once it left the analysis window
    if first is not None and a.entrypoint == "cli" and a.first_prompt_est is not None:
        prompt = min(TITLE_MAX_PROMPT, round(a.ratio * a.first_prompt_est))
        u = Usage(input_tokens=TITLE_PROMPT_TOKENS + prompt, output_tokens=TITLE_OUTPUT_TOKENS)
        ts, model = first
        out.append(Unlogged("title", ts, model, u, price(model, u, ts)))

    for ts in a.model_probes:
        nxt = next((c for c in a.main_calls if c.timestamp and ts and c.timestamp >= ts), None)
        if nxt is None:
            continue
        u = Usage(input_tokens=PROBE_INPUT_TOKENS, output_tokens=PROBE_OUTPUT_TOKENS)
        out.append(Unlogged("model_probe", ts, nxt.model, u, price(nxt.model, u, ts)))
    return out
