"""Whole searches through the CLI: how much of a search's wall time is training, and how much is not.

Runs ``hpsearch run CONFIG -q -w W`` (a fresh process each time, as a user does) on scikit-learn's digits for:

- ``startup``: a 2-trial, 1-epoch search, against ``hpsearch --help`` in the same repeat;
- ``random``, ``halving``, ``hyperband``, ``tpe-halving`` (3 rounds, zoom: tpe): one space, 1 and 2 workers;
- ``stack auto`` / ``stack off``: a fixed-shape search (only per-model values searched), 1 and 2 workers;
- scikit-learn's ``HalvingRandomSearchCV`` (``MLPClassifier``, resource ``max_iter``, one train/dev split of the
  same sizes) on the halving search's budget, when scikit-learn is installed; Optuna+PyTorch is left to
  ``bench_search.py``/``examples/pytorch`` (not run here).

For each: wall time, epochs trained per wall second, CPU seconds of the process tree (user+sys of the search
and every worker it reaped; ``sys s``: the system part alone, where page faults show — a worker forked at every
rung made both processes copy the search's memory anew each time), training seconds (the sum of every trained
epoch's seconds in ``run.sqlite``: a pack's epoch counts once) and the share of wall time outside training:
1 - training / (wall x workers used).
That share is start-up (``hpsearch --help``'s wall, printed next to it), planning, writing and waiting at rung
barriers. Best dev J is the lowest ``value`` of an ok trial (``rank_by: best``: its best epoch's dev J).

Every case runs once per repeat, cases interleaved (so a change in the machine's load hits all alike); the table
shows medians of ``--repeats`` (default 3) and the 1-minute load average seen. Under the targets' ratios, what
bounds two of them: halving's ceiling (random's training seconds per epoch over halving's: halving trains the
better, often wider, nets longer), and two workers' contention (training seconds with two processes at once
over one: they share caches and memory bandwidth) with the ceiling it leaves the 40-trial search (one worker's
time outside training, plus half of two workers' training). And halving's training seconds per wall second over
random's: the same comparison with the cost of an epoch left out (how much of its wall time each one trains).
The machine may be shared: compare rows of one table, not tables of different runs.

Usage: python benchmarks/bench_search_e2e.py [--quick] [--repeats N] [--workers 1,2] [--only random,halving,...]
       [--baseline DIR]  (DIR: an older checkout, e.g. from git worktree add; its rows interleaved with these)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from bench_search import SPACE  # the space of the early-stopping benchmark, run from this folder

FIXED_SHAPE = {k: SPACE[k] for k in ("learning_rate", "beta1", "l2")}  # every trial one shape: all of them stack
DATA = {"dataset": "digits", "dev_fraction": 0.2, "seed": 0}
# (trials, epochs, min_epochs) of the full and the quick sizes.
SIZES = {
    "full": {"search": (81, 54, 2), "workers": (40, 30), "stack": (48, 20)},
    "quick": {"search": (27, 18, 2), "workers": (16, 12), "stack": (24, 8)},
}
CASES = ("startup", "random-w", "random", "halving", "hyperband", "tpe-halving", "stack-auto", "stack-off", "sklearn")


def config(name: str, size: dict[str, tuple[int, ...]]) -> dict[str, Any] | None:
    """The config of case ``name`` (None: not an hpsearch search)."""
    trials, epochs, min_epochs = size["search"]
    model: dict[str, Any] = {"batchnorm": True, "optimizer": "adam", "epochs": epochs}
    search: dict[str, Any] = {"trials": trials, "seed": 0, "rank_by": "best"}
    space = SPACE
    if name == "startup":
        model, search, space = {"epochs": 1}, {"trials": 2, "seed": 0}, {"learning_rate": SPACE["learning_rate"]}
    elif name == "random-w":
        trials, model["epochs"] = size["workers"]
        search["trials"] = trials
    elif name in ("halving", "hyperband"):
        search["early_stopping"] = {"method": name, "min_epochs": min_epochs, "eta": 3}
    elif name == "tpe-halving":
        search.update(trials=max(10, trials // 3), rounds=3, zoom_trials=max(10, trials // 3), top_k=5, zoom="tpe")
        search["early_stopping"] = {"method": "halving", "min_epochs": min_epochs, "eta": 3}
    elif name.startswith("stack-"):
        trials, model["epochs"] = size["stack"]
        model.update(layers=2, hidden_units=32, batch_size=64)
        search.update(trials=trials, stack=name.removeprefix("stack-"))
        space = FIXED_SHAPE
    elif name != "random":
        return None
    return {"name": name, "data": DATA, "model": model, "space": space, "search": search}


def children_cpu() -> tuple[float, float]:
    """CPU seconds of the reaped child processes so far: user + system, and system alone."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime, usage.ru_stime


