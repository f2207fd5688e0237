"""Where trials run, checked before anything starts: a dask scheduler's address and the number of workers."""

from __future__ import annotations

import os
import urllib.parse

from hpsearch.core.errors import clip

SCHEDULER_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx", "inproc")


def scheduler_problem(address: str) -> str | None:
    """What is wrong with a dask scheduler address, or None when it is well formed.

    Only the form is checked (scheme, host, port): whether a scheduler answers
    there is found out when the run connects.
    """
    example = "give an address such as tcp://127.0.0.1:8786"
    text = address.strip()
    if not text:
        return f"the scheduler address is empty — {example}"
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "tcp", text
    if scheme not in SCHEDULER_SCHEMES:
        return f"unknown address scheme {clip(repr(scheme), 60)} — use one of {', '.join(SCHEDULER_SCHEMES)}: {example}"
    if scheme == "inproc":
        return None
    try:
        parts = urllib.parse.urlsplit(f"{scheme}://{rest}")
        port = parts.port
    except ValueError as exc:
        return f"{clip(repr(address), 60)} is not a valid address ({exc}) — {example}"
    if not parts.hostname or port is None or parts.path not in ("", "/") or parts.query or parts.fragment:
        return f"{clip(repr(address), 60)} is not a valid address (it needs HOST:PORT) — {example}"
    return None


def workers_warning(workers: int | None) -> str | None:
    """A warning when ``workers`` local processes would be more than the CPU cores, else None."""
    cores = os.cpu_count() or 1
    if workers is None or workers <= cores:
        return None
    return (
        f"{workers} workers on {cores} CPU cores: they will share the cores and each trial runs slower "
        f"— use --workers {cores} or fewer"
    )
