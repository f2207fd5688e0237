"""Finite-difference gradient checking.

The analytic gradients of every layer are trusted because a central
difference of the cost agrees with them: ``(J(x + h) - J(x - h)) / 2h`` has
error O(h^2), so in float64 with h = 1e-6 the two agree to about 1e-9
relative wherever the cost is smooth.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from hpsearch.nn.model import Network
from hpsearch.nn.parameters import Parameters


def numerical_gradient(f: Callable[[], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of ``f()`` with respect to every element of ``x``.

    ``x`` is perturbed in place, one element at a time, and restored exactly.

    Returns
    -------
    grad : array shaped like ``x``
    """
    grad = np.zeros_like(x)
    flat_x, flat_grad = x.reshape(-1), grad.reshape(-1)  # views: x is contiguous
    for i in range(flat_x.size):
        original = flat_x[i]
        flat_x[i] = original + h
        plus = f()
        flat_x[i] = original - h
        minus = f()
        flat_x[i] = original
        flat_grad[i] = (plus - minus) / (2 * h)
    return grad


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """``||a - n|| / (||a|| + ||n||)``, 0 when both are zero.

    Taken over a whole array rather than element by element, so entries whose
    gradient is nearly zero do not turn rounding noise into a large ratio.
    """
    scale = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    return 0.0 if scale == 0 else float(np.linalg.norm(analytic - numeric) / scale)


def check_network_gradients(network: Network, X: np.ndarray, Y: np.ndarray, dropout_seed: int = 0) -> dict[str, float]:
    """Relative error of backprop against central differences for every parameter.

    Parameters
    ----------
    network : a float64 network (float32 rounding swamps the finite difference)
    X : (m, n_features); Y : ``network.targets(y)``: (m, n_classes) one-hot, or (m, n_outputs)
        standardized targets for a regression network
    dropout_seed : every evaluation reseeds dropout with it, so all see the same mask

    Returns
    -------
    errors : parameter name → relative error
    """
    if network.dtype != np.float64:
        raise ValueError("gradient checks need a float64 network")

    def cost(grads: Parameters) -> float:
        return network.loss_and_gradients(X, Y, grads, network.new_caches(), np.random.default_rng(dropout_seed))

    analytic = Parameters.zeros_like(network.params)
    cost(analytic)
    scratch = Parameters.zeros_like(network.params)
    return {
        name: relative_error(analytic[name], numerical_gradient(lambda: cost(scratch), array))
        for name, array in network.params.items()
    }
