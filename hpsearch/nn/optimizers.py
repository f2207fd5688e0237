"""Update rules (gd, momentum, RMSprop, Adam) and learning-rate decay.

Every optimizer keeps its state in ``Parameters`` with the network's layout,
so ``optimizer.state["v"]["W1"]`` is the moment of ``W1``, and it updates all
parameters with a handful of NumPy calls over the flat buffers. Scalars that
enter the in-place float32 operations are Python floats: a NumPy float64
scalar there would send NumPy down a slow mixed-type path.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hpsearch.nn.hyperparams import ModelConfig
from hpsearch.nn.parameters import Parameters


class Optimizer:
    """Base of the update rules.

    A rule is two pieces, shared by one network and a pack of K (``nn.stacked_model.StackedOptimizer``):
    ``scalars`` (the Python-float expressions of one model's step) and ``apply`` (the
    NumPy operations of the step, over flat buffers (size,) with Python floats, or a
    pack's (K, size) with (K, 1) columns of each model's floats in the dtype).

    Parameters
    ----------
    params : the parameters this optimizer will update; its state is sized from them.

    Attributes
    ----------
    state : dict of name → Parameters
        Per-parameter state of the rule (empty for plain gradient descent).
    steps : number of updates made so far.
    hyper : the rule's hyperparameters as Python floats (``scalars``' first argument), each
        also an attribute by its name (``beta``; ``beta2``, ``epsilon``; ``beta1``, ``beta2``, ``epsilon``).
    """

    moment_names: tuple[str, ...] = ()
    per_step: bool = False
    """True where ``scalars`` depends on the step count (Adam's bias corrections)."""

    def __init__(self, params: Parameters, **hyper: float):
        self.state: dict[str, Parameters] = {}
        self.steps = 0
        self.hyper = tuple(float(value) for value in hyper.values())
        for name, value in zip(hyper, self.hyper):
            setattr(self, name, value)
        self._scratch = np.empty_like(params.flat)
        self._moments = tuple(self._new_state(name, params) for name in self.moment_names)

    def step(self, params: Parameters, grads: Parameters, learning_rate: float) -> None:
        """Update ``params`` in place from ``grads`` (same layout) with step size ``learning_rate``."""
        self.steps += 1
        scalars = self.scalars(self.hyper, float(learning_rate), self.steps)
        self.apply(params.flat, grads.flat, self._moments, self._scratch, scalars)

    @staticmethod
    def scalars(hyper: tuple[float, ...], lr: float, t: int) -> tuple[float, ...]:
        """The Python floats of step ``t`` (1, 2, ...) at rate ``lr``."""
        raise NotImplementedError

    @staticmethod
    def apply(p: np.ndarray, g: np.ndarray, moments: tuple[np.ndarray, ...], tmp: np.ndarray, scalars: Any) -> None:
        """One update of ``p`` in place; ``tmp`` is scratch of p's shape."""
        raise NotImplementedError

    def _new_state(self, name: str, params: Parameters) -> np.ndarray:
        """Zero-initialized state ``name`` with the layout of ``params``; returns its flat buffer."""
        self.state[name] = Parameters.zeros_like(params)
        return self.state[name].flat


class GradientDescent(Optimizer):
    """``W -= lr * dW``."""

    @staticmethod
    def scalars(hyper: tuple[float, ...], lr: float, t: int) -> tuple[float, ...]:
        return (lr,)

    @staticmethod
    def apply(p: np.ndarray, g: np.ndarray, moments: tuple[np.ndarray, ...], tmp: np.ndarray, scalars: Any) -> None:
        np.multiply(g, scalars[0], out=tmp)
        p -= tmp


class Momentum(Optimizer):
    """Gradient descent with momentum (exponentially weighted average of gradients)::

        v = beta * v + (1 - beta) * dW
        W -= lr * v

    ``state["v"]`` holds ``v / (1 - beta)``, updated as ``beta * v' + dW``: the
    constant factor moves into the step size and saves a pass over every
    parameter per step. ``hyper``: (beta,).
    """

    moment_names = ("v",)

    def __init__(self, params: Parameters, beta: float):
        super().__init__(params, beta=beta)

    @staticmethod
    def scalars(hyper: tuple[float, ...], lr: float, t: int) -> tuple[float, ...]:
        (beta,) = hyper
        return beta, lr * (1.0 - beta)

    @staticmethod
    def apply(p: np.ndarray, g: np.ndarray, moments: tuple[np.ndarray, ...], tmp: np.ndarray, scalars: Any) -> None:
        beta, factor = scalars
        (v,) = moments
        v *= beta
        v += g
        np.multiply(v, factor, out=tmp)
        p -= tmp


class RMSprop(Optimizer):
    """RMSprop::

        s = beta2 * s + (1 - beta2) * dW^2
        W -= lr * dW / (sqrt(s) + epsilon)

    ``state["s"]`` holds ``s / (1 - beta2)`` (see ``Momentum``); with
    ``c = sqrt(1 - beta2)`` the step is ``(lr / c) * dW / (sqrt(s') + epsilon / c)``.
    ``hyper``: (beta2, epsilon).
    """

    moment_names = ("s",)

    def __init__(self, params: Parameters, beta2: float, epsilon: float):
        super().__init__(params, beta2=beta2, epsilon=epsilon)

    @staticmethod
    def scalars(hyper: tuple[float, ...], lr: float, t: int) -> tuple[float, ...]:
        beta2, epsilon = hyper
        c = math.sqrt(1.0 - beta2)
        return beta2, epsilon / c, lr / c

    @staticmethod
    def apply(p: np.ndarray, g: np.ndarray, moments: tuple[np.ndarray, ...], tmp: np.ndarray, scalars: Any) -> None:
        beta2, epsilon, factor = scalars
        _scaled_step(p, g, g, moments[0], tmp, beta2, epsilon, factor)


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
    ``hyper``: (beta1, beta2, epsilon).
    """

    moment_names = ("v", "s")
    per_step = True

    def __init__(self, params: Parameters, beta1: float, beta2: float, epsilon: float):
        super().__init__(params, beta1=beta1, beta2=beta2, epsilon=epsilon)

    @staticmethod
    def scalars(hyper: tuple[float, ...], lr: float, t: int) -> tuple[float, ...]:
        beta1, beta2, epsilon = hyper
        c1 = (1.0 - beta1) / (1.0 - beta1**t)
        c2 = math.sqrt((1.0 - beta2) / (1.0 - beta2**t))
        return beta1, beta2, epsilon / c2, lr * c1 / c2

    @staticmethod
    def apply(p: np.ndarray, g: np.ndarray, moments: tuple[np.ndarray, ...], tmp: np.ndarray, scalars: Any) -> None:
        beta1, beta2, epsilon, factor = scalars
        v, s = moments
        v *= beta1
        v += g
        _scaled_step(p, g, v, s, tmp, beta2, epsilon, factor)


def _scaled_step(
    p: np.ndarray,
    g: np.ndarray,
    direction: np.ndarray,
    s: np.ndarray,
    tmp: np.ndarray,
    beta2: Any,
    epsilon: Any,
    factor: Any,
) -> None:
    """``s = beta2 * s + g^2``, then ``p -= factor * direction / (sqrt(s) + epsilon)``: the step
    RMSprop (direction ``g``) and Adam (direction ``v``) share."""
    s *= beta2
    np.square(g, out=tmp)
    s += tmp
    np.sqrt(s, out=tmp)
    tmp += epsilon
    np.divide(direction, tmp, out=tmp)
    tmp *= factor
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
