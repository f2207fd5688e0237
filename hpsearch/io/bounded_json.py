"""JSON read back from files and rows hpsearch did not necessarily write: nesting bounded before decoding.

Python's ``json`` recurses once per level, so ``[[[...]]]`` 50,000 deep is a
RecursionError (and anything that walks the result later may recurse as well).
``loads`` counts the nesting first, in one linear pass over the brackets outside
strings, and refuses deeper text with a ValueError, before decoding anything.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

from hpsearch.core.limits import MAX_JSON_DEPTH

# Strings (escapes included) and brackets; strings are matched first so brackets inside them do not count.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in JSON ``text`` (0 for a scalar)."""
    depth = deepest = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif token in "]}":
            depth -= 1
    return deepest


def loads(text: str | bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads(text)`` (NaN and ±Infinity allowed); ValueError for invalid JSON or nesting past ``max_depth``."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8")
    if not isinstance(text, str):
        raise ValueError(f"expected JSON text, got {type(text).__name__}")
    if "[" in text or "{" in text:
        depth = json_depth(text)
        if depth > max_depth:
            raise ValueError(f"JSON nested {depth} deep (at most {max_depth})")
    try:
        return json.loads(text)
    except RecursionError:  # pragma: no cover - the depth check comes first
        raise ValueError("JSON nested too deep") from None


def read_small(path: Path, max_bytes: int = 64_000) -> Any:
    """``loads`` of a small JSON file a run keeps (``models/test.json``): ValueError for one that is not a regular
    file of at most ``max_bytes`` (a device or a huge file is never read), OSError if it cannot be opened."""
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
        raise ValueError(f"{path}: not a regular file of at most {max_bytes:,} bytes")
    with open(path, "rb") as file:
        return loads(file.read(max_bytes + 1))
