"""Where spendtui keeps its own files, and reading the user's config TOML.

Paths come from platformdirs (``~/.config/spendtui``, ``~/.cache/spendtui`` and
``~/.local/share/spendtui`` on Linux; the platform's equivalents elsewhere) and can each
be moved with an environment variable, which is also how tests isolate themselves:

==================  =======================================  ============================
what                default                                  override
==================  =======================================  ============================
config file         ``user_config_dir("spendtui")/config.toml``  ``SPENDTUI_CONFIG`` (a file)
cache dir           ``user_cache_dir("spendtui")``           ``SPENDTUI_CACHE_DIR``
data dir            ``user_data_dir("spendtui")``            ``SPENDTUI_DATA_DIR``
==================  =======================================  ============================

Nothing here creates directories; writers call ``mkdir(parents=True)`` themselves.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import platformdirs

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on 3.10
    import tomli as tomllib

APP_NAME = "spendtui"

ENV_CONFIG = "SPENDTUI_CONFIG"
ENV_CACHE_DIR = "SPENDTUI_CACHE_DIR"
ENV_DATA_DIR = "SPENDTUI_DATA_DIR"


class ConfigError(ValueError):
    """The config file exists but cannot be used; the message names the file."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None


def config_path() -> Path:
    """The user's config TOML (it need not exist)."""
    return _env_path(ENV_CONFIG) or Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def cache_dir() -> Path:
    """Re-creatable downloads (the imported LiteLLM prices) live here."""
    return _env_path(ENV_CACHE_DIR) or Path(platformdirs.user_cache_dir(APP_NAME))


def data_dir() -> Path:
    """Data worth keeping between runs (history, snapshots) lives here."""
    return _env_path(ENV_DATA_DIR) or Path(platformdirs.user_data_dir(APP_NAME))


def load_config(path: Path | str | None = None) -> dict[str, Any]:
    """The parsed config file; ``{}`` when it does not exist.

    Raises ConfigError (message ``<path>: <what is wrong>``) when the file cannot be
    read or is not valid TOML, so the CLI can print one clear line instead of a traceback.
    """
    p = Path(path).expanduser() if path is not None else config_path()
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        return {}
    except IsADirectoryError:
        raise ConfigError(p, "is a directory, expected a TOML file") from None
    except OSError as exc:
        raise ConfigError(p, f"cannot be read ({exc.strerror or exc})") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(p, f"is not UTF-8 text ({exc})") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(p, f"invalid TOML: {exc}") from exc
