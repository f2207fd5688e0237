"""The YAML rules of conditional (``when:``) and linked (bundle) parameters, and their messages.

``parse_space`` hands each entry's ``when:`` and each bundle here once the
whole section is read, since a ``when:`` may name a parameter written further
down, in ``model:``, or set by a bundle. Every problem names its key and a fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hpsearch.core.errors import ConfigProblem, did_you_mean
from hpsearch.space.conditions import Bundle, Condition, find_cycle
from hpsearch.space.parameters import Parameter, lookup
from hpsearch.space.scales import Choice, Distribution, _IntRange, choice_key, format_value, named_by

_BUNDLE_KEYS = ("scale", "choice", "when")
_EXAMPLE_WHEN = "write e.g. when: {optimizer: [momentum, adam]}"


def is_bundle_spec(spec: Mapping[str, Any]) -> bool:
    """Whether a ``space:`` entry is a bundle: its ``choice`` is a mapping of options, or lists one."""
    choices = spec.get("choice")
    return isinstance(choices, Mapping) or (isinstance(choices, list) and any(isinstance(c, Mapping) for c in choices))


def parse_bundle(
    name: Any,
    spec: Mapping[str, Any],
    key: str,
    parameters: Mapping[str, Parameter] | None,
    problems: list[ConfigProblem],
) -> Bundle | None:
    """A bundle entry (``schedule: {choice: [{lr_decay: none}, {...}]}``), or None after adding its problems."""
    n_before = len(problems)
    if not isinstance(name, str) or not name.isidentifier():
        problems.append(ConfigProblem(key, "is not a valid bundle name", "use letters, digits and _, e.g. schedule"))
    elif parameters is not None and name in parameters:
        problems.append(
            ConfigProblem(
                key,
                f"lists options that set several parameters, but {name} is itself a hyperparameter",
                f"give the bundle a name of its own, e.g. {name}_options",
            )
        )
    for extra in spec:
        if extra not in _BUNDLE_KEYS:
            problems.append(
                ConfigProblem(f"{key}.{extra}", "unknown key for a bundle", did_you_mean(str(extra), _BUNDLE_KEYS))
            )
    if spec.get("scale", "choice") != "choice":
        problems.append(ConfigProblem(f"{key}.scale", "a bundle is a choice", "remove scale:"))
    raw = spec["choice"]
    named = isinstance(raw, Mapping)
    items = list(raw.values()) if named else list(raw)
    labels = [str(label) for label in raw] if named else None
    options: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        where = f"option {labels[i]!r}" if labels else f"item {i + 1}"
        option = _parse_option(item, where, f"{key}.choice", parameters, problems)
        if option is not None and option in options:
            problems.append(ConfigProblem(f"{key}.choice", f"{where} is listed twice", "list each option once"))
        elif option is not None:
            options.append(option)
    if not items:
        problems.append(ConfigProblem(f"{key}.choice", "is empty", "list at least one option"))
    return Bundle.of(options, labels) if len(problems) == n_before else None


def _parse_option(
    item: Any, where: str, key: str, parameters: Mapping[str, Parameter] | None, problems: list[ConfigProblem]
) -> dict[str, Any] | None:
    """One option of a bundle: parameter name -> fixed value, each checked as the parameter's own value."""
    if not isinstance(item, Mapping) or not item:
        problems.append(
            ConfigProblem(
                key,
                f"{where}: every option of a bundle must set parameters, got {item!r}",
                "write each option as a mapping, e.g. {lr_decay: exponential, decay_rate: 0.95}",
            )
        )
        return None
    option: dict[str, Any] = {}
    for name, value in item.items():
        hp = lookup(name, f"{key}.{name}", parameters, problems)
        if hp is None:
            continue
        checked, message = hp.check(value) if not isinstance(value, Mapping) else (None, "")
        if isinstance(value, Mapping):
            problems.append(
                ConfigProblem(
                    key,
                    f"{where}: {name} must be a fixed value, got {value!r}",
                    f"to search {name} in some options only, search it in space: with when: naming this bundle",
                )
            )
        elif message:
            problems.append(
                ConfigProblem(
                    key,
                    f"{where}: {name} {message}",
                    did_you_mean(value, hp.choices) if hp.choices and isinstance(value, str) else "",
                )
            )
        else:
            option[name] = checked
    return option if len(option) == len(item) else None


