"""What a config's conditional and linked parameters mean beyond the space: notices and command placeholders.

``engine_notices``: the built-in engine knows its own conditions
(``nn.hyperparams.USED_ONLY_WHEN``: ``beta`` only matters for momentum); a
search of ``optimizer`` that also searches ``beta`` in every trial is told,
once, which ``when:`` to add. ``sometimes_absent``: which parameters some
trials of an own objective lack, which a command's plain ``{name}`` cannot
stand for.
"""

from __future__ import annotations

from typing import Any

from hpsearch.nn.hyperparams import USED_ONLY_WHEN, listed_values
from hpsearch.space.scales import Choice, Distribution, choice_key, format_value
from hpsearch.space.search_space import Space


def engine_notices(space: Space, prefix: str = "space") -> list[str]:
    """One line per searched hyperparameter the engine ignores for some values of a searched parent without a ``when:``.

    ``space.beta: only optimizer momentum uses beta, so trials with another optimizer draw it for nothing —
    add when: {optimizer: momentum}``. The parent is a choice, or an integer range (``hidden_units`` is
    unused by trials with ``layers`` 0).
    """
    notices = []
    for name, (parent, used) in USED_ONLY_WHEN.items():
        values = _values(space.get(parent))
        if name not in space or values is None:
            continue
        condition = space.conditions.get(name)
        if condition is not None and parent in condition.parents:
            continue
        using = {choice_key(v) for v in used}
        users = [v for v in values if choice_key(v) in using]
        if len(users) == len(values):
            continue  # every searched value uses it
        shown = [format_value(v) for v in users]
        when = shown[0] if len(shown) == 1 else "[" + ", ".join(shown) + "]"
        who = f"only {parent} " + (
            listed_values(tuple(users))
            if len(users) > 2
            else " and ".join(shown)
            if shown
            else "values not searched here"
        )
        notices.append(
            f"{prefix}.{name}: {who} use{'s' if len(shown) == 1 else ''} {name}, so the other trials "
            f"draw it for nothing — add when: {{{parent}: {when}}} to search it only there"
        )
    return notices


#: An integer parent of more values than this gets no notice: its when: would list too many.
MAX_LISTED = 64


def _values(dist: Distribution | None) -> tuple[Any, ...] | None:
    """Every value a searched parent takes: a choice's, or an integer range's; None for anything else."""
    if isinstance(dist, Choice):
        return dist.choices
    if dist is not None and dist.scale in ("int", "int_log") and dist.high - dist.low < MAX_LISTED:
        return tuple(range(dist.low, dist.high + 1))
    return None


def sometimes_absent(space: Space) -> dict[str, str]:
    """Each name some trial's params lack (or the objective is not given), with why.

    A conditional parameter; a parameter set by some options of a bundle only,
    or by a conditional bundle; a bundle's own name (its label is not passed on).
    """
    active_when = {
        name: "active only when "
        + " and ".join(
            f"{parent} is {' or '.join(format_value(v) for v in values)}" for parent, values in condition.requires
        )
        for name, condition in space.conditions.items()
    }
    why = dict(active_when)
    for name, dist in space.bundles.items():
        why[name] = f"a bundle (its options' values are passed, not its name: use {', '.join(dist.keys)})"
        for key in dist.keys:
            setting = [label for label in dist.choices if key in dist.option(label)]
            if len(setting) < len(dist.choices):
                why[key] = f"set only by {name}'s option{'s' if len(setting) > 1 else ''} {', '.join(setting)}"
            elif name in active_when:
                why[key] = f"set by {name}, which is {active_when[name]}"
    return why


def condition_tree(space: Space, plan: list[dict[str, Any]]) -> list[tuple[int, str, str, int]]:
    """What ``run --dry-run`` draws of the conditions: ``(depth, name, condition, trials)`` rows, in tree order.

    Each conditional parameter comes under its (first) parent, one level
    deeper; ``condition`` is ``"when optimizer is momentum"`` ("" for a root);
    ``trials`` counts the planned trials (params, as planned) in which it is active.
    """
    children: dict[str | None, list[str]] = {}
    for name in space.names:
        condition = space.conditions.get(name)
        children.setdefault(condition.parents[0] if condition else None, []).append(name)
    rows: list[tuple[int, str, str, int]] = []

    def walk(parent: str | None, depth: int) -> None:
        for name in children.get(parent, ()):
            condition = space.conditions.get(name)
            text = (
                ""
                if condition is None
                else "when "
                + " and ".join(
                    f"{p} is {' or '.join(format_value(v) for v in values)}" for p, values in condition.requires
                )
            )
            rows.append((depth, name, text, sum(name in params for params in plan)))
            walk(name, depth + 1)

    walk(None, 0)
    return rows
