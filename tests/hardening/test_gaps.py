"""Cases of issue 6 the other hardening files did not pin (found by an audit of parts
1, 2, 4 and 5): what the *app* says and keeps when the files it tails are truncated,
replaced, deleted, made unreadable or their folder goes away; a skipped-line count
that must stay on screen next to an unpriced model; the chunking property on a
transcript that has bad lines in it; where the API key may come from; reasons that
must not echo what a transcript holds; file modes under any umask; Windows cwds in the
app; the terminal and the exit code after a crash of the UI itself.

Real files in temp dirs, the real app through Textual's Pilot (or tmux), real
followers; no mocks where the real thing runs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spendtui.core.follow import SessionFollower
from spendtui.core.loader import load_session
from spendtui.core.paths import SessionFiles, discover, scan_project
from spendtui.core.pricing import PriceTable
from spendtui.core.summary import session_summary
from spendtui.views.app import SpendApp
from tests.app.conftest import wait_for
from tests.hardening.conftest import (
    copy_scenario,
    fresh_call,
    lines_of,
    main_file,
    one_shot,
    run_cli,
    screen_text,
    summary_json,
    totals,
    usage_lines,
    write_lines,
)
from tests.hardening.test_properties import SETTINGS, TRANSCRIPTS, _cuts

REPO = Path(__file__).resolve().parents[2]
PRICES = PriceTable.default()


# ================================================================ part 1, in the app
async def test_app_through_truncate_replace_delete_and_a_vanishing_folder(tmp_path: Path) -> None:
    """The app tailing a real session while its main file is truncated, replaced (new
    inode), deleted, and its project folder removed and restored: it stays up, says
    what happened on screen, keeps the numbers while the file is away, and ends with
    the numbers of a one-shot parse of what is on disk."""
    claude = copy_scenario("subagent", tmp_path / "claude")
    session = main_file(claude)
    lines = lines_of(session)
    calls = usage_lines(lines)
    full = one_shot(session)
    app = SpendApp(discover([claude])[0], [claude], PRICES, force_polling=True, analyse=False)
    async with app.run_test(size=(160, 50), notifications=True) as pilot:  # toasts on, as in a terminal
        await wait_for(pilot, lambda: app.updates > 0 and app.snapshot is not None, "the first paint",
                       timeout=15.0)

        def numbers() -> dict[str, Any]:
            s = app.final_summary()
            assert s is not None
            return totals(s)

        def shown(text: str) -> Callable[[], bool]:  # the SVG splits words at odd places
            return lambda: re.sub(r"\s", "", text) in re.sub(r"\s", "", screen_text(app))

        assert numbers() == totals(full)

        # truncated in place (same inode) to before the first call
        with open(session, "r+b") as fh:
            fh.truncate(sum(len(raw) + 1 for raw in lines[: calls[0]]))
        await wait_for(pilot, shown("was truncated"), "the truncation to be said", timeout=15.0)
        assert shown("Transcript re-read")()
        await wait_for(pilot, lambda: numbers() == totals(one_shot(session)), "the numbers of the shorter file",
                       timeout=15.0)
        assert app.is_running
        app.clear_notifications()

        # replaced by a new file (an editor's save, a sync tool): a new inode
        tmp = session.with_name("rewrite.tmp")
        write_lines(tmp, [*lines, json.dumps(fresh_call(lines[calls[0]], 1)).encode()])
        os.replace(tmp, session)
        await wait_for(pilot, shown("was replaced"), "the replacement to be said", timeout=15.0)
        await wait_for(pilot, lambda: numbers() == totals(one_shot(session)), "the numbers of the new file",
                       timeout=15.0)
        assert numbers()["api_calls"] == full["api_calls"] + 1
        app.clear_notifications()

        # deleted: said, and what was spent stays spent
        before = numbers()
        session.unlink()
        await wait_for(pilot, shown("Transcript deleted"), "the deletion to be said", timeout=15.0)
        await pilot.pause(0.5)
        assert app.is_running and numbers() == before
        app.clear_notifications()

        # the whole project folder goes away and comes back, and Claude Code writes on
        proj = session.parent
        backup = tmp_path / "backup"
        shutil.copytree(proj, backup)
        shutil.rmtree(proj)
        await pilot.pause(0.5)
        assert app.is_running and numbers() == before
        shutil.copytree(backup, proj)
        write_lines(session, [*lines, json.dumps(fresh_call(lines[calls[0]], 2)).encode()])
        await wait_for(pilot, lambda: numbers() == totals(one_shot(session)), "the numbers after the folder came back",
                       timeout=15.0)
        assert app.is_running
        summary = app.final_summary()
    assert summary is not None and summary["skipped_lines"] == 0
    assert totals(summary) == totals(one_shot(session))


async def test_skipped_lines_stay_on_screen_next_to_an_unpriced_model(tmp_path: Path) -> None:
    """The model box said either 'not priced: X' or 'N skipped', never both: a session on a
    model the price table does not know hid its bad lines from the dashboard."""
    from tests.app.conftest import T0, FakeClock, make_session
    from tests.records import assistant, ts, usage, user

    records = [user("hi", when=ts(0)), "{broken", assistant("m1", "r1", usage(10, 100), model="claude-zeta-9",
                                                            when=ts(1))]
    files = make_session(tmp_path / "claude", records, sid="unpriced")
    app = SpendApp(files, [tmp_path / "claude"], PriceTable.embedded(), clock=FakeClock(T0 + 30),
                   force_polling=True, analyse=False)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.updates > 0 and app.snapshot is not None, "the first paint",
                       timeout=15.0)
        assert app.snapshot is not None and app.snapshot.skipped_lines == 1
        assert app.snapshot.unpriced_models
        text = screen_text(app)
    assert "zeta" in text  # the unpriced model is named ...
    assert re.search(r"\b1 skipped", text), text  # ... and the bad line still counted


# ------------------------------------------------------- unreadable, in the app
_APP_REPORT = """
import asyncio, json, re, sys, time
from pathlib import Path
from spendtui.core.paths import discover
from spendtui.core.pricing import PriceTable
from spendtui.views.app import SpendApp

