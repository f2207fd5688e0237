"""Own-objective overhead: what the command path adds per trial over a bare subprocess start.

Three ways to score the same trivial trial, each timed per call (median of N):

(a) bare: ``subprocess.run([python, -c, code], capture_output=True)`` and
    ``json.loads`` of its output — the cheapest honest way to run a command;
(b) command: ``evaluate`` of a ``command:`` objective running the same
    ``python -c`` (argv substitution, environment, new session + death signal,
    log files, line-by-line JSON parsing, process-group clean-up);
(c) python: ``evaluate`` of a ``python:`` objective calling the same function in process;
(d) search: a whole ``start_search`` of that ``command:`` objective on one worker,
    and what it adds per trial around ``evaluate`` (creating the run, planning,
    one SQLite commit per trial): total time less the time spent in ``evaluate``;

and, to tell the runner's own cost from the price of process hygiene, (a')
the bare run with the same new session and PR_SET_PDEATHSIG preexec_fn (a
preexec_fn makes Python fork instead of vfork, and the child runs Python code
before it execs).

Target: (b) - (a) < 5 ms per trial. Usage: python benchmarks/bench_objective.py [--trials N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hpsearch.config.search_config import config_from_dict
from hpsearch.execution import objective_jobs as objective_trials
from hpsearch.objectives.command import _die_with_parent
from hpsearch.objectives.evaluate import evaluate
from hpsearch.objectives.spec import ObjectiveSpec
from hpsearch.search.api import start_search

CODE = 'import json, sys; print(json.dumps({"loss": float(sys.argv[1]) ** 2}))'


def objective(params: dict) -> dict:
    """The same computation as CODE, as a function."""
    return {"loss": float(params["x"]) ** 2}


def per_call(run, trials: int) -> list[float]:
    times = []
    for i in range(trials):
        start = time.perf_counter()
        run(i)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        command = ObjectiveSpec(
            "command",
            (sys.executable, "-c", CODE.replace("{", "{{").replace("}", "}}"), "{x}"),
            None,
            "loss",
            "minimize",
            60.0,
            str(folder),
        )
        function = ObjectiveSpec.for_callable(objective, metric="loss")

        def bare(i: int) -> None:
            out = subprocess.run(
                [sys.executable, "-c", CODE, str(0.5 + i)], capture_output=True, cwd=folder, check=True
            )
            json.loads(out.stdout.splitlines()[-1])

        def bare_hygiene(i: int) -> None:
            out = subprocess.run(
                [sys.executable, "-c", CODE, str(0.5 + i)],
                capture_output=True,
                cwd=folder,
                check=True,
                start_new_session=True,
                preexec_fn=_die_with_parent(os.getpid()),
            )
            json.loads(out.stdout.splitlines()[-1])

        def via_command(i: int) -> None:
            result = evaluate(command, {"x": 0.5 + i}, seed=i, trial=i, trial_dir=folder / f"trial-{i}")
            assert result.status == "ok", result.error

        def via_python(i: int) -> None:
            result = evaluate(function, {"x": 0.5 + i}, seed=i, trial=i, trial_dir=folder / f"py-{i}")
            assert result.status == "ok", result.error

        per_call(bare, 3)  # warm the page cache
        rows = {}
        # Interleave the two subprocess paths so that a change in machine load hits both alike.
        times: dict[str, list[float]] = {"bare subprocess": [], "bare + hygiene": [], "command: objective": []}
        for i in range(args.trials):
            times["bare subprocess"] += per_call(bare, 1)
            times["bare + hygiene"] += per_call(bare_hygiene, 1)
            times["command: objective"] += per_call(lambda j: via_command(i), 1)
        rows = {name: statistics.median(t) for name, t in times.items()}
        rows["python: objective"] = statistics.median(per_call(via_python, args.trials))
        config = config_from_dict(
            {
                "objective": {"command": list(command.command), "metric": "loss"},
                "space": {"x": {"scale": "uniform", "low": 0.5, "high": 1.5}},
                "search": {"trials": args.trials, "workers": 1},
            },
            base_dir=folder,
        )
        inside: list[float] = []

        def timed_evaluate(*a: object, **k: object) -> object:
            begin = time.perf_counter()
            try:
                return evaluate(*a, **k)
            finally:
                inside.append(time.perf_counter() - begin)

        objective_trials.evaluate = timed_evaluate
        start = time.perf_counter()
        start_search(config, runs_dir=folder / "runs")
        total = time.perf_counter() - start
        objective_trials.evaluate = evaluate
        rows["search, 1 worker"] = total / args.trials
        rows["around"] = (total - sum(inside)) / args.trials
    around = rows.pop("around")
    for name, seconds in rows.items():
        print(
            f"{name:<20} {seconds * 1e3:8.2f} ms per trial ({'mean' if name.startswith('search') else 'median'} of {args.trials})"
        )
    extra = rows["command: objective"] - rows["bare subprocess"]
    hygiene = rows["bare + hygiene"] - rows["bare subprocess"]
    print(
        f"command path adds {extra * 1e3:.2f} ms per trial over a bare subprocess start (target < 5 ms), "
        f"of which {hygiene * 1e3:.2f} ms is the new session + death signal"
    )
    print(f"the search adds {around * 1e3:.2f} ms per trial around evaluate (creating the run, planning, storing)")


if __name__ == "__main__":
    main()
