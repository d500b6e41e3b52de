"""Work-arounds for memory Textual keeps after a widget is gone.

``StylesCache.get_inner_outer`` (textual/_styles_cache.py) is an *instance* method under
``functools.lru_cache(1024)``: its key holds the ``StylesCache`` of every widget it drew, so a
widget that was removed (every notification's toast) keeps its cache of rendered lines, a
few dozen ``Strip`` objects with their own caches, until 1,024 newer keys push it out.
Upstream: https://github.com/Textualize/textual/issues/6665 (open for Textual 8.2.8). Only
a real terminal shows it: a headless app never renders a widget's lines.

The spendtui soak (a toast a compaction, a few a minute) kept ~20 Strips a toast this way.
Emptying the cache now and then lets those go; the live widgets' entries cost one Style pair
each to make again.
"""

from __future__ import annotations

FORGET_SECONDS = 30.0
"""How often the app lets go of removed widgets' caches (see ``forget_removed_widgets``)."""


def forget_removed_widgets() -> int:
    """Empty Textual's ``get_inner_outer`` cache; how many entries it held (0 if Textual no
    longer has it: a Textual that fixed the leak needs nothing from us)."""
    try:
        from textual._styles_cache import StylesCache
    except ImportError:
        return 0
    # a Textual that renamed the method or dropped its lru_cache: nothing to do, never a crash
    method = getattr(StylesCache, "get_inner_outer", None)
    info, clear = getattr(method, "cache_info", None), getattr(method, "cache_clear", None)
    if info is None or clear is None:
        return 0
    held = int(info().currsize)
    clear()
    return held
