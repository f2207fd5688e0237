"""Where each hyperparameter of ``hpsearch train``'s model came from, and which set values the engine ignores.

``train`` shows these before it trains, so a value nobody set (the centre of a searched range, a default)
is never a surprise, and a ``--set beta=0.9`` that ``optimizer: adam`` ignores is said, not silently kept.
"""

from __future__ import annotations

from typing import Any

from hpsearch.config.search_config import SearchConfig
from hpsearch.config.single_model import centre_values
from hpsearch.nn.hyperparams import HYPERPARAMETERS, ModelConfig, ignored_by


def ignored_settings(assignments: dict[str, Any], model: ModelConfig) -> list[str]:
    """One line per ``--set`` value the engine ignores under ``model`` (``beta`` with ``optimizer: adam``)."""
    used = model.to_dict()
    return [f"--set {name}: {why}" for name in assignments if (why := ignored_by(name, used))]


def single_model_sources(
    config: SearchConfig, assignments: dict[str, Any], model: ModelConfig
) -> list[tuple[str, Any, str]]:
    """Every hyperparameter of ``hpsearch train``'s model: ``(name, value used, where it came from)``.

    Where: ``--set`` (with why the engine ignores it, if it does),
    ``model:`` (fixed in the file), ``centre of space`` (a searched parameter
    nobody set, active under the others) or ``default``.
    """
    used = model.to_dict()
    centre = centre_values(config, assignments)
    rows = []
    for name in HYPERPARAMETERS:
        ignored = ignored_by(name, used) if name in assignments else None
        if name in assignments:
            source = "--set" + (f" (ignored: {ignored})" if ignored else "")
        elif name in centre:
            source = "centre of space"
        elif name in config.model:
            source = "model:"
        else:
            source = "default"
        rows.append((name, used.get(name), source))
    return rows
