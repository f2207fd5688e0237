"""The one way a long command ends early: Ctrl-C or a lost worker becomes a message saying what is saved and how to go on."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from hpsearch.core.errors import Interrupted, WorkerLostError


@contextlib.contextmanager
def interruptible(saved: Callable[[], str], again: str) -> Iterator[None]:
    """Turn Ctrl-C into ``Interrupted`` (exit 130) and a lost worker into a ``WorkerLostError`` that both say
    ``saved()`` (e.g. "12 of 30 trials are saved in run 'x'") and the command that continues, ``again``."""
    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted(saved(), again) from None
    except WorkerLostError as exc:
        raise WorkerLostError(
            f"{exc} — {saved()}; continue with: {again} (fewer --workers if memory ran out)"
        ) from None
