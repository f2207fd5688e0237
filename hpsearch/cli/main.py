"""The ``hpsearch`` command line: parse, call one library function, render.

Errors: every ``HpsearchError`` becomes its one-line message on stderr and its
exit code (2 for bad input, 130 for Ctrl-C), here and nowhere else; ``--debug``
shows the traceback instead.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
from rich.text import Text

from hpsearch import __version__
from hpsearch.cli import render
from hpsearch.errors import HpsearchError

RUNS_DIR_HELP = "Folder of runs (default: $HPSEARCH_RUNS_DIR or ./runs)."


class HpsearchGroup(click.Group):
    """Turns library errors into one line each and an exit code, in one place."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (HpsearchError, KeyboardInterrupt, OSError) as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            lines, code = _error_lines(exc)
            for line in lines:
                render.err_console.print(line, highlight=False, soft_wrap=True)
            ctx.exit(code)


def _error_lines(exc: BaseException) -> tuple[list[Text], int]:
    """What the user reads for an error, and the exit code."""
    if isinstance(exc, KeyboardInterrupt):
        return [Text("interrupted")], 130
    if isinstance(exc, HpsearchError):
        if exc.exit_code != 2:  # not a mistake (Ctrl-C during a search): no "error:" prefix
            return [Text(line) for line in str(exc).splitlines()], exc.exit_code
        return [Text.assemble(("error: ", "red"), line) for line in str(exc).splitlines()], 2
    # OSError: a path the user gave that cannot be read or written, a full disk, ...
    where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
    reason = getattr(exc, "strerror", None) or str(exc)
    message = f"{where}{reason} — check the path and its permissions (--debug shows the traceback)"
    return [Text.assemble(("error: ", "red"), message)], 2


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
    from hpsearch.store import default_runs_dir

    return runs_dir if runs_dir is not None else default_runs_dir()


def _run_dir(run: str, runs_dir: Path | None) -> Path:
    from hpsearch.store import resolve_run

    return resolve_run(run, _runs_dir(runs_dir))


def execution_options(f: Any) -> Any:
    """--workers, --backend, --scheduler, --quiet: how and where trials run."""
    f = click.option("--quiet", "-q", is_flag=True, help="No progress display; print only the result.")(f)
    f = click.option("--scheduler", metavar="ADDRESS", help="dask scheduler address, e.g. tcp://10.0.0.5:8786.")(f)
    f = click.option("--backend", type=click.Choice(["loky", "dask"]), help="Run trials in local processes (loky) or on a dask cluster.")(f)
    f = click.option("--workers", "-w", type=click.IntRange(min=1), help="Trials trained at once (default: search.workers, else one per core).")(f)
    return f


@cli.command()
@click.argument("config_file", metavar="CONFIG.yaml", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--set", "assignments", multiple=True, metavar="NAME=VALUE", help="Set a hyperparameter (repeatable), e.g. --set learning_rate=0.01.")
@click.option("--json", "as_json", is_flag=True, help="Print only the result record as JSON (for scripts).")
@click.option("--save", type=click.Path(dir_okay=False, path_type=Path), help="Save the trained network's weights to this .npz file.")
def train(config_file: Path, assignments: tuple[str, ...], as_json: bool, save: Path | None) -> None:
    """Train one model from a config's data: and model: sections.

    Searched parameters of a search file take their --set value, else the
    centre of their range on their own scale (a choice: its first).
    """
    from hpsearch.config import load_config, parse_assignments, single_model_config
    from hpsearch.data import load_dataset
    from hpsearch.nn import train as train_model

    config = load_config(config_file)
    model = single_model_config(config, parse_assignments(assignments))
    data = load_dataset(config.resolved_data())
    with render.EpochProgress(model.epochs, quiet=as_json) as progress:
        result, network = train_model(model, data, on_epoch=progress)
    if save is not None:
        network.save(save)
    if as_json:
        click.echo(json.dumps({**result.to_dict(), "model": model.to_dict()}))
        return
    render.console.print(render.result_table(result))
    if save is not None:
        render.console.print(f"weights saved to {save}")


@cli.command()
@click.argument("config_file", metavar="CONFIG.yaml", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--trials", "-n", type=click.IntRange(min=1), help="Trials in the first round (overrides search.trials).")
@click.option("--seed", type=click.IntRange(min=0), help="Search seed (overrides search.seed).")
@click.option("--name", help="Run name (default: the config's name), made unique in the runs folder.")
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), help=RUNS_DIR_HELP)
@click.option("--dry-run", is_flag=True, help="Print the planned trials and where they fall on each scale; train nothing.")
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False, path_type=Path), help="With --dry-run: write the planned trials to this CSV file.")
@execution_options
def run(config_file: Path, trials: int | None, seed: int | None, name: str | None, runs_dir: Path | None,
        dry_run: bool, csv_file: Path | None, workers: int | None, backend: str | None, scheduler: str | None,
        quiet: bool) -> None:
    """Start a search: train every trial of CONFIG.yaml in parallel and rank them by dev cost J."""
    from hpsearch.config import load_config
    from hpsearch.search import Execution, planned_rungs, planned_trials, start_search

    config = load_config(config_file).with_search(trials=trials, seed=seed)
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
        return
    if csv_file is not None:
        raise click.UsageError("--csv goes with --dry-run (use `hpsearch export RUN --csv FILE` for results)")
    with render.SearchProgress(list(config.space.names), quiet=quiet) as progress:
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
    from hpsearch.space import Space

    names = list(Space.from_json(result.rounds[0].space).names) if result.rounds else []
    if not quiet:
        render.console.print(render.leaderboard_table(result.trials, names, top=10))
    best = result.best
    if best is None:
        render.console.print(f"run '{result.name}': no trial finished ok — see hpsearch show {result.name}")
        return
    values = ", ".join(f"{k}={render.fmt(v)}" for k, v in best.params.items())
    render.console.print(f"best: trial {best.trial}  dev J {render.fmt(best.dev_cost)}  "
                         f"dev acc {best.dev_accuracy:.2%}  {values}", highlight=False)
    render.console.print(f"run saved in {result.run_dir}", highlight=False)
    for line in render.edge_lines(result.edges):
        render.err_console.print(line, highlight=False)