async def main(claude):
    app = SpendApp(discover([claude])[0], [claude], PriceTable.default(), force_polling=True, analyse=False)
    async with app.run_test(size=(160, 50)) as pilot:
        deadline = time.monotonic() + 20
        while app.updates == 0:
            assert time.monotonic() < deadline, "no paint"
            await pilot.pause(0.05)
        await pilot.pause(0.5)
        snap = app.snapshot
        svg = app.export_screenshot()
        text = re.sub(r"\\s+", " ", re.sub(r"<[^>]+>", " ", svg)).replace("&#160;", " ")
        out = {"skipped_lines": snap.skipped_lines, "reasons": [list(r) for r in snap.skipped_reasons],
               "screen": text, "summary": app.final_summary(), "running": app.is_running}
        await pilot.press("q")
    print(json.dumps(out))

asyncio.run(main(Path(sys.argv[1])))
"""


def test_app_with_an_unreadable_subagent_file(tmp_path: Path) -> None:
    """chmod 000 on the sub-agent file (root made to obey file modes, as in
    test_file_faults): the app counts the rest, and shows the count and the reason."""
    from tests.hardening.test_file_faults import DROP

    if DROP is None:
        pytest.skip("running as root without setpriv: chmod 000 cannot be enforced here")
    claude = copy_scenario("subagent", tmp_path / "claude")
    session = main_file(claude)
    agent = next(session.parent.glob("*/subagents/agent-*.jsonl"))
    without = copy_scenario("subagent", tmp_path / "without-agent")
    for p in without.glob("projects/*/*/subagents/agent-*"):
        p.unlink()
    agent.chmod(0)
    try:
        r = subprocess.run([*DROP, sys.executable, "-c", _APP_REPORT, str(claude)], capture_output=True, text=True,
                           timeout=90, env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=tmp_path, check=False)
    finally:
        agent.chmod(0o600)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got["running"]
    assert got["skipped_lines"] == 1
    assert got["reasons"] == [["cannot read file (Permission denied)", 1]]
    assert re.search(r"\b1 skipped: cannot read file", got["screen"]), got["screen"]
    s = got["summary"]
    assert s["skipped"] == [{"file": str(agent), "line": 0, "reason": "cannot read file (Permission denied)"}]
    assert totals(s) == totals(summary_json(without, session.stem, "--no-cache"))


# ================================================================ part 2, dirty input
BAD_LINES = [
    b'{"type": "assistant", "message": {"content": "caf\xc3\xa9 \xe2\x82\xac',  # invalid JSON, multi-byte inside
    b'{"type": "user", "message": {"content": "\xf0\x9f\x98"}}',  # a torn emoji: invalid UTF-8
    b"\xff\xfe\x00garbage\xc3",
    b"[1, 2, 3]",
    b'{"type": "assistant", "message": "not an object"}',
    b"\x00" * 40,
]


@st.composite
def dirty_transcript(draw: st.DrawFn) -> tuple[str, bytes]:
    """A real main transcript with bad lines (and wrong-shaped calls) put in anywhere."""
    t = draw(st.sampled_from(TRANSCRIPTS), label="transcript")
    lines = t.files[0][1].splitlines()
    calls = usage_lines(lines)
    bad = list(BAD_LINES)
    for n, (key, value) in enumerate([("output_tokens", None), ("input_tokens", "lots"),
                                      ("cache_read_input_tokens", -5)]):
        rec = fresh_call(lines[calls[0]], 900 + n)
        rec["message"]["usage"][key] = value
        bad.append(json.dumps(rec, ensure_ascii=False).encode())
    inserts = draw(st.lists(st.tuples(st.integers(0, len(lines)), st.sampled_from(bad)), min_size=1, max_size=8),
                   label="bad lines")
    out = list(lines)
    for at, raw in sorted(inserts, key=lambda x: -x[0]):
        out.insert(at, raw)
    return t.session_id, b"".join(raw + b"\n" for raw in out)


@SETTINGS
@given(data=st.data())
def test_live_follower_equals_one_shot_on_a_dirty_transcript_however_bytes_arrive(data: st.DataObject) -> None:
    """The chunking property of test_properties with bad lines in the file: a bad line
    cut across two polls (inside its torn character too) is still one skipped line, with
    the same line number and reason as a one-shot parse gives, and the good lines count
    exactly as there."""
    sid, blob = data.draw(dirty_transcript())
    cuts = sorted(set(data.draw(st.lists(_cuts(blob), max_size=40), label="cuts")))
    with tempfile.TemporaryDirectory() as tmp:
        proj = Path(tmp) / "projects" / "-p"
        proj.mkdir(parents=True)
        main = proj / f"{sid}.jsonl"
        main.write_bytes(b"")
        f = SessionFollower(SessionFiles(sid, proj, main), PRICES.cost, follow_clear=False)
        f.load()
        for a, b in zip([0, *cuts], [*cuts, len(blob)], strict=True):
            with open(main, "ab") as fh:
                fh.write(blob[a:b])
            f.poll()
        live = session_summary(f.model, PRICES, now=0.0, top_calls=1000)
        want = session_summary(load_session(SessionFiles(sid, proj, main), PRICES.cost), PRICES, now=0.0,
                               top_calls=1000)
    assert want["skipped_lines"] > 0
    assert live == want


# ================================================================ part 4, privacy
KEY = "sk-ant-api03-GAPS-KEY-0d9c3b-only-from-the-environment"
NOT_ME = "http://203.0.113.9:9"  # TEST-NET-3: a non-loopback address nobody answers on


def test_the_api_key_is_read_from_the_environment_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`summary --exact-counts` (the opt-in) with a key everywhere a key might be found
    on disk (Claude Code's ~/.claude.json and .credentials.json, spendtui's config) but
    not in the environment: no request is tried. With the key in the environment, one
    is (the guard sees it: the test is not blind). Either way the key is never printed."""
    from tests.hardening.netguard import guard

    claude = copy_scenario("tool_use", tmp_path / "home" / ".claude")
    sid = main_file(claude).stem
    home = tmp_path / "home"
    (home / ".claude.json").write_text(json.dumps({"primaryApiKey": KEY}))
    (claude / ".credentials.json").write_text(json.dumps({"claudeAiOauth": {"accessToken": KEY}}))
    cfg = home / "spendtui.toml"
    cfg.write_text(f'api_key = "{KEY}"\nanthropic_api_key = "{KEY}"\n[anthropic]\napi_key = "{KEY}"\n')
    for k in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("SPENDTUI_CONFIG", str(cfg))
    monkeypatch.setenv("SPENDTUI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SPENDTUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ANTHROPIC_BASE_URL", NOT_ME)

    def run() -> tuple[list[dict[str, Any]], dict[str, Any], str]:
        with guard() as attempts:
            code, out, err = run_cli("summary", "--claude-dir", str(claude), sid, "--json", "--exact-counts",
                                     "--no-cache")
        assert code == 0, err
        return attempts, json.loads(out), out + err

    attempts, summary, printed = run()
    assert attempts == []
    assert KEY not in printed
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    attempts, summary, printed = run()
    assert attempts, "with the key in the environment and --exact-counts, a request is tried"
    assert KEY not in printed and KEY not in json.dumps(summary)


