"""Human-readable terminal reports (rich tables) built from the summary dicts.

The JSON and the tables come from the same dicts, so what a script reads and
what a person reads can never disagree.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

KIND_LABELS = {
    "input": "input",
    "cache_write_5m": "cache write 5m",
    "cache_write_1h": "cache write 1h",
    "cache_read": "cache read",
    "output": "output",
    "web_search": "web search",
}


def money(v: float | None, unknown: str = "unknown") -> str:
    if v is None:
        return unknown
    if abs(v) >= 1:
        return f"${v:,.2f}"
    if v == 0:
        return "$0"
    if abs(v) < 0.00005:
        return "<$0.0001"
    return f"${v:.4f}"


def tokens(n: int | None) -> str:
    if n is None:
        return "-"
    if n >= 1_000_000:
        return f"{n / 1_000_000:.2f}M"
    if n >= 10_000:
        return f"{n / 1000:.0f}K"
    if n >= 1000:
        return f"{n / 1000:.1f}K"
    return str(n)


def _parse(ts: str | None) -> datetime | None:
    if not ts:
        return None
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None


def when(ts: str | None) -> str:
    dt = _parse(ts)
    return dt.astimezone().strftime("%Y-%m-%d %H:%M") if dt else "-"


def ago(ts: str | None, now: float | None = None) -> str:
    dt = _parse(ts)
    if dt is None:
        return "-"
    secs = (now or time.time()) - dt.timestamp()
    if secs < 90:
        return "just now"
    if secs < 5400:
        return f"{secs / 60:.0f} min ago"
    if secs < 36 * 3600:
        return f"{secs / 3600:.0f} h ago"
    return f"{secs / 86400:.0f} d ago"


def duration(start: str | None, end: str | None) -> str:
    a, b = _parse(start), _parse(end)
    if a is None or b is None:
        return "-"
    secs = int((b - a).total_seconds())
    h, rem = divmod(secs, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h {m:02d}m" if h else f"{m}m {s:02d}s"


def short_path(p: str | None) -> str:
    if not p:
        return "-"
    home = str(Path.home())
    return "~" + p[len(home):] if p.startswith(home) else p


def sessions_table(rows: list[dict[str, Any]], now: float | None = None, width: int = 120) -> Table:
    wide = width >= 110
    t = Table(box=box.SIMPLE_HEAVY, title="Claude Code sessions", title_justify="left",
              show_footer=len(rows) > 1)
    total = sum(r["cost_usd"] for r in rows)
    calls = sum(r["api_calls"] for r in rows)
    t.add_column("", width=1, footer="")
    t.add_column("session", style="bold cyan", no_wrap=True, min_width=8, footer=f"{len(rows)}")
    room = max(12, width - 78 - (34 if wide else 0))
    t.add_column("project", overflow="ellipsis", no_wrap=True, max_width=room, footer="")
    if wide:
        t.add_column("title", overflow="ellipsis", no_wrap=True, max_width=32, style="dim", footer="")
    t.add_column("started", no_wrap=True, min_width=16, footer="")
    t.add_column("last activity", no_wrap=True, min_width=10, footer="")
    t.add_column("calls", justify="right", no_wrap=True, min_width=5, footer=str(calls))
    t.add_column("cost", justify="right", style="bold", no_wrap=True, min_width=8, footer=money(total))
    for r in rows:
        cost = money(r["cost_usd"])
        if not r.get("cost_complete", True):
            cost += "+?"
        cells: list[Any] = [
            Text("●", style="green") if r.get("active") else "",
            r["session_id"][:8],
            short_path(r.get("project")),
        ]
        if wide:
            cells.append((r.get("title") or "").replace("\n", " "))
        cells += [when(r.get("started")), ago(r.get("ended"), now), str(r["api_calls"]), cost]
        t.add_row(*cells)
    return t


def _share(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%" if whole > 0 else "-"


def summary_renderable(s: dict[str, Any], width: int = 120) -> Group:
    total = s["cost_usd"]
    head = Table.grid(padding=(0, 2))
    head.add_column(style="dim")
    head.add_column()
    head.add_row("session", f"[bold]{s['session_id']}[/]" + (f"  {s['title']}" if s.get("title") else ""))
    head.add_row("project", short_path(s.get("project")))
    head.add_row("when", f"{when(s.get('started'))} → {when(s.get('ended'))}  "
                         f"({duration(s.get('started'), s.get('ended'))})")
    cost_line = f"[bold green]{money(total)}[/]"
    if s.get("unpriced_models"):
        cost_line += f"  [yellow]+ unknown ({', '.join(s['unpriced_models'])} not priced)[/]"
    head.add_row("cost", cost_line)
    head.add_row("calls", f"{s['api_calls']} API calls ({s['main_api_calls']} main, "
                          f"{s['api_calls'] - s['main_api_calls']} sub-agent) in {s.get('turns', 0)} "
                          f"turn{'' if s.get('turns', 0) == 1 else 's'}")
    if s.get("copied_api_calls"):
        head.add_row("fork", f"{s['copied_api_calls']} calls copied from "
                             f"{s.get('forked_from') or 'an earlier session'} (billed there)")
    ctx = s["context"]
    head.add_row("context", f"{tokens(ctx['current'])} now, peak {tokens(ctx['peak'])} "
                            f"of {tokens(ctx['window'])} ({_share(ctx['peak'], ctx['window'])})")

    by_model = Table(box=box.SIMPLE, title="Cost by model", title_justify="left")
    by_model.add_column("model", no_wrap=True, overflow="ellipsis")
    by_model.add_column("calls", justify="right")
    by_model.add_column("cost", justify="right", no_wrap=True)
    by_model.add_column("share", justify="right")
    for m, c in s["cost_by_model"].items():
        priced = m not in s.get("unpriced_models", [])
        by_model.add_row(m, str(s.get("calls_by_model", {}).get(m, "")),
                         money(c) if priced else "[yellow]unknown[/]", _share(c, total) if priced else "-")
    by_model.add_row("[dim]main chain[/]", "", money(s.get("main_cost_usd", 0.0)),
                     _share(s.get("main_cost_usd", 0.0), total))
    by_model.add_row("[dim]sub-agents[/]", "", money(s["subagent_cost_usd"]),
                     _share(s["subagent_cost_usd"], total))

    kinds = Table(box=box.SIMPLE, title="Tokens by kind", title_justify="left")
    kinds.add_column("kind", no_wrap=True)
    kinds.add_column("tokens", justify="right")
    kinds.add_column("cost", justify="right", no_wrap=True)
    kinds.add_column("share", justify="right")
    by_kind = s.get("cost_by_kind", {})
    for k, label in KIND_LABELS.items():
        n = s["tokens"].get(k)
        c = by_kind.get(k, 0.0)
        if k == "web_search":
            if not s.get("web_search_requests"):
                continue
            kinds.add_row(label, f"{s['web_search_requests']} req", money(c), _share(c, total))
            continue
        kinds.add_row(label, f"{n:,}", money(c), _share(c, total))

    parts: list[Any] = [Panel(head, title="spendtui summary", title_align="left", border_style="cyan")]
    if width >= 110:
        top = Table.grid(padding=(0, 4))
        top.add_row(by_model, kinds)
        parts.append(top)
    else:
        parts += [by_model, kinds]

    if s["subagents"]:
        ag = Table(box=box.SIMPLE, title="Sub-agents", title_justify="left")
        for col, just in (("agent", "left"), ("type", "left"), ("model", "left"),
                          ("calls", "right"), ("cost", "right")):
            ag.add_column(col, justify=just)  # type: ignore[arg-type]
        for a in s["subagents"]:
            ag.add_row(a["agent_id"][:17], a.get("agent_type") or "-", a.get("model") or "-",
                       str(a["api_calls"]), money(a["cost_usd"]))
        parts.append(ag)

    if s["compactions"] or s.get("model_switches"):
        ev = Table(box=box.SIMPLE, title="Compactions and model switches", title_justify="left")
        ev.add_column("time")
        ev.add_column("event")
        ev.add_column("detail")
        rows = [(c["timestamp"], f"compaction ({c['trigger']})",
                 f"{tokens(c['pre_tokens'])} → {tokens(c['post_tokens'])}") for c in s["compactions"]]
        rows += [(m["timestamp"], "model switch", f"{m['from']} → {m['to']}")
                 for m in s.get("model_switches", [])]
        for ts, what, detail in sorted(rows, key=lambda r: r[0] or ""):
            ev.add_row(when(ts), what, detail)
        parts.append(ev)

    if s.get("costliest_calls"):
        cc = Table(box=box.SIMPLE, title="Costliest calls", title_justify="left")
        for col in ("time", "model", "agent", "tools", "context", "output", "cost"):
            cc.add_column(col, justify="right" if col in ("context", "output", "cost") else "left",
                          no_wrap=col in ("time", "cost", "context", "output"),
                          overflow="ellipsis")
        for c in s["costliest_calls"]:
            cc.add_row(when(c["timestamp"]), c["model"], (c.get("agent_id") or "main")[:12],
                       ",".join(c["tools"])[:30] or "-", tokens(c["context"]),
                       tokens(c["tokens"]["output"]), money(c["cost_usd"]))
        parts.append(cc)

    bd = (s.get("context") or {}).get("breakdown") or {}
    if bd.get("parts"):
        bparts = [(k, v) for k, v in bd["parts"].items() if v]
        total = sum(v for _k, v in bparts) or 1
        line = Text("What fills the context now: ", style="bold")
        for i, (k, v) in enumerate(bparts):
            line.append((", " if i else "") + f"{k.replace('_', ' ')} {tokens(v)} ({100 * v / total:.0f}%)")
        stale = s.get("stale") or {}
        if stale.get("tokens"):
            line.append(f"; stale {tokens(stale['tokens'])} ({100 * stale.get('share', 0):.0f}%), "
                        f"{money(stale.get('cost_per_call_usd'))} a call", style="yellow")
        parts_out: list[Any] = [line]
        cache = s.get("cache") or {}
        misses = cache.get("misses") or []
        if misses:
            extra = sum(m.get("extra_cost_usd") or 0 for m in misses)
            reasons = ", ".join(sorted({str(m.get("reason")) for m in misses}))
            parts_out.append(Text(f"Cache misses: {len(misses)} ({reasons}), {money(extra)} over warm calls",
                                  style="yellow"))
        parts.append(Group(*parts_out))
    avoid = s.get("avoidable") or {}
    advice = s.get("advice") or []
    if avoid.get("headline") or advice:
        adv = Table(box=box.SIMPLE, title=avoid.get("headline") or "Advice", title_justify="left",
                    title_style="bold")
        adv.add_column("saving", justify="right", no_wrap=True)
        adv.add_column("advice")
        for a in advice:
            adv.add_row(money(a.get("saving_usd")), f"[bold]{a.get('kind')}[/]: {a.get('message')}")
        if not advice:
            adv.add_row("", "[dim]nothing to change: the session is lean[/]")
        if s.get("unlogged_calls_estimate_usd"):
            adv.caption = (f"plus about {money(s['unlogged_calls_estimate_usd'])} of calls Claude Code makes "
                           "but does not log (compaction, titles), estimated")
        parts.append(adv)

    notes: list[str] = []
    if s.get("family_priced_models"):
        notes.append("priced by family rule (no exact table entry): "
                     + ", ".join(s["family_priced_models"]))
    if s.get("skipped_lines"):
        first = s.get("skipped", [])[:3]
        where = "; ".join(f"{Path(k['file']).name}:{k['line']} {k['reason']}" for k in first)
        notes.append(f"{s['skipped_lines']} unreadable line(s) skipped ({where})")
    if notes:
        parts.append(Text("\n".join("! " + n for n in notes), style="yellow"))
    return Group(*parts)


def print_summary(s: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    console.print(summary_renderable(s, width=console.width))


def price_table(rows: list[dict[str, Any]], width: int = 120) -> Table:
    t = Table(box=box.SIMPLE_HEAVY, title="Prices (USD per million tokens)", title_justify="left")
    cols = [("model", "model"), ("input", "input"), ("cache_write_5m", "write 5m"), ("cache_write_1h", "write 1h"),
            ("cache_read", "read"), ("output", "output")]
    if width >= 100:
        cols += [("long_context", "long context"), ("fast", "fast"), ("context", "window")]
    if width >= 130:
        cols += [("valid", "valid"), ("source", "source")]
    for key, label in cols:
        t.add_column(label, justify="left" if key in ("model", "long_context", "valid", "source") else "right",
                     no_wrap=True)
    for r in rows:
        model = r.get("model", "")
        if "unverified" in str(r.get("source", "")):
            model += " *"
        t.add_row(model, *[str(r.get(k, "")) for k, _ in cols[1:]])
    t.caption = "* from announcements not yet on the official price page"
    return t


def report_table(rep: dict[str, Any], width: int = 120) -> Table:
    by = rep["by"]
    title = f"Spend by {by}"
    if rep.get("since") or rep.get("until"):
        title += f" ({rep.get('since') or '…'} – {rep.get('until') or '…'})"
    t = Table(box=box.SIMPLE_HEAVY, title=title, title_justify="left", show_footer=True)
    tot = rep["totals"]
    t.add_column(by, no_wrap=True, overflow="ellipsis", max_width=max(16, width - 70), footer="total")
    t.add_column("calls", justify="right", footer=f"{tot['api_calls']:,}")
    t.add_column("input", justify="right", footer=tokens(tot["tokens"]["input"]))
    t.add_column("cache write", justify="right",
                 footer=tokens(tot["tokens"]["cache_write_5m"] + tot["tokens"]["cache_write_1h"]))
    t.add_column("cache read", justify="right", footer=tokens(tot["tokens"]["cache_read"]))
    t.add_column("output", justify="right", footer=tokens(tot["tokens"]["output"]))
    t.add_column("cost", justify="right", style="bold", no_wrap=True, footer=money(tot["cost_usd"]))
    for r in rep["rows"]:
        tk = r["tokens"]
        key = short_path(r["key"]) if by == "project" else r["key"]
        cost = money(r["cost_usd"]) + ("+?" if r["unpriced_calls"] else "")
        t.add_row(key, f"{r['api_calls']:,}", tokens(tk["input"]), tokens(tk["cache_write_5m"] + tk["cache_write_1h"]),
                  tokens(tk["cache_read"]), tokens(tk["output"]), cost)
    return t