@cli.command()
@click.argument("run_ref", metavar="RUN")
@click.option("--retry-failed", is_flag=True, help="Train failed trials again as well.")
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), help=RUNS_DIR_HELP)
@execution_options
def resume(run_ref: str, retry_failed: bool, runs_dir: Path | None, workers: int | None, backend: str | None,
           scheduler: str | None, quiet: bool) -> None:
    """Continue an interrupted run: train only the trials that have no record yet."""
    from hpsearch.search import Execution, resume_search

    run_dir = _run_dir(run_ref, runs_dir)
    with render.SearchProgress(_searched_names(run_dir), quiet=quiet) as progress:
        result = resume_search(run_dir, execution=Execution(workers, backend, scheduler),
                               retry_failed=retry_failed, reporter=progress)
    _finish(result, quiet)


@cli.command()
@click.argument("run_ref", metavar="RUN")
@click.option("--top", "-k", "top_k", type=click.IntRange(min=1), default=5, show_default=True, help="Build the new round from the K best trials so far.")
@click.option("--trials", "-n", type=click.IntRange(min=1), help="Trials in the new round (default: search.zoom_trials, else search.trials).")
@click.option("--expand", is_flag=True, help="Move a bound the best trials sit at outward, instead of clipping to it.")
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), help=RUNS_DIR_HELP)
@execution_options
def zoom(run_ref: str, top_k: int, trials: int | None, expand: bool, runs_dir: Path | None, workers: int | None,
         backend: str | None, scheduler: str | None, quiet: bool) -> None:
    """Coarse to fine: add a round that samples the region of the best trials more densely."""
    from hpsearch.search import Execution, zoom_search

    run_dir = _run_dir(run_ref, runs_dir)
    with render.SearchProgress(_searched_names(run_dir), quiet=quiet) as progress:
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
    from hpsearch.confirm import confirm_run
    from hpsearch.search import Execution

    run_dir = _run_dir(run_ref, runs_dir)
    with render.ConfirmProgress(quiet=quiet) as progress:
        result = confirm_run(run_dir, top_k=top_k, seeds=seeds, execution=Execution(workers, backend, scheduler),
                             reporter=progress)
    _print_confirmation(result, run_dir)


def _print_confirmation(confirmation: Any, run_dir: Path) -> None:
    """The confirmation table, its verdicts and which repeat the best model is (confirm and show)."""
    render.console.print(render.confirm_table(confirmation))
    for line in render.confirm_lines(confirmation):
        render.console.print(line, highlight=False, markup=False)
    if confirmation.model is not None:
        trial, repeat = confirmation.model
        render.console.print(f"best model (trial {trial}, repeat {repeat}: the median J of its "
                             f"{confirmation.by_trial[trial].n} repeats): {run_dir / 'models' / 'best.npz'}",
                             highlight=False, markup=False)


def _searched_names(run_dir: Path) -> list[str]:
    from hpsearch.space import Space
    from hpsearch.store import RunStore

    with RunStore.open(run_dir) as store:
        return list(Space.from_json(store.config["space"]).names)


@cli.command()
@click.argument("run_ref", metavar="RUN")
@click.option("--top", "-k", type=click.IntRange(min=1), default=20, show_default=True, help="Rows of the leaderboard.")
@click.option("--round", "round_", type=click.IntRange(min=0), help="Only the trials of this round.")
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), help=RUNS_DIR_HELP)
def show(run_ref: str, top: int, round_: int | None, runs_dir: Path | None) -> None:
    """The leaderboard of a run, each round's space, and where its best model is."""
    from hpsearch.confirm import load_confirmation
    from hpsearch.search import edge_hints, stored_config
    from hpsearch.store import RunStore

    with RunStore.open(_run_dir(run_ref, runs_dir)) as store:
        rounds, trials, best = store.rounds(), store.trials(round_), store.best_model()
        config, confirmation = stored_config(store), load_confirmation(store)
    if round_ is not None and round_ not in {r.round for r in rounds}:
        raise click.BadParameter(f"run has rounds {', '.join(str(r.round) for r in rounds)}", param_hint="--round")
    done, planned = len(trials), sum(r.n_trials for r in rounds if round_ in (None, r.round))
    render.console.print(f"run [bold]{store.name}[/] — {done}/{planned} trials done", highlight=False)
    render.console.print(render.leaderboard_table(trials, list(config.space.names), top=top))
    render.console.print(render.rounds_table(rounds))
    if confirmation is not None:
        _print_confirmation(confirmation, store.run_dir)
    if best is not None and (confirmation is None or confirmation.model is None):
        render.console.print(f"best model (trial {best[0]}): {best[1]}", highlight=False)
    for line in render.edge_lines(edge_hints(rounds, trials, config.search.top_k)):
        render.console.print(line, highlight=False)


