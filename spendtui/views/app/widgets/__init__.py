"""The dashboard's widgets; each takes plain values from ``spendtui.core.live``."""

from spendtui.views.app.widgets.advice import AdvicePanel
from spendtui.views.app.widgets.agents import AgentsPanel
from spendtui.views.app.widgets.cache import CachePanel
from spendtui.views.app.widgets.calls import CallsTable
from spendtui.views.app.widgets.gauge import ContextGaugeView
from spendtui.views.app.widgets.sparks import SparkPanel, Sparks
from spendtui.views.app.widgets.stats import BudgetLine, HeaderStats, Stat

__all__ = ["AdvicePanel", "AgentsPanel", "BudgetLine", "CachePanel", "CallsTable", "ContextGaugeView", "HeaderStats",
           "SparkPanel", "Sparks", "Stat"]
