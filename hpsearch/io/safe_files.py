"""Writing files in a run folder that may come from someone else.

A run folder can be shared or unpacked from an archive, so any name in it may
be a symlink planted to make hpsearch overwrite something else (``lock`` ->
``~/.bashrc``). Every write into a run folder goes through this module:

* ``open_for_write`` opens one plain name directly in a folder with
  ``O_NOFOLLOW``, refusing a symlink and any name that is not one path component;
* ``write_atomic`` (and ``write_bytes_atomic``, ``write_path_atomic``,
  ``write_text_atomic``) writes a fresh temp file (``O_EXCL | O_NOFOLLOW``)
  in the same folder, fsyncs it and renames it over the name: a reader, a
  crash or a full disk leaves the old file or the new one, never a truncated
  one, and a symlink at the name is replaced, never written through. It is
  the one writer of whole files in hpsearch: run records, models, training
  states, prepared data, exports;
* ``make_folder`` / ``make_folders`` create folders one level at a time,
  refusing a symlink where a folder should be;
* ``interrupts_deferred`` holds Ctrl-C (SIGTERM, SIGHUP) back while a write is under
  way and delivers it once the write is whole: an interrupt never lands inside
  a write (``np.savez`` interrupted half-way leaves its zip open and turns the
  KeyboardInterrupt into a ``ValueError`` traceback);
* ``check_no_symlinks`` refuses a run folder holding a symlink where hpsearch
  itself writes (the folder, its own files and folders and what is in them),
  with one line naming it (``RunError``). The insides of ``trials/<n>/`` belong
  to the user's own code (a checkpoint tool's ``latest -> ckpt-3``) and are not
  looked at; nothing deeper is walked, so the check costs the same on every open.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from hpsearch.core.errors import RunError

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


#: The signals held back during a write: Ctrl-C, and SIGTERM and SIGHUP (which ``cli.live`` and babysit turn
#: into a stop that raises where it lands).
_DEFERRED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_held: list[int] = []  # the signals that arrived while writes were under way (main thread only)
_depth = 0  # how many ``interrupts_deferred`` blocks are open


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP back inside the block and deliver them, to the handlers they had, once
    it ends.

    Why: a KeyboardInterrupt raised half-way through a write (``np.savez`` into a zip) leaves the writer in a
    state its cleanup cannot handle, and the user gets a traceback and exit 1 instead of "interrupted" and 130.
    Held back, the signal arrives a moment later, between two whole writes. Blocks nest (the outermost one
    delivers); outside the main thread (where Python cannot set handlers) the block changes nothing.
    """
    global _depth
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, Any] = {}
    if _depth == 0:
        _held.clear()
        for signum in _DEFERRED:
            if signal.getsignal(signum) is not None:  # None: a handler Python did not set, left alone
                previous[signum] = signal.signal(signum, lambda signum, frame: _held.append(signum))
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            for signum in dict.fromkeys(_held):  # each held signal once, in the order it came
                signal.raise_signal(signum)
            _held.clear()


def _plain_name(folder: Path, name: str) -> Path:
    if not name or name in (".", "..") or "/" in name or os.sep in name or "\0" in name:
        raise RunError(f"refusing to write {name!r} in '{folder}': not a plain file name")
    return Path(folder) / name


