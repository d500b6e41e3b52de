"""How the follower learns of changes: native file events, or polling where they do not arrive.

Two real inputs stand in for the machines this one is not: mount tables and kernel version
lines written to files (an NFS home, a WSL kernel), and a session file whose writes raise no
event in the watched folder (it is a symlink to a file elsewhere, so inotify reports its
writes on the other folder's watch, which nobody holds) — what a network mount looks like to
the watcher.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from spendtui.core import follow
from spendtui.core.follow import Event, SessionFollower, _network_or_wsl, watch_loop
from spendtui.core.paths import scan_project
from tests.records import append_jsonl, assistant, usage, user, write_jsonl

LINUX = "Linux version 6.1.0-13-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14)) #1 SMP\n"
WSL2 = "Linux version 5.15.153.1-microsoft-standard-WSL2 (root@941d701f84f1) (gcc (GCC) 11.2.0) #1 SMP\n"
MOUNTS = """\
overlay / overlay rw,relatime,lowerdir=/a,upperdir=/b,workdir=/c 0 0
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
fileserver:/export/home /home/nfs nfs4 rw,relatime,vers=4.2,rsize=1048576 0 0
//nas/share /mnt/smb cifs rw,relatime,vers=3.1.1 0 0
/dev/sdb1 /home/nfs/local ext4 rw,relatime 0 0
C:\\134 /mnt/c 9p rw,noatime,aname=drvfs;path=C:\\ 0 0
host:/x /srv/with\\040space nfs rw 0 0
"""


@pytest.fixture
def proc(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A Linux (not WSL) version line, a WSL2 one, and the mount table above, as files."""
    linux, wsl, mounts = tmp_path / "version", tmp_path / "version-wsl", tmp_path / "mounts"
    linux.write_text(LINUX)
    wsl.write_text(WSL2)
    mounts.write_text(MOUNTS)
    return linux, wsl, mounts


@pytest.mark.parametrize(("path", "polled"), [
    ("/home/nfs/me/.claude/projects/-p", True),        # NFS home
    ("/home/nfs", True),                               # the mount point itself
    ("/mnt/smb/.claude/projects/-p", True),            # CIFS share
    ("/mnt/c/Users/me/.claude/projects/-p", True),     # WSL's drvfs over 9p
    ("/home/nfs/local/.claude/projects/-p", False),    # a local disk mounted below the NFS one
    ("/home/nfsdata/.claude/projects/-p", False),      # a name that only starts like the mount point
    ("/srv/with space/.claude/projects/-p", True),     # octal-escaped mount point
    ("/home/me/.claude/projects/-p", False),           # the overlay root
])
def test_mount_table_decides_polling(proc: tuple[Path, Path, Path], path: str, polled: bool) -> None:
    linux, _wsl, mounts = proc
    assert _network_or_wsl(Path(path), str(linux), str(mounts)) is polled


def test_wsl_kernel_polls_and_unreadable_proc_files_do_not(proc: tuple[Path, Path, Path], tmp_path: Path) -> None:
    linux, wsl, mounts = proc
    local = "/home/me/.claude/projects/-p"
    assert _network_or_wsl(Path(local), str(linux), str(mounts)) is False
    assert _network_or_wsl(Path(local), str(wsl), str(mounts)) is True
    missing = str(tmp_path / "absent")
    assert _network_or_wsl(Path(local), missing, missing) is False
    assert _network_or_wsl(Path("/mnt/c/x"), missing, str(mounts)) is True
    # this machine's own tables: the temp dir is on a local filesystem
    assert _network_or_wsl(tmp_path) is False


def _call(n: int) -> dict:
    return assistant(f"msg_{n}", f"req_{n}", usage(inp=10 * n, out=n))


class Watched:
    """watch_loop on a thread, with each api_call's arrival waited for."""

    def __init__(self, proj: Path, sid: str) -> None:
        self.follower = SessionFollower(scan_project(proj)[sid])
        self.follower.load()
        self.calls: list[str] = []
        self.cond = threading.Condition()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=watch_loop, args=(self.follower, self.on_events, self.stop),
                                       daemon=True)

    def on_events(self, batch: list[Event]) -> None:
        with self.cond:
            self.calls += [e.payload.key[0] for e in batch if e.kind == "api_call"]
            self.cond.notify_all()

    def wait_calls(self, n: int, timeout: float = 15.0) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.calls) >= n, timeout), f"{self.calls} after {timeout} s"

    def __enter__(self) -> Watched:
        self.thread.start()
        deadline = time.monotonic() + 5
        while self.follower.watch_mode is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # let the native watcher arm before anything is written
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)
        assert not self.thread.is_alive()


