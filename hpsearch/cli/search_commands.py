"""Commands that train: ``train`` one model, ``run`` a search, ``resume`` it, ``zoom`` into its best region."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.text import Text

from hpsearch.cli import plan_view, render
from hpsearch.cli.options import check_workers, execution_options, resolve_run_dir, runs_dir_option, runs_dir_or_default
from hpsearch.cli.progress import SearchProgress, TrainProgress
from hpsearch.cli.text import plain
from hpsearch.core.limits import MAX_SEED, MAX_TRIALS


@click.command()
@click.argument("config_file", metavar="CONFIG.yaml", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="NAME=VALUE",
    help="Set a hyperparameter by its name (repeatable, the last wins), e.g. --set learning_rate=0.01 "
    "(run's --set takes dotted keys instead: model.learning_rate).",
)
@click.option("--json", "as_json", is_flag=True, help="Print only the result record as JSON (for scripts).")
@click.option(
    "--save",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Save the trained network's weights to this .npz file.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress and no table of the values used; print only the result.")
def train(config_file: Path, assignments: tuple[str, ...], as_json: bool, save: Path | None, quiet: bool) -> None:
    """Train one model from a config's data: and model: sections.

    Searched parameters of a search file take their --set value, else the
    centre of their range on their own scale (a choice: its first). The
    values used for every parameter you did not set are shown before training.
    """
    from hpsearch.config.loading import load_config
    from hpsearch.config.overrides import parse_assignments
    from hpsearch.predict.training import train_model

    config = load_config(config_file)
    with TrainProgress(quiet=as_json or quiet, show_values=not (as_json or quiet)) as progress:
        trained = train_model(config, parse_assignments(assignments), save=save, reporter=progress)
    result = trained.result
    if as_json:
        click.echo(json.dumps({**result.to_dict(), "model": trained.plan.hyperparams.to_dict()}))
        return
    render.console.print(render.result_table(result))
    if save is not None:
        render.console.print(Text.assemble("weights saved to ", plain(save)))


@click.command()
@click.argument("config_file", metavar="CONFIG.yaml", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--trials",
    "-n",
    type=click.IntRange(min=1, max=MAX_TRIALS),
    help="Trials in the first round (overrides search.trials).",
)
@click.option("--seed", type=click.IntRange(min=0, max=MAX_SEED), help="Search seed (overrides search.seed).")
@click.option("--name", help="Run name (default: the config's name), made unique in the runs folder.")
@runs_dir_option
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override any config value for this run, by dotted key (repeatable, the last wins): "
    "--set model.epochs=5 --set search.trials=8. The run records the config as overridden.",
)
@click.option(
    "--from",
    "warm_from",
    multiple=True,
    metavar="RUN",
    help="Warm-start from RUN (repeatable; in place of search.warm_start): its finished trials that fit the "
    "space are history for the zoom rounds, not trained again.",
)
@click.option("--force", is_flag=True, help="Warm-start from a run on other data or with another objective.")
@click.option(
    "--dry-run", is_flag=True, help="Print the planned trials and where they fall on each scale; train nothing."
)
@click.option(
    "--csv",
    "csv_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --dry-run: write the planned trials to this CSV file.",
)
@execution_options
def run(
    config_file: Path,
    trials: int | None,
    seed: int | None,
    name: str | None,
    runs_dir: Path | None,
    assignments: tuple[str, ...],
    warm_from: tuple[str, ...],
    force: bool,
    dry_run: bool,
    csv_file: Path | None,
    workers: int | None,
    backend: str | None,
    scheduler: str | None,
    quiet: bool,
) -> None:
    """Start a search: train the trials of CONFIG.yaml in parallel, ranked by dev cost J (or its objective's metric)."""
    from hpsearch.config.loading import load_config
    from hpsearch.config.overrides import parse_assignments
    from hpsearch.search.api import Execution, start_search
    from hpsearch.search.api import dry_run as plan_run

    if warm_from:  # read with the file, so its checks (trials: 0 needs a warm start) see it
        assignments = (*assignments, "search.warm_start=" + json.dumps(list(warm_from)))
    config = load_config(config_file, parse_assignments(assignments)).with_search(trials=trials, seed=seed)
    for line in config.notices:  # e.g. a beta searched for optimizers that ignore it
        render.say(Text.assemble(("notice: ", "yellow"), plain(line)), render.err_console)
    if workers is None and config.search.backend == "loky":
        check_workers(click.get_current_context(), None, config.search.workers)  # type: ignore[arg-type]
    if dry_run:
        planned = plan_run(
            config, Execution(workers, backend, scheduler), runs_dir=runs_dir_or_default(runs_dir), force=force
        )
        plan, names = planned.trials, list(config.space.names)
        if csv_file is not None:
            planned.write_csv(csv_file, names)
        render.console.print(
            plan_view.plan_table(
                [(t.round, t.trial, t.params) for t in plan], names, more="--dry-run --csv FILE writes them all"
            )
        )
        if names:
            render.console.print(plan_view.histograms(config.space, [t.params for t in plan]))
        if planned.rungs is not None:
            render.console.print(plan_view.rung_plan_table(planned.rungs))
        if planned.first_call is not None:
            render.say(plain(f"trial {plan[0].trial} runs: {planned.first_call}"))
        render.console.print(
            plan_view.zoom_rounds_line(config.search, len(config.space), sum(t.round == 0 for t in plan))
        )
        for line in planned.warm:
            render.say(plain(line))
        if planned.stacking is not None:
            render.say(plain(planned.stacking.line()))
        from hpsearch.config.conditions import condition_tree  # the when: tree, with how many trials each is active in

        for depth, pname, when, count in (
            condition_tree(config.space, [t.params for t in plan]) if config.space.conditions else ()
        ):
            condition = f" {when}" if when else ""
            render.console.print(
                plain(f"{'  ' * depth}{pname}{condition}: active in {count} of {len(plan)} planned trials")
            )
        return
    if csv_file is not None:
        raise click.UsageError("--csv goes with --dry-run (use `hpsearch export RUN --csv FILE` for results)")
    with SearchProgress(list(config.space.names), quiet=quiet, metric=config.metric) as progress:
        result = start_search(
            config,
            runs_dir=runs_dir_or_default(runs_dir),
            name=name,
            execution=Execution(workers, backend, scheduler),
            reporter=progress,
            force=force,
        )
    _finish(result, quiet)


def _finish(result: Any, quiet: bool) -> None:
    """Leaderboard, best hyperparameters and hints at the end of run / resume / zoom."""
    from hpsearch.analysis.importance import importance_order
    from hpsearch.space.search_space import Space

    metric = result.objective.metric if result.objective is not None else None
    if not quiet:
        space = Space.from_json(result.rounds[0].space) if result.rounds else Space({})
        names = importance_order(space, result.trials, result.objective, result.metric)
        render.console.print(
            render.leaderboard_table(
                result.trials, names, top=10, metric=metric, more=f"hpsearch show {result.name} --wide"
            )
        )
    best = result.best
    if best is None:  # the search ran, but nothing to use came of it: not a success (exit 1)
        from hpsearch.analysis.run_notes import no_ok_reason

        render.say(
            plain(
                f"run '{result.name}': {no_ok_reason(result.run_dir, result.trials)} — "
                f"hpsearch show {result.name} lists every error"
            ),
            render.err_console,
        )
        click.get_current_context().exit(1)
    render.say(render.best_line(best, metric, result.test))
    render.say(plain(f"run saved in {result.run_dir}"))
    for line in render.edge_lines(result.edges):
        render.say(plain(line), render.err_console)


@click.command()
@click.argument("run_ref", metavar="RUN")
@click.option("--retry-failed", is_flag=True, help="Train failed trials again as well.")
@click.option(
    "--trials",
    "more_trials",
    metavar="+N",
    help="Give round 0 N more trials, as if search.trials had been N higher from the start (one-round runs).",
)
@click.option(
    "--rounds",
    "more_rounds",
    metavar="+N",
    help="Add N zoom rounds, planned as if search.rounds had been N higher from the start.",
)
@click.option(
    "--trust",
    is_flag=True,
    help="Run a run folder from someone else: its command, module or dask scheduler (see the docs: the trust rule).",
)
@runs_dir_option
@execution_options
def resume(
    run_ref: str,
    retry_failed: bool,
    more_trials: str | None,
    more_rounds: str | None,
    trust: bool,
    runs_dir: Path | None,
    workers: int | None,
    backend: str | None,
    scheduler: str | None,
    quiet: bool,
) -> None:
    """Continue an interrupted run: train only the trials that have no record yet.

    With --trials +N or --rounds +N, give a finished run more budget: it becomes the run that asked for it at the
    start, bit for bit."""
    from hpsearch.search.api import Execution, resume_search
    from hpsearch.search.extend import added

    trials, rounds = added(more_trials, "--trials"), added(more_rounds, "--rounds")
    run_dir = resolve_run_dir(run_ref, runs_dir)
    names, metric = _searched_names(run_dir)
    with SearchProgress(names, quiet=quiet, metric=metric) as progress:
        result = resume_search(
            run_dir,
            execution=Execution(workers, backend, scheduler, trust),
            retry_failed=retry_failed,
            reporter=progress,
            more_trials=trials,
            more_rounds=rounds,
        )
    _finish(result, quiet)


@click.command()
@click.argument("run_ref", metavar="RUN")
@click.option(
    "--top",
    "-k",
    "top_k",
    type=click.IntRange(min=1, max=MAX_TRIALS),
    help="A box round (and an auto round's box half): the box of the K best trials so far (default: the run's "
    "search.top_k). A tpe round plans from every finished trial.",
)
@click.option(
    "--trials",
    "-n",
    type=click.IntRange(min=1, max=MAX_TRIALS),
    help="Trials in the new round (default: search.zoom_trials, else search.trials; a box round of a grid "
    "run has one per grid point).",
)
@click.option(
    "--expand",
    is_flag=True,
    help="Move a bound the best trials sit at outward, instead of clipping to it (a box round).",
)
@click.option(
    "--method",
    type=click.Choice(["auto", "box", "tpe"]),
    help="auto: part box, part tpe; box: uniform in the box of the --top K best trials; tpe: planned from "
    "every finished trial (default: the run's search.zoom).",
)
@click.option(
    "--trust",
    is_flag=True,
    help="Run a run folder from someone else: its command, module or dask scheduler (see the docs: the trust rule).",
)
@runs_dir_option
@execution_options
def zoom(
    run_ref: str,
    top_k: int | None,
    trials: int | None,
    expand: bool,
    method: str | None,
    trust: bool,
    runs_dir: Path | None,
    workers: int | None,
    backend: str | None,
    scheduler: str | None,
    quiet: bool,
) -> None:
    """Coarse to fine: add a round that searches where the best trials are, and train it.

    \b
    auto (the default search.zoom): half the trials as box, half as tpe
         (all as box while too few trials are finished to model).
    tpe: trials planned from every finished
         trial, where good trials are likelier than the rest (drawn at
         random while too few trials are finished).
    box: trials drawn in the box of the --top K best trials so far
         (default K: the run's search.top_k); --expand moves a bound
         they sit at outward.
    """
    from hpsearch.search.api import Execution, zoom_search

    run_dir = resolve_run_dir(run_ref, runs_dir)
    names, metric = _searched_names(run_dir)
    with SearchProgress(names, quiet=quiet, metric=metric) as progress:
        result = zoom_search(
            run_dir,
            top_k=top_k,
            trials=trials,
            expand=expand,
            method=method,
            execution=Execution(workers, backend, scheduler, trust),
            reporter=progress,
        )
    if not quiet:
        render.console.print(render.rounds_table(result.rounds[-1:], result.trials))
    _finish(result, quiet)


def _searched_names(run_dir: Path) -> tuple[list[str], str | None]:
    """The searched parameter names of a run and its metric (None: the engine's dev J)."""
    from hpsearch.search.run_config import stored_config
    from hpsearch.storage.run_store import RunStore

    with RunStore.open(run_dir, read_only=True) as store:
        config = stored_config(store)
    return list(config.space.names), config.metric


@click.command("import")
@click.argument("run_name", metavar="RUN_NAME")
@click.argument("csv_file", metavar="TRIALS.csv", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--config",
    "config_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The search file whose space the rows are points of (and whose data and model a zoom trains).",
)
@click.option(
    "--metric",
    metavar="COLUMN",
    help="The column of each trial's result (default: dev_cost, or the objective's metric).",
)
@runs_dir_option
def import_(run_name: str, csv_file: Path, config_file: Path, metric: str | None, runs_dir: Path | None) -> None:
    """Make run RUN_NAME of TRIALS.csv: one finished trial per row (a column per searched parameter, and the
    metric's). Nothing is trained; show, plot, zoom and warm-start from it as from any run."""
    from hpsearch.config.loading import load_config
    from hpsearch.search.importing import import_run

    config = load_config(config_file)
    result = import_run(config, csv_file, runs_dir=runs_dir_or_default(runs_dir), name=run_name, metric=metric)
    failed = f" ({result.failed} without a value: failed)" if result.failed else ""
    render.say(plain(f"imported {result.trials} trials{failed} into run '{result.run_dir.name}'"))
    render.say(plain(f"run saved in {result.run_dir}"))