@cli.command()
@click.argument("run_ref", metavar="RUN")
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False, path_type=Path), help="Write CSV to FILE (default: CSV on stdout).")
@click.option("--json", "json_file", type=click.Path(dir_okay=False, path_type=Path), help="Write JSON (with histories, rounds and importance) to FILE; '-' for stdout.")
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), help=RUNS_DIR_HELP)
def export(run_ref: str, csv_file: Path | None, json_file: Path | None, runs_dir: Path | None) -> None:
    """Every trial of a run, one row each, best first: CSV (default) or JSON."""
    from hpsearch.confirm import export_fields, load_confirmation, recommended
    from hpsearch.importance import hyperparameter_importance
    from hpsearch.leaderboard import write_csv, write_json
    from hpsearch.search import stored_config
    from hpsearch.store import RunStore

    if csv_file is not None and json_file is not None:
        raise click.UsageError("choose one of --csv and --json")
    with RunStore.open(_run_dir(run_ref, runs_dir)) as store:
        rounds, trials, config = store.rounds(), store.trials(), stored_config(store)
        promotions = {r.round: store.promotions(r.round) for r in rounds}
        confirmation = load_confirmation(store)
    confirmed = export_fields(confirmation)
    if json_file is not None:
        importance = asdict(hyperparameter_importance(config.space, trials))
        with click.open_file(str(json_file), "w", encoding="utf-8") as f:
            write_json(trials, config.model, f, run=store.name, rounds=rounds, importance=importance,
                       promotions=promotions, confirmed=confirmed,
                       recommended=recommended(trials, confirmation, config.model))
        return
    with click.open_file(str(csv_file) if csv_file else "-", "w", encoding="utf-8") as f:
        write_csv(trials, config.model, f, confirmed=confirmed)


@cli.command(name="list")
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), help=RUNS_DIR_HELP)
def list_(runs_dir: Path | None) -> None:
    """The runs in the runs folder: trials done/planned and the best dev cost J."""
    from hpsearch.store import list_runs

    folder = _runs_dir(runs_dir)
    runs = list_runs(folder)
    if not runs:
        render.console.print(f"no runs in {folder} — start one with: hpsearch run configs/quickstart.yaml", highlight=False)
        return
    render.console.print(render.runs_table(runs))


@cli.command()
@click.argument("run_ref", metavar="RUN")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Folder for the PNGs and report.html (default: RUN/plots).")
@click.option("--top", "-k", "top_k", type=click.IntRange(min=1), default=5, show_default=True, help="Trials marked as the top K.")
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), help=RUNS_DIR_HELP)
def plot(run_ref: str, out: Path | None, top_k: int, runs_dir: Path | None) -> None:
    """PNG plots of a run on each parameter's own scale, and one report.html."""
    from hpsearch.confirm import load_confirmation
    from hpsearch.importance import hyperparameter_importance
    from hpsearch.plots import plot_run
    from hpsearch.report import write_report
    from hpsearch.search import stored_config
    from hpsearch.store import RunStore

    run_dir = _run_dir(run_ref, runs_dir)
    with RunStore.open(run_dir) as store:
        rounds, trials, config, name = store.rounds(), store.trials(), stored_config(store), store.name
        confirmation = load_confirmation(store)
    out = out if out is not None else run_dir / "plots"
    out.mkdir(parents=True, exist_ok=True)
    importance = hyperparameter_importance(config.space, trials)
    images = plot_run(rounds, trials, out, top_k=top_k, importance=importance, confirmation=confirmation)
    report = write_report(out, run_name=name, rounds=rounds, trials=trials, images=images, importance=importance,
                          confirmation=confirmation)
    for path in [*images, report]:
        click.echo(str(path))


@cli.command()
@click.argument("run_ref", metavar="RUN")
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), help=RUNS_DIR_HELP)
def importance(run_ref: str, runs_dir: Path | None) -> None:
    """Which searched hyperparameters explain most of the variation of dev cost J."""
    from hpsearch.importance import hyperparameter_importance
    from hpsearch.search import stored_config
    from hpsearch.store import RunStore

    with RunStore.open(_run_dir(run_ref, runs_dir)) as store:
        trials, config = store.trials(), stored_config(store)
    render.console.print(render.importance_table(hyperparameter_importance(config.space, trials)))


if __name__ == "__main__":  # pragma: no cover
    cli()
