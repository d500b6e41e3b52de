"""Token estimation offline, its calibration, and the opt-in exact counts."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import time
from pathlib import Path

import pytest

from spendtui.core.context import tokens as T
from spendtui.core.context.tokens import ApiTokenCounter, ByteEstimator, Calibration, scale_parts
from tests.context.chat import Chat, read, read_result
from tests.context.conftest import feed


def test_byte_estimator_is_utf8_bytes_over_four_rounded_up() -> None:
    e = ByteEstimator()
    assert e.count("") == 0
    assert e.count("abcd") == 1
    assert e.count("abcde") == 2
    assert e.count("é") == 1  # 2 bytes
    assert e.count("€" * 4) == 3  # 12 bytes


def _fake_bpe(tmp: Path, spec: T.EncodingSpec) -> bytes:
    """A 256-token encoding (one token per byte) stored under tiktoken's cache name."""
    data = b"\n".join(base64.b64encode(bytes([i])) + b" " + str(i).encode() for i in range(256)) + b"\n"
    (tmp / spec.cache_name).write_bytes(data)
    return data


def test_cached_encoding_is_used_without_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = T.ENCODINGS["cl100k_base"]
    data = _fake_bpe(tmp_path, spec)
    fake = T.EncodingSpec(spec.name, spec.url, hashlib.sha256(data).hexdigest(), spec.pat_str, {})
    monkeypatch.setitem(T.ENCODINGS, "cl100k_base", fake)

    def no_network(*a: object, **k: object) -> None:
        raise AssertionError("network used")

    monkeypatch.setattr(socket, "socket", no_network)
    est = T.make_estimator(dirs=[tmp_path])
    assert est.name == "cl100k_base"
    assert est.count("hello") == 5  # no merges in this vocabulary: one token per byte
    assert T.PRIOR_RATIO[est.name] == 1.2


def test_wrong_hash_or_missing_file_falls_back_to_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_bpe(tmp_path, T.ENCODINGS["cl100k_base"])  # real spec: the hash cannot match
    assert T.make_estimator(dirs=[tmp_path]).name == "bytes/4"
    assert T.make_estimator(dirs=[tmp_path / "nothing"]).name == "bytes/4"


def test_slow_load_never_hangs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_bpe(tmp_path, T.ENCODINGS["cl100k_base"])
    monkeypatch.setattr(T, "load_local_encoding", lambda spec, path: time.sleep(5))
    t = time.monotonic()
    assert T.make_estimator(dirs=[tmp_path], timeout=0.2).name == "bytes/4"
    assert time.monotonic() - t < 2


def test_cache_dirs_follow_tiktoken_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "a"))
    monkeypatch.setenv("DATA_GYM_CACHE_DIR", str(tmp_path / "b"))
    dirs = T.cache_dirs()
    assert dirs[:2] == [tmp_path / "a", tmp_path / "b"]
    assert dirs[2].name == "data-gym-cache"


def test_default_estimator_works_offline() -> None:
    T.reset_default_estimator()
    est = T.default_estimator()
    assert est.count("some text") > 0
    assert T.default_estimator() is est


def test_calibration_trimmed_growth_ratio() -> None:
    c = Calibration(prior=1.1)
    assert c.ratio == 1.1 and c.method == "prior"
    assert c.add(100, 100)  # 1.00
    assert c.add(210, 200)  # 1.05, twice the weight
    assert c.add(95, 100)  # 0.95
    assert c.add(300, 100)  # 3.00: hidden content, an outlier
    assert not c.add(-50, 100)  # the context shrank: no information
    assert not c.add(500, 4)  # too small to say anything
    c.fit()
    # weighted median: ratios 0.95(100) 1.00(100) 1.05(200) 3.00(100), half of 500 reached at 1.05
    assert c.median() == pytest.approx(1.05)
    # kept within [1.05/1.5, 1.05*1.5] = [0.70, 1.575]: (100 + 210 + 95) / (100 + 200 + 100)
    assert c.ratio == pytest.approx(405 / 400)
    assert c.pairs == 4 and c.rejected == 2 and c.kept == 3
    lo, hi = c.band()
    assert (lo, hi) == (pytest.approx(0.7), pytest.approx(1.575))


