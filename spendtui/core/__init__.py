"""The accounting core: files -> records -> session model -> pricing.

Nothing in here imports Textual; views (TUI, CLI, JSON) sit on top of it.
"""
