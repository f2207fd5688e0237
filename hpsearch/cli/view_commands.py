"""Commands that read a run: ``show``, ``export``, ``list``, ``plot``, ``importance``."""

from __future__ import annotations

import io
from dataclasses import asdict
from pathlib import Path

import click
from rich.text import Text

from hpsearch.cli import render
from hpsearch.cli.confirm_view import print_confirmation
from hpsearch.cli.options import resolve_run_dir, runs_dir_option, runs_dir_or_default
from hpsearch.cli.text import plain, safe


@click.command()
@click.argument("run_ref", metavar="RUN")
@click.option("--top", "-k", type=click.IntRange(min=1), default=20, show_default=True, help="Rows of the leaderboard.")
@click.option("--round", "round_", type=click.IntRange(min=0), help="Only the trials of this round.")
@click.option("--wide", is_flag=True, help="Every column of the leaderboard, however wide the terminal.")
@runs_dir_option
def show(run_ref: str, top: int, round_: int | None, wide: bool, runs_dir: Path | None) -> None:
    """The leaderboard of a run, each round's space, and where its best model is."""
    from hpsearch.analysis.importance import importance_order
    from hpsearch.analysis.run_notes import early_stopping_notes, failure_note, model_notes, run_brackets, test_notes
    from hpsearch.confirm.repeats import load_confirmation
    from hpsearch.data.stored_arrays import run_data_notes
    from hpsearch.search.rounds import edge_hints
    from hpsearch.search.run_config import stored_config
    from hpsearch.search.warm import summarize
    from hpsearch.storage.run_store import RunStore

    with RunStore.open(resolve_run_dir(run_ref, runs_dir), read_only=True) as store:
        rounds, trials, best = store.rounds(), store.trials(round_), store.best_model()
        config, decisions, confirmation = stored_config(store), store.decisions(), load_confirmation(store)
        every_trial, warm = (trials if round_ is None else store.trials()), store.tables.warm.all()
    if round_ is not None and round_ not in {r.round for r in rounds}:
        raise click.BadParameter(f"run has rounds {', '.join(str(r.round) for r in rounds)}", param_hint="--round")
    done, planned = len(trials), sum(r.n_trials for r in rounds if round_ in (None, r.round))
    render.console.print(Text.assemble("run ", plain(store.name, "bold"), f" — {done}/{planned} trials done"))
    names = importance_order(config.space, every_trial, config.objective, config.search.metric)
    table = render.leaderboard_table(
        trials,
        names,
        top=top,
        wide=wide,
        metric=config.metric,
        brackets=run_brackets(rounds, config),
        more=f"hpsearch show {run_ref} --wide",
    )
    if wide:
        render.print_wide(table)
    else:
        render.console.print(table)
    failure = failure_note(store.run_dir, trials)
    if failure is not None:
        render.say(plain(failure))
    counted = [w for w in warm if w.left_out is None]  # the zoom rounds' history began with them (negative ids)
    history = [*(w.record(i - len(counted)) for i, w in enumerate(counted)), *every_trial]
    render.console.print(render.rounds_table(rounds, history))
    for line in early_stopping_notes(rounds, config):
        render.say(plain(line))
    for summary in summarize(warm):  # earlier runs' trials: the zoom rounds' history, not this run's trials
        render.say(plain(summary.line()))
    for trial_decisions in decisions.values():  # babysat runs: what was changed, when and why
        render.console.print(render.decisions_table(trial_decisions))
    if confirmation is not None:
        print_confirmation(confirmation, store.run_dir, config.objective)
    for line in [
        *model_notes(every_trial, confirmation, best),
        *test_notes(store.run_dir, every_trial, config.objective is not None),
    ]:
        render.say(plain(line))
    for line in render.edge_lines(edge_hints(rounds, trials, config.search.top_k)):
        render.say(plain(line))
    for line in run_data_notes(store.run_dir):
        render.say(plain(line))


