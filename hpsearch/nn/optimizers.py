"""Update rules (gd, momentum, RMSprop, Adam) and learning-rate decay.

Every optimizer keeps its state in ``Parameters`` with the network's layout,
so ``optimizer.state["v"]["W1"]`` is the moment of ``W1``, and it updates all
parameters with a handful of NumPy calls over the flat buffers. Scalars that
enter the in-place float32 operations are Python floats: a NumPy float64
scalar there would send NumPy down a slow mixed-type path.
"""

from __future__ import annotations

import math

import numpy as np

from hpsearch.nn.hyperparams import ModelConfig
from hpsearch.nn.parameters import Parameters


class Optimizer:
    """Base of the update rules.

    Parameters
    ----------
    params : the parameters this optimizer will update; its state is sized from them.

    Attributes
    ----------
    state : dict of name → Parameters
        Per-parameter state of the rule (empty for plain gradient descent).
    steps : number of updates made so far.
    """

    def __init__(self, params: Parameters):
        self.state: dict[str, Parameters] = {}
        self.steps = 0
        self._scratch = np.empty_like(params.flat)

    def step(self, params: Parameters, grads: Parameters, learning_rate: float) -> None:
        """Update ``params`` in place from ``grads`` (same layout) with step size ``learning_rate``."""
        self.steps += 1
        self._update(params.flat, grads.flat, float(learning_rate))

    def _update(self, p: np.ndarray, g: np.ndarray, lr: float) -> None:
        raise NotImplementedError

    def _new_state(self, name: str, params: Parameters) -> np.ndarray:
        """Zero-initialized state ``name`` with the layout of ``params``; returns its flat buffer."""
        self.state[name] = Parameters.zeros_like(params)
        return self.state[name].flat


class GradientDescent(Optimizer):
    """``W -= lr * dW``."""

    def _update(self, p: np.ndarray, g: np.ndarray, lr: float) -> None:
        np.multiply(g, lr, out=self._scratch)
        p -= self._scratch


class Momentum(Optimizer):
    """Gradient descent with momentum (exponentially weighted average of gradients)::

        v = beta * v + (1 - beta) * dW
        W -= lr * v

    ``state["v"]`` holds ``v / (1 - beta)``, updated as ``beta * v' + dW``: the
    constant factor moves into the step size and saves a pass over every
    parameter per step.
    """

    def __init__(self, params: Parameters, beta: float):
        super().__init__(params)
        self.beta = float(beta)
        self._v = self._new_state("v", params)

    def _update(self, p: np.ndarray, g: np.ndarray, lr: float) -> None:
        self._v *= self.beta
        self._v += g
        np.multiply(self._v, lr * (1.0 - self.beta), out=self._scratch)
        p -= self._scratch


class RMSprop(Optimizer):
    """RMSprop::

        s = beta2 * s + (1 - beta2) * dW^2
        W -= lr * dW / (sqrt(s) + epsilon)

    ``state["s"]`` holds ``s / (1 - beta2)`` (see ``Momentum``); with
    ``c = sqrt(1 - beta2)`` the step is ``(lr / c) * dW / (sqrt(s') + epsilon / c)``.
    """

    def __init__(self, params: Parameters, beta2: float, epsilon: float):
        super().__init__(params)
        self.beta2 = float(beta2)
        self.epsilon = float(epsilon)
        self._s = self._new_state("s", params)

    def _update(self, p: np.ndarray, g: np.ndarray, lr: float) -> None:
        tmp = self._scratch
        c = math.sqrt(1.0 - self.beta2)
        self._s *= self.beta2
        np.square(g, out=tmp)
        self._s += tmp
        np.sqrt(self._s, out=tmp)
        tmp += self.epsilon / c
        np.divide(g, tmp, out=tmp)
        tmp *= lr / c
        p -= tmp


class Adam(Optimizer):
    """Adam with bias correction, at step t = 1, 2, ...::

        v = beta1 * v + (1 - beta1) * dW           v_hat = v / (1 - beta1^t)
        s = beta2 * s + (1 - beta2) * dW^2         s_hat = s / (1 - beta2^t)
        W -= lr * v_hat / (sqrt(s_hat) + epsilon)

    ``state["v"]`` and ``state["s"]`` hold ``v / (1 - beta1)`` and
    ``s / (1 - beta2)`` (see ``Momentum``). All constant factors and both bias
    corrections then fold into two scalars,
    ``c1 = (1 - beta1) / (1 - beta1^t)`` and ``c2 = sqrt((1 - beta2) / (1 - beta2^t))``::

        W -= (lr * c1 / c2) * v' / (sqrt(s') + epsilon / c2)

    which is ten passes over the parameters per step instead of fourteen.
    """

    def __init__(self, params: Parameters, beta1: float, beta2: float, epsilon: float):
        super().__init__(params)
        self.beta1 = float(beta1)
        self.beta2 = float(beta2)
        self.epsilon = float(epsilon)
        self._v = self._new_state("v", params)
        self._s = self._new_state("s", params)

    def _update(self, p: np.ndarray, g: np.ndarray, lr: float) -> None:
        tmp = self._scratch
        self._v *= self.beta1
        self._v += g
        self._s *= self.beta2
        np.square(g, out=tmp)
        self._s += tmp

        c1 = (1.0 - self.beta1) / (1.0 - self.beta1**self.steps)
        c2 = math.sqrt((1.0 - self.beta2) / (1.0 - self.beta2**self.steps))
        np.sqrt(self._s, out=tmp)
        tmp += self.epsilon / c2
        np.divide(self._v, tmp, out=tmp)
        tmp *= lr * c1 / c2
        p -= tmp


def make_optimizer(config: ModelConfig, params: Parameters) -> Optimizer:
    """The optimizer ``config.optimizer`` names, with its hyperparameters from ``config``."""
    if config.optimizer == "gd":
        return GradientDescent(params)
    if config.optimizer == "momentum":
        return Momentum(params, config.beta)
    if config.optimizer == "rmsprop":
        return RMSprop(params, config.beta2, config.epsilon)
    if config.optimizer == "adam":
        return Adam(params, config.beta1, config.beta2, config.epsilon)
    raise ValueError(f"unknown optimizer {config.optimizer!r}")  # ModelConfig.from_dict rejects it first


def learning_rate_at(config: ModelConfig, epoch: int) -> float:
    """Learning rate of epoch ``epoch`` (0-based) under ``config.lr_decay``.

    ``none``: alpha0; ``inverse_time``: alpha0 / (1 + k * epoch);
    ``exponential``: alpha0 * k ** epoch, with k = ``config.decay_k``.
    """
    alpha0, k = config.learning_rate, config.decay_k
    if config.lr_decay == "inverse_time":
        return alpha0 / (1.0 + k * epoch)
    if config.lr_decay == "exponential":
        return alpha0 * k**epoch
    return alpha0
