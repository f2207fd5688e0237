"""Softmax and cross-entropy: values, stability at extreme logits, gradient."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hpsearch.nn.losses import (
    l2_penalty,
    one_hot,
    softmax,
    softmax_cross_entropy_backward,
    softmax_cross_entropy_forward,
)


def _cross_entropy_by_hand(logits: list[list[float]], labels: list[int]) -> float:
    """-log softmax(z)[y], averaged, straight from the definition (moderate logits only)."""
    losses = [-math.log(math.exp(row[y]) / sum(math.exp(v) for v in row)) for row, y in zip(logits, labels)]
    return sum(losses) / len(losses)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_matches_the_definition(dtype: type) -> None:
    logits = [[1.0, 2.0, 0.5], [-1.0, 0.0, 3.0], [0.2, 0.2, 0.2]]
    labels = [1, 0, 2]
    cost = softmax_cross_entropy_forward(np.array(logits, dtype), one_hot(np.array(labels), 3, dtype), {})
    assert cost == pytest.approx(_cross_entropy_by_hand(logits, labels), rel=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cost_and_gradient_are_finite_for_logits_of_plus_minus_1e4(dtype: type) -> None:
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]], dtype)
    Y = one_hot(np.array([0, 1, 2]), 3, dtype)
    cache: dict = {}
    cost = softmax_cross_entropy_forward(logits, Y, cache)
    # Row 1 is certain and right (loss 0); row 2 is uniform (log 3);
    # row 3 puts 1/2 on each of two wrong classes: log(2 e^1e4) - (-1e4) = 2e4 + log 2.
    assert math.isfinite(cost)
    assert cost == pytest.approx((0.0 + math.log(3) + 2e4 + math.log(2)) / 3, rel=1e-6)
    dlogits = softmax_cross_entropy_backward(cache)
    assert np.all(np.isfinite(dlogits))
    probs = softmax(logits)
    assert np.all(np.isfinite(probs))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(probs[2], [0.5, 0.5, 0.0], atol=1e-6)


def test_gradient_is_probabilities_minus_labels_over_m() -> None:
    logits = np.array([[0.0, math.log(3.0)], [math.log(4.0), 0.0]])  # softmax rows [1/4, 3/4], [4/5, 1/5]
    cache: dict = {}
    softmax_cross_entropy_forward(logits, one_hot(np.array([1, 1]), 2, np.float64), cache)
    np.testing.assert_allclose(
        softmax_cross_entropy_backward(cache), [[0.25 / 2, (0.75 - 1) / 2], [0.8 / 2, (0.2 - 1) / 2]], rtol=1e-12
    )


def test_softmax_is_invariant_to_shifting_a_row() -> None:
    logits = np.array([[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(softmax(logits), softmax(logits + 1000.0), rtol=1e-12)


def test_l2_penalty_is_lambda_over_2m_times_sum_of_squares() -> None:
    weights = np.array([1.0, -2.0, 3.0])  # sum of squares 14
    assert l2_penalty(weights, l2=0.5, m=7) == pytest.approx(0.5 / 14 * 14)


def test_one_hot() -> None:
    np.testing.assert_array_equal(one_hot(np.array([2, 0]), 3, np.float32), [[0, 0, 1], [1, 0, 0]])
