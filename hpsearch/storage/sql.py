"""The two SQLite rules every part of the run store follows: one write transaction at a time, whole or
not at all; a read that finds run.sqlite damaged is one RunError."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

from hpsearch.core.errors import RunError
from hpsearch.storage.layout import RUN_DB

T = TypeVar("T")


class HasRunDir(Protocol):
    """A store part: knows its run folder."""

    run_dir: Path


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """One write transaction: committed whole at the end, rolled back on any exception.

    IMMEDIATE takes the write lock up front, so a read-then-write (the
    duplicate check in ``record_trial``, the schema version before a
    migration) cannot race another writer.
    """
    try:
        db.execute("BEGIN IMMEDIATE")
        yield
        db.execute("COMMIT")
    except BaseException:  # Ctrl-C too, wherever it lands: never leave half a record
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def reading(method: Callable[..., T]) -> Callable[..., T]:
    """A store read that finds run.sqlite damaged (a corrupted page, a mangled record) raises one RunError."""

    @functools.wraps(method)
    def read(self: HasRunDir, *args: Any, **kwargs: Any) -> T:
        try:
            return method(self, *args, **kwargs)
        except (sqlite3.DatabaseError, ValueError, KeyError) as e:
            raise RunError(
                f"cannot read run '{self.run_dir}': {RUN_DB} is damaged ({e}) — other runs are not affected"
            ) from None

    return read
