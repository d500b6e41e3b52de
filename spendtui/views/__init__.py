"""Views over the core: CLI tables, JSON, and (in spendtui.app) the Textual app."""
