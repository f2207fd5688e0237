"""Named arrays that share one flat buffer.

A network's parameters, their gradients and an optimizer's state all have
the same layout: a mapping ``name -> array`` (``"W1"``, ``"gamma1"``, ...)
whose arrays are views into one contiguous vector ``flat``. Code that thinks
per layer uses the names; code that treats every parameter alike (an
optimizer step, the L2 penalty) runs one NumPy call over ``flat`` instead of
one per array, which is what keeps a small network's step cheap.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

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
    flat : the storage to use, (size,) or (K, size) for K networks of one layout (a pack,
        ``nn.stacked``), each row one network's; zeros of ``dtype`` when not given.

    Attributes
    ----------
    flat : (size,) ndarray, or (K, size)
        The storage. Writing into ``flat`` or into a named array changes both. With K rows,
        each named array is ``(K, *shape)``, every network's copy of it, a vector ``(K, 1, n)``:
        a row that broadcasts over a batch ``(K, m, n)`` as ``(n,)`` does over ``(m, n)``.
    """

    def __init__(self, shapes: Mapping[str, tuple[int, ...]], dtype: np.dtype | type, flat: np.ndarray | None = None):
        self._shapes = dict(shapes)
        sizes = [int(np.prod(shape, dtype=np.int64)) for shape in shapes.values()]
        self.flat = np.zeros(sum(sizes), dtype=dtype) if flat is None else flat
        lead = self.flat.shape[:-1]
        self._arrays: dict[str, np.ndarray] = {}
        self._offsets: dict[str, int] = {}
        self._ends: dict[str, int] = {}
        offset = 0
        for (name, shape), size in zip(shapes.items(), sizes):
            view_shape = (*lead, 1, *shape) if lead and len(shape) == 1 else (*lead, *shape)
            self._arrays[name] = self.flat[..., offset : offset + size].reshape(view_shape)
            self._offsets[name] = offset
            self._ends[name] = offset = offset + size

    @classmethod
    def zeros_like(cls, other: Parameters) -> Parameters:
        """Zeros with the same names, shapes, order, dtype (and number of rows) as ``other``."""
        return cls(other._shapes, other.flat.dtype, np.zeros_like(other.flat))

    @classmethod
    def stack(cls, rows: Sequence[Parameters]) -> Parameters:
        """A (K, size) copy of K parameters of one layout, row k a copy of ``rows[k]``."""
        return cls(rows[0]._shapes, rows[0].flat.dtype, np.stack([row.flat for row in rows]))

    def rows(self, keep: np.ndarray | slice) -> Parameters:
        """The rows ``keep`` of (K, size) parameters: a copy for an index array, a view for a slice."""
        return type(self)(self._shapes, self.flat.dtype, self.flat[keep])

    def span(self, first: str, last: str) -> np.ndarray:
        """The slice of ``flat`` from array ``first`` through array ``last`` (inclusive), in every row."""
        return self.flat[..., self._offsets[first] : self._ends[last]]

    def __getitem__(self, name: str) -> np.ndarray:
        return self._arrays[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{name}: {array.shape}" for name, array in self._arrays.items())
        return f"Parameters({shapes}; {self.flat.dtype})"
