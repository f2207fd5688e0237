"""SHA-256 of files, read in blocks: a digest never holds a whole file (or its arrays) in memory.

Only regular files are read: a path that names a device (``/dev/zero``), a FIFO
or a folder is never opened for hashing (it could block or never end), and
``max_bytes`` bounds how much is read.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import BinaryIO

_BLOCK = 1 << 20


class NotARegularFile(OSError):
    """The path names something other than a regular file (a device, a FIFO, a folder)."""


def sha256_stream(file: BinaryIO) -> str:
    """The SHA-256 (hex) of what is left to read in ``file``, read in 1 MiB blocks."""
    sha = hashlib.sha256()
    for block in iter(lambda: file.read(_BLOCK), b""):
        sha.update(block)
    return sha.hexdigest()


def sha256_file(path: str | os.PathLike, *, max_bytes: int | None = None) -> str:
    """The SHA-256 (hex) of a regular file's bytes.

    Raises FileNotFoundError, NotARegularFile (a device, FIFO or folder: never
    opened for reading), or ValueError when the file holds more than ``max_bytes``.
    """
    path = Path(path)
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise NotARegularFile(f"'{path}' is not a regular file")
    if max_bytes is not None and info.st_size > max_bytes:
        raise ValueError(f"'{path}' holds {info.st_size} bytes, more than {max_bytes}")
    # O_NONBLOCK: if the path was swapped for a FIFO since the stat, opening it does not wait for a writer.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            raise NotARegularFile(f"'{path}' is not a regular file")
        return sha256_stream(file)
