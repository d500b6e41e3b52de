"""Messages between the follower thread, the widgets and the app."""

from __future__ import annotations

from collections.abc import Sequence

from textual.message import Message

from spendtui.core.live import CacheInfo, LiveSnapshot, Notice


class LiveUpdate(Message):
    """The follower's newest state (posted from its thread, once per batch).

    ``generation`` tells updates of a session we have since left apart from the
    current one's. An update without toasts is superseded by the next one of the
    same generation still waiting in the queue, so a burst costs one redraw.
    """

    def __init__(self, generation: int, snapshot: LiveSnapshot, notices: Sequence[Notice] = (),
                 initial: bool = False, analysis_owed: bool = False) -> None:
        super().__init__()
        self.generation = generation
        self.snapshot = snapshot
        self.notices = tuple(notices)
        self.initial = initial
        self.analysis_owed = analysis_owed
        """The batch changed the model: the live analysis shown is older than these numbers."""

    def can_replace(self, message: Message) -> bool:
        return (isinstance(message, LiveUpdate) and message.generation == self.generation
                and not self.notices and not self.initial
                and (self.analysis_owed or not message.analysis_owed))


class CacheExpired(Message):
    """The TTL countdown reached zero while we watched."""

    def __init__(self, info: CacheInfo) -> None:
        super().__init__()
        self.info = info