@dataclass(frozen=True)
class Known:
    """What a ``when:`` may name: the section's searched parameters, fixed values and bundles.

    ``fixed`` maps a name to ``(value, where)``, ``where`` the key that fixes it
    (``model.optimizer``); ``broken`` are entries that had problems of their
    own, which a ``when:`` naming them does not repeat.
    """

    searched: Mapping[str, Distribution]
    fixed: Mapping[str, tuple[Any, str]]
    broken: frozenset[str]
    parameters: Mapping[str, Parameter] | None

    def bundle_keys(self) -> dict[str, str]:
        """Each parameter a bundle sets -> the bundle."""
        return {k: name for name, d in self.searched.items() if isinstance(d, Bundle) for k in d.keys}


def resolve_conditions(
    whens: Mapping[str, Any], prefix: str, known: Known, problems: list[ConfigProblem]
) -> dict[str, Condition]:
    """Each conditional parameter's ``Condition`` over searched parents; a fixed parent that matches is dropped.

    A parameter whose ``when:`` holds on fixed values alone gets no condition:
    it is searched in every trial. Problems are added for what cannot hold.
    """
    conditions: dict[str, Condition] = {}
    for name, raw in whens.items():
        key = f"{prefix}.{name}.when"
        if not isinstance(raw, Mapping) or not raw:
            problems.append(
                ConfigProblem(key, f"must be a mapping of parameter to value(s), got {raw!r}", _EXAMPLE_WHEN)
            )
            continue
        requires = []
        for parent, values in raw.items():
            allowed = values if isinstance(values, list) else [values]
            if not allowed:
                problems.append(ConfigProblem(f"{key}.{parent}", "is empty", _EXAMPLE_WHEN))
                continue
            requirement = _requirement(name, parent, allowed, f"{key}.{parent}", known, problems)
            if requirement is not None:
                requires.append(requirement)
        if requires:
            conditions[name] = Condition(tuple(requires))
    cycle = find_cycle(conditions)
    if cycle:
        problems.append(
            ConfigProblem(
                f"{prefix}.{cycle[0]}.when",
                f"the when:s form a cycle: {' → '.join(cycle)}",
                "a parameter's parents must not depend on it: remove one of these when:s",
            )
        )
        return {}
    return conditions


def _requirement(
    name: str, parent: Any, allowed: list[Any], key: str, known: Known, problems: list[ConfigProblem]
) -> tuple[str, tuple[Any, ...]] | None:
    """``(parent, values)`` for a searched parent; None when a fixed parent holds, or after adding a problem."""
    shown = ", ".join(format_value(v) for v in allowed)
    if parent == name:
        problems.append(ConfigProblem(key, f"{name} cannot depend on itself", "name another parameter, e.g. optimizer"))
    elif parent in known.broken:
        pass  # its own entry's problem says what to fix
    elif parent in known.searched:
        return _searched_requirement(parent, known.searched[parent], allowed, key, problems)
    elif parent in known.fixed:
        value, where = known.fixed[parent]
        if not named_by(value, allowed):
            problems.append(
                ConfigProblem(
                    key,
                    f"{parent} is fixed to {format_value(value)} in {where}, so {name} would never be searched",
                    f"remove the when:, or fix {parent} to {shown}",
                )
            )
    elif parent in known.bundle_keys():
        bundle_name = known.bundle_keys()[parent]
        bundle = known.searched[bundle_name]
        assert isinstance(bundle, Bundle)
        labels = tuple(
            label
            for label in bundle.choices
            if any(named_by(v, [bundle.option(label).get(parent, _UNSET)]) for v in allowed)
        )
        if labels:
            return bundle_name, labels
        problems.append(
            ConfigProblem(
                key,
                f"no option of {bundle_name} sets {parent} to {shown}",
                f"name a value one of its options sets, or list it in {bundle_name}'s options",
            )
        )
    elif known.parameters is not None and parent in known.parameters:
        problems.append(
            ConfigProblem(
                key,
                f"{parent} is neither searched nor fixed, so it keeps its default",
                f"search {parent} in space: or fix it in model:",
            )
        )
    else:
        names = {*known.searched, *known.fixed, *known.bundle_keys()} - {name}
        problems.append(
            ConfigProblem(
                key,
                f"names {parent!r}, which space: does not define",
                did_you_mean(str(parent), names) if names else "define it in space:",
            )
        )
    return None


