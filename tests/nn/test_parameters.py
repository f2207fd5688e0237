"""Named arrays over one flat buffer."""

from __future__ import annotations

import numpy as np

from hpsearch.nn.parameters import Parameters


def test_named_arrays_are_views_of_the_flat_buffer_in_order() -> None:
    params = Parameters({"W1": (2, 3), "b1": (3,), "W2": (3, 1)}, np.float32)
    assert params.flat.shape == (12,) and params.flat.dtype == np.float32
    params["b1"][...] = [7, 8, 9]
    np.testing.assert_array_equal(params.flat[6:9], [7, 8, 9])
    params.flat[9:] = 1
    np.testing.assert_array_equal(params["W2"], [[1], [1], [1]])
    assert list(params) == ["W1", "b1", "W2"] and len(params) == 3


def test_span_and_zeros_like() -> None:
    params = Parameters({"W1": (2, 2), "W2": (2, 1), "b2": (1,)}, np.float64)
    params.flat[:] = np.arange(7)
    np.testing.assert_array_equal(params.span("W1", "W2"), np.arange(6))
    twin = Parameters.zeros_like(params)
    assert {k: v.shape for k, v in twin.items()} == {k: v.shape for k, v in params.items()}
    assert not twin.flat.any() and twin.flat.dtype == np.float64
