"""Named arrays that share one flat buffer.

A network's parameters, their gradients and an optimizer's state all have
the same layout: a mapping ``name -> array`` (``"W1"``, ``"gamma1"``, ...)
whose arrays are views into one contiguous vector ``flat``. Code that thinks
per layer uses the names; code that treats every parameter alike (an
optimizer step, the L2 penalty) runs one NumPy call over ``flat`` instead of
one per array, which is what keeps a small network's step cheap.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np


class Parameters(Mapping[str, np.ndarray]):
    """A read-only mapping ``name -> array`` backed by one flat vector.

    Parameters
    ----------
    shapes : mapping of name to shape
        Layout in order: each array is the next ``prod(shape)`` elements of
        ``flat``. Order matters to callers that slice ``flat`` (the network
        puts every weight matrix first so the L2 penalty is one slice).
    dtype : NumPy dtype of every array.

    Attributes
    ----------
    flat : (size,) ndarray
        The storage. Writing into ``flat`` or into a named array changes both.
    """

    def __init__(self, shapes: Mapping[str, tuple[int, ...]], dtype: np.dtype | type):
        sizes = [int(np.prod(shape, dtype=np.int64)) for shape in shapes.values()]
        self.flat = np.zeros(sum(sizes), dtype=dtype)
        self._arrays: dict[str, np.ndarray] = {}
        self._offsets: dict[str, int] = {}
        offset = 0
        for (name, shape), size in zip(shapes.items(), sizes):
            self._arrays[name] = self.flat[offset : offset + size].reshape(shape)
            self._offsets[name] = offset
            offset += size

    @classmethod
    def zeros_like(cls, other: Parameters) -> Parameters:
        """Zeros with the same names, shapes, order and dtype as ``other``."""
        return cls({name: array.shape for name, array in other.items()}, other.flat.dtype)

    def span(self, first: str, last: str) -> np.ndarray:
        """The slice of ``flat`` from array ``first`` through array ``last`` (inclusive)."""
        end = self._offsets[last] + self._arrays[last].size
        return self.flat[self._offsets[first] : end]

    def __getitem__(self, name: str) -> np.ndarray:
        return self._arrays[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{name}: {array.shape}" for name, array in self._arrays.items())
        return f"Parameters({shapes}; {self.flat.dtype})"
