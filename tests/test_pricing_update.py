"""`spendtui pricing --update --from URL`: the real CLI fetching a LiteLLM-format price file
from a real HTTP server on loopback, then pricing a transcript with what it imported."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.records import assistant, usage, user, write_jsonl

ROOT = Path(__file__).resolve().parents[1]
# LiteLLM's format: USD per token as floats; one Anthropic model we do not know, one we do
# (the embedded table must keep winning for it), and another provider's entry (dropped)
LITELLM = {
    "claude-zeta-2": {"litellm_provider": "anthropic", "mode": "chat", "input_cost_per_token": 4e-06,
                      "output_cost_per_token": 2e-05, "cache_read_input_token_cost": 4e-07,
                      "cache_creation_input_token_cost": 5e-06, "max_input_tokens": 200000},
    "claude-sonnet-4-5": {"litellm_provider": "anthropic", "mode": "chat", "input_cost_per_token": 9e-06,
                          "output_cost_per_token": 9e-05},
    "gpt-4o": {"litellm_provider": "openai", "input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05},
}


class Server:
    """A loopback HTTP server serving LITELLM at /model_prices_and_context_window.json."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        body = json.dumps(LITELLM).encode()
        seen = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append((self.path, self.headers.get("User-Agent", "")))
                if self.path != "/model_prices_and_context_window.json":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


def spendtui(*argv: str) -> subprocess.CompletedProcess[str]:
    # the environment conftest isolated (HOME, SPENDTUI_CACHE_DIR, …) is inherited
    return subprocess.run([sys.executable, "-m", "spendtui", *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)


def test_update_from_url_imports_and_prices(server: Server, tmp_path: Path) -> None:
    proj = tmp_path / "claude" / "projects" / "-p"
    write_jsonl(proj / "z.jsonl", [user("a"), assistant("msg_1", "req_1", usage(inp=1000, out=500, cw5=2000, cr=3000),
                                                         model="claude-zeta-2"),
                                   assistant("msg_2", "req_2", usage(inp=100, out=10), model="claude-sonnet-4-5")])
    summary = ("summary", "--no-cache", "--json", "--claude-dir", str(tmp_path / "claude"), "z")
    before = json.loads(spendtui(*summary).stdout)
    assert before["unpriced_models"] == ["claude-zeta-2"]

    r = spendtui("pricing", "--update", "--from", f"{server.url}/model_prices_and_context_window.json")
    assert r.returncode == 0, r.stderr
    saved = Path(r.stdout.strip().removeprefix("Imported prices into "))
    assert saved.is_file() and saved.is_relative_to(tmp_path.parent)  # the isolated cache dir, not the user's
    assert server.requests == [("/model_prices_and_context_window.json", "spendtui")]

    table = json.loads(spendtui("pricing", "--json").stdout)
    zeta = next(m for m in table["models"] if m["key"] == "claude-zeta-2")
    # per-token floats become exact per-MTok prices
    assert (zeta["input"], zeta["output"], zeta["cache_write_5m"], zeta["cache_read"]) == ("4", "20", "5", "0.4")
    after = json.loads(spendtui(*summary).stdout)
    assert after["unpriced_models"] == []
    zeta_usd = (1000 * Decimal(4) + 500 * Decimal(20) + 2000 * Decimal(5) + 3000 * Decimal("0.4")) / 10**6
    sonnet_usd = (100 * Decimal(3) + 10 * Decimal(15)) / 10**6  # the embedded table's list price, not 9/90
    assert Decimal(str(after["cost_by_model"]["claude-zeta-2"])) == zeta_usd
    assert Decimal(str(after["cost_by_model"]["claude-sonnet-4-5"])) == sonnet_usd
    assert Decimal(str(after["cost_usd"])) == zeta_usd + sonnet_usd


def test_update_from_a_url_that_fails_changes_nothing(server: Server) -> None:
    before = spendtui("pricing", "--json").stdout
    r = spendtui("pricing", "--update", "--from", f"{server.url}/missing.json")
    assert r.returncode == 1 and "price update failed" in r.stderr and "404" in r.stderr
    assert server.requests == [("/missing.json", "spendtui")]
    assert spendtui("pricing", "--json").stdout == before
