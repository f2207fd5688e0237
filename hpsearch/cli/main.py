"""The ``hpsearch`` command line: parse, call one library function, render.

Errors: every ``HpsearchError`` becomes its one-line message on stderr and its
exit code (2 for bad input, 130 for Ctrl-C), here and nowhere else; ``--debug``
shows the traceback instead.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterator

import click
from rich.text import Text

from hpsearch import __version__
from hpsearch.cli import render
from hpsearch.cli.text import plain, safe
from hpsearch.core.errors import HpsearchError
from hpsearch.core.limits import MAX_TRIALS, MAX_WORKERS
from hpsearch.nn.results import TrainResult

RUNS_DIR_HELP = "Folder of runs (default: $HPSEARCH_RUNS_DIR or ./runs)."



class HpsearchGroup(click.Group):
    """Turns library errors into one line each and an exit code, in one place."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # The reader went away (`hpsearch export RUN | head -1`): what it wanted
            # was written. Exit quietly, and keep the interpreter's final flush of
            # stdout from failing again.
            _silence_stdout()
            ctx.exit(0)
        except click.ClickException as exc:
            exc.message = safe(exc.message)  # click repeats the user's argument in its message
            raise
        except (HpsearchError, KeyboardInterrupt, OSError, MemoryError) as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            lines, code = _error_lines(exc)
            for line in lines:
                render.err_console.print(line, highlight=False, soft_wrap=True)
            ctx.exit(code)


