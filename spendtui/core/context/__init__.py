"""Context intelligence: what fills the context, what is stale, and advice priced in dollars.

No Textual here; the app and ``summary --json`` consume plain data::

    model = SessionModel(files.session_id)
    analyzer = ContextAnalyzer(model, prices)      # attach BEFORE loading
    load_with_dedup(files, pricer, model=model)
    summary = session_summary(model, prices)
    analyzer.merge_into(summary)                   # adds context.breakdown, stale, cache, advice, ...
"""

from spendtui.core.context.advisor import Advice
from spendtui.core.context.analyzer import ContextAnalyzer
from spendtui.core.context.avoidable import Avoidable, replay
from spendtui.core.context.cache import REASONS, Miss
from spendtui.core.context.composition import MemoryFile, discover_memory
from spendtui.core.context.metrics import attached_analyzer, metrics_for
from spendtui.core.context.plans import PLANS, active_seconds, compare_plans, project_30_days
from spendtui.core.context.tokens import ApiTokenCounter, ByteEstimator, Calibration, make_estimator

__all__ = [
    "PLANS",
    "REASONS",
    "Advice",
    "ApiTokenCounter",
    "Avoidable",
    "ByteEstimator",
    "Calibration",
    "ContextAnalyzer",
    "MemoryFile",
    "Miss",
    "active_seconds",
    "attached_analyzer",
    "compare_plans",
    "discover_memory",
    "make_estimator",
    "metrics_for",
    "project_30_days",
    "replay",
]