def timed(command: list[str], code: str | None = None) -> tuple[float, float, float, float]:
    """Run ``command`` (``code``: a checkout whose hpsearch it imports instead of this one); its wall seconds,
    CPU seconds and system CPU seconds (its reaped process tree), and the 1-minute load before."""
    env = os.environ if code is None else {**os.environ, "PYTHONPATH": code}
    load = os.getloadavg()[0]
    (cpu, system), started = children_cpu(), time.perf_counter()
    # From a neutral folder: ``python -m`` puts the working folder first on the path, before PYTHONPATH.
    done = subprocess.run(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=tempfile.gettempdir()
    )
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr}")
    cpu_after, system_after = children_cpu()
    return time.perf_counter() - started, cpu_after - cpu, system_after - system, load


def run_search(path: Path, runs: Path, workers: int | None, code: str | None = None) -> dict[str, float]:
    """One ``hpsearch run`` of ``path``; its figures (``workers``: None leaves the default)."""
    name = f"{path.stem}-{time.monotonic_ns()}"
    command = [sys.executable, "-m", "hpsearch", "run", str(path), "-q", "--runs-dir", str(runs), "--name", name]
    wall, cpu, system, load = timed(command + ([] if workers is None else ["-w", str(workers)]), code)
    with sqlite3.connect(runs / name / "run.sqlite") as db:
        epochs, training = db.execute("SELECT COUNT(*), COALESCE(SUM(seconds), 0) FROM epochs").fetchone()
        best = db.execute("SELECT MIN(value) FROM trials WHERE status = 'ok'").fetchone()[0]
    outside = max(0.0, 1 - training / (wall * (workers or 1)))
    return figures(
        wall, cpu, system, load, epochs, training=training, outside=outside, J=float("nan") if best is None else best
    )


def figures(wall: float, cpu: float, system: float, load: float, epochs: int, **more: float) -> dict[str, float]:
    """One run's row of the table."""
    return {"wall": wall, "cpu": cpu, "sys": system, "load": load, "epochs": epochs, "epochs/s": epochs / wall, **more}


SKLEARN_CHILD = r"""
import json, sys, time, warnings
started = time.perf_counter()
import numpy as np
from scipy.stats import loguniform, randint, uniform
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import HalvingRandomSearchCV, PredefinedSplit
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
trials, epochs, min_epochs, workers = map(int, sys.argv[1:5])
X, y = load_digits(return_X_y=True)
rng = np.random.default_rng(0)
dev = np.zeros(len(y), dtype=int) - 1  # -1: train rows; 0: the one dev fold (20 %, as data.dev_fraction)
dev[rng.permutation(len(y))[: round(0.2 * len(y))]] = 0
X = StandardScaler().fit(X[dev < 0]).transform(X)
space = {
    "learning_rate_init": loguniform(1e-4, 1.0), "beta_1": uniform(0.8, 0.19), "alpha": uniform(0, 0.01),
    "batch_size": [32, 64, 128],
    "hidden_layer_sizes": [(w,) * d for w in (16, 23, 32, 45, 64, 91, 128, 181, 256) for d in (1, 2, 3)],
}
search = HalvingRandomSearchCV(
    MLPClassifier(solver="adam", random_state=0), space, n_candidates=trials, resource="max_iter",
    min_resources=min_epochs, max_resources=epochs, factor=3, cv=PredefinedSplit(dev), scoring="neg_log_loss",
    refit=False, n_jobs=workers, random_state=0,
)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    search.fit(X, y)
fits = sum(int(r) for r in search.cv_results_["n_resources"])
print(json.dumps({"J": -search.best_score_, "epochs": fits, "seconds": time.perf_counter() - started}))
"""