@click.command()
@click.argument("run_ref", metavar="RUN")
@click.option(
    "--csv",
    "csv_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write CSV to FILE (default: CSV on stdout).",
)
@click.option(
    "--json",
    "json_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write JSON (with histories, rounds and importance) to FILE; '-' for stdout.",
)
@runs_dir_option
def export(run_ref: str, csv_file: Path | None, json_file: Path | None, runs_dir: Path | None) -> None:
    """Every trial of a run, one row each, best first: CSV (default) or JSON."""
    from hpsearch.analysis.export import write_csv, write_json
    from hpsearch.analysis.importance import run_importance
    from hpsearch.analysis.run_notes import run_brackets
    from hpsearch.confirm.repeats import export_fields, load_confirmation, recommended
    from hpsearch.io.safe_files import write_text_atomic
    from hpsearch.search.run_config import stored_config
    from hpsearch.search.test_part import current_test_figures
    from hpsearch.storage.run_store import RunStore

    if csv_file is not None and json_file is not None:
        raise click.UsageError("choose one of --csv and --json")
    with RunStore.open(resolve_run_dir(run_ref, runs_dir), read_only=True) as store:
        rounds, trials, config = store.rounds(), store.trials(), stored_config(store)
        promotions = {r.round: store.promotions(r.round) for r in rounds}
        confirmation, decisions, warm = load_confirmation(store), store.decisions(), store.tables.warm.all()
    confirmed, brackets = export_fields(confirmation), run_brackets(rounds, config)
    figures = current_test_figures(store.run_dir)
    tested = figures.columns() if figures is not None else None
    text = io.StringIO()
    if json_file is not None:
        importance = asdict(run_importance(config.space, trials, config.objective, config.search.metric))
        write_json(
            trials,
            config.model,
            text,
            run=store.name,
            rounds=rounds,
            importance=importance,
            promotions=promotions,
            metric=config.metric,
            confirmed=confirmed,
            recommended=recommended(trials, confirmation, config.model),
            brackets=brackets,
            decisions=decisions,
            tested=tested,
            warm=warm,
        )
    else:
        write_csv(
            trials, config.model, text, metric=config.metric, confirmed=confirmed, brackets=brackets, tested=tested
        )
    target = json_file if json_file is not None else csv_file
    if target is None or str(target) == "-":
        click.echo(text.getvalue(), nl=False)
    else:  # whole or not at all: a full disk leaves no truncated file
        write_text_atomic(target, text.getvalue())


@click.command(name="list")
@runs_dir_option
def list_(runs_dir: Path | None) -> None:
    """The runs in the runs folder: trials done/planned and the best dev cost J; then those that cannot be read."""
    from hpsearch.storage.catalog import scan_runs

    folder = runs_dir_or_default(runs_dir)
    runs, unreadable = scan_runs(folder)
    if runs:
        render.console.print(render.runs_table(runs))
    elif not unreadable:
        render.say(plain(f"no runs in {folder} — start one with: hpsearch run configs/quickstart.yaml"))
    for run in unreadable:
        render.say(plain(f"{run.name}: not in the table — {run.reason}", "yellow"))


@click.command()
@click.argument("run_ref", metavar="RUN")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the PNGs and report.html (default: RUN/plots).",
)
@click.option(
    "--top", "-k", "top_k", type=click.IntRange(min=1), default=5, show_default=True, help="Trials marked as the top K."
)
@runs_dir_option
def plot(run_ref: str, out: Path | None, top_k: int, runs_dir: Path | None) -> None:
    """PNG plots of a run on each parameter's own scale, and one report.html."""
    from hpsearch.analysis.importance import run_importance
    from hpsearch.analysis.plots import plot_run, run_plots_dir
    from hpsearch.analysis.report import write_report
    from hpsearch.analysis.run_notes import test_notes
    from hpsearch.confirm.repeats import load_confirmation
    from hpsearch.search.run_config import stored_config
    from hpsearch.search.warm import summarize
    from hpsearch.storage.run_store import RunStore

    run_dir = resolve_run_dir(run_ref, runs_dir)
    with RunStore.open(run_dir, read_only=True) as store:
        rounds, trials, config, name = store.rounds(), store.trials(), stored_config(store), store.name
        decisions, confirmation, warm = store.decisions(), load_confirmation(store), store.tables.warm.all()
    out = out if out is not None else run_plots_dir(run_dir)
    out.mkdir(parents=True, exist_ok=True)
    importance = run_importance(config.space, trials, config.objective, config.search.metric)
    images = plot_run(
        rounds,
        trials,
        out,
        top_k=top_k,
        importance=importance,
        objective=config.objective,
        decisions=decisions,
        confirmation=confirmation,
        warm=[w.record(-1 - i) for i, w in enumerate(warm) if w.left_out is None],
    )
    report = write_report(
        out,
        run_name=name,
        rounds=rounds,
        trials=trials,
        images=images,
        importance=importance,
        metric=config.metric,
        confirmation=confirmation,
        notes=[*test_notes(run_dir, trials, config.objective is not None), *(w.line() for w in summarize(warm))],
    )
    for path in [*images, report]:
        click.echo(safe(path))


@click.command()
@click.argument("run_ref", metavar="RUN")
@runs_dir_option
def importance(run_ref: str, runs_dir: Path | None) -> None:
    """Which searched hyperparameters explain most of the variation of dev cost J."""
    from hpsearch.analysis.importance import run_importance
    from hpsearch.search.run_config import stored_config
    from hpsearch.storage.run_store import RunStore

    with RunStore.open(resolve_run_dir(run_ref, runs_dir), read_only=True) as store:
        trials, config = store.trials(), stored_config(store)
    report = run_importance(config.space, trials, config.objective, config.search.metric)
    render.console.print(render.importance_table(report, config.metric))
