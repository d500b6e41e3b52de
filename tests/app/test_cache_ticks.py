"""The cache panel repaints on its one-second tick only when what it shows changes: an
expired cache's "expired 2.4h ago" reads the same for minutes (a repaint a second was most
of an idle app's CPU), while a live countdown changes every second."""

from __future__ import annotations

from textual.app import App, ComposeResult

from spendtui.core.live import CacheInfo
from spendtui.views.app.widgets import CachePanel
from tests.app.conftest import T0, FakeClock


class _One(App[None]):
    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock

    def compose(self) -> ComposeResult:
        yield CachePanel(self.clock, id="cache")


async def test_ticks_repaint_only_when_the_line_changes() -> None:
    clock = FakeClock(T0)
    app = _One(clock)
    async with app.run_test() as pilot:
        panel = app.query_one(CachePanel)
        # expired 2.41 h ago: still "2.4h ago" two minutes on
        info = CacheInfo("claude-sonnet-4-5", 300, T0 - 300 - 2.41 * 3600, 40_000, 12_000, 150_000)
        panel.show(info, 1.0, 0.9)
        await pilot.pause()
        repaints = 0
        real = panel.refresh

        def counted(*a: object, **k: object) -> object:
            nonlocal repaints
            repaints += 1
            return real(*a, **k)

        panel.refresh = counted  # type: ignore[method-assign]
        for _ in range(120):  # two minutes of an expired cache
            clock.advance(1)
            panel.tick()
        assert repaints == 1  # the first tick (nothing was painted by it yet), then none
        assert "expired" in str(panel.render()) and "2.4h ago" in str(panel.render())

        repaints = 0
        panel.show(CacheInfo("claude-sonnet-4-5", 300, clock() - 10, 40_000, 12_000, 150_000), 1.0, 0.9)
        repaints = 0
        for _ in range(5):  # a live countdown: every second
            clock.advance(1)
            panel.tick()
        assert repaints == 5
