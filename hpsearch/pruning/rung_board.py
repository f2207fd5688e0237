"""Asynchronous early stopping for own objectives, which report per epoch but cannot pause.

Each rung (an epoch count) has a file in the run folder. A trial that reaches
a rung appends its value there (one line, one ``write`` with ``O_APPEND``, so
concurrent workers never interleave) and goes on only if that value is among
the best ``1/eta`` of the values recorded at the rung so far; while fewer than
``eta`` values are there, it goes on. This is ASHA's rule: which trials stop
depends on the order in which they reach the rung, unlike the built-in
engine's synchronous halving, which waits for the whole rung.

A trial whose value at a rung is not a finite number (NaN) is stopped there.
The folder of the files (and its parent) must not be a symlink: nothing is
written through one.

The board works wherever the workers share the run folder (loky processes on
one machine), not on remote dask workers.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

from hpsearch.core.records import as_cost
from hpsearch.io.safe_files import make_folder, open_for_write
from hpsearch.pruning.schedule import n_promoted


class RungBoard:
    """One trial's view of the shared rung files: ``should_stop(epoch, value)`` is its stop rule.

    Make one board per trial: it remembers which rungs the trial has passed.
    ``trial`` tags its lines, so that a trial run again (a resumed run) counts
    once at each rung, with its latest value.
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        rungs: Sequence[int],
        eta: float,
        direction: str,
        *,
        trial: int | None = None,
    ):
        if eta <= 1:
            raise ValueError(f"eta must be > 1, got {eta}")
        if direction not in ("minimize", "maximize"):
            raise ValueError(f"direction must be minimize or maximize, got {direction!r}")
        self.folder = Path(folder)
        self.rungs = tuple(sorted(set(int(r) for r in rungs)))
        self.eta = eta
        self.direction = direction
        self.trial = trial
        self._passed: set[int] = set()

    def path(self, rung: int) -> Path:
        """The file of the values recorded at ``rung``."""
        return self.folder / f"rung-{rung}.jsonl"

    def should_stop(self, epoch: int, value: float) -> bool:
        """Record ``value`` at every rung ``epoch`` reaches for the first time; True when it is cut at one."""
        stop = False
        for rung in self.rungs:
            if rung > epoch or rung in self._passed:
                continue
            self._passed.add(rung)
            self._record(rung, value)
            stop = stop or not self._promoted(rung, value)
        return stop

    def _record(self, rung: int, value: float) -> None:
        make_folder(self.folder.parent, self.folder.name)  # never through a symlink planted in the run folder
        line = json.dumps({"trial": self.trial, "value": value if math.isfinite(value) else None}) + "\n"
        fd = open_for_write(self.folder, self.path(rung).name, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def values(self, rung: int) -> list[float]:
        """The values recorded at ``rung``: one per tagged trial (its latest), each untagged one; inf for non-finite."""
        try:
            text = self.path(rung).read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        tagged: dict[int, float] = {}
        untagged: list[float] = []
        for line in text.splitlines():
            try:
                entry = json.loads(line)
                value = entry["value"]
            except (ValueError, KeyError, TypeError):
                continue  # a line being written right now
            cost = self._cost(value)
            if isinstance(entry.get("trial"), int):
                tagged[entry["trial"]] = cost
            else:
                untagged.append(cost)
        return [*tagged.values(), *untagged]

    def _promoted(self, rung: int, value: float) -> bool:
        """Whether ``value`` is within the best ``1/eta`` of the values at ``rung`` (or too few are there).

        A value that is not a finite number (NaN) is the worst there is: it never goes on.
        """
        if not math.isfinite(self._cost(value)):
            return False
        costs = sorted(self.values(rung))
        if len(costs) < self.eta:  # asynchronous: too few values yet to judge, so it goes on (ASHA)
            return True
        return self._cost(value) <= costs[n_promoted(len(costs), Fraction(1, int(self.eta))) - 1]

    def _cost(self, value: float | None) -> float:
        """Lower is better; a missing or non-finite value is the worst."""
        return as_cost(value, self.direction)