def open_for_write(folder: Path, name: str, flags: int = os.O_WRONLY | os.O_CREAT, mode: int = 0o644) -> int:
    """A file descriptor for ``folder/name``, created if missing, never through a symlink.

    Raises RunError when ``name`` is a symlink (or not a plain name), OSError otherwise.
    """
    path = _plain_name(folder, name)
    try:
        return os.open(path, flags | _NOFOLLOW | _CLOEXEC, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP or (exc.errno in (errno.EMLINK, errno.EEXIST) and path.is_symlink()):
            raise RunError(f"'{path}' is a symlink — hpsearch never writes through one: remove it") from None
        raise


def write_atomic(
    folder: Path,
    name: str,
    write: Callable[[BinaryIO], None],
    *,
    before_replace: Callable[[], None] | None = None,
    durable: bool = True,
) -> Path:
    """Write ``folder/name`` atomically with ``write(file)``; return the path.

    ``write`` gets a fresh temp file (``O_EXCL | O_NOFOLLOW``) in ``folder`` and
    streams its content there (``np.save``, ``np.savez``), so a large array is
    never copied into one bytes object first, with Ctrl-C held back until the
    file is in place (``interrupts_deferred``). The file is then fsynced,
    ``before_replace`` runs (the store commits the file's digest there) and the
    temp file is renamed over ``name``: a symlink at ``name`` is replaced, never
    written through, and nothing is ever written outside ``folder``. On any
    error the temp file is removed and the old file, if any, is left as it was.
    ``durable=False`` skips the fsyncs (of the file and of the folder), for a file a reader checks against
    its digest and can do without (a checkpoint): a crash of the process still leaves the old file or the new
    one, whole; only a power loss may leave it short, and its reader then refuses it.
    """
    path = _plain_name(folder, name)
    with interrupts_deferred():
        _write_atomic(Path(folder), name, path, write, before_replace, durable)
    return path


def _write_atomic(
    folder: Path,
    name: str,
    path: Path,
    write: Callable[[BinaryIO], None],
    before_replace: Callable[[], None] | None,
    durable: bool,
) -> None:
    temp = f".{name}.{uuid.uuid4().hex[:12]}.tmp"
    try:
        fd = open_for_write(folder, temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError as exc:  # name the file the user asked for, not the temp file
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    try:
        with os.fdopen(fd, "wb") as file:
            write(file)
            file.flush()
            if durable:
                os.fsync(file.fileno())
        if before_replace is not None:
            before_replace()
        os.replace(folder / temp, path)
    except BaseException as exc:
        try:
            os.unlink(folder / temp)
        except OSError:
            pass
        if isinstance(exc, OSError) and exc.filename is None and exc.errno is not None:  # name the file, not "?"
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise
    if durable:
        fsync_dir(folder)


def write_bytes_atomic(
    folder: Path, name: str, content: bytes, *, before_replace: Callable[[], None] | None = None, durable: bool = True
) -> Path:
    """``write_atomic`` of ``content`` (bytes already in memory) as ``folder/name``; return the path."""
    return write_atomic(folder, name, lambda file: file.write(content), before_replace=before_replace, durable=durable)


def write_path_atomic(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """``write_atomic`` for a path a user gave (``train --save FILE``): the temp file goes next to it."""
    path = Path(path)
    return write_atomic(path.parent, path.name, write)


def write_text_atomic(path: Path, text: str) -> Path:
    """``write_path_atomic`` of ``text`` as UTF-8 (``export --csv FILE``)."""
    content = text.encode("utf-8")
    return write_path_atomic(path, lambda file: file.write(content))


def make_folder(parent: Path, name: str) -> Path:
    """``parent/name`` as a real folder (created if missing); RunError if it is a symlink or a file."""
    path = _plain_name(parent, name)
    try:
        os.mkdir(path)
    except FileExistsError:
        if path.is_symlink() or not path.is_dir():
            raise RunError(
                f"'{path}' is a symlink or a file, not a folder — hpsearch never writes through one: remove it"
            ) from None
    return path


def make_folders(path: Path) -> Path:
    """``path`` as a real folder: its missing levels made one by one with ``make_folder`` (like ``mkdir -p``,
    but RunError for a symlink or a file met at any level it makes or finds missing)."""
    path = Path(path)
    missing = []
    while not os.path.lexists(path) and path.parent != path:
        missing.append(path.name)
        path = path.parent
    if path.is_symlink() and missing:
        raise RunError(f"'{path}' is a symlink — hpsearch never writes through one: remove it")
    for name in reversed(missing):
        path = make_folder(path, name)
    return path


#: Folders of a run whose entries hpsearch writes itself (``trials`` holds one folder per trial, whose own
#: content is the user's code's).
OWN_FOLDERS = ("models", "checkpoints", "data", "plots", "trials")


def check_no_symlinks(run_dir: Path) -> None:
    """RunError naming the first symlink among ``run_dir``'s entries and the entries of its own folders
    (``OWN_FOLDERS``); links are never followed and nothing deeper is looked at (``run_dir`` itself may be
    a link: where the user keeps the run)."""
    run_dir = Path(run_dir)
    paths = []
    with os.scandir(run_dir) as entries:
        paths += sorted(run_dir / e.name for e in entries)
    for name in OWN_FOLDERS:
        folder = run_dir / name
        if folder.is_dir() and not folder.is_symlink():
            with os.scandir(folder) as entries:
                paths += sorted(folder / e.name for e in entries)
    for path in paths:
        if path.is_symlink():
            raise RunError(
                f"run folder '{run_dir}' holds a symlink, '{path}' -> '{os.readlink(path)}' — hpsearch never "
                "writes through one: remove it (or copy the run without links)"
            )


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (POSIX needs the directory synced too)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