_UNSET = object()


def _searched_requirement(
    parent: str, dist: Distribution, allowed: list[Any], key: str, problems: list[ConfigProblem]
) -> tuple[str, tuple[Any, ...]] | None:
    """``(parent, values)`` when every value is one ``dist`` can take, else None after adding a problem."""
    if isinstance(dist, Choice):
        named = [named_by(v, dist.choices) for v in allowed]
        never = [v for v, choices in zip(allowed, named) if not choices]
        if never:
            choices = (
                " | ".join(dist.choices) if isinstance(dist, Bundle) else ", ".join(map(format_value, dist.choices))
            )
            problems.append(
                ConfigProblem(
                    key,
                    f"{parent} never takes {format_value(never[0])}: its choices are {choices}",
                    did_you_mean(str(never[0]), dist.choices),
                )
            )
            return None
        return parent, tuple({choice_key(c): c for choices in named for c in choices}.values())  # the choices
    if isinstance(dist, _IntRange):
        never = [
            v
            for v in allowed
            if isinstance(v, bool)
            or not isinstance(v, (int, float))
            or not float(v).is_integer()
            or not dist.low <= v <= dist.high
        ]
        if never:
            problems.append(
                ConfigProblem(
                    key,
                    f"{parent} never takes {format_value(never[0])}: it is an integer in {dist.low}..{dist.high}",
                    f"list integers from {dist.low} to {dist.high}",
                )
            )
            return None
        return parent, tuple(int(v) for v in allowed)
    problems.append(
        ConfigProblem(
            key,
            f"{parent} is a {dist.scale} range; a when: may name a choice, an int or a fixed value",
            f"search {parent} as a choice, e.g. {{choice: [...]}}, or name another parameter",
        )
    )
    return None


def link_problems(prefix: str, known: Known, conditional: set[str]) -> list[ConfigProblem]:
    """What a bundle's options or a conditional parameter clash with: searched, fixed, or another bundle's keys."""
    problems: list[ConfigProblem] = []
    owner: dict[str, str] = {}
    for name, dist in known.searched.items():
        if not isinstance(dist, Bundle):
            continue
        for k in dist.keys:
            key = f"{prefix}.{name}.choice"
            if k in known.searched:
                problems.append(
                    ConfigProblem(
                        key,
                        f"its options set {k}, which is also searched in {prefix}.{k}",
                        f"remove {prefix}.{k}, or remove {k} from the options and give "
                        f"{prefix}.{k} when: {{{name}: [...]}}",
                    )
                )
            elif k in known.fixed:
                problems.append(
                    ConfigProblem(
                        key,
                        f"its options set {k}, which is also fixed in {known.fixed[k][1]}",
                        f"remove {known.fixed[k][1]}, or {k} from the options",
                    )
                )
            elif k in owner:
                problems.append(
                    ConfigProblem(
                        key,
                        f"its options set {k}, which {prefix}.{owner[k]}'s options set too",
                        "set each parameter in one bundle only",
                    )
                )
            owner.setdefault(k, name)
    for name in sorted(conditional & set(known.fixed)):
        where = known.fixed[name][1]
        problems.append(
            ConfigProblem(
                f"{prefix}.{name}",
                f"is conditional here but fixed in {where}",
                f"remove {where}, or remove when: to search {name} in every trial",
            )
        )
    return problems