def test_skip_reasons_do_not_echo_what_a_transcript_holds(tmp_path: Path) -> None:
    """A wrong-shaped usage field that holds text (a prompt, a file glued in by a broken
    writer) is a bad line; its reason goes to `summary --json`, saved summaries and the
    screen, so it may name the field and a short value, never the whole text."""
    secret = "PROMPT-TEXT-7e1f " + "the user's private words " * 4000
    claude = copy_scenario("subagent", tmp_path / "claude")
    session = main_file(claude)
    lines = lines_of(session)
    rec = fresh_call(lines[usage_lines(lines)[0]], 50)
    rec["message"]["usage"]["input_tokens"] = secret
    rec2 = fresh_call(lines[usage_lines(lines)[0]], 51)
    rec2["message"]["usage"]["cache_creation"] = {"ephemeral_5m_input_tokens": {"text": secret}}
    write_lines(session, [*lines, json.dumps(rec).encode(), json.dumps(rec2).encode()])
    s = summary_json(claude, session.stem, "--no-cache")
    assert s["skipped_lines"] == 2
    reasons = [x["reason"] for x in s["skipped"]]
    assert all(r.startswith("invalid usage (usage.") for r in reasons), reasons
    assert all(len(r) < 120 for r in reasons), [len(r) for r in reasons]
    assert "private words" * 2 not in json.dumps(s)
    f = SessionFollower(scan_project(session.parent)[session.stem], PRICES.cost)
    f.load()
    assert all(len(r) < 120 for r in f.model.skipped_reasons), list(f.model.skipped_reasons)


