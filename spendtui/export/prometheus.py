"""``spendtui export --prometheus``: a ``prometheus_client`` custom collector.

A custom collector (not module-level Counter objects) because the values already exist
as exact running totals in the followed sessions: at scrape time we read them, we never
keep a second copy that could drift. ``prometheus_client`` is the reference client and
gives the text/OpenMetrics exposition and content negotiation for free.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from spendtui.export.metrics import METRICS, Samples

DEFAULT_LISTEN = "127.0.0.1:9464"


class SpendCollector(Collector):
    """Turns a ``Samples`` snapshot into metric families at every scrape."""

    def __init__(self, samples: Callable[[], Samples]) -> None:
        self._samples = samples

    def collect(self) -> Iterator[Metric]:
        snap = self._samples()
        for m in METRICS:
            family_cls = CounterMetricFamily if m.kind == "counter" else GaugeMetricFamily
            fam = family_cls(m.name, m.help, labels=list(m.labels), unit=m.unit)
            for labels, value in snap.get(m.name, []):
                fam.add_metric(list(labels), value)
            yield fam

    def describe(self) -> Iterator[Metric]:
        """Names only, so registering does not call ``collect`` (which reads the sessions)."""
        for m in METRICS:
            family_cls = CounterMetricFamily if m.kind == "counter" else GaugeMetricFamily
            yield family_cls(m.name, m.help, labels=list(m.labels), unit=m.unit)


def make_registry(samples: Callable[[], Samples]) -> CollectorRegistry:
    """A registry with only our collector: no process/GC metrics of the exporter itself."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(SpendCollector(samples))
    return reg


def exposition(registry: CollectorRegistry) -> str:
    """The text format a scrape would return (``export --once``, tests)."""
    from prometheus_client import generate_latest

    return generate_latest(registry).decode("utf-8")


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT``, ``:PORT`` (loopback) or ``[::1]:PORT`` -> (host, port)."""
    v = value.strip()
    if v.startswith("["):
        host, _, rest = v[1:].partition("]")
        port_s = rest.lstrip(":")
    elif v.count(":") == 1:
        host, _, port_s = v.partition(":")
    elif v.isdigit():
        host, port_s = "", v
    else:
        raise ValueError(f"--listen expects HOST:PORT, got {value!r}")
    try:
        port = int(port_s)
    except ValueError:
        raise ValueError(f"--listen expects HOST:PORT, got {value!r}") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"--listen port out of range: {port}")
    return host or "127.0.0.1", port


def serve(registry: CollectorRegistry, listen: str = DEFAULT_LISTEN) -> tuple[Any, Any]:
    """Start the HTTP endpoint in a daemon thread; returns (server, thread) for shutdown."""
    from prometheus_client import start_http_server

    host, port = parse_listen(listen)
    return start_http_server(port, addr=host, registry=registry)
