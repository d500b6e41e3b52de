"""Finding Claude Code's transcripts: config roots, projects, sessions, sub-agents.

Three historical sub-agent layouts exist (transcript-format.md §5): inline in the
main file (``isSidechain``), flat ``projects/<p>/agent-<id>.jsonl`` (parent named by
the records' ``sessionId``), and nested ``<session>/subagents/agent-<id>.jsonl``
with an optional ``.meta.json``. Discovery only looks at names and, for flat agent
files, the first record; it never parses whole transcripts.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spendtui.core.jsonl import parse_line


class NoClaudeDataError(RuntimeError):
    """None of the candidate config dirs holds a projects/ folder."""

    def __init__(self, tried: Sequence[Path]) -> None:
        self.tried = list(tried)
        lines = "\n".join(f"  {p}" for p in self.tried) or "  (none)"
        super().__init__(
            "No Claude Code transcripts found. Looked for a projects/ folder in:\n"
            f"{lines}\n"
            "Run Claude Code once, or point spendtui at your config dir with --claude-dir "
            "or CLAUDE_CONFIG_DIR."
        )


def default_root_candidates() -> list[Path]:
    """Where Claude Code may keep its data, in the order users expect."""
    env = os.environ.get("CLAUDE_CONFIG_DIR", "").strip()
    if env:
        return [Path(p.strip()).expanduser() for p in env.split(",") if p.strip()]
    xdg = os.environ.get("XDG_CONFIG_HOME", "").strip()
    xdg_root = Path(xdg).expanduser() if xdg else Path.home() / ".config"
    return [Path.home() / ".claude", xdg_root / "claude"]


def _is_dir(p: Path) -> bool:
    try:
        return p.is_dir()
    except OSError:  # EACCES on a folder we may not search (Path.is_dir only hides ENOENT)
        return False


def _projects_dir(p: Path) -> Path | None:
    """Accept either a config dir or its projects/ dir."""
    if p.name == "projects" and _is_dir(p):
        return p
    if _is_dir(p / "projects"):
        return p / "projects"
    return None


def projects_dirs(claude_dirs: Sequence[str | Path] | None = None) -> list[Path]:
    """The projects/ dirs to read; raises NoClaudeDataError when there are none."""
    if claude_dirs:
        candidates: list[Path] = []
        for item in claude_dirs:
            candidates += [Path(p.strip()).expanduser() for p in str(item).split(",") if p.strip()]
    else:
        candidates = default_root_candidates()
    found: list[Path] = []
    seen: set[Path] = set()
    for c in candidates:
        pd = _projects_dir(c)
        if pd is None:
            continue
        try:
            real = pd.resolve()
        except (OSError, RuntimeError):
            continue
        if real in seen:  # the same tree reached twice (a symlinked config dir)
            continue
        seen.add(real)
        found.append(pd)
    if not found:
        raise NoClaudeDataError(candidates)
    return found


@dataclass(slots=True)
class AgentFile:
    agent_id: str
    path: Path
    meta: dict[str, Any] | None = None
    # discovery does not open the thousands of .meta.json files of a long history;
    # whoever builds the agent's model reads it (load_meta)
    meta_read: bool = field(default=False, compare=False, repr=False)
    # a live model took the meta's facts and the dict was let go of (``release_meta``)
    meta_taken: bool = field(default=False, compare=False, repr=False)

    def load_meta(self) -> dict[str, Any] | None:
        if self.meta is None and not self.meta_read:
            self.meta = read_meta(self.path)
        self.meta_read = True
        return self.meta

    def release_meta(self) -> None:
        """The model's agent holds the meta's facts now: a live session keeps this object for
        each of its sub-agents for hours, not the dict. A rebuild reads the file again."""
        self.meta = None
        self.meta_read = False
        self.meta_taken = True


_STATS: dict[str, os.stat_result] | None = None


@contextlib.contextmanager
def stat_once() -> Iterator[None]:
    """Within a one-shot command (`sessions`, `report`), each file is stat'ed once:
    listing, sorting, validating cache entries and keeping the answer all ask for the
    same 10,000 files' sizes and times. Not for the live follower, which must see
    files change."""
    global _STATS
    outer = _STATS
    _STATS = {} if outer is None else outer
    try:
        yield
    finally:
        _STATS = outer


def stat(path: str | os.PathLike[str]) -> os.stat_result:
    """os.stat, answered from the run's table inside ``stat_once``."""
    if _STATS is None:
        return os.stat(path)
    key = os.fspath(path)
    st = _STATS.get(key)
    if st is None:
        st = _STATS[key] = os.stat(key)
    return st


