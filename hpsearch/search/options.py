"""What a caller hands a search besides its config: where trials run, and who hears about them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from hpsearch.config.search_settings import SearchSettings
from hpsearch.core.records import RoundRecord, TrialRecord
from hpsearch.execution.runner import default_workers


@dataclass(frozen=True)
class Execution:
    """Where trials run; None takes the config's ``search:`` setting. ``trust``: run a received run's stored
    command or module, or connect to its scheduler (``search.trust.check_trusted``)."""

    workers: int | None = None
    backend: str | None = None
    scheduler: str | None = None
    trust: bool = False

    def placement(self, settings: SearchSettings) -> dict[str, Any]:
        """The one lookup of where trials run: this command's options, else the config's ``search:`` settings,
        else one worker per core — as ``run_segments``/``run_parallel`` keywords."""
        return {
            "workers": self.workers or settings.workers or default_workers(),
            "backend": self.backend or settings.backend,
            "scheduler": self.scheduler or settings.scheduler,
        }

    def workers_by_default(self, settings: SearchSettings) -> bool:
        """No worker count given (option or config): ``run_segments`` may then spare workers short work."""
        return not (self.workers or settings.workers)


class SearchReporter(Protocol):
    """What a front end hears while a search runs (the CLI draws progress from it).

    ``round_started``: a batch of ``pending`` trials starts training (a round,
    or one rung of it: ``label`` says which, e.g. ``round 0 · rung 2/4 · 9 trials
    to 27 epochs``). ``trial_finished``: one trial reached the end of that batch;
    ``record`` is its state there (status ok at a lower rung means it waits for
    the rung's promotions). ``note``: something the user should know.
    ``run_opened``: the trials the run already had when this command started.
    """

    def run_opened(self, trials: list[TrialRecord]) -> None: ...

    def round_started(self, rnd: RoundRecord, pending: int, label: str) -> None: ...

    def trial_finished(self, record: TrialRecord, best: TrialRecord | None) -> None: ...

    def note(self, message: str) -> None: ...


class Silent:
    """A reporter that hears nothing (the Python API's default)."""

    def run_opened(self, trials: list[TrialRecord]) -> None:
        pass

    def round_started(self, rnd: RoundRecord, pending: int, label: str) -> None:
        pass

    def trial_finished(self, record: TrialRecord, best: TrialRecord | None) -> None:
        pass

    def note(self, message: str) -> None:
        pass
