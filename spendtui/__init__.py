"""spendtui: live cost, context and advice for Claude Code sessions."""

__version__ = "0.1.0"
