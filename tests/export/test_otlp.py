"""The OTLP exporter publishes the same metrics as the Prometheus endpoint: checked in memory
and over a real OTLP/HTTP push to a loopback receiver that decodes the protobuf."""

from __future__ import annotations

import gzip
import json
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from spendtui.export.otlp import OTEL_EXTRA_HINT, OtelMissingError, OtlpExporter, metrics_url, parse_headers
from tests.export.test_metrics import make_claude, runner_for

ROOT = Path(__file__).resolve().parents[2]


def _points(metrics: list[Any]) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """{metric name: {sorted attribute items: value}} from SDK or protobuf metrics."""
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for m in metrics:
        data = m.data
        for dp in data.data_points:
            attrs = dp.attributes
            if isinstance(attrs, dict) or hasattr(attrs, "items"):
                items = tuple(sorted((k, str(v)) for k, v in dict(attrs).items()))
            else:  # protobuf KeyValue list
                items = tuple(sorted((kv.key, kv.value.string_value) for kv in attrs))
            v = dp.value if hasattr(dp, "value") else (dp.as_double if dp.HasField("as_double") else dp.as_int)
            out.setdefault(m.name, {})[items] = float(v)
    return out


def _expected(samples: dict[str, list[tuple[tuple[str, ...], float]]]) -> dict[str, dict]:
    from spendtui.export.metrics import METRICS

    out: dict[str, dict] = {}
    for m in METRICS:
        for labels, value in samples.get(m.name, []):
            out.setdefault(m.name, {})[tuple(sorted(zip(m.labels, labels, strict=True)))] = value
    return out


def test_metrics_url() -> None:
    assert metrics_url("http://127.0.0.1:4318") == "http://127.0.0.1:4318/v1/metrics"
    assert metrics_url("https://otlp.example/otlp/v1/metrics") == "https://otlp.example/otlp/v1/metrics"
    with pytest.raises(ValueError):
        metrics_url("127.0.0.1:4318")
    assert parse_headers(["Authorization=Basic abc=", "X-Team = core"]) == {
        "Authorization": "Basic abc=", "X-Team": "core"}
    with pytest.raises(ValueError):
        parse_headers(["novalue"])


def test_missing_extra_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.metrics", None)
    with pytest.raises(OtelMissingError, match=r"spendtui\[otel\]"):
        OtlpExporter(lambda: {}, "http://127.0.0.1:4318")
    assert "pip install 'spendtui[otel]'" in OTEL_EXTRA_HINT


def test_in_memory_reader_sees_the_prometheus_values(tmp_path: Path, otel: None) -> None:
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    runner = runner_for(make_claude(tmp_path))
    reader = InMemoryMetricReader()
    exp = OtlpExporter(runner.samples, reader=reader)
    try:
        data = reader.get_metrics_data()
        metrics = [m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics]
        got = _points(metrics)
        assert got == _expected(runner.samples())
        by_name = {m.name: m for m in metrics}
        assert by_name["spendtui_cost_usd"].unit == "USD"
        assert by_name["spendtui_cost_usd"].data.is_monotonic  # a counter, cumulative
        rm = data.resource_metrics[0]
        assert rm.resource.attributes["service.name"] == "spendtui"
    finally:
        exp.shutdown()


class _Receiver(BaseHTTPRequestHandler):
    """A minimal OTLP/HTTP metrics receiver (protobuf), recording each request."""

    requests: ClassVar[list[Any]] = []

    def do_POST(self) -> None:
        from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
            ExportMetricsServiceRequest,
            ExportMetricsServiceResponse,
        )

        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        req = ExportMetricsServiceRequest()
        req.ParseFromString(body)
        type(self).requests.append((self.path, self.headers, req))  # case-insensitive .get
        payload = ExportMetricsServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_args: Any) -> None:
        pass


def test_cli_pushes_otlp_to_a_real_receiver(tmp_path: Path, otel: None) -> None:
    root = make_claude(tmp_path)
    _Receiver.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    proc = subprocess.Popen(
        [sys.executable, "-m", "spendtui", "export", "--otlp", f"http://127.0.0.1:{server.server_port}",
         "--interval", "0.5", "--claude-dir", str(root), "--user", "ci", "--otlp-header", "X-Team=core"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        want = sum(json.loads(subprocess.run(
            [sys.executable, "-m", "spendtui", "summary", s, "--json", "--claude-dir", str(root)],
            capture_output=True, text=True, cwd=ROOT, check=True).stdout)["cost_usd"] for s in ("sa", "sb"))
        deadline = time.time() + 30
        total = None
        while time.time() < deadline and proc.poll() is None:
            if _Receiver.requests:
                path, headers, req = _Receiver.requests[-1]
                metrics = [m for rm in req.resource_metrics for sm in rm.scope_metrics for m in sm.metrics]
                cost = [m for m in metrics if m.name == "spendtui_cost_usd"]
                if cost:
                    total = sum(dp.as_double for dp in cost[0].sum.data_points)
                    if abs(total - want) < 1e-9:
                        break
            time.sleep(0.1)
        assert total is not None and abs(total - want) < 1e-9, (total, want)
        assert path == "/v1/metrics" and headers.get("X-Team") == "core"
        names = {m.name for m in metrics}
        assert {"spendtui_tokens", "spendtui_context_tokens", "spendtui_sessions_followed"} <= names
        users = {kv.value.string_value for m in metrics for dp in (m.sum.data_points or m.gauge.data_points)
                 for kv in dp.attributes if kv.key == "user"}
        assert users == {"ci"}
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
        server.shutdown()
        server.server_close()
    assert proc.returncode == 0, out
    assert "pushing OTLP to" in out