def _silence_stdout() -> None:
    """Point stdout at /dev/null (after a broken pipe)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, AttributeError, ValueError):
        pass


def _error_lines(exc: BaseException) -> tuple[list[Text], int]:
    """What the user reads for an error, and the exit code."""
    if isinstance(exc, KeyboardInterrupt):
        return [Text("interrupted")], 130
    if isinstance(exc, MemoryError):
        message = "out of memory — use a smaller model, dataset or fewer --workers (--debug shows the traceback)"
        return [Text.assemble(("error: ", "red"), message)], 2
    if isinstance(exc, HpsearchError):
        if exc.exit_code != 2:  # not a mistake (Ctrl-C during a search): no "error:" prefix
            return [plain(line) for line in str(exc).splitlines()], exc.exit_code
        return [Text.assemble(("error: ", "red"), plain(line)) for line in str(exc).splitlines()], 2
    # OSError: a path the user gave that cannot be read or written, a full disk, ...
    where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
    reason = getattr(exc, "strerror", None) or str(exc)
    message = f"{where}{reason} — check the path, its permissions and free space (--debug shows the traceback)"
    return [Text.assemble(("error: ", "red"), plain(message))], 2


@click.group(cls=HpsearchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hpsearch")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Hyperparameter search for NumPy neural networks.

    Declare a search space in YAML, run many models in parallel, zoom into the
    best region, and read the leaderboard.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def _runs_dir(runs_dir: Path | None) -> Path:
    from hpsearch.storage.run_store import default_runs_dir

    return runs_dir if runs_dir is not None else default_runs_dir()


def _run_dir(run: str, runs_dir: Path | None) -> Path:
    from hpsearch.storage.run_store import resolve_run

    return resolve_run(run, _runs_dir(runs_dir))


def _check_workers(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
    from hpsearch.config.search_config import workers_warning

    warning = workers_warning(value)
    if warning:
        render.err_console.print(Text.assemble(("warning: ", "yellow"), warning), highlight=False)
    return value


def _check_scheduler(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from hpsearch.config.search_config import scheduler_problem

    problem = scheduler_problem(value) if value is not None else None
    if problem:
        raise click.BadParameter(problem)
    return value


def execution_options(f: Any) -> Any:
    """--workers, --backend, --scheduler, --quiet: how and where trials run."""
    f = click.option("--quiet", "-q", is_flag=True, help="No progress display; print only the result.")(f)
    f = click.option("--scheduler", metavar="ADDRESS", callback=_check_scheduler, help="dask scheduler address, e.g. tcp://10.0.0.5:8786.")(f)
    f = click.option("--backend", type=click.Choice(["loky", "dask"]), help="Run trials in local processes (loky) or on a dask cluster.")(f)
    f = click.option("--workers", "-w", type=click.IntRange(min=1, max=MAX_WORKERS), callback=_check_workers,
                     help="Trials trained at once (default: search.workers, else one per core).")(f)
    return f


@cli.command()
@click.argument("config_file", metavar="CONFIG.yaml", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--set", "assignments", multiple=True, metavar="NAME=VALUE", help="Set a hyperparameter (repeatable), e.g. --set learning_rate=0.01.")
@click.option("--json", "as_json", is_flag=True, help="Print only the result record as JSON (for scripts).")
@click.option("--save", type=click.Path(dir_okay=False, path_type=Path), help="Save the trained network's weights to this .npz file.")
@click.option("--quiet", "-q", is_flag=True, help="No progress and no table of the values used; print only the result.")
def train(config_file: Path, assignments: tuple[str, ...], as_json: bool, save: Path | None, quiet: bool) -> None:
    """Train one model from a config's data: and model: sections.

    Searched parameters of a search file take their --set value, else the
    centre of their range on their own scale (a choice: its first). The
    values used for every parameter you did not set are shown before training.
    """
    from hpsearch.config.search_config import load_config, parse_assignments, single_model_config, single_model_sources
    from hpsearch.data.datasets import load_dataset
    from hpsearch.nn import train as train_model

    from hpsearch.predict.model import Model

    config = load_config(config_file)
    values = parse_assignments(assignments)
    model = single_model_config(config, values)
    data = load_dataset(config.resolved_data())
    for line in data.notices:
        render.err_console.print(plain(line), highlight=False, soft_wrap=True)
    if not (as_json or quiet):
        render.console.print(render.model_table(single_model_sources(config, values, model)))
    with render.EpochProgress(model.epochs, quiet=as_json or quiet) as progress:
        result, network = train_model(model, data, on_epoch=progress)
    if save is not None:
        Model.from_training(network, data).save(save)
    if as_json:
        click.echo(json.dumps({**result.to_dict(), "model": model.to_dict()}))
        return
    render.console.print(render.result_table(result))
    if save is not None:
        render.console.print(Text.assemble("weights saved to ", plain(save)))


@cli.command()
@click.argument("config_file", metavar="CONFIG.yaml", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--trials", "-n", type=click.IntRange(min=1, max=MAX_TRIALS), help="Trials in the first round (overrides search.trials).")
@click.option("--seed", type=click.IntRange(min=0), help="Search seed (overrides search.seed).")
@click.option("--name", help="Run name (default: the config's name), made unique in the runs folder.")
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), help=RUNS_DIR_HELP)
@click.option("--dry-run", is_flag=True, help="Print the planned trials and where they fall on each scale; train nothing.")
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False, path_type=Path), help="With --dry-run: write the planned trials to this CSV file.")
@execution_options
def run(config_file: Path, trials: int | None, seed: int | None, name: str | None, runs_dir: Path | None,
        dry_run: bool, csv_file: Path | None, workers: int | None, backend: str | None, scheduler: str | None,
        quiet: bool) -> None:
    """Start a search: train every trial of CONFIG.yaml in parallel and rank them by dev cost J (or its objective's metric)."""
    from hpsearch.config.search_config import load_config
    from hpsearch.search.api import Execution, planned_rungs, planned_trials, start_search

    config = load_config(config_file).with_search(trials=trials, seed=seed)
    if workers is None and config.search.backend == "loky":
        _check_workers(click.get_current_context(), None, config.search.workers)  # type: ignore[arg-type]
    if dry_run:
        plan = planned_trials(config)
        names = list(config.space.names)
        if csv_file is not None:
            _write_plan_csv(csv_file, plan, names)
        render.console.print(render.plan_table([(t.round, t.trial, t.params) for t in plan], names))
        if names:
            render.console.print(render.histograms(config.space, [t.params for t in plan]))
        budget = planned_rungs(config, len(plan))
        if budget is not None:
            render.console.print(render.rung_plan_table(budget.plan, budget.full_epochs, budget.epochs))
        render.console.print(render.zoom_rounds_line(config.search))
        return
    if csv_file is not None:
        raise click.UsageError("--csv goes with --dry-run (use `hpsearch export RUN --csv FILE` for results)")
    with render.SearchProgress(list(config.space.names), quiet=quiet, metric=config.metric) as progress:
        result = start_search(config, runs_dir=_runs_dir(runs_dir), name=name,
                              execution=Execution(workers, backend, scheduler), reporter=progress)
    _finish(result, quiet)


def _write_plan_csv(path: Path, plan: list[Any], names: list[str]) -> None:
    import csv

    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["round", "trial", *names])
        for t in plan:
            writer.writerow([t.round, t.trial, *(t.params[n] for n in names)])