@dataclass(slots=True)
class SessionFiles:
    """The files of one session: its main transcript and its sub-agent transcripts."""

    session_id: str
    project_dir: Path
    main: Path | None = None
    agents: list[AgentFile] = field(default_factory=list)

    @property
    def files(self) -> list[Path]:
        out = [self.main] if self.main else []
        return out + [a.path for a in self.agents]

    def mtime(self) -> float:
        """Newest write among the session's files (what 'most recently written' means)."""
        best = 0.0
        for f in self.files:
            try:
                best = max(best, stat(f).st_mtime)
            except OSError:
                continue
        return best

    def size(self) -> int:
        total = 0
        for f in self.files:
            try:
                total += stat(f).st_size
            except OSError:
                continue
        return total


META_KEYS = ("agentType", "description", "toolUseId")
"""What the model takes from ``agent-<id>.meta.json``. Only these are kept: a live session
holds one meta per sub-agent for hours, and a swarm makes thousands."""


def read_meta(path: Path) -> dict[str, Any] | None:
    """The string fields of META_KEYS in a sub-agent's ``.meta.json`` (None: no such file, or
    not a JSON object)."""
    meta = path.with_name(path.name[: -len(".jsonl")] + ".meta.json")
    try:
        with open(meta, "rb") as f:
            data = json.loads(f.read(1 << 20))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    return {k: data[k] for k in META_KEYS if isinstance(data.get(k), str)}


def first_session_id(path: Path, max_lines: int = 50) -> str | None:
    """The sessionId named by a flat agent file's first records (its parent session)."""
    try:
        with open(path, "rb") as f:
            for _ in range(max_lines):
                line = f.readline(4 << 20)
                if not line:
                    break
                obj, _err = parse_line(line.strip())
                if obj is not None and isinstance(obj.get("sessionId"), str):
                    return obj["sessionId"]
    except OSError:
        return None
    return None


def agent_id_from_name(path: Path) -> str:
    stem = path.name[: -len(".jsonl")]
    return stem[len("agent-") :] if stem.startswith("agent-") else stem


def scan_project(project_dir: Path, problems: list[str] | None = None,
                 visited: list[str] | None = None) -> dict[str, SessionFiles]:
    """All sessions of one project folder, keyed by session id. A folder that cannot be
    listed is reported in ``problems`` (when given) rather than silently missing.
    ``visited`` collects every folder listed (a new file changes its folder's mtime)."""
    sessions: dict[str, SessionFiles] = {}

    def get(sid: str) -> SessionFiles:
        s = sessions.get(sid)
        if s is None:
            s = sessions[sid] = SessionFiles(sid, project_dir)
        return s

    try:
        entries = list(os.scandir(project_dir))
        if visited is not None:
            visited.append(str(project_dir))
    except OSError as e:
        if problems is not None:
            problems.append(f"cannot list {project_dir} ({e.strerror or e})")
        return sessions
    flat_agents: list[Path] = []
    subdirs: list[Path] = []
    for e in entries:
        try:
            if e.is_file() and e.name.endswith(".jsonl"):
                if e.name.startswith("agent-"):
                    flat_agents.append(Path(e.path))
                else:
                    get(e.name[: -len(".jsonl")]).main = Path(e.path)
            elif e.is_dir():
                subdirs.append(Path(e.path))
        except OSError:
            continue
    for d in subdirs:
        nested = sorted(_walk_jsonl(d, visited))
        if not nested:
            continue
        s = get(d.name)
        for p in nested:
            rel = p.relative_to(d).parts
            if "subagents" in rel[:-1] or p.name.startswith("agent-"):
                s.agents.append(AgentFile(agent_id_from_name(p), p))
            elif s.main is None:
                s.main = p  # ccusage-style projects/<p>/<session>/chat.jsonl
            else:
                s.agents.append(AgentFile(agent_id_from_name(p), p, None))
    for p in flat_agents:
        parent = first_session_id(p)
        if parent is None:
            continue  # an empty or unreadable agent file: nothing to bill
        get(parent).agents.append(AgentFile(agent_id_from_name(p), p))
    return sessions


def _walk_jsonl(d: Path, visited: list[str] | None = None) -> Iterable[Path]:
    """*.jsonl below d (tool-results/*.txt and other files are not transcripts)."""
    for root, _dirs, files in os.walk(d):
        if visited is not None:
            visited.append(root)
        for name in files:
            if name.endswith(".jsonl"):
                yield Path(root) / name


