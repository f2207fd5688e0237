"""User-supplied text made safe to show on a terminal: every control character written as a visible escape.

A run name, a path, a data cell or a class name may hold ESC sequences (clear the screen, set the window
title, write the clipboard) or Unicode bidirectional overrides (text that reads in another order than it
is). Whatever hpsearch prints or writes for a terminal that came from a user, a data file or a run folder
goes through ``safe``: the CLI's plain text (``cli.text``) and predict's CSV (``predict.writing``).
"""

from __future__ import annotations

import re
from typing import Any

# C0 controls, DEL and C1 controls (ESC, CSI, OSC, ...), and the Unicode
# bidirectional overrides that can make text read in another order than it is.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def safe(value: Any) -> str:
    """``str(value)`` with every control character shown as an escape (``\\x1b``, ``\\n``)."""
    return _CONTROL.sub(_escape, str(value))


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return {"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(char) or (
        f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"
    )