def _finish(result: Any, quiet: bool) -> None:
    """Leaderboard, best hyperparameters and hints at the end of run / resume / zoom."""
    from hpsearch.data.stored_arrays import run_data_notes
    from hpsearch.space.scales import Space

    for line in run_data_notes(result.run_dir):
        render.err_console.print(plain(line), highlight=False, soft_wrap=True)
    names = list(Space.from_json(result.rounds[0].space).names) if result.rounds else []
    metric = result.objective.metric if result.objective is not None else None
    if not quiet:
        render.console.print(render.leaderboard_table(result.trials, names, top=10, metric=metric))
    best = result.best
    if best is None:
        render.console.print(plain(f"run '{result.name}': no trial finished ok — see hpsearch show {result.name}"))
        return
    render.console.print(render.best_line(best, metric), highlight=False)
    render.console.print(plain(f"run saved in {result.run_dir}"), highlight=False)
    for line in render.edge_lines(result.edges):
        render.err_console.print(plain(line), highlight=False)


@cli.command()
@click.argument("run_ref", metavar="RUN")
@click.option("--retry-failed", is_flag=True, help="Train failed trials again as well.")
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), help=RUNS_DIR_HELP)
@execution_options
def resume(run_ref: str, retry_failed: bool, runs_dir: Path | None, workers: int | None, backend: str | None,
           scheduler: str | None, quiet: bool) -> None:
    """Continue an interrupted run: train only the trials that have no record yet."""
    from hpsearch.search.api import Execution, resume_search

    run_dir = _run_dir(run_ref, runs_dir)
    names, metric = _searched_names(run_dir)
    with render.SearchProgress(names, quiet=quiet, metric=metric) as progress:
        result = resume_search(run_dir, execution=Execution(workers, backend, scheduler),
                               retry_failed=retry_failed, reporter=progress)
    _finish(result, quiet)


@cli.command()
@click.argument("run_ref", metavar="RUN")
@click.option("--top", "-k", "top_k", type=click.IntRange(min=1, max=MAX_TRIALS), default=5, show_default=True, help="Build the new round from the K best trials so far.")
@click.option("--trials", "-n", type=click.IntRange(min=1, max=MAX_TRIALS), help="Trials in the new round (default: search.zoom_trials, else search.trials).")
@click.option("--expand", is_flag=True, help="Move a bound the best trials sit at outward, instead of clipping to it.")
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), help=RUNS_DIR_HELP)
@execution_options
def zoom(run_ref: str, top_k: int, trials: int | None, expand: bool, runs_dir: Path | None, workers: int | None,
         backend: str | None, scheduler: str | None, quiet: bool) -> None:
    """Coarse to fine: add a round that samples the region of the best trials more densely."""
    from hpsearch.search.api import Execution, zoom_search

    run_dir = _run_dir(run_ref, runs_dir)
    names, metric = _searched_names(run_dir)
    with render.SearchProgress(names, quiet=quiet, metric=metric) as progress:
        result = zoom_search(run_dir, top_k=top_k, trials=trials, expand=expand,
                             execution=Execution(workers, backend, scheduler), reporter=progress)
    if not quiet:
        render.console.print(render.rounds_table(result.rounds[-1:]))
    _finish(result, quiet)


