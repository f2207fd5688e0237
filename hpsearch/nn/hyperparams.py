"""The engine's hyperparameters: names, types, defaults and legal values.

These names are the YAML format users write under ``model:`` (fixed values)
and ``space:`` (searched values). ``HYPERPARAMETERS`` is the single source of
truth; ``ModelConfig`` is the validated, typed bundle the engine trains from.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from hpsearch.core.errors import ConfigError, ConfigProblem, did_you_mean
from hpsearch.core.keys import Hyperparameter

_H = Hyperparameter
HYPERPARAMETERS: dict[str, Hyperparameter] = {
    h.name: h
    for h in [
        _H("hidden", list, None, "explicit hidden layer sizes, e.g. [256, 128] (overrides layers/hidden_units)"),
        _H("layers", int, 2, "number of hidden layers", low=0, high=64),
        _H("hidden_units", int, 64, "units in each hidden layer", low=1),
        _H("activation", str, "relu", "hidden activation", choices=("relu", "tanh", "leaky_relu")),
        _H("batchnorm", bool, True, "batch normalization on hidden layers"),
        _H("bn_momentum", float, 0.9, "weight of the old value in BN running averages", low=0, high=1, high_open=True),
        _H("keep_prob", float, 1.0, "inverted-dropout keep probability (1 = off)", low=0, high=1, low_open=True),
        _H("l2", float, 0.0, "L2 regularization strength lambda", low=0),
        _H("optimizer", str, "adam", "update rule", choices=("gd", "momentum", "rmsprop", "adam")),
        _H("learning_rate", float, 0.001, "learning rate alpha", low=0, low_open=True),
        _H("beta", float, 0.9, "momentum beta", low=0, high=1, high_open=True),
        _H("beta1", float, 0.9, "Adam first-moment beta", low=0, high=1, high_open=True),
        _H("beta2", float, 0.999, "Adam / RMSprop second-moment beta", low=0, high=1, high_open=True),
        _H("epsilon", float, 1e-8, "Adam / RMSprop epsilon", low=0, low_open=True),
        _H("batch_size", int, 64, "mini-batch size", low=1),
        _H("epochs", int, 20, "passes over the training set", low=1),
        _H("lr_decay", str, "none", "learning-rate decay schedule", choices=("none", "inverse_time", "exponential")),
        _H("decay_rate", float, None, "k in alpha0/(1+k*epoch) (default 1) or alpha0*k**epoch (default 0.95)", low=0),
        _H("dtype", str, "float32", "floating-point type of training", choices=("float32", "float64")),
        _H("seed", int, 0, "initialization / shuffling seed", low=0),
        _H(
            "class_weight",
            str,
            "none",
            "balanced: weigh each class by n / (C n_c) of the training rows in the cost (classification)",
            choices=("none", "balanced"),
        ),
    ]
}


def _default(name: str) -> Any:
    """Default of hyperparameter ``name``: ``ModelConfig``'s field defaults come from here."""
    return HYPERPARAMETERS[name].default


