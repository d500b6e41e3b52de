"""Exporters: spendtui's live numbers in the team's own Prometheus/Grafana or OTLP backend.

Nothing here is imported by the core or the app; ``spendtui export`` loads it on demand.
"""