def discover(claude_dirs: Sequence[str | Path] | None = None,
             problems: list[str] | None = None, visited: list[str] | None = None) -> list[SessionFiles]:
    """Every session under every config root, newest write first. Folders that cannot
    be read are named in ``problems`` (when given), so the CLI can say so; ``visited``
    collects the folders listed (see tree.py)."""
    out: list[SessionFiles] = []
    seen: set[Path] = set()
    for pd in projects_dirs(claude_dirs):
        try:
            # real folders first, so a symlinked alias of one is the copy left out
            projects = sorted((e.is_symlink(), e.path) for e in os.scandir(pd) if e.is_dir())
            root = pd.resolve()
            if visited is not None:
                visited.append(str(pd))
        except OSError as e:
            if problems is not None:
                problems.append(f"cannot list {pd} ({e.strerror or e})")
            continue
        for _link, proj in projects:
            try:
                real = Path(proj).resolve()
            except (OSError, RuntimeError):
                continue
            # the same project reached twice (a symlinked project folder), or a link
            # back up to the projects folder: its sessions are counted once
            if real in seen or root.is_relative_to(real):
                continue
            seen.add(real)
            out.extend(scan_project(Path(proj), problems, visited).values())
    out.sort(key=lambda s: s.mtime(), reverse=True)
    return out


def encode_project_dir(cwd: str) -> str:
    """Claude Code's folder name for a project path (lossy: for matching only)."""
    import re

    return re.sub(r"[^a-zA-Z0-9]", "-", cwd)


def find_session(
    spec: str, sessions: Sequence[SessionFiles]
) -> SessionFiles | None:
    """SESSION given as a path, an id, or an id prefix (unique)."""
    p = Path(spec).expanduser()
    if p.suffix == ".jsonl" and p.exists():
        rp = p.resolve()
        for s in sessions:
            if any(f.resolve() == rp for f in s.files):
                return s
        # a transcript outside the known roots: treat it as a session of its own
        s = SessionFiles(p.stem, p.parent, p)
        sub = p.with_suffix("") / "subagents"
        if sub.is_dir():
            for f in sorted(sub.rglob("*.jsonl")):
                s.agents.append(AgentFile(agent_id_from_name(f), f, read_meta(f)))
        return s
    exact = [s for s in sessions if s.session_id == spec]
    if exact:
        return exact[0]
    pref = [s for s in sessions if s.session_id.startswith(spec)]
    if len(pref) == 1:
        return pref[0]
    if len(pref) > 1:
        raise LookupError(
            f"session prefix {spec!r} is ambiguous: "
            + ", ".join(s.session_id for s in pref[:5])
        )
    return None


def first_cwd(path: Path, max_lines: int = 200) -> str | None:
    """The ``cwd`` of a transcript's first records (a few lines, not the file)."""
    try:
        with open(path, "rb") as f:
            for _ in range(max_lines):
                line = f.readline(8 << 20)
                if not line:
                    break
                obj, _err = parse_line(line.strip())
                if obj is not None and isinstance(obj.get("cwd"), str) and obj["cwd"]:
                    return obj["cwd"]
    except OSError:
        return None
    return None


def session_cwd(files: SessionFiles, max_lines: int = 200) -> str | None:
    """The real project path of a session: the first record's ``cwd``."""
    return first_cwd(files.main, max_lines) if files.main is not None else None


def _is_within(child: str, parent: str) -> bool:
    try:
        Path(child).resolve().relative_to(Path(parent).resolve())
    except (ValueError, OSError):
        return False
    return True


def sessions_for_project(sessions: Sequence[SessionFiles], project: str) -> list[SessionFiles]:
    """Sessions whose project is ``project`` or a folder below it."""
    out = []
    encoded = encode_project_dir(str(Path(project).resolve()))
    for s in sessions:
        cwd = session_cwd(s)
        if (cwd is not None and _is_within(cwd, project)) or (cwd is None and s.project_dir.name == encoded):
            out.append(s)
    return out


def pick_default(sessions: Sequence[SessionFiles], cwd: str | None = None) -> SessionFiles | None:
    """The most recently written session of the current directory's project (or an
    ancestor's), else the most recently written one anywhere."""
    if not sessions:
        return None
    here = cwd or os.getcwd()
    newest_first = sorted(sessions, key=lambda s: s.mtime(), reverse=True)
    best: tuple[int, SessionFiles] | None = None
    for s in newest_first:
        proj = session_cwd(s)
        if proj is None or not _is_within(here, proj):
            continue
        depth = len(Path(proj).resolve().parts)  # the deepest matching project wins
        if best is None or depth > best[0]:
            best = (depth, s)
    return best[1] if best else newest_first[0]
