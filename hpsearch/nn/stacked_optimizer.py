"""The update rules of ``hpsearch.nn.optimizers`` for a pack of K models (see ``stacked_model``)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from hpsearch.nn.hyperparams import ModelConfig
from hpsearch.nn.optimizers import Optimizer


class StackedOptimizer:
    """``optimizers.make_optimizer``'s rule for K models: moments (K, size), per-model β, ε and step count.

    Each update is ``Optimizer._update``'s sequence of operations, with the
    Python-float scalars of each model as (K, 1) columns in the dtype; the
    scalars themselves are the same Python expressions, evaluated per model.
    ``size`` is the number of parameters of one model.
    """

    def __init__(self, optimizers: Sequence[Optimizer], configs: Sequence[ModelConfig], size: int, dtype: np.dtype):
        self.kind = configs[0].optimizer
        self.dtype = dtype
        self.names = list(optimizers[0].state)  # "v", "s" or both, as the single-model rule keeps them
        self.moments = {name: np.stack([opt.state[name].flat for opt in optimizers]) for name in self.names}
        self.steps = [opt.steps for opt in optimizers]
        # The same float() conversions as the single-model constructors.
        self.betas = [(float(c.beta), float(c.beta1), float(c.beta2)) for c in configs]
        self.epsilons = [float(c.epsilon) for c in configs]
        self._scratch = np.empty((len(optimizers), size), dtype)
        self._rates: list[float] = []
        self._columns: tuple[np.ndarray, ...] = ()

    def select(self, keep: np.ndarray) -> None:
        """Keep only the models at indices ``keep``."""
        self.moments = {name: moments[keep] for name, moments in self.moments.items()}
        self.steps = [self.steps[k] for k in keep]
        self.betas = [self.betas[k] for k in keep]
        self.epsilons = [self.epsilons[k] for k in keep]
        self._rates = [self._rates[k] for k in keep] if self._rates else []
        self._columns = tuple(column[keep] for column in self._columns)
        self._scratch = self._scratch[: len(keep)]

    def write_back(self, optimizers: Sequence[Optimizer], rows: Sequence[int]) -> None:
        """Copy model ``rows[i]``'s moments and step count into ``optimizers[i]``."""
        for opt, k in zip(optimizers, rows):
            for name in self.names:
                opt.state[name].flat[...] = self.moments[name][k]
            opt.steps = self.steps[k]

    def set_rates(self, rates: Sequence[float]) -> None:
        """The learning rate of each model for the coming steps; precomputes the per-epoch scalars."""
        self._rates = [float(rate) for rate in rates]
        column = lambda values: np.array(values, self.dtype)[:, None]  # noqa: E731
        if self.kind == "gd":
            self._columns = (column(self._rates),)
        elif self.kind == "momentum":
            self._columns = (
                column([b for b, _, _ in self.betas]),
                column([lr * (1.0 - b) for lr, (b, _, _) in zip(self._rates, self.betas)]),
            )
        elif self.kind == "rmsprop":
            c = [math.sqrt(1.0 - b2) for _, _, b2 in self.betas]
            self._columns = (
                column([b2 for _, _, b2 in self.betas]),
                column([eps / ci for eps, ci in zip(self.epsilons, c)]),
                column([lr / ci for lr, ci in zip(self._rates, c)]),
            )
        else:  # adam: the bias corrections change every step (see _adam)
            self._columns = (column([b1 for _, b1, _ in self.betas]), column([b2 for _, _, b2 in self.betas]))

    def step(self, p: np.ndarray, g: np.ndarray) -> None:
        """One update of every model: p, g (K, size)."""
        self.steps = [t + 1 for t in self.steps]
        tmp = self._scratch
        if self.kind == "gd":
            np.multiply(g, self._columns[0], out=tmp)
        elif self.kind == "momentum":
            beta, factor = self._columns
            v = self.moments["v"]
            v *= beta
            v += g
            np.multiply(v, factor, out=tmp)
        elif self.kind == "rmsprop":
            beta2, epsilon, factor = self._columns
            s = self.moments["s"]
            s *= beta2
            np.square(g, out=tmp)
            s += tmp
            np.sqrt(s, out=tmp)
            tmp += epsilon
            np.divide(g, tmp, out=tmp)
            tmp *= factor
        else:
            self._adam(g, tmp)
        p -= tmp

    def _adam(self, g: np.ndarray, tmp: np.ndarray) -> None:
        """``Adam._update`` up to the last subtraction, which ``step`` does: the step into ``tmp``."""
        beta1, beta2 = self._columns
        v, s = self.moments["v"], self.moments["s"]
        v *= beta1
        v += g
        s *= beta2
        np.square(g, out=tmp)
        s += tmp
        epsilons, factors = [], []
        for lr, (_, b1, b2), eps, t in zip(self._rates, self.betas, self.epsilons, self.steps):
            c1 = (1.0 - b1) / (1.0 - b1**t)
            c2 = math.sqrt((1.0 - b2) / (1.0 - b2**t))
            epsilons.append(eps / c2)
            factors.append(lr * c1 / c2)
        np.sqrt(s, out=tmp)
        tmp += np.array(epsilons, self.dtype)[:, None]
        np.divide(v, tmp, out=tmp)
        tmp *= np.array(factors, self.dtype)[:, None]