@cli.command()
@click.argument("run_ref", metavar="RUN")
@click.option("--top", "-k", "top_k", type=click.IntRange(min=1), default=5, show_default=True, help="Retrain the K best trials.")
@click.option("--seeds", "-s", type=click.IntRange(min=2), default=5, show_default=True, help="Fresh seeds per trial.")
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), help=RUNS_DIR_HELP)
@execution_options
def confirm(run_ref: str, top_k: int, seeds: int, runs_dir: Path | None, workers: int | None, backend: str | None,
            scheduler: str | None, quiet: bool) -> None:
    """Retrain the top K trials with S fresh seeds each and rank them by mean dev J, with its spread.

    Resumable: run it again to train only the repeats without a record. The
    confirmed best becomes the recommended configuration and its median repeat the best model.
    """
    from hpsearch.confirm.repeats import confirm_run
    from hpsearch.search.api import Execution, stored_config
    from hpsearch.storage.run_store import RunStore

    run_dir = _run_dir(run_ref, runs_dir)
    with render.ConfirmProgress(quiet=quiet) as progress:
        result = confirm_run(run_dir, top_k=top_k, seeds=seeds, execution=Execution(workers, backend, scheduler),
                             reporter=progress)
    with RunStore.open(run_dir) as store:
        objective = stored_config(store).objective
    _print_confirmation(result, run_dir, objective)


def _print_confirmation(confirmation: Any, run_dir: Path, objective: Any = None) -> None:
    """The confirmation table, its verdicts and which repeat the best model is (confirm and show)."""
    render.console.print(render.confirm_table(confirmation, objective))
    for line in render.confirm_lines(confirmation, objective):
        render.console.print(plain(line), highlight=False)
    if confirmation.model is not None:
        trial, repeat = confirmation.model
        render.console.print(plain(f"best model (trial {trial}, repeat {repeat}: the median J of its "
                                   f"{confirmation.by_trial[trial].n} repeats): {run_dir / 'models' / 'best.npz'}"),
                             highlight=False)


def _searched_names(run_dir: Path) -> tuple[list[str], str | None]:
    """The searched parameter names of a run and its metric (None: the engine's dev J)."""
    from hpsearch.search.api import stored_config
    from hpsearch.storage.run_store import RunStore

    with RunStore.open(run_dir) as store:
        config = stored_config(store)
    return list(config.space.names), config.metric


