"""Conditional and linked parameters: which searched parameters a trial uses, and options that set several at once.

A **condition** (YAML ``when:``) makes a parameter active only for some values
of its parents: ``beta: {..., when: {optimizer: [momentum, adam]}}``. Several
parents must all hold; a parent may itself be conditional, so the conditions
form a forest, and a parameter whose parent is inactive is inactive too.

A **bundle** is a choice whose options are mappings: one trial gets one whole
option, whose keys become that trial's parameters. The bundle's own value in a
trial is the option's *label*: its name when the options were written as a
mapping (``choice: {constant: {...}, exponential: {...}}``), else its values,
``"lr_decay=exponential, decay_rate=0.95"``. Samplers, zoom and TPE see a bundle
as a plain choice among its labels.

Neither changes the unit cube: every trial still draws a coordinate for every
parameter in sorted order, and inactive ones are dropped afterwards (``Space.trial_params``),
so a space with no condition and no bundle plans exactly what it planned before.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hpsearch.space.scales import Choice, choice_key, format_value


@dataclass(frozen=True)
class Condition:
    """When a parameter is active: every ``(parent, values)`` holds — the parent is active and takes one of ``values``."""

    requires: tuple[tuple[str, tuple[Any, ...]], ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "requires", tuple((p, tuple(v)) for p, v in self.requires))
        if not self.requires:
            raise ValueError("a Condition needs at least one parent")

    @property
    def parents(self) -> tuple[str, ...]:
        return tuple(parent for parent, _ in self.requires)

    def holds(self, params: Mapping[str, Any], active: set[str]) -> bool:
        """Whether every parent is in ``active`` and its value in ``params`` is one of the allowed ones."""
        return all(
            parent in active and choice_key(params.get(parent)) in {choice_key(v) for v in values}
            for parent, values in self.requires
        )

    def to_json(self) -> dict[str, list[Any]]:
        """As the YAML ``when:`` is written (always lists)."""
        return {parent: list(values) for parent, values in self.requires}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "Condition":
        return cls(tuple((parent, tuple(v) if isinstance(v, list) else (v,)) for parent, v in d.items()))


def find_cycle(conditions: Mapping[str, Condition]) -> list[str] | None:
    """One cycle of parents, as ``[a, b, ..., a]``, or None when the conditions form a forest."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> list[str] | None:
        if state.get(name) == 1:
            return path[path.index(name) :] + [name]
        if state.get(name) == 2 or name not in conditions:
            return None
        state[name] = 1
        for parent in conditions[name].parents:
            cycle = visit(parent, path + [name])
            if cycle:
                return cycle
        state[name] = 2
        return None

    for name in sorted(conditions):
        cycle = visit(name, [])
        if cycle:
            return cycle
    return None


def parents_first(names: Iterable[str], conditions: Mapping[str, Condition]) -> tuple[str, ...]:
    """``names`` ordered so that each comes after its parents; otherwise in the given order.

    Raises ``ValueError`` on a cycle.
    """
    cycle = find_cycle(conditions)
    if cycle:
        raise ValueError(f"conditions form a cycle: {' -> '.join(cycle)}")
    names = list(names)
    done: list[str] = []

    def place(name: str) -> None:
        if name in done:
            return
        for parent in conditions[name].parents if name in conditions else ():
            place(parent)
        done.append(name)

    for name in names:
        place(name)
    return tuple(name for name in done if name in names)


def option_label(option: Mapping[str, Any]) -> str:
    """An unnamed option's label: ``"lr_decay=exponential, decay_rate=0.95"``, its keys in written order."""
    return ", ".join(f"{key}={format_value(value)}" for key, value in option.items())


@dataclass(frozen=True)
class Bundle(Choice):
    """A choice among options that each set several parameters: its ``choices`` are the options' labels.

    ``options[i]`` is what choice ``i`` sets, as ``(key, value)`` pairs in written
    order; ``named`` says the labels were given (a mapping of options) rather
    than made from the values. Build one with ``Bundle.of``.
    """

    options: tuple[tuple[tuple[str, Any], ...], ...] = field(default=())
    named: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "options", tuple(tuple((k, v) for k, v in dict(o).items()) for o in self.options))
        if len(self.options) != len(self.choices) or len(set(self.choices)) != len(self.choices):
            raise ValueError(
                f"a Bundle needs one distinct label per option, got {self.choices} for {len(self.options)}"
            )
        if any(not option for option in self.options):
            raise ValueError("a Bundle's options must each set at least one parameter")

    @classmethod
    def of(cls, options: Iterable[Mapping[str, Any]], labels: Iterable[str] | None = None) -> "Bundle":
        """A bundle of ``options``, labelled by ``labels`` or (None) by their values."""
        options = [dict(o) for o in options]
        named = labels is not None
        return cls(
            tuple(labels) if named else tuple(option_label(o) for o in options),
            options=tuple(tuple(o.items()) for o in options),
            named=named,
        )

    @property
    def keys(self) -> tuple[str, ...]:
        """Every parameter some option sets, first seen first."""
        return tuple(dict.fromkeys(k for option in self.options for k, _ in option))

    def option(self, label: str) -> dict[str, Any]:
        """What the option labelled ``label`` sets."""
        return dict(self.options[self.choices.index(label)])

    def subset(self, labels: Iterable[str]) -> "Bundle":
        """The options whose labels are in ``labels``, in this bundle's order."""
        keep = set(labels)
        kept = [(c, o) for c, o in zip(self.choices, self.options) if c in keep]
        return Bundle(tuple(c for c, _ in kept), options=tuple(o for _, o in kept), named=self.named)

    def to_json(self) -> dict[str, Any]:
        """``{choice: {label: option}}`` when named, else ``{choice: [option, ...]}``: the YAML as written."""
        if self.named:
            return {"choice": {label: dict(option) for label, option in zip(self.choices, self.options)}}
        return {"choice": [dict(option) for option in self.options]}

    def describe(self) -> str:
        return "bundle {" + " | ".join(self.choices) + "}"


def is_bundle_json(spec: Mapping[str, Any]) -> bool:
    """Whether ``spec`` is a bundle's JSON (its choices are mappings, or a mapping of them)."""
    choices = spec.get("choice")
    return isinstance(choices, Mapping) or (isinstance(choices, list) and any(isinstance(c, Mapping) for c in choices))


def bundle_from_json(spec: Mapping[str, Any]) -> Bundle:
    """The bundle ``Bundle.to_json`` wrote."""
    choices = spec["choice"]
    if isinstance(choices, Mapping):
        return Bundle.of(choices.values(), labels=[str(label) for label in choices])
    return Bundle.of(choices)
