"""``--set name=value`` on the command line, read as YAML values: ``train`` and ``babysit`` take them by a
hyperparameter's name (``config.single_model``), ``run`` by dotted key (``config.loading``)."""

from __future__ import annotations

from typing import Any

from hpsearch.core.errors import ConfigError, config_error
from hpsearch.io.bounded_yaml import load_value


def parse_assignments(assignments: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``["learning_rate=0.01", "hidden=[64, 32]"]`` -> ``{"learning_rate": 0.01, "hidden": [64, 32]}``.

    Values are read as YAML scalars/lists, so numbers, booleans and lists work.
    """
    values: dict[str, Any] = {}
    for item in assignments:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise config_error(f"--set {item}", "must look like name=value", "e.g. --set learning_rate=0.01")
        values.pop(name, None)  # the last --set of a name wins, and is applied last (after any key it is inside)
        try:
            values[name] = load_value(text, f"--set {name}")
        except ConfigError as exc:
            first = exc.problems[0]
            fix = first.fix if "syntax" not in first.message else "quote it or fix it"
            raise config_error(f"--set {name}", f"value is not valid YAML ({first.message})", fix) from None
    return values
