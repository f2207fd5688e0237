"""Trials on a dask.distributed cluster: connect within a deadline, scatter shared data once, submit, collect."""

from __future__ import annotations

import contextlib
import gc
import threading
import time
from typing import Any, Callable, Iterator

from hpsearch.core.errors import MissingDependencyError, RunError, WorkerLostError
from hpsearch.execution.orphans import in_worker


def run_on_dask(
    function: Callable[..., Any], items: list[Any], shared: tuple[Any, ...], scheduler: str | None
) -> Iterator[Any]:
    """``run_parallel`` on a dask cluster: submit every item, yield results as they complete.

    The shared arguments are scattered to every worker once. A task the scheduler gives up on (its
    workers kept dying: out of memory, killed) is a WorkerLostError at once — through joblib's dask
    backend the search waited for it forever.
    """
    from distributed import KilledWorker, as_completed

    with _dask_client(scheduler) as client:
        scattered = [client.scatter(value, broadcast=True) for value in shared]
        futures = [client.submit(in_worker, function, item, None, *scattered, pure=False) for item in items]
        done = as_completed(futures)
        try:
            while not done.is_empty():
                for future in done.next_batch(block=False) or _wait_for_one(client, done):
                    try:
                        yield future.result()
                    except KilledWorker as exc:
                        raise WorkerLostError(
                            f"a dask worker died while training, every time the task was tried "
                            f"({str(exc).splitlines()[0][:200]})"
                        ) from None
        finally:
            client.cancel(futures)


DASK_NO_WORKERS_S = 60.0
"""How long a search waits on a cluster left with no worker at all before it stops (resume continues it)."""


def _wait_for_one(client: Any, done: Any) -> list[Any]:
    """The next finished futures; a WorkerLostError when the cluster has had no worker for ``DASK_NO_WORKERS_S``
    (every worker died and none came back: the scheduler would hold the tasks, and the search wait, forever)."""
    since = checked = time.monotonic()
    while True:
        batch = done.next_batch(block=False)
        if batch:
            return batch
        time.sleep(0.05)
        if time.monotonic() - checked < 1.0:
            continue
        checked = time.monotonic()
        if client.nthreads():  # asks the scheduler which workers it has now
            since = checked
        elif checked - since > DASK_NO_WORKERS_S:
            raise WorkerLostError(f"every dask worker died and none came back for {DASK_NO_WORKERS_S:g} s")


def check_scheduler(scheduler: str | None) -> None:
    """Connect to the dask scheduler once and close: a one-line RunError if it cannot be used."""
    with _dask_client(scheduler):
        pass


@contextlib.contextmanager
def _dask_client(scheduler: str | None) -> Iterator[Any]:
    try:
        from dask.distributed import Client
    except ImportError:
        raise MissingDependencyError("dask.distributed", "dask", "--backend dask") from None
    if not scheduler:
        raise RunError(
            "--backend dask needs a scheduler address — pass --scheduler tcp://HOST:8786 or set search.scheduler"
        )
    client = _connect(Client, scheduler)
    try:
        yield client
    finally:
        client.close()


DASK_CONNECT_TIMEOUT_S = 10.0
DASK_CONNECT_GRACE_S = 5.0
"""How much longer than ``DASK_CONNECT_TIMEOUT_S`` the search waits for the connect before giving up on it."""


def _connect(client_class: Any, scheduler: str) -> Any:
    """A dask Client, or a one-line RunError within ``DASK_CONNECT_TIMEOUT_S`` (plus ``DASK_CONNECT_GRACE_S``).

    Client's own timeout covers the TCP connect only: an address that answers but
    is not a dask scheduler (an HTTP server, say) would hang for minutes in the
    handshake. The connect runs in a daemon thread that is abandoned past the
    deadline; a Client it makes after that is closed at once, never left open.
    """
    outcome: dict[str, Any] = {}
    decided = threading.Lock()  # the thread hands its Client over, or the caller gives up on it: never both

    def connect() -> None:
        try:
            client = client_class(scheduler, timeout=DASK_CONNECT_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 — reported below as one line
            outcome["error"] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return
        with decided:
            abandoned = outcome.get("abandoned", False)
            if not abandoned:
                outcome["client"] = client
        if abandoned:
            with contextlib.suppress(Exception):  # closing a late client must not raise in a thread nobody joins
                client.close()

    # A Client an earlier search in this process left to the garbage collector (a notebook's, a test suite's) is
    # finalized here, first: its finalizer takes distributed's loop lock, and run by a collection inside the thread
    # start of the Client made below (which holds that lock while it waits for the start), it deadlocked.
    gc.collect()
    thread = threading.Thread(target=connect, name="hpsearch-dask-connect", daemon=True)
    thread.start()
    thread.join(DASK_CONNECT_TIMEOUT_S + DASK_CONNECT_GRACE_S)
    with decided:
        if "client" in outcome:
            return outcome["client"]
        outcome["abandoned"] = True
    why = outcome.get("error") or "no answer of a dask scheduler"
    raise RunError(f"cannot reach the dask scheduler at {scheduler} ({why}) — is `dask scheduler` running there?")
