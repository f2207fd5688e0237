"""No orphans: every process a search starts dies with it, however the search ends (kill -9 included).

A loky worker polls its parent and, when the search is gone, kills every process
it started and exits (``exit_with``). The search process also starts one bare
watcher that kills every process carrying the search's id in its environment
(``watch_search``): loky workers before their first task, resource trackers, and
the background children of own objectives' commands.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any, Callable

from hpsearch.execution import leftovers

_watched_parent: int | None = None


def exit_with(parent: int) -> None:
    """End this worker process, and every process it started, within a second of ``parent``'s death.

    After a kill -9 of the search, loky's workers would otherwise live on as
    orphans (and, seen once, deadlock for many minutes holding memory), and so
    would the commands of own objectives they run. An orphan is re-parented, so
    its parent pid changes: a daemon thread polls it.
    """
    global _watched_parent
    if _watched_parent == parent or os.getppid() != parent:
        return  # already watching, or not a direct child of the search (nothing to watch)
    _watched_parent = parent

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        _kill_descendants()
        os._exit(1)

    threading.Thread(target=watch, name="hpsearch-exit-with-parent", daemon=True).start()


def _kill_descendants() -> None:
    """SIGKILL every process group this process started (each command leads its own) and every descendant."""
    import psutil

    try:
        children = psutil.Process().children(recursive=True)
    except psutil.Error:
        return
    for child in children:
        for kill in (lambda: os.killpg(child.pid, signal.SIGKILL), child.kill):
            try:
                kill()
            except (OSError, psutil.Error):
                pass


#: The environment variable every process a search starts inherits: ``<uuid>`` of that search.
SEARCH_ID_VARIABLE = "HPSEARCH_SEARCH_ID"

# The watcher: a bare interpreter (no hpsearch, no numpy: it starts in milliseconds) that waits for the
# search's death, then SIGKILLs every process whose environment holds the search's id — loky workers and
# their resource trackers, commands, and what commands started in other sessions (``setsid``) or left
# behind (``sleep &``) — until two scans in a row find none; then removes what the killed processes left in
# shared memory (``leftovers``, run from its file: the watcher imports nothing of hpsearch).
_WATCHER = r"""
import os, runpy, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
parent, marker, me, leftovers = int(sys.argv[1]), sys.argv[2].encode(), os.getpid(), sys.argv[3]
while os.getppid() == parent:
    time.sleep(0.1)
quiet = 0
while quiet < 2:
    found = False
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open("/proc/%s/environ" % name, "rb") as f:
                marked = marker in f.read().split(b"\0")
            if marked:
                os.kill(int(name), signal.SIGKILL)
                found = True
        except OSError:
            pass
    quiet = 0 if found else quiet + 1
    time.sleep(0.05)
try:
    runpy.run_path(leftovers, run_name="__main__")
except Exception:
    pass
"""

_watcher: Any = None


def watch_search() -> None:
    """Make sure every process this search starts from now on dies with it, even by kill -9 (Linux).

    Once per process: gives the search a fresh id in ``HPSEARCH_SEARCH_ID``
    (inherited by every process it starts, unless one clears its environment)
    and starts a watcher process holding none of its files (stdin, stdout and
    stderr are /dev/null, so a caller reading the search's output is never
    kept waiting by it). When the search process is gone — however it ended —
    the watcher kills every process carrying the id, removes the semaphores and memory-mapping folders
    whose makers are gone (``leftovers``; the ones earlier killed searches left are removed here, at the
    start), then exits. A loky
    worker's own watch (``exit_with``) starts only with its first task; this
    one covers the workers from their start, and the processes that left the
    commands' process groups.
    """
    global _watcher
    if _watcher is not None or not os.path.isdir("/proc") or _watched_parent is not None:
        return  # already watched; not Linux; or a loky worker, whose processes its search's watcher covers
    import subprocess
    import sys
    import uuid

    leftovers.remove_leftovers()  # what earlier searches killed by kill -9 left in shared memory
    search_id = uuid.uuid4().hex
    os.environ[SEARCH_ID_VARIABLE] = search_id
    try:
        _watcher = subprocess.Popen(
            [
                sys.executable,
                "-I",
                "-S",
                "-c",
                _WATCHER,
                str(os.getpid()),
                f"{SEARCH_ID_VARIABLE}={search_id}",
                leftovers.__file__,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=True,
        )
    except OSError:
        _watcher = False  # no watcher (no process left to start one): the workers' own watch still runs


def in_worker(function: Callable[..., Any], item: Any, parent: int | None, *shared: Any) -> Any:
    """``function(item, *shared)`` in a loky worker, which first makes sure it dies with the search process."""
    if parent is not None:
        exit_with(parent)
    return function(item, *shared)