@cli.command()
@click.argument("source", metavar="CONFIG.yaml|RUN", required=False)
@click.option("--set", "assignments", multiple=True, metavar="NAME=VALUE", help="With CONFIG.yaml: set a hyperparameter (repeatable).")
@click.option("--trial", type=click.IntRange(min=0), help="With a search RUN: hand this trial over to a new babysat run.")
@click.option("--epochs", type=click.IntRange(min=1), help="Epochs to train (CONFIG.yaml: in all; RUN: more).")
@click.option("--replay", "replay_ref", metavar="RUN", help="Re-execute RUN's decisions from the start and check every epoch's J, bit for bit.")
@click.option("--name", help="Name of the new run (default: CONFIG's name + -babysit, or RUN-trial-N).")
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), help=RUNS_DIR_HELP)
def babysit(source: str | None, assignments: tuple[str, ...], trial: int | None, epochs: int | None,
            replay_ref: str | None, name: str | None, runs_dir: Path | None) -> None:
    """Panda: train one model epoch by epoch; nudge its learning rate, roll back when it worsens.

    \b
    hpsearch babysit CONFIG.yaml [--set NAME=VALUE ...]   a new model, as train builds it
    hpsearch babysit RUN --trial N                        continue a search's trial
    hpsearch babysit RUN                                  continue a stopped babysat run
    hpsearch babysit --replay RUN                         prove it reproduces, bit for bit

    Keys on a terminal: - halves the learning rate, + doubles it, r rolls back
    to the best epoch, p pauses, s saves and stops (so does Ctrl-C). The
    babysit: section of the config sets the unattended rules.
    """
    from hpsearch.babysit.session import continue_babysit, continue_trial, replay_babysit, start_babysit
    from hpsearch.config.search_config import load_config, parse_assignments, single_model_config

    if replay_ref is not None:
        if source is not None:
            raise click.UsageError("--replay takes the run; give no other CONFIG.yaml or RUN")
        result = replay_babysit(_run_dir(replay_ref, runs_dir), watcher=None)
        render.console.print(plain(f"replayed run '{result.name}': {result.epochs} epochs and {result.decisions} "
                                   "decisions — every epoch's J identical to the record, bit for bit"), highlight=False)
        return
    if source is None:
        raise click.UsageError("give CONFIG.yaml, a RUN, or --replay RUN")
    is_config = source.endswith((".yaml", ".yml")) or Path(source).is_file()
    if not is_config and assignments:
        raise click.UsageError("--set goes with CONFIG.yaml (a run's values are fixed)")
    if is_config and trial is not None:
        raise click.UsageError("--trial goes with a search RUN, not a config file")
    with _babysit_watcher(Path(source).name) as watcher:
        if is_config:
            config = load_config(Path(source))
            extra = () if epochs is None else (f"epochs={epochs}",)
            model = single_model_config(config, parse_assignments((*assignments, *extra)))
            result = start_babysit(config, model, runs_dir=_runs_dir(runs_dir), name=name, watcher=watcher)
        elif trial is not None:
            result = continue_trial(_run_dir(source, runs_dir), trial, runs_dir=_runs_dir(runs_dir), name=name,
                                    epochs=epochs, watcher=watcher)
        else:
            if name is not None:
                raise click.UsageError("--name names a new run; this continues RUN")
            result = continue_babysit(_run_dir(source, runs_dir), epochs=epochs, watcher=watcher)
    rec = result.record
    render.console.print(render.result_table(
        TrainResult(rec.status, rec.train_cost, rec.dev_cost, rec.dev_accuracy, rec.epochs_run, rec.seconds)))
    why = {"epochs": f"trained its {result.target} epochs"}.get(result.stopped, f"stopped ({result.stopped})")
    render.console.print(plain(f"run '{result.name}' {why}; saved in {result.run_dir} — continue with: "
                               f"hpsearch babysit {result.name} --epochs N"), highlight=False)


@contextlib.contextmanager
def _babysit_watcher(title: str) -> Iterator[Any]:
    """The live view and keys on a terminal, plain lines elsewhere; the terminal's settings restored on the way out."""
    from hpsearch.cli.live import KeyReader, LiveWatcher, PlainWatcher

    with KeyReader() as keys:
        if render.err_console.is_terminal:
            with LiveWatcher(render.err_console, keys, title) as watcher:
                yield watcher
        else:
            yield PlainWatcher(render.err_console, keys)


