"""K networks of one architecture, and their optimizers, computed as one: a leading model axis.

A search trains many networks of the same shape, and on small ones a step
costs ~50 NumPy calls whose fixed overhead outweighs the arithmetic. Here
each of those calls works on all K models at once, so the overhead is paid
once per pack. There is no second copy of the math: ``StackedNetwork`` runs
``nn.passes.Passes`` (the layers, costs and L2 of ``Network``) on arrays with
a model axis, and ``StackedOptimizer`` runs each rule's ``scalars`` and
``apply`` (``nn.optimizers``) with per-model columns. ``nn.layers`` says why
each model's numbers stay exactly those of training it alone; the tests hold
every optimizer x decay x batch norm x dropout x dtype (and regression) to
``np.array_equal`` against training alone.

Shapes: K models, m examples per batch, n units; parameters as ``(K, size)``
with each row in ``Parameters``' layout of one network.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hpsearch.nn.model import Caches, Network
from hpsearch.nn.optimizers import Optimizer
from hpsearch.nn.parameters import Parameters
from hpsearch.nn.passes import Passes, Scalars


class StackedNetwork(Passes):
    """K networks with one architecture and head and any per-model ``bn_momentum``, ``keep_prob`` and ``l2``.

    Build from networks whose ``stack_key`` agrees; ``write_back`` copies the
    weights and running averages back into them.

    Attributes
    ----------
    params, grads : ``Parameters`` with (K, size) flat buffers, row k in ``networks[k].params.flat``'s layout
    running : ``{l: (K, 2, n_l)}`` batch-norm running ``[mean; variance]``
    scalars : each model's step values as (K, 1, 1) columns in the dtype
    """

    def __init__(self, networks: Sequence[Network]):
        first = networks[0]
        self.head = first.head  # one dataset: one task, one target mean and scale
        self.dtype = first.dtype
        self._set_architecture(first.config)
        self.params = Parameters.stack([network.params for network in networks])
        self.grads = Parameters.zeros_like(self.params)
        self.running = {l: np.stack([network.running[l] for network in networks]) for l in first.running}
        self.scalars = Scalars.of([network.config for network in networks], self.dtype)
        self._caches: dict[int, Caches] = {}

    @property
    def size(self) -> int:
        """K, the number of models."""
        return self.params.flat.shape[0]

    def select(self, keep: np.ndarray) -> None:
        """Keep only the models at indices ``keep`` (in that order)."""
        self.params = self.params.rows(keep)
        self.grads = self.grads.rows(keep)  # a model leaving mid-epoch leaves the others' gradients to apply
        self.running = {l: stats[keep] for l, stats in self.running.items()}
        self.scalars = self.scalars.rows(keep)
        self._caches = {}

    def rows(self, rows: slice) -> StackedNetwork:
        """The models ``rows`` for inference: views of their weights and running averages."""
        view = object.__new__(StackedNetwork)
        view.__dict__.update(self.__dict__)
        view.params = self.params.rows(rows)
        view.running = {l: stats[rows] for l, stats in self.running.items()}
        return view

    def write_back(self, networks: Sequence[Network], rows: Sequence[int]) -> None:
        """Copy model ``rows[i]``'s weights and running averages into ``networks[i]``."""
        for network, k in zip(networks, rows):
            network.params.flat[...] = self.params.flat[k]
            for l, stats in network.running.items():
                stats[...] = self.running[l][k]

    def caches(self, m: int) -> Caches:
        """The caches of batches of ``m`` rows (reused from step to step)."""
        caches = self._caches.get(m)
        if caches is None:
            caches = self._caches[m] = self.new_caches()
        return caches


class StackedOptimizer:
    """One update rule (``nn.optimizers``) for K models: moments (K, size), per-model hyperparameters and steps.

    Each update is the rule's ``apply`` with each model's ``scalars`` (the same
    Python expressions as alone) as (K, 1) columns in the dtype, rebuilt each
    epoch, or each step for a rule whose scalars change with the step (Adam).
    """

    def __init__(self, optimizers: Sequence[Optimizer], dtype: np.dtype):
        self.rule = type(optimizers[0])
        self.dtype = dtype
        self.names = list(optimizers[0].state)  # "v", "s" or both, as the single-model rule keeps them
        self.moments = {name: np.stack([opt.state[name].flat for opt in optimizers]) for name in self.names}
        self.steps = [opt.steps for opt in optimizers]
        self.hypers = [opt.hyper for opt in optimizers]
        self._scratch = np.empty((0, 0), dtype)  # (K, size), allocated by the first step
        self._rates: list[float] = []
        self._columns: tuple[np.ndarray, ...] = ()

    def select(self, keep: np.ndarray) -> None:
        """Keep only the models at indices ``keep``."""
        self.moments = {name: moments[keep] for name, moments in self.moments.items()}
        self.steps = [self.steps[k] for k in keep]
        self.hypers = [self.hypers[k] for k in keep]
        self._rates = [self._rates[k] for k in keep] if self._rates else []
        self._columns = tuple(column[keep] for column in self._columns)

    def write_back(self, optimizers: Sequence[Optimizer], rows: Sequence[int]) -> None:
        """Copy model ``rows[i]``'s moments and step count into ``optimizers[i]``."""
        for opt, k in zip(optimizers, rows):
            for name in self.names:
                opt.state[name].flat[...] = self.moments[name][k]
            opt.steps = self.steps[k]

    def set_rates(self, rates: Sequence[float]) -> None:
        """The learning rate of each model for the coming steps."""
        self._rates = [float(rate) for rate in rates]
        self._columns = () if self.rule.per_step else self._scalars()

    def step(self, params: Parameters, grads: Parameters) -> None:
        """One update of every model: params, grads with (K, size) buffers."""
        self.steps = [t + 1 for t in self.steps]
        if self._scratch.shape != params.flat.shape:
            self._scratch = np.empty_like(params.flat)
        columns = self._columns or self._scalars()
        self.rule.apply(params.flat, grads.flat, tuple(self.moments.values()), self._scratch, columns)

    def _scalars(self) -> tuple[np.ndarray, ...]:
        """Each model's ``rule.scalars`` at its step count, as (K, 1) columns in the dtype."""
        per_model = [self.rule.scalars(h, lr, t) for h, lr, t in zip(self.hypers, self._rates, self.steps)]
        return tuple(np.array(column, self.dtype)[:, None] for column in zip(*per_model))
