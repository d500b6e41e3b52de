"""Tests of budgets and the metrics exporters (issue 7)."""
