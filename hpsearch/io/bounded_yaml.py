"""YAML for config files, in bounded memory and time whatever the file holds.

A config is a few hundred bytes, but it may come from anywhere: ``/dev/zero``,
a 50 MB file, an alias bomb (565 bytes that expand to gigabytes), 10,000
nested brackets. Before anything is built, this module

* reads at most ``MAX_CONFIG_BYTES`` + 1 bytes (so an endless file ends at once);
* walks the event stream once, stopping at the first of: nesting deeper than
  ``MAX_DEPTH``, a document whose aliases would expand it beyond
  ``MAX_EXPANDED`` (scalar characters plus one per node, every alias counted
  as the size of what it names), or an alias inside its own anchor (``&m
  {extra: *m}``, a value that holds itself: endless recursion when used);
* refuses, while building, mapping keys that are not names (YAML reads ``yes``
  as true, ``1`` as a number, ``~`` as null, ``[a, b]`` as a list), integers
  of more than 18 digits (no setting needs one; they overflow float and
  SQLite), and duplicate keys (PyYAML would keep the last one silently).

Numbers are read as YAML 1.2 reads them: ``1e-4`` and ``1.5e3`` are the floats
0.0001 and 1500.0 (YAML 1.1, PyYAML's rule, wants a dot and a signed exponent,
``1.0e-4``, ``1.5e+3``, and reads the others as text).

Each limit is a one-line ``ConfigError`` naming the file and line. The fast
libyaml parser is used when PyYAML has it; with the depth checked first, its
recursive composer cannot overflow.
"""

from __future__ import annotations

import os
import re
from typing import Any

import yaml

from hpsearch.core.errors import ConfigError, ConfigProblem, config_error
from hpsearch.core.limits import MAX_CONFIG_BYTES, MAX_INT_DIGITS
from hpsearch.core.limits import MAX_YAML_DEPTH as MAX_DEPTH
from hpsearch.core.limits import MAX_YAML_EXPANDED as MAX_EXPANDED

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_config_text(path: str | os.PathLike[str], label: str) -> str:
    """The text of a config file, refused past ``MAX_CONFIG_BYTES`` without reading further.

    Raises ConfigError (not found, too large, not UTF-8) or OSError (unreadable).
    """
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise config_error("file", "not found", "check the path", file=label) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise config_error(
            "file",
            f"is larger than {MAX_CONFIG_BYTES:,} bytes, the limit for a config",
            "a search config is a few hundred bytes: check the path",
            file=label,
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise config_error("file", f"is not UTF-8 text (byte {exc.start})", "save it as UTF-8", file=label) from None


def load_yaml(text: str, label: str) -> tuple[Any, yaml.Node | None]:
    """The document in ``text`` and its node tree (for line numbers), within the limits above."""
    try:
        _check_events(text)
        loader = _StrictLoader(text)
        try:
            node = loader.get_single_node()
            raw = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except ConfigError as exc:
        raise exc.in_file(label) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        where = f"line {line}, column {mark.column + 1}" if mark else "YAML"
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(
            [ConfigProblem(where, f"YAML syntax error: {problem}", "fix the YAML syntax there", label, line)]
        ) from None
    except yaml.YAMLError as exc:  # e.g. a control character in the text: one line, whatever PyYAML says
        raise config_error(
            "YAML", f"syntax error: {' '.join(str(exc).split())}", "fix the YAML syntax", file=label
        ) from None
    return raw, node


def load_value(text: str, label: str) -> Any:
    """One YAML value (a ``--set`` assignment), within the same limits."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_CONFIG_BYTES:
        raise config_error(label, f"is longer than {MAX_CONFIG_BYTES:,} bytes")
    return load_yaml(text, label)[0]


def _problem(mark: Any, message: str, fix: str) -> ConfigError:
    line = mark.line + 1 if mark is not None else None
    where = f"line {line}, column {mark.column + 1}" if mark is not None else "YAML"
    return ConfigError([ConfigProblem(where, message, fix, None, line)])


def _check_events(text: str) -> None:
    """Refuse deep nesting and alias expansion past the limits, from the event stream alone.

    ``size`` of an anchor is how much its node weighs expanded; an alias adds
    that much again, so a bomb's weight is known long before it is built.
    """
    depth, expanded = 0, 0
    sizes: dict[str, int] = {}
    open_nodes: list[list[Any]] = []  # [anchor, weight so far] of each open collection
    for event in yaml.parse(text, Loader=_BaseLoader):
        if isinstance(event, yaml.AliasEvent):
            if any(anchor == event.anchor for anchor, _ in open_nodes):
                raise _problem(
                    event.start_mark,
                    f"alias *{_clip(event.anchor)} is inside its own anchor "
                    f"&{_clip(event.anchor)}: a value that holds itself",
                    "remove the alias: a config needs none",
                )
            weight = sizes.get(event.anchor, 1)
        elif isinstance(event, yaml.ScalarEvent):
            weight = 1 + len(event.value)
            if event.anchor:
                sizes[event.anchor] = weight
        elif isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise _problem(
                    event.start_mark,
                    f"nested more than {MAX_DEPTH} levels deep",
                    "a config needs a few levels: check the file",
                )
            open_nodes.append([event.anchor, 1])
            expanded += 1
            continue
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
            anchor, weight = open_nodes.pop()
            if anchor:
                sizes[anchor] = weight
            if open_nodes:
                open_nodes[-1][1] += weight
            continue
        else:
            continue
        expanded += weight
        if open_nodes:
            open_nodes[-1][1] += weight
        if expanded > MAX_EXPANDED:
            raise _problem(
                event.start_mark,
                f"expands to more than {MAX_EXPANDED:,} characters once its aliases are expanded",
                "use fewer aliases: a config needs none",
            )


class _StrictLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe loading that refuses non-name keys, duplicate keys and huge integers."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str):
                raise _key_problem(key_node, key)
            if key in seen:
                raise _problem(
                    key_node.start_mark,
                    f"YAML syntax error: duplicate key {_clip(repr(key))}",
                    "fix the YAML syntax there",
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        digits = node.value.lstrip("+-").replace("_", "")
        if len(digits) > MAX_INT_DIGITS:
            raise _problem(
                node.start_mark,
                f"integer of {len(digits)} digits is too large",
                f"no setting takes more than {MAX_INT_DIGITS} digits",
            )
        return super().construct_yaml_int(node)


_StrictLoader.add_constructor("tag:yaml.org,2002:int", _StrictLoader.construct_yaml_int)
# YAML 1.2 core schema floats that YAML 1.1 reads as text: an exponent without a sign or a dot (1e-4, 1.5e3,
# 0.5e1, .5e3) and a signed leading dot (-.5). The others (1.5, 1.5e+3, .5) are YAML 1.1's floats already, and
# integers keep their own resolver (it comes first).
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)[eE][-+]?[0-9]+|\.[0-9]+)$"),
    list("-+.0123456789"),
)


def _key_problem(key_node: yaml.Node, key: Any) -> ConfigError:
    """A mapping key that YAML did not read as a name: say what it read and how to quote it."""
    kind = {
        bool: "true/false",
        int: "a number",
        float: "a number",
        type(None): "null",
        list: "a list",
        dict: "a mapping",
    }.get(type(key), type(key).__name__)
    if isinstance(key_node, yaml.ScalarNode):
        text = _clip(key_node.value)
        return _problem(
            key_node.start_mark,
            f"key {text!r} is read by YAML as {kind}, not a name",
            f'quote it ("{text}") or use a known key',
        )
    return _problem(key_node.start_mark, f"a key here is {kind}, not a name", "use a plain name as the key")


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