# ================================================================ part 5, exits
_FAULTY_UI = """
import runpy, sys
from pathlib import Path
from spendtui.views.app.screens import DashboardScreen
trigger = Path(sys.argv[1])
real = DashboardScreen.show
def show(self, snap):
    if trigger.exists():
        secret = "private-prompt-words"  # a local, as snapshots and records are  # noqa: F841
        raise RuntimeError("injected UI fault")
    return real(self, snap)
DashboardScreen.show = show
sys.argv = ["spendtui", *sys.argv[2:]]
runpy.run_module("spendtui", run_name="__main__", alter_sys=True)
"""


@pytest.mark.tmux
def test_a_crash_of_the_ui_itself_restores_the_terminal_and_fails(tmp_path: Path) -> None:
    """Not a worker this time: an exception in the UI (painting a snapshot) ends the app.
    The terminal is restored as on `q`, the error is printed without the frames' local
    variables (Textual prints them, and ours hold prompts and tool output), and the exit code
    says it failed (a script or a shell prompt must not take a crash for a normal quit)."""
    from tests.hardening.test_exits import Pane, _dashboard, _in_app

    pane = Pane(tmp_path)
    try:
        claude = copy_scenario("subagent", tmp_path / "claude")
        session = main_file(claude)
        trigger = tmp_path / "break-now"
        pane.start([sys.executable, "-c", _FAULTY_UI, str(trigger), "--claude-dir", str(claude)])
        _dashboard(pane)
        _in_app(pane)
        trigger.touch()
        lines = lines_of(session)
        with open(session, "ab") as fh:  # a new call: the next paint raises
            fh.write(json.dumps(fresh_call(lines[usage_lines(lines)[0]], 77)).encode() + b"\n")
        code = pane.assert_restored()
        printed = pane("capture-pane", "-p", "-S", "-", "-t", "app").stdout  # with the scrollback
        assert "injected UI fault" in printed, printed
        assert "private-prompt-words" not in printed, printed  # no frame's locals in the report
        assert code != "0", printed[-3000:]
    finally:
        pane("kill-server", check=False)


