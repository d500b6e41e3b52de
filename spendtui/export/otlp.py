"""``spendtui export --otlp ENDPOINT``: the same metrics pushed with the OpenTelemetry SDK.

For teams on Datadog, Grafana Cloud or an OpenTelemetry Collector, which take OTLP pushes
rather than scraping. The SDK is an optional extra (``pip install 'spendtui[otel]'``) so
the base install stays small; it is imported only here, only when asked for.

Counters are observable counters reporting the cumulative totals (cumulative temporality,
the SDK default), gauges are observable gauges: on every export the SDK calls our
callbacks, which read one shared snapshot, so all instruments of one export agree.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from spendtui.export.metrics import METRICS, MetricDef, Samples

OTEL_EXTRA_HINT = (
    "--otlp needs the OpenTelemetry SDK, which is an optional extra: "
    "pip install 'spendtui[otel]' (opentelemetry-sdk and opentelemetry-exporter-otlp-proto-http)"
)


class OtelMissingError(RuntimeError):
    """The ``otel`` extra is not installed."""


def metrics_url(endpoint: str) -> str:
    """``http://host:4318`` -> ``http://host:4318/v1/metrics``; a URL with a path is kept as is."""
    parts = urlsplit(endpoint.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"--otlp expects an http(s) URL such as http://127.0.0.1:4318, got {endpoint!r}")
    path = parts.path if parts.path not in ("", "/") else "/v1/metrics"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


class _SnapshotCache:
    """One ``Samples`` per export: every instrument's callback within ``max_age`` shares it."""

    def __init__(self, samples: Callable[[], Samples], max_age: float = 0.5) -> None:
        self._samples = samples
        self._max_age = max_age
        self._at = float("-inf")
        self._snap: Samples = {}
        self._lock = threading.Lock()

    def get(self) -> Samples:
        with self._lock:
            now = time.monotonic()
            if now - self._at > self._max_age:
                self._snap = self._samples()
                self._at = now
            return self._snap


def _callback(cache: _SnapshotCache, m: MetricDef, observation: Any) -> Callable[[Any], Iterable[Any]]:
    def cb(_options: Any) -> Iterable[Any]:
        return [observation(value, dict(zip(m.labels, labels, strict=True)))
                for labels, value in cache.get().get(m.name, [])]

    return cb


class OtlpExporter:
    """A MeterProvider of our own (never the global one) with a periodic OTLP/HTTP reader."""

    def __init__(
        self,
        samples: Callable[[], Samples],
        endpoint: str | None = None,
        interval_seconds: float = 15.0,
        headers: Mapping[str, str] | None = None,
        reader: Any | None = None,
        resource_attributes: Mapping[str, str] | None = None,
    ) -> None:
        """``reader`` replaces the OTLP push (tests pass an ``InMemoryMetricReader``)."""
        try:
            from opentelemetry.metrics import Observation
            from opentelemetry.sdk.metrics import MeterProvider
            from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
            from opentelemetry.sdk.resources import Resource
        except ImportError as e:
            raise OtelMissingError(OTEL_EXTRA_HINT) from e
        from spendtui import __version__

        if reader is None:
            if endpoint is None:
                raise ValueError("an OTLP endpoint is required")
            try:
                from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
            except ImportError as e:
                raise OtelMissingError(OTEL_EXTRA_HINT) from e
            exporter = OTLPMetricExporter(endpoint=metrics_url(endpoint), headers=dict(headers or {}))
            reader = PeriodicExportingMetricReader(exporter, export_interval_millis=interval_seconds * 1000)
        attrs = {"service.name": "spendtui", "service.version": __version__, **(resource_attributes or {})}
        self.reader = reader
        self.provider = MeterProvider(resource=Resource.create(attrs), metric_readers=[reader])
        meter = self.provider.get_meter("spendtui", __version__)
        cache = _SnapshotCache(samples)
        for m in METRICS:
            create = meter.create_observable_counter if m.kind == "counter" else meter.create_observable_gauge
            create(m.name, callbacks=[_callback(cache, m, Observation)], unit=m.otel_unit, description=m.help)

    def flush(self, timeout_millis: float = 10_000) -> bool:
        return bool(self.provider.force_flush(timeout_millis))

    def shutdown(self) -> None:
        """Push a last export and stop the reader thread."""
        with contextlib.suppress(Exception):
            self.provider.shutdown()


def parse_headers(items: Iterable[str] | None) -> dict[str, str]:
    """``--otlp-header KEY=VALUE`` (repeatable) -> dict; OTEL_EXPORTER_OTLP_HEADERS also works."""
    out: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--otlp-header expects KEY=VALUE, got {item!r}")
        out[key.strip()] = value.strip()
    return out
