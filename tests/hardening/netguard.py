"""A socket guard: any attempt to reach a non-loopback address fails and is recorded.

In-process: ``with guard() as attempts: ...``. In a child: ``python -m
tests.hardening.netguard LOGFILE MODULE [ARGS...]`` installs the guard, then runs
``python -m MODULE ARGS`` (e.g. ``spendtui summary --json``); every attempt is
appended to LOGFILE as a JSON line.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import runpy
import socket
import sys
from collections.abc import Callable, Iterator
from typing import Any

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}


def _is_local(address: Any, family: int) -> bool:
    if family == getattr(socket, "AF_UNIX", -1):
        return True
    host = address[0] if isinstance(address, tuple) and address else address
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if not isinstance(host, str):
        return False
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def install(record: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
    """Patch the socket module; returns a function that undoes it."""
    orig_connect = socket.socket.connect
    orig_connect_ex = socket.socket.connect_ex
    orig_sendto = socket.socket.sendto
    orig_getaddrinfo = socket.getaddrinfo

    def check(sock: socket.socket, op: str, address: Any) -> None:
        if not _is_local(address, sock.family):
            record({"op": op, "address": repr(address)})
            raise OSError(101, f"network access blocked by the test guard: {address!r}")

    def connect(self: socket.socket, address: Any) -> None:
        check(self, "connect", address)
        return orig_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(self, "connect_ex", address)
        return orig_connect_ex(self, address)

    def sendto(self: socket.socket, data: Any, *args: Any) -> int:
        check(self, "sendto", args[-1])
        return orig_sendto(self, data, *args)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_local((host,), socket.AF_INET):
            record({"op": "getaddrinfo", "address": repr(host)})
            raise socket.gaierror(socket.EAI_NONAME, f"name lookup blocked by the test guard: {host!r}")
        return orig_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.socket.sendto = sendto  # type: ignore[assignment]
    socket.getaddrinfo = getaddrinfo

    def undo() -> None:
        socket.socket.connect = orig_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = orig_connect_ex  # type: ignore[method-assign]
        socket.socket.sendto = orig_sendto  # type: ignore[method-assign]
        socket.getaddrinfo = orig_getaddrinfo

    return undo


@contextlib.contextmanager
def guard() -> Iterator[list[dict[str, Any]]]:
    attempts: list[dict[str, Any]] = []
    undo = install(attempts.append)
    try:
        yield attempts
    finally:
        undo()


def main() -> None:
    log, module, *args = sys.argv[1:]

    def record(entry: dict[str, Any]) -> None:
        with open(log, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")

    install(record)
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
