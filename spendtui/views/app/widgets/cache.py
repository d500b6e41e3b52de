"""Cache hit ratio and the TTL countdown, with what the next call costs either way."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.widget import Widget

from spendtui.core.live import CacheInfo
from spendtui.views.app import format as fmt
from spendtui.views.app.messages import CacheExpired


class CachePanel(Widget):
    """Ticks once a second on the app's clock; posts ``CacheExpired`` when the countdown
    reaches zero while we watch (a cache already cold when we learn of it is not news)."""

    DEFAULT_CSS = """
    CachePanel {
        height: 5;
        border: round $primary 60%;
        border-title-color: $text-muted;
        padding: 0 1;
    }
    """

    def __init__(self, clock: Callable[[], float], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.clock = clock
        self.border_title = "Prompt cache"
        self.info: CacheInfo | None = None
        self.hit_last: float | None = None
        self.hit_session: float | None = None
        self._announced: float | None = None  # last_call_at whose expiry is known
        self._shown = ""  # the countdown (or "expired ... ago") last painted

    def on_mount(self) -> None:
        self.set_interval(1.0, self.tick, name="cache-ttl")

    def show(self, info: CacheInfo | None, hit_last: float | None, hit_session: float | None) -> None:
        if info is not None and (self.info is None or info.last_call_at != self.info.last_call_at) \
                and info.expired(self.clock()):
            self._announced = info.last_call_at
        changed = (info, hit_last, hit_session) != (self.info, self.hit_last, self.hit_session)
        self.info, self.hit_last, self.hit_session = info, hit_last, hit_session
        if changed:
            self.refresh()

    def tick(self) -> None:
        info = self.info
        if info is None:
            return
        if info.expired(self.clock()) and self._announced != info.last_call_at:
            self._announced = info.last_call_at
            self.post_message(CacheExpired(info))
        # repaint only when the line reads differently: an expired cache's "expired 3h ago"
        # changes rarely, and a repaint a second was most of an idle app's CPU
        shown = self._ttl_text()
        if shown != self._shown:
            self._shown = shown
            self.refresh()

    def _ttl_text(self) -> str:
        info = self.info
        if info is None:
            return ""
        left = info.remaining(self.clock())
        if left > 0:
            return fmt.countdown(left)
        return fmt.ago(self.clock() - info.last_call_at - info.ttl)

    def render(self) -> Text:
        hits = Text.assemble(("hit ratio ", "dim"), (fmt.percent(self.hit_last), "bold"), (" last call · ", "dim"),
                             (fmt.percent(self.hit_session), "bold"), (" session", "dim"))
        info = self.info
        if info is None:
            return Text("\n").join([hits, Text("no main-chain call yet", style="dim")])
        left = info.remaining(self.clock())
        if left > 0:
            ttl = Text.assemble(("⏱ ", "bold"), (fmt.countdown(left), "bold green" if left > 60 else "bold yellow"),
                                (f" left of the {fmt.ttl_label(info.ttl)} TTL", "dim"))
        else:
            since = self.clock() - info.last_call_at - info.ttl
            ttl = Text.assemble(("⏱ expired", "bold red"),
                                (f" {fmt.ago(since)} ({fmt.ttl_label(info.ttl)} TTL)", "dim"))
        nxt = Text.assemble(("next call ", "dim"), (fmt.usd(info.warm_pico), "bold"), (" warm · ", "dim"),
                            (fmt.usd(info.cold_pico), "bold red" if left <= 0 else "bold"), (" if expired", "dim"))
        if info.penalty_pico is not None:
            nxt.append(f" (+{fmt.usd(info.penalty_pico)})", style="dim")
        return Text("\n").join([hits, ttl, nxt])