@dataclass(frozen=True)
class ModelConfig:
    """Every hyperparameter of one training run, validated.

    Build it with ``ModelConfig.from_dict`` (checks every value) or directly
    in code. ``hidden_sizes`` resolves ``hidden`` vs ``layers`` x ``hidden_units``.
    Field defaults are read from ``HYPERPARAMETERS``, so they are written once.
    """

    hidden: tuple[int, ...] | None = _default("hidden")
    layers: int = _default("layers")
    hidden_units: int = _default("hidden_units")
    activation: str = _default("activation")
    batchnorm: bool = _default("batchnorm")
    bn_momentum: float = _default("bn_momentum")
    keep_prob: float = _default("keep_prob")
    l2: float = _default("l2")
    optimizer: str = _default("optimizer")
    learning_rate: float = _default("learning_rate")
    beta: float = _default("beta")
    beta1: float = _default("beta1")
    beta2: float = _default("beta2")
    epsilon: float = _default("epsilon")
    batch_size: int = _default("batch_size")
    epochs: int = _default("epochs")
    lr_decay: str = _default("lr_decay")
    decay_rate: float | None = _default("decay_rate")
    dtype: str = _default("dtype")
    seed: int = _default("seed")
    class_weight: str = _default("class_weight")

    @property
    def hidden_sizes(self) -> tuple[int, ...]:
        """Sizes of the hidden layers, input and output excluded."""
        if self.hidden is not None:
            return tuple(self.hidden)
        return (self.hidden_units,) * self.layers

    @property
    def decay_k(self) -> float:
        """The decay constant k, with the schedule's default when unset."""
        if self.decay_rate is not None:
            return self.decay_rate
        return 0.95 if self.lr_decay == "exponential" else 1.0

    @classmethod
    def from_dict(cls, values: dict[str, Any], prefix: str = "model") -> "ModelConfig":
        """Validate ``values`` (YAML-style names) into a ModelConfig.

        Raises ConfigError listing every bad key at once, each with its key path.
        """
        problems = validate_hyperparameters(values, prefix)
        if problems:
            raise ConfigError(problems)
        coerced = {k: HYPERPARAMETERS[k].check(v)[0] for k, v in values.items() if v is not None}
        if "hidden" in coerced:
            coerced["hidden"] = tuple(coerced["hidden"])
        return cls(**coerced)

    def to_dict(self) -> dict[str, Any]:
        """Plain YAML/JSON-friendly dict of every field."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if out["hidden"] is not None:
            out["hidden"] = list(out["hidden"])
        return out


def validate_hyperparameters(values: dict[str, Any], prefix: str = "model") -> list[ConfigProblem]:
    """Every problem with a dict of hyperparameter values, none if it is valid."""
    problems = []
    for key, value in values.items():
        spec = HYPERPARAMETERS.get(key)
        if spec is None:
            problems.append(
                ConfigProblem(f"{prefix}.{key}", "unknown hyperparameter", did_you_mean(key, HYPERPARAMETERS))
            )
            continue
        if value is None and spec.default is None:
            continue
        _, message = spec.check(value)
        if message:
            problems.append(ConfigProblem(f"{prefix}.{key}", message))
    return problems


#: The engine's own conditions: a hyperparameter the engine reads only when another one takes some values
#: (``name -> (parent, values)``). Elsewhere its value is ignored.
USED_ONLY_WHEN: dict[str, tuple[str, tuple[Any, ...]]] = {
    "beta": ("optimizer", ("momentum",)),
    "beta1": ("optimizer", ("adam",)),
    "beta2": ("optimizer", ("rmsprop", "adam")),
    "epsilon": ("optimizer", ("rmsprop", "adam")),
    "decay_rate": ("lr_decay", ("inverse_time", "exponential")),
    "bn_momentum": ("batchnorm", (True,)),
    "hidden_units": ("layers", tuple(range(1, int(HYPERPARAMETERS["layers"].high or 1) + 1))),  # no layer, no unit
}


def engine_values(params: dict[str, Any]) -> dict[str, Any]:
    """A trial's params as the engine takes them: its hyperparameters only.

    A bundle's own value (the label of the chosen option, ``schedule: exponential``)
    is not a hyperparameter, the values its option sets are; a space for the
    engine may name nothing else (bundles cannot take a hyperparameter's name).
    """
    return {name: value for name, value in params.items() if name in HYPERPARAMETERS}


def ignored_by(name: str, values: dict[str, Any]) -> str | None:
    """Why the engine ignores ``name`` under the hyperparameters ``values`` (defaults for the rest), else None.

    ``"beta is used by optimizer momentum only; optimizer is adam"``.
    """
    if name not in USED_ONLY_WHEN:
        return None
    parent, used = USED_ONLY_WHEN[name]
    value = values.get(parent, HYPERPARAMETERS[parent].default)
    if value in used:
        return None
    return f"{name} is used only when {parent} is {listed_values(used)}; {parent} is {str(value).lower()}"


def listed_values(values: tuple[Any, ...]) -> str:
    """``rmsprop, adam``; a run of three or more consecutive integers as ``1 to 64``."""
    ints = all(isinstance(v, int) and not isinstance(v, bool) for v in values)
    if ints and len(values) >= 3 and list(values) == list(range(values[0], values[0] + len(values))):
        return f"{values[0]} to {values[-1]}"
    return ", ".join(str(v).lower() for v in values)
