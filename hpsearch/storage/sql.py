"""The rules every part of the run store follows: each table has one owner (a ``Table``), every write is in a
transaction that is whole or not at all, and a read that finds run.sqlite damaged is one RunError."""

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


class Table:
    """The owner of one table of run.sqlite (or of two always written together): the only code that reads and
    writes it, so a rule about its rows (a trial is never stored twice) is kept in one place. The owners are
    listed in docs/architecture.md and checked by tests/test_storage_contract.py.

    Every table object of a run holds the run's one connection, which ``RunStore`` owns and closes, so one
    ``transaction`` spans several tables (a trial's epochs, rung and record commit together).
    """

    def __init__(self, db: sqlite3.Connection, run_dir: Path, run_name: str) -> None:
        self._db = db
        self.run_dir = run_dir  # named by ``reading``'s message
        self.run_name = run_name  # named by the messages of refused writes


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """One write transaction: committed whole at the end, rolled back on any exception.

    IMMEDIATE takes the write lock up front, so a read-then-write (the
    duplicate check of ``TrialTable.put``, the schema version before a
    migration) cannot race another writer. Inside an open transaction it is a
    savepoint: a table's own write joins the caller's transaction (committed with
    it), and is undone alone if it raises.
    """
    if db.in_transaction:
        db.execute("SAVEPOINT part")
        try:
            yield
        except BaseException:
            db.execute("ROLLBACK TO part")
            db.execute("RELEASE part")
            raise
        db.execute("RELEASE part")
        return
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