@cli.command()
@click.argument("run_ref", metavar="RUN")
@click.option("--top", "-k", type=click.IntRange(min=1), default=20, show_default=True, help="Rows of the leaderboard.")
@click.option("--round", "round_", type=click.IntRange(min=0), help="Only the trials of this round.")
@click.option("--wide", is_flag=True, help="Every column of the leaderboard, however wide the terminal.")
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), help=RUNS_DIR_HELP)
def show(run_ref: str, top: int, round_: int | None, wide: bool, runs_dir: Path | None) -> None:
    """The leaderboard of a run, each round's space, and where its best model is."""
    from hpsearch.data.stored_arrays import run_data_notes
    from hpsearch.confirm.repeats import load_confirmation
    from hpsearch.search.api import edge_hints, stored_config
    from hpsearch.storage.run_store import RunStore

    with RunStore.open(_run_dir(run_ref, runs_dir)) as store:
        rounds, trials, best = store.rounds(), store.trials(round_), store.best_model()
        config, decisions, confirmation = stored_config(store), store.decisions(), load_confirmation(store)
    if round_ is not None and round_ not in {r.round for r in rounds}:
        raise click.BadParameter(f"run has rounds {', '.join(str(r.round) for r in rounds)}", param_hint="--round")
    done, planned = len(trials), sum(r.n_trials for r in rounds if round_ in (None, r.round))
    render.console.print(Text.assemble("run ", plain(store.name, "bold"), f" — {done}/{planned} trials done"))
    table = render.leaderboard_table(trials, list(config.space.names), top=top, wide=wide, metric=config.metric)
    if wide:
        render.print_wide(table)
    else:
        render.console.print(table)
    render.console.print(render.rounds_table(rounds))
    for trial_decisions in decisions.values():  # babysat runs: what was changed, when and why
        render.console.print(render.decisions_table(trial_decisions))
    if confirmation is not None:
        _print_confirmation(confirmation, store.run_dir, config.objective)
    if best is not None and (confirmation is None or confirmation.model is None):
        render.console.print(plain(f"best model (trial {best[0]}): {best[1]}"), highlight=False)
    for line in render.edge_lines(edge_hints(rounds, trials, config.search.top_k)):
        render.console.print(plain(line), highlight=False)
    for line in run_data_notes(store.run_dir):
        render.console.print(plain(line), highlight=False, soft_wrap=True)


@cli.command()
@click.argument("run_ref", metavar="RUN")
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False, path_type=Path), help="Write CSV to FILE (default: CSV on stdout).")
@click.option("--json", "json_file", type=click.Path(dir_okay=False, path_type=Path), help="Write JSON (with histories, rounds and importance) to FILE; '-' for stdout.")
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), help=RUNS_DIR_HELP)
def export(run_ref: str, csv_file: Path | None, json_file: Path | None, runs_dir: Path | None) -> None:
    """Every trial of a run, one row each, best first: CSV (default) or JSON."""
    from hpsearch.confirm.repeats import export_fields, load_confirmation, recommended
    from hpsearch.analysis.importance import hyperparameter_importance
    from hpsearch.analysis.leaderboard import write_csv, write_json
    from hpsearch.io.safe_files import write_text_atomic
    from hpsearch.search.api import stored_config
    from hpsearch.storage.run_store import RunStore

    if csv_file is not None and json_file is not None:
        raise click.UsageError("choose one of --csv and --json")
    with RunStore.open(_run_dir(run_ref, runs_dir)) as store:
        rounds, trials, config = store.rounds(), store.trials(), stored_config(store)
        promotions = {r.round: store.promotions(r.round) for r in rounds}
        confirmation = load_confirmation(store)
    confirmed = export_fields(confirmation)
    text = io.StringIO()
    if json_file is not None:
        importance = asdict(hyperparameter_importance(config.space, trials))
        write_json(trials, config.model, text, run=store.name, rounds=rounds, importance=importance,
                   promotions=promotions, metric=config.metric, confirmed=confirmed,
                   recommended=recommended(trials, confirmation, config.model))
    else:
        write_csv(trials, config.model, text, metric=config.metric, confirmed=confirmed)
    target = json_file if json_file is not None else csv_file
    if target is None or str(target) == "-":
        click.echo(text.getvalue(), nl=False)
    else:  # whole or not at all: a full disk leaves no truncated file
        write_text_atomic(target, text.getvalue())


@cli.command(name="list")
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), help=RUNS_DIR_HELP)
def list_(runs_dir: Path | None) -> None:
    """The runs in the runs folder: trials done/planned and the best dev cost J."""
    from hpsearch.storage.run_store import list_runs

    folder = _runs_dir(runs_dir)
    runs = list_runs(folder)
    if not runs:
        render.console.print(plain(f"no runs in {folder} — start one with: hpsearch run configs/quickstart.yaml"), highlight=False)
        return
    render.console.print(render.runs_table(runs))


