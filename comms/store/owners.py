"""Who holds a claim or runs a job: "host:pid", so a process that died can be told from one
that is only slow. A claim of a process that is gone from this host is released at once."""

from __future__ import annotations

import os
import socket


def worker_name() -> str:
    """This process, as claims and job runs record it."""
    return f"{socket.gethostname()}:{os.getpid()}"


def died_on_this_host(owner: str | None) -> bool:
    """The owner ran on this host and its process is gone (on another host we cannot tell)."""
    host, _, pid = (owner or "").rpartition(":")
    return host == socket.gethostname() and pid.isdigit() and not _process_alive(int(pid))


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