def test_switches_to_polling_when_native_events_do_not_arrive(tmp_path: Path) -> None:
    proj = tmp_path / "projects" / "-tmp-proj"
    elsewhere = tmp_path / "elsewhere"
    target = write_jsonl(elsewhere / "s1.jsonl", [user("a", session="s1")])
    proj.mkdir(parents=True)
    (proj / "s1.jsonl").symlink_to(target)
    with Watched(proj, "s1") as w:
        assert (w.follower.watch_mode, w.follower.watch_mode_reason) == ("native", "native file events")
        # each call is found by the watcher's once-a-second fallback poll, not by an event
        append_jsonl(target, [_call(1)])
        w.wait_calls(1)
        assert w.follower.watch_mode == "native"  # one miss is not enough
        append_jsonl(target, [_call(2)])
        w.wait_calls(2)
        deadline = time.monotonic() + 5
        while w.follower.watch_mode != "polling" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert (w.follower.watch_mode, w.follower.watch_mode_reason) == ("polling",
                                                                         "native file events did not arrive")
        append_jsonl(target, [_call(3)])
        w.wait_calls(3)
    assert w.calls == ["msg_1", "msg_2", "msg_3"]


def test_stays_native_where_events_arrive(tmp_path: Path) -> None:
    proj = tmp_path / "projects" / "-tmp-proj"
    p = write_jsonl(proj / "s1.jsonl", [user("a", session="s1")])
    with Watched(proj, "s1") as w:
        for n in (1, 2, 3):
            append_jsonl(p, [_call(n)])
            w.wait_calls(n)
        assert w.follower.watch_mode == "native"
    assert w.calls == ["msg_1", "msg_2", "msg_3"]


def test_forced_polling_says_so(tmp_path: Path) -> None:
    proj = tmp_path / "projects" / "-tmp-proj"
    p = write_jsonl(proj / "s1.jsonl", [user("a", session="s1")])
    w = Watched(proj, "s1")
    w.thread = threading.Thread(target=watch_loop, args=(w.follower, w.on_events, w.stop),
                                kwargs={"force_polling": True}, daemon=True)
    with w:
        assert (w.follower.watch_mode, w.follower.watch_mode_reason) == ("polling", "asked for")
        append_jsonl(p, [_call(1)])
        w.wait_calls(1)


def test_the_watcher_drowses_when_nothing_is_written_and_wakes_at_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Idle, the native watcher looks for changes every 50 ms, not 10 (0.2 % of a core,
    not 0.7 %); the first change wakes it, and no call is lost across the switches."""
    monkeypatch.setattr(follow, "DROWSY_AFTER_SECONDS", 0.5)
    proj = tmp_path / "projects" / "-tmp-proj"
    p = write_jsonl(proj / "s1.jsonl", [user("a", session="s1")])
    with Watched(proj, "s1") as w:
        assert w.follower.watch_step_ms == follow.WATCH_STEP_MS
        deadline = time.monotonic() + 5
        while w.follower.watch_step_ms != follow.DROWSY_STEP_MS and time.monotonic() < deadline:
            time.sleep(0.05)
        assert w.follower.watch_step_ms == follow.DROWSY_STEP_MS
        t0 = time.monotonic()
        append_jsonl(p, [_call(1)])
        w.wait_calls(1)
        assert time.monotonic() - t0 < 0.9  # from the drowsy watcher's event, not the 1 s fallback poll
        deadline = time.monotonic() + 2
        while w.follower.watch_step_ms != follow.WATCH_STEP_MS and time.monotonic() < deadline:
            time.sleep(0.01)
        assert w.follower.watch_step_ms == follow.WATCH_STEP_MS
        for n in (2, 3):
            append_jsonl(p, [_call(n)])
            w.wait_calls(n)
    assert w.calls == ["msg_1", "msg_2", "msg_3"]
