"""User-supplied strings as plain terminal text: no markup, no control sequences.

A run name, a path, a data value or an error message may hold ``[/x]`` (rich
markup, which would crash the print), ``[link=file:///etc/passwd]`` (a live
link) or ESC sequences (clear the screen, set the window title, write the
clipboard). Everything the CLI prints that a user, a data file or a run folder
supplied goes through ``plain`` (a rich ``Text``, never parsed as markup) or
``safe`` (the same characters as a ``str``, from ``core.escapes``), which show
each control character as a visible escape such as ``\\x1b``.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from hpsearch.core.escapes import safe

__all__ = ["plain", "safe"]


def plain(value: Any, style: str = "") -> Text:
    """``value`` as rich Text that is printed exactly as it reads: markup is not interpreted."""
    return Text(safe(value), style=style)