def run_sklearn(size: dict[str, tuple[int, ...]], workers: int) -> dict[str, float] | None:
    """scikit-learn's HalvingRandomSearchCV on the halving search's budget, in a fresh process (imports counted),
    one BLAS thread a worker as hpsearch's (else its one process would oversubscribe a shared machine's cores)."""
    trials, epochs, min_epochs = size["search"]
    command = [sys.executable, "-c", SKLEARN_CHILD, *map(str, (trials, epochs, min_epochs, workers))]
    load = os.getloadavg()[0]
    (cpu, system), started = children_cpu(), time.perf_counter()
    one_thread = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **one_thread})
    (cpu_after, system_after), wall = children_cpu(), time.perf_counter() - started
    cpu, system = cpu_after - cpu, system_after - system
    if done.returncode != 0:
        print(f"  (scikit-learn's halving skipped: {done.stderr.strip().splitlines()[-1:]})")
        return None
    result = json.loads(done.stdout)
    return figures(wall, cpu, system, load, result["epochs"], J=result["J"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small searches (minutes, not tens of minutes)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    parser.add_argument("--only", default=",".join(CASES), help=f"cases, comma-separated, of: {', '.join(CASES)}")
    parser.add_argument("--baseline", metavar="DIR", help="an older checkout: every hpsearch case also runs on it")
    args = parser.parse_args()
    size = SIZES["quick" if args.quick else "full"]
    cases = [c for c in args.only.split(",") if c in CASES]
    workers = [int(w) for w in args.workers.split(",")]
    rows: dict[tuple[str, str, str], list[dict[str, float]]] = {}
    codes = {"this": None} if args.baseline is None else {"this": None, "base": str(Path(args.baseline).resolve())}
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as folder:
        folder_path, runs = Path(folder), Path(folder) / "runs"
        runs.mkdir()
        paths = {}
        for case in cases:
            if (body := config(case, size)) is not None:
                paths[case] = folder_path / f"{case}.yaml"
                paths[case].write_text(yaml.safe_dump(body, sort_keys=False))
        for repeat in range(args.repeats):
            print(f"repeat {repeat + 1}/{args.repeats} (load {os.getloadavg()[0]:.1f})", flush=True)
            for case in cases:
                for w in ("default",) if case == "startup" else map(str, workers):
                    for name, code in codes.items() if case != "sklearn" else [("-", None)]:
                        if case == "startup":
                            wall, cpu, system, load = timed([sys.executable, "-m", "hpsearch", "--help"], code)
                            help_row = {"wall": wall, "cpu": cpu, "sys": system, "load": load}
                            rows.setdefault((name, "--help", "-"), []).append(help_row)
                            result = run_search(paths[case], runs, None, code)
                        elif case == "sklearn":
                            result = run_sklearn(size, int(w))
                        else:
                            result = run_search(paths[case], runs, int(w), code)
                        if result is not None:
                            rows.setdefault((name, case, w), []).append(result)
    for name in codes:
        report({key[1:]: runs for key, runs in rows.items() if key[0] in (name, "-")}, size, args, name)


def report(
    rows: dict[tuple[str, str], list[dict[str, float]]], size: dict[str, tuple[int, ...]], args, code: str
) -> None:
    """The medians table of one checkout (``this``, or ``base``: ``--baseline``), then the targets' ratios."""
    med = {key: {k: statistics.median(r[k] for r in runs) for k in runs[0]} for key, runs in rows.items()}
    print(f"\n[{code}] sizes: {size}; medians of {args.repeats}; load: 1-minute average before each run")
    head = (
        f"{'case':<13}{'w':>8}{'wall s':>9}{'cpu s':>8}{'sys s':>7}{'epochs':>8}{'ep/s':>8}{'train s':>9}{'outside':>9}"
    )
    print(head + f"{'best J':>9}{'load':>6}")
    for (case, w), m in med.items():
        cells = [
            f"{m.get(k, float('nan')):>{n}.{d}f}"
            for k, n, d in (
                ("wall", 9, 2),
                ("cpu", 8, 2),
                ("sys", 7, 2),
                ("epochs", 8, 0),
                ("epochs/s", 8, 0),
                ("training", 9, 2),
            )
        ]
        outside = f"{100 * m['outside']:>8.0f}%" if "outside" in m else f"{'':>9}"
        print(f"{case:<13}{w:>8}{''.join(cells)}{outside}{m.get('J', float('nan')):>9.4f}{m['load']:>6.1f}")
    ratio = lambda a, b, k="wall": med[b][k] / med[a][k] if a in med and b in med else None  # noqa: E731
    help_ratio = ratio(("startup", "default"), ("--help", "-"))
    lines = [("startup / --help wall (<= 3)", None if help_ratio is None else 1 / help_ratio)]
    lines.append(("random-w: 2 workers over 1 (>= 1.85)", ratio(("random-w", "2"), ("random-w", "1"))))
    if ("random-w", "1") in med and ("random-w", "2") in med:  # what two cores allow: Amdahl, and their contention
        one, two = med[("random-w", "1")], med[("random-w", "2")]
        contention = two["training"] / one["training"]  # each epoch's seconds with two processes training at once
        lines.append(("  training s, 2 workers over 1 (contention)", contention))
        ceiling = one["wall"] / (one["wall"] - one["training"] + two["training"] / 2)
        lines.append(("  its ceiling (outside time as on 1 worker)", ceiling))
    for w in map(str, (1, 2)):
        lines.append((f"halving ep/s / random ep/s, w={w} (>= 0.70)", ratio(("random", w), ("halving", w), "epochs/s")))
        if ("random", w) in med and ("halving", w) in med:  # halving trains the better, often bigger, nets longer
            per_epoch = {c: med[(c, w)]["training"] / med[(c, w)]["epochs"] for c in ("random", "halving")}
            lines.append(
                (f"  its ceiling (no time outside training), w={w}", per_epoch["random"] / per_epoch["halving"])
            )
            busy = {c: med[(c, w)]["training"] / med[(c, w)]["wall"] for c in ("random", "halving")}
            # the epochs' cost left out: how much of its wall time halving trains, against random
            lines.append((f"  training s per wall s / random's, w={w}", busy["halving"] / busy["random"]))
        lines.append((f"stack auto over off, w={w} (>= 1.5)", ratio(("stack-auto", w), ("stack-off", w))))
        lines.append((f"sklearn's halving wall / ours, w={w} (>= 2)", ratio(("halving", w), ("sklearn", w))))
    print("targets (issue 32):")
    for text, value in lines:
        if value is not None:
            print(f"  {text:<50}{value:.2f}")


if __name__ == "__main__":
    main()