def test_calibration_keeps_the_newest_pairs() -> None:
    """A session followed for days must not keep a pair per call: past 2 x MAX_PAIRS the oldest
    go, and the fit (median and ratio) is then that of the newest pairs, worked out here."""
    c = Calibration()
    n_old, n_new = 3 * Calibration.MAX_PAIRS, 2 * Calibration.MAX_PAIRS + 1
    for i in range(n_old):  # an early mix of content at 1.00
        c.add(100 + i % 3, 100 + i % 3)
    for i in range(n_new):  # then one at 1.20, varied sizes
        c.add(120 * (1 + i % 5), 100 * (1 + i % 5))
    c.fit()
    kept = c.held_pairs
    assert c.pairs == n_old + n_new and len(kept) <= 2 * Calibration.MAX_PAIRS
    assert all(r == pytest.approx(1.2) for r, _real, _est in kept)  # every 1.00 pair is gone
    assert c.median() == pytest.approx(1.2)
    assert c.ratio == pytest.approx(sum(real for _r, real, _e in kept) / sum(est for _r, _re, est in kept))
    assert c.kept == len(kept)


def test_calibration_with_exact_part() -> None:
    c = Calibration()
    c.add(1100, 500, delta_exact=600)  # 600 known exactly (an image), 500 estimated for 500 real
    assert c.ratio == pytest.approx(1.0)


def test_scale_parts_sums_exactly() -> None:
    # 1.5 : 1.5 : 1.0 of 10 = 3.75, 3.75, 2.5 -> floors 3, 3, 2 (8); the two largest remainders get +1
    assert scale_parts({"a": 1.5, "b": 1.5, "c": 1.0}, 10) == {"a": 4, "b": 4, "c": 2}
    assert scale_parts({"a": 0.0, "b": 0.0}, 7) == {"a": 0, "b": 0}
    assert sum(scale_parts({"x": 0.3, "y": 0.3, "z": 0.4}, 12345).values()) == 12345


# ------------------------------------------------------------------ count_tokens, opt-in
def test_counter_needs_opt_in_and_a_key() -> None:
    assert ApiTokenCounter.create(False, env={"ANTHROPIC_API_KEY": "k"}) is None
    assert ApiTokenCounter.create(True, env={}) is None


def _fake_count(text: str) -> int:
    """What the loopback fake API answers for one user message (its own weighing, written out)."""
    unit = {"_msg_start": True, "role": "user", "text": text, "type": "text"}
    return (len(json.dumps(unit, ensure_ascii=False, sort_keys=True, separators=(",", ":"))) + 3) // 4


def test_counter_against_loopback_server(tmp_path: Path) -> None:
    from tests.harness.fake_api import FakeAnthropic

    with FakeAnthropic(tmp_path / "truth.jsonl", seed="count") as api:
        env = {"ANTHROPIC_API_KEY": "test", "ANTHROPIC_BASE_URL": api.url}
        counter = ApiTokenCounter.create(True, env=env)
        assert counter is not None
        text = "word " * 200
        framing = _fake_count(".") - 1
        assert counter.count(text) == _fake_count(text) - framing
        assert counter.count(text) == _fake_count(text) - framing  # cached: no second request
        assert counter.requests == 2  # the framing probe and the text
        assert counter.count("short") is None  # not worth a request
        assert api.other_requests and all(r["path"].startswith("/v1/messages/count_tokens")
                                          for r in api.other_requests)


def test_counter_failure_disables_it(tmp_path: Path) -> None:
    env = {"ANTHROPIC_API_KEY": "test", "ANTHROPIC_BASE_URL": "http://127.0.0.1:9"}  # nothing listens
    counter = ApiTokenCounter.create(True, env=env, timeout=1.0)
    assert counter is not None
    assert counter.count("x" * 1000) is None and counter.failed
    assert counter.count("y" * 1000) is None


def test_analyzer_uses_exact_counts_when_given(tmp_path: Path) -> None:
    from tests.harness.fake_api import FakeAnthropic

    with FakeAnthropic(tmp_path / "truth.jsonl", seed="count2") as api:
        counter = ApiTokenCounter.create(True, env={"ANTHROPIC_API_KEY": "t", "ANTHROPIC_BASE_URL": api.url})
        chat = Chat()
        chat.prompt("read it")
        chat.call([read("t1", "/p/a.txt")], w5=20000)
        body = "line of text\n" * 200
        read_result(chat, "t1", "/p/a.txt", body)
        chat.call(w5=700, read=20000)
        _, a = feed(chat.records, token_counter=counter)
        s = a.summary_fields()
        assert s["context"]["breakdown"]["estimate"]["exact_counts"] is True
        item = next(it for it in a.ledger.items if it.is_result)
        assert item.est == 0 and item.exact == _fake_count(body) - (_fake_count(".") - 1)


def test_no_key_means_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    assert ApiTokenCounter.create(True) is None
    assert os.environ.get("ANTHROPIC_API_KEY") is None