def test_files_are_0600_whatever_the_umask(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """test_privacy checks the modes under the runner's umask (022 here, where a 0644
    file fails); under a umask of 077 it could not fail. Under umask 000 every file
    spendtui writes (result cache, imported prices, status line state, a saved summary)
    must still be 0600 by itself."""
    import io

    from spendtui.views.app import save_summary

    claude = copy_scenario("subagent", tmp_path / "claude")
    session = main_file(claude)
    cache, data = tmp_path / "cache", tmp_path / "data"
    monkeypatch.setenv("SPENDTUI_CACHE_DIR", str(cache))
    monkeypatch.setenv("SPENDTUI_DATA_DIR", str(data))
    monkeypatch.setenv("HOME", str(tmp_path))
    litellm = tmp_path / "litellm.json"
    litellm.write_text(json.dumps({"claude-zeta-1": {"litellm_provider": "anthropic", "mode": "chat",
                                                     "input_cost_per_token": 2e-06, "output_cost_per_token": 8e-06}}))
    old = os.umask(0)
    try:
        for args in (["summary", session.stem, "--json"], ["report", "--by", "day", "--json"],
                     ["pricing", "--update", "--from", str(litellm)]):
            where = [] if args[0] == "pricing" else ["--claude-dir", str(claude)]
            code, _, err = run_cli(args[0], *where, *args[1:])
            assert code == 0, (args, err)
        hook = json.dumps({"session_id": session.stem, "transcript_path": str(session), "model": {"id": "x"}})
        monkeypatch.setattr(sys, "stdin", io.StringIO(hook))
        code, _, err = run_cli("statusline")
        assert code == 0, err
        save_summary(summary_json(claude, session.stem))
    finally:
        os.umask(old)
    files = [p for root in (cache, data) for p in root.rglob("*") if p.is_file()]
    assert any(p.suffix == ".pkl" for p in files) and any(p.parent.name == "summaries" for p in files)
    assert any(p.name == "litellm-prices.json" for p in files)
    assert {str(p): oct(p.stat().st_mode & 0o777) for p in files if p.stat().st_mode & 0o777 != 0o600} == {}


@pytest.mark.parametrize("cwd", ["C:\\Users\\me\\proj", "\\\\server\\share\\proj", "D:\\", "proj\x00null"])
async def test_app_with_windows_style_cwd(tmp_path: Path, cwd: str) -> None:
    """test_file_faults runs the CLI and the follower on transcripts whose cwd is a
    Windows path; the app shows that cwd too (title, session switcher), and counts the same."""
    claude = copy_scenario("subagent", tmp_path / "claude")
    session = main_file(claude)
    want = summary_json(claude, session.stem, "--no-cache")
    for p in [session, *session.parent.glob("*/subagents/agent-*.jsonl")]:
        out = []
        for raw in lines_of(p):
            rec = json.loads(raw)
            if "cwd" in rec:
                rec["cwd"] = cwd
            out.append(json.dumps(rec).encode())
        write_lines(p, out)
    app = SpendApp(discover([claude])[0], [claude], PRICES, force_polling=True, analyse=False)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.updates > 0 and app.snapshot is not None, "the first paint",
                       timeout=15.0)
        assert cwd.replace("\x00", "") in app.sub_title.replace("\x00", "").replace(" ", "")
        await pilot.press("s")  # the session switcher lists sessions by project
        await pilot.pause(0.5)
        assert "Traceback" not in screen_text(app)  # rendered, with that cwd in it
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert app.is_running
        summary = app.final_summary()
    assert summary is not None and summary["project"] == cwd
    assert totals(summary) == totals(want)
