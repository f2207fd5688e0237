"""User-supplied strings as plain terminal text: no markup, no control sequences.

A run name, a path, a data value or an error message may hold ``[/x]`` (rich
markup, which would crash the print), ``[link=file:///etc/passwd]`` (a live
link) or ESC sequences (clear the screen, set the window title, write the
clipboard). Everything the CLI prints that a user, a data file or a run folder
supplied goes through ``plain`` (a rich ``Text``, never parsed as markup) or
``safe`` (the same characters as a ``str``), which show each control character
as a visible escape such as ``\\x1b``.
"""

from __future__ import annotations

import re
from typing import Any

from rich.text import Text

# C0 controls, DEL and C1 controls (ESC, CSI, OSC, ...), and the Unicode
# bidirectional overrides that can make text read in another order than it is.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def safe(value: Any) -> str:
    """``str(value)`` with every control character shown as an escape (``\\x1b``, ``\\n``)."""
    return _CONTROL.sub(_escape, str(value))


def plain(value: Any, style: str = "") -> Text:
    """``value`` as rich Text that is printed exactly as it reads: markup is not interpreted."""
    return Text(safe(value), style=style)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return {"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(char) or (
        f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"
    )