@cli.command()
@click.argument("run_ref", metavar="RUN")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Folder for the PNGs and report.html (default: RUN/plots).")
@click.option("--top", "-k", "top_k", type=click.IntRange(min=1), default=5, show_default=True, help="Trials marked as the top K.")
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), help=RUNS_DIR_HELP)
def plot(run_ref: str, out: Path | None, top_k: int, runs_dir: Path | None) -> None:
    """PNG plots of a run on each parameter's own scale, and one report.html."""
    from hpsearch.confirm.repeats import load_confirmation
    from hpsearch.analysis.importance import hyperparameter_importance
    from hpsearch.analysis.plots import plot_run, run_plots_dir
    from hpsearch.analysis.report import write_report
    from hpsearch.search.api import stored_config
    from hpsearch.storage.run_store import RunStore

    run_dir = _run_dir(run_ref, runs_dir)
    with RunStore.open(run_dir) as store:
        rounds, trials, config, name = store.rounds(), store.trials(), stored_config(store), store.name
        decisions, confirmation = store.decisions(), load_confirmation(store)
    out = out if out is not None else run_plots_dir(run_dir)
    out.mkdir(parents=True, exist_ok=True)
    importance = hyperparameter_importance(config.space, trials)
    images = plot_run(rounds, trials, out, top_k=top_k, importance=importance, objective=config.objective,
                      decisions=decisions, confirmation=confirmation)
    report = write_report(out, run_name=name, rounds=rounds, trials=trials, images=images, importance=importance,
                          metric=config.metric, confirmation=confirmation)
    for path in [*images, report]:
        click.echo(safe(path))


@cli.command()
@click.argument("run_ref", metavar="RUN")
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), help=RUNS_DIR_HELP)
def importance(run_ref: str, runs_dir: Path | None) -> None:
    """Which searched hyperparameters explain most of the variation of dev cost J."""
    from hpsearch.analysis.importance import hyperparameter_importance
    from hpsearch.search.api import stored_config
    from hpsearch.storage.run_store import RunStore

    with RunStore.open(_run_dir(run_ref, runs_dir)) as store:
        trials, config = store.trials(), stored_config(store)
    render.console.print(render.importance_table(hyperparameter_importance(config.space, trials), config.metric))


@cli.command()
@click.argument("model_ref", metavar="RUN|MODEL.npz")
@click.argument("data_file", metavar="DATA.csv", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the predictions CSV to FILE (default: stdout).")
@click.option("--proba", is_flag=True, help="Add one probability column per class.")
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), help=RUNS_DIR_HELP)
def predict(model_ref: str, data_file: Path, out: Path | None, proba: bool, runs_dir: Path | None) -> None:
    """Predict the class of every row of DATA.csv with a run's best model (or a saved model file).

    DATA.csv needs the training columns (extra ones are ignored); it is prepared
    as the training data was. If it holds the label column, accuracy and cost are printed too.
    """
    from hpsearch.predict.model import predict_csv, resolve_model, write_predictions

    predictions = predict_csv(resolve_model(model_ref, _runs_dir(runs_dir)), data_file)
    with click.open_file(str(out) if out else "-", "w", encoding="utf-8") as f:
        write_predictions(predictions, f, proba=proba)
    summary = render.err_console if out is None else render.console  # stdout holds the CSV
    if out is not None:
        summary.print(plain(f"{len(predictions.classes)} predictions written to {out}"), highlight=False)
    if predictions.accuracy is not None:
        summary.print(plain(f"against its {predictions.label} column: accuracy {predictions.accuracy:.2%}, "
                            f"cost J {render.fmt(predictions.cost)} ({len(predictions.classes)} rows)"), highlight=False)


if __name__ == "__main__":  # pragma: no cover
    cli()
