""".npz archives of named arrays: one encoder, one writer, one checked reader.

Every ``.npz`` hpsearch reads may come from someone else: a data file, a model
handed around, a run folder unpacked from an archive. An ``.npz`` is a zip of
``.npy`` members, and each member starts with a header that declares its
array's shape and dtype; NumPy allocates what the header declares before it
reads a byte of data. So a 4 MB file can declare a 4 GB ``W1`` (a lying header,
or a zip bomb: 4 GB of zeros deflate to 4 MB). ``read_arrays`` reads every header
first and refuses, with one line naming the file, before anything is allocated:

* a member that is not a NumPy array (NumPy would read it whole as bytes);
* an array of Python objects (loading it needs pickle, which runs code);
* an array declaring more bytes than its member holds;
* arrays that, times the copies the caller will make, exceed the memory available.

Writers: ``npz_bytes`` encodes (object arrays refused); ``save_npz`` writes a
file atomically through ``io.safe_files`` (temp file, fsync, rename, never
through a symlink).
"""

from __future__ import annotations

import io
import math
import os
import zipfile
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from numpy.lib import format as npy_format

from hpsearch.core.errors import DataError
from hpsearch.core.memory import shortfall
from hpsearch.io.safe_files import interrupts_deferred, write_path_atomic

Source = str | os.PathLike | bytes | BinaryIO
"""Where an archive is read from: a file path, its content already in memory, or an open binary file
(read from its start, then closed)."""


class NpzUnreadable(DataError):
    """The source is not a readable .npz archive (missing, not a zip, damaged); ``reason`` says why.

    Callers that word this case themselves (``cannot read a saved network``) catch it; the
    message alone reads ``<label>: <reason>``.
    """

    def __init__(self, label: str, reason: str):
        super().__init__(f"{label}: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class ArrayHeader:
    """What one member of an archive declares: its array's key (``W1``), shape and dtype; ``held``: the data
    bytes the member really holds after its header."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    held: int

    @property
    def nbytes(self) -> int:
        """Bytes NumPy allocates to load it."""
        return math.prod(self.shape) * self.dtype.itemsize


def checked_arrays(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``arrays`` as NumPy arrays; ValueError for object arrays (they would need pickle to load)."""
    arrays = {key: np.asarray(value) for key, value in arrays.items()}
    pickled = [key for key, a in arrays.items() if a.dtype.hasobject]
    if pickled:
        raise ValueError(f"model arrays {pickled} have object dtype; .npz files here store numbers only")
    return arrays


def npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """``arrays`` as the bytes of an .npz file; object arrays are refused (ValueError)."""
    buffer = io.BytesIO()
    with interrupts_deferred():  # a Ctrl-C inside np.savez would leave its zip open (a ValueError traceback)
        np.savez(buffer, **checked_arrays(arrays))
    return buffer.getvalue()


def save_npz(path: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> Path:
    """Write ``arrays`` as the .npz file ``path``, atomically and never through a symlink; return the path."""
    arrays = checked_arrays(arrays)
    return write_path_atomic(path, lambda file: np.savez(file, **arrays))


def read_arrays(
    source: Source, label: str, *, names: Collection[str] | None = None, copies: int = 1
) -> dict[str, np.ndarray]:
    """The arrays of an .npz archive (``names`` only, those it has, when given), after checking every header.

    ``label`` starts every message (the file's path). ``copies`` is how many
    arrays of each size the caller will hold at once (a data reader converts
    and splits): the loaded arrays times ``copies`` must fit in memory.

    Raises
    ------
    NpzUnreadable : missing, not a zip of .npy members, or damaged
    DataError : refused before loading (see the module's docstring); one line naming ``label``
    """
    try:
        with _opened(source) as file:
            size = file.seek(0, io.SEEK_END)
            file.seek(0)
            headers = npz_headers(file, size, label)
            wanted = [h for h in headers if names is None or h.name in names]
            _check_memory(wanted, label, copies)
            for h in headers:
                if h.nbytes > h.held:
                    raise DataError(
                        f"{label}: array {h.name} declares shape {h.shape} ({_size(h.nbytes)}) but "
                        f"holds {_size(max(h.held, 0))} — the file is damaged or made to exhaust memory"
                    )
            file.seek(0)
            with np.load(file, allow_pickle=False) as archive:
                return {h.name: archive[h.name] for h in wanted}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise NpzUnreadable(label, str(error) or type(error).__name__) from None


def npz_headers(file: BinaryIO, size: int, label: str) -> list[ArrayHeader]:
    """What each member of the archive in ``file`` (``size`` bytes) declares, in order; nothing is allocated.

    DataError for a member that is not an array or an array of objects;
    zipfile.BadZipFile or ValueError for a file that is not a zip of .npy members.
    """
    headers = []
    with zipfile.ZipFile(file) as archive:
        members = archive.infolist()
        if sum(m.compress_size for m in members) > size:
            raise zipfile.BadZipFile("its members claim more bytes than the file has")
        for member in members:
            headers.append(_member_header(archive, member, label))
    return headers


def _member_header(archive: zipfile.ZipFile, member: zipfile.ZipInfo, label: str) -> ArrayHeader:
    """The header of one member (DataError: not an array, or an array of objects)."""
    name = member.filename.removesuffix(".npy")
    if member.compress_type == zipfile.ZIP_STORED and member.compress_size != member.file_size:
        raise zipfile.BadZipFile(
            f"member {member.filename!r} claims {member.file_size} bytes but stores {member.compress_size}"
        )
    with archive.open(member) as stream:
        if stream.read(len(npy_format.MAGIC_PREFIX)) != npy_format.MAGIC_PREFIX:
            raise DataError(
                f"{label}: member {member.filename!r} is not a NumPy array — hpsearch reads .npz files of arrays only"
            )
        stream.seek(0)
        version = npy_format.read_magic(stream)
        shape, _, dtype = _read_header(stream, version)
        header_bytes = stream.tell()
    if dtype.hasobject:
        raise DataError(
            f"{label}: array {name} holds Python objects (dtype {dtype}) — loading it would need "
            "pickle, which hpsearch never uses: save numeric or string arrays"
        )
    return ArrayHeader(name, tuple(int(n) for n in shape), dtype, member.file_size - header_bytes)


def _read_header(stream: BinaryIO, version: tuple[int, int]) -> tuple[tuple[int, ...], bool, np.dtype]:
    if version == (1, 0):
        return npy_format.read_array_header_1_0(stream)
    if version == (2, 0):
        return npy_format.read_array_header_2_0(stream)
    return npy_format._read_array_header(stream, version)  # 3.0 (UTF-8 field names) has no public reader


def _check_memory(headers: list[ArrayHeader], label: str, copies: int) -> None:
    """DataError when one array, or all of them together, times ``copies`` would not fit in memory."""
    for h in headers:
        too_much = shortfall(copies * h.nbytes)
        if too_much:
            raise DataError(f"{label}: array {h.name} of shape {h.shape} {too_much}")
    too_much = shortfall(copies * sum(h.nbytes for h in headers))
    if too_much:
        raise DataError(f"{label}: its arrays {', '.join(h.name for h in headers)} together {too_much}")


def _opened(source: Source) -> BinaryIO:
    """A binary file object over ``source`` (OSError naming a missing file)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(source)
    if hasattr(source, "read"):
        return source  # type: ignore[return-value]
    return open(source, "rb")


def _size(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"
