"""The Python-function problems of ``bench_sampler.py``: known minima, cheap to evaluate, lower is better.

Importable (a run stores its objective as ``module:function``): ``branin`` (2-D,
minimum 0.397887), ``hartmann6`` (6-D, -3.32237), ``rosenbrock4`` (4-D on
[-2, 2], 0 at all ones), ``levy6`` (6-D on [-10, 10], 0 at all ones) and
``conditional`` (a choice of branch, each with its own parameters: ``bowl``
2-D with minimum 0.5, ``levy`` 3-D with minimum 0 — the search must find the
branch and its optimum).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from bench_tpe_functions import hartmann6 as hartmann6_rows

FUNCTION_SPACES: dict[str, dict[str, Any]] = {
    "branin": {"x1": {"scale": "uniform", "low": -5, "high": 10}, "x2": {"scale": "uniform", "low": 0, "high": 15}},
    "hartmann6": {f"x{j}": {"scale": "uniform", "low": 0, "high": 1} for j in range(6)},
    "rosenbrock4": {f"x{j}": {"scale": "uniform", "low": -2, "high": 2} for j in range(4)},
    "levy6": {f"x{j}": {"scale": "uniform", "low": -10, "high": 10} for j in range(6)},
    "conditional": {
        "branch": {"choice": ["bowl", "levy"]},
        **{f"b{j}": {"scale": "uniform", "low": 0, "high": 1, "when": {"branch": "bowl"}} for j in range(2)},
        **{f"z{j}": {"scale": "uniform", "low": -10, "high": 10, "when": {"branch": "levy"}} for j in range(3)},
    },
}


def branin(params: dict[str, float]) -> float:
    """Branin-Hoo on [-5, 10] x [0, 15]; global minimum 0.397887."""
    x1, x2 = params["x1"], params["x2"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def hartmann6(params: dict[str, float]) -> float:
    """Hartmann-6 on [0, 1]^6; global minimum -3.32237."""
    return float(hartmann6_rows(np.array([[params[f"x{j}"] for j in range(6)]]))[0])


def rosenbrock4(params: dict[str, float]) -> float:
    """Rosenbrock in 4-D on [-2, 2]^4; global minimum 0 at (1, 1, 1, 1), in a long curved valley."""
    x = np.array([params[f"x{j}"] for j in range(4)])
    return float((100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum())


def _levy(x: np.ndarray) -> float:
    """Levy's function of any dimension; global minimum 0 at all ones, many local minima."""
    w = 1 + (x - 1) / 4
    body = ((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(np.pi * w[:-1] + 1) ** 2)).sum()
    tail = (w[-1] - 1) ** 2 * (1 + np.sin(2 * np.pi * w[-1]) ** 2)
    return float(np.sin(np.pi * w[0]) ** 2 + body + tail)


def levy6(params: dict[str, float]) -> float:
    """Levy in 6-D on [-10, 10]^6; global minimum 0 at all ones."""
    return _levy(np.array([params[f"x{j}"] for j in range(6)]))


def conditional(params: dict[str, Any]) -> float:
    """Branch ``bowl``: 0.5 + 4 |b - (0.3, 0.7)|² (minimum 0.5); branch ``levy``: Levy-3 of ``z`` (minimum 0)."""
    if params["branch"] == "bowl":
        return 0.5 + 4 * ((params["b0"] - 0.3) ** 2 + (params["b1"] - 0.7) ** 2)
    return _levy(np.array([params[f"z{j}"] for j in range(3)]))


def optuna_params(problem: str, trial: Any) -> dict[str, Any]:
    """One trial's params of a function problem suggested by Optuna: each range uniform, each ``when`` obeyed."""
    params: dict[str, Any] = {}
    for name, spec in FUNCTION_SPACES[problem].items():
        if any(params.get(parent) != value for parent, value in spec.get("when", {}).items()):
            continue
        if "choice" in spec:
            params[name] = trial.suggest_categorical(name, spec["choice"])
        else:
            params[name] = trial.suggest_float(name, spec["low"], spec["high"])
    return params
