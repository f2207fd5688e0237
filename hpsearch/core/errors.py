"""One exception family for every error a user can cause.

The CLI turns any ``HpsearchError`` into its one-line message (one line per
problem) and exit code 2, in exactly one place (``hpsearch/cli/main.py``).
Library code never prints and never calls ``sys.exit``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class HpsearchError(Exception):
    """Root of every error caused by the user's input or environment."""

    exit_code = 2


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a config: where it is, what is wrong, how to fix it.

    ``key`` is a dotted key path (``space.beta1.high``) or ``line 3, column 5``.
    """

    key: str
    message: str
    fix: str = ""
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}{f':{self.line}' if self.line else ''}: " if self.file else ""
        fix = f" — {clip(self.fix)}" if self.fix else ""
        return f"{where}{clip(self.key)}: {clip(self.message)}{fix}"


MAX_SHOWN = 300


def clip(text: str, limit: int = MAX_SHOWN) -> str:
    """``text`` cut to ``limit`` characters: an error never prints a whole (alias-expanded) value."""
    if len(text) <= limit:
        return text
    return f"{text[: limit - 30]}… ({len(text):,} characters)"


class ConfigError(HpsearchError):
    """A config file (or --set value) is invalid. Holds every problem found."""

    def __init__(self, problems: list[ConfigProblem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def in_file(self, file: str, lines: dict[str, int] | None = None) -> "ConfigError":
        """The same problems, each naming ``file`` and, where known, the line of its key; a ``--set KEY`` problem
        is the command line's, and names neither."""
        lines = lines or {}
        return ConfigError(
            [
                p
                if p.key.startswith("--set ")
                else ConfigProblem(p.key, p.message, p.fix, p.file or file, p.line or _line_of(p.key, lines))
                for p in self.problems
            ]
        )


def _line_of(key: str, lines: dict[str, int]) -> int | None:
    """Line of ``key`` or of its closest enclosing key (``space.x.high`` -> ``space.x``)."""
    while key:
        if key in lines:
            return lines[key]
        key = key.rpartition(".")[0]
    return None


#: Names other tools give to our keys (Optuna, scikit-learn, Keras, Ray Tune), with what to say of the difference.
SYNONYMS: dict[str, tuple[str, str]] = {
    "file": ("path", ""),
    "csv": ("path", ""),
    "target": ("label", ""),
    "y": ("label", ""),
    "lr": ("learning_rate", ""),
    "alpha": ("learning_rate", ""),
    "n_trials": ("trials", ""),
    "num_samples": ("trials", ""),
    "n_jobs": ("workers", ""),
    "num_workers": ("workers", ""),
    "batch": ("batch_size", ""),
    "units": ("hidden_units", ""),
    "n_layers": ("layers", ""),
    "num_layers": ("layers", ""),
    "weight_decay": ("l2", ""),
    "lambda": ("l2", ""),
    "mode": ("direction", ""),
    "dropout": ("keep_prob", " (the share of units kept: 1 − the dropout rate)"),
}


def did_you_mean(word: str, known: Any) -> str:
    """A 'did you mean ...?' hint naming the closest known key (or the key other tools' name stands for),
    or the list of keys."""
    names = sorted(str(k) for k in known)
    name = closest(word, names)
    if name is not None:
        synonym, note = SYNONYMS.get(str(word).lower(), ("", ""))
        return f"did you mean '{name}'?{note if name == synonym else ''}"
    return "known keys: " + ", ".join(names)


def closest(word: str, known: Any) -> str | None:
    """The known key ``word`` stands for (itself, another tool's name for it, or a close spelling), or None."""
    import difflib

    names = sorted(str(k) for k in known)
    if word in names:
        return word
    synonym = SYNONYMS.get(str(word).lower(), ("", ""))[0]
    if synonym in names:
        return synonym
    close = difflib.get_close_matches(str(word), names, n=1, cutoff=0.6)
    return close[0] if close else None


def config_error(key: str, message: str, fix: str = "", file: str | None = None) -> ConfigError:
    """Shorthand for a ConfigError with a single problem."""
    return ConfigError([ConfigProblem(key, message, fix, file)])


class DataError(HpsearchError):
    """A dataset cannot be loaded or is unusable (message names the file and the problem)."""


class RunError(HpsearchError):
    """A run cannot be created, found, opened or continued."""


class RunLockedError(RunError):
    """Another process is writing to this run."""


class MissingDependencyError(HpsearchError):
    """An optional extra is needed; the message says what to install."""

    def __init__(self, package: str, extra: str, purpose: str):
        super().__init__(f"{purpose} needs {package}, which is not installed — run: pip install 'hpsearch[{extra}]'")


class WorkerLostError(RunError):
    """A worker process died mid-trial (killed, or out of memory); finished trials are saved."""


class Interrupted(HpsearchError):
    """Ctrl-C stopped a command; what it finished is stored (``saved`` says what), and ``again`` goes on."""

    exit_code = 130

    def __init__(self, saved: str, again: str):
        super().__init__(f"interrupted — {saved}; continue with: {again}")


class ReplayMismatch(HpsearchError):
    """Replaying a babysat run's decisions did not reproduce its recorded epochs (message: the first difference)."""

    exit_code = 1
