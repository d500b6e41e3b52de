"""Screens: the dashboard, help, no-session and the session switcher."""

from spendtui.views.app.screens.dashboard import DashboardScreen
from spendtui.views.app.screens.help import HelpScreen
from spendtui.views.app.screens.no_session import NoSessionScreen
from spendtui.views.app.screens.switcher import SessionSwitcher

__all__ = ["DashboardScreen", "HelpScreen", "NoSessionScreen", "SessionSwitcher"]
