"""Which tool calls only look (explore) and which change things.

Used by the model-routing and sub-agent rules: a cheaper model is only ever
suggested for calls that read, never for calls that write code.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

READ_ONLY_TOOLS = frozenset({"Read", "Grep", "Glob", "LS", "NotebookRead"})
EDIT_TOOLS = frozenset({"Edit", "Write", "MultiEdit", "NotebookEdit"})
AGENT_TOOLS = frozenset({"Task", "Agent"})
FILE_TOOLS = frozenset({"Read", "Edit", "Write", "MultiEdit", "NotebookEdit", "NotebookRead"})

_RO_COMMANDS = frozenset({
    "ls", "cat", "head", "tail", "grep", "egrep", "fgrep", "rg", "ag", "find", "fd", "wc", "pwd", "tree",
    "file", "stat", "du", "df", "which", "whereis", "type", "echo", "printf", "sort", "uniq", "cut", "tr",
    "diff", "cmp", "less", "more", "nl", "od", "hexdump", "xxd", "realpath", "dirname", "basename", "env",
    "date", "whoami", "uname", "id", "jq", "column", "true", "test", "[", "cd", "pushd", "popd",
})
_RO_GIT = frozenset({"log", "status", "diff", "show", "branch", "blame", "ls-files", "grep", "rev-parse",
                     "describe", "shortlog", "remote", "tag", "ls-tree", "cat-file"})
_SPLIT_RE = re.compile(r"\|\||&&|;|\||\n")
_REDIRECT_RE = re.compile(r"(?<![0-9&])>{1,2}(?!&)")


def bash_is_read_only(command: str) -> bool:
    """Conservative: every pipeline stage is a known read-only command, no output redirection."""
    if not command.strip():
        return False
    cleaned = command.replace("2>&1", " ").replace(">/dev/null", " ").replace("> /dev/null", " ")
    if _REDIRECT_RE.search(cleaned) or "`" in cleaned or "$(" in cleaned:
        return False
    for part in _SPLIT_RE.split(cleaned):
        part = part.strip()
        if not part:
            continue
        try:
            words = shlex.split(part)
        except ValueError:
            return False
        while words and "=" in words[0] and not words[0].startswith("="):
            words = words[1:]  # VAR=value prefixes
        if not words:
            continue
        cmd = words[0].rsplit("/", 1)[-1]
        if cmd == "git":
            sub = next((w for w in words[1:] if not w.startswith("-")), "")
            if sub not in _RO_GIT:
                return False
        elif cmd == "sed":
            if any(w.startswith("-i") or w == "--in-place" for w in words[1:]):
                return False
        elif cmd == "find":
            if any(w in ("-delete", "-exec", "-execdir", "-ok", "-fprint") for w in words[1:]):
                return False
        elif cmd not in _RO_COMMANDS:
            return False
    return True


def is_read_only(name: str, inp: Any) -> bool:
    if name in READ_ONLY_TOOLS:
        return True
    if name == "Bash" and isinstance(inp, dict):
        cmd = inp.get("command")
        return isinstance(cmd, str) and not inp.get("run_in_background") and bash_is_read_only(cmd)
    return False
