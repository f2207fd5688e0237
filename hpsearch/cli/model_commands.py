"""Commands about one model: ``confirm`` the best with fresh seeds, ``babysit`` one, ``predict`` with one."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator

import click

from hpsearch.cli import render
from hpsearch.cli.confirm_view import print_confirmation
from hpsearch.cli.options import execution_options, resolve_run_dir, runs_dir_option, runs_dir_or_default
from hpsearch.cli.progress import ConfirmProgress
from hpsearch.cli.text import plain
from hpsearch.nn.results import TrainResult


@click.command()
@click.argument("run_ref", metavar="RUN")
@click.option(
    "--top", "-k", "top_k", type=click.IntRange(min=1), default=5, show_default=True, help="Retrain the K best trials."
)
@click.option("--seeds", "-s", type=click.IntRange(min=2), default=5, show_default=True, help="Fresh seeds per trial.")
@click.option(
    "--trust",
    is_flag=True,
    help="Run a run folder from someone else: its command, module or dask scheduler (see the docs: the trust rule).",
)
@runs_dir_option
@execution_options
def confirm(
    run_ref: str,
    top_k: int,
    seeds: int,
    trust: bool,
    runs_dir: Path | None,
    workers: int | None,
    backend: str | None,
    scheduler: str | None,
    quiet: bool,
) -> None:
    """Retrain the top K trials with S fresh seeds each and rank them by mean dev J, with its spread.

    Resumable: run it again to train only the repeats without a record. The
    confirmed best becomes the recommended configuration and its median repeat the best model.
    """
    from hpsearch.analysis.run_notes import model_label
    from hpsearch.confirm.repeats import confirm_run
    from hpsearch.search.options import Execution
    from hpsearch.search.run_config import stored_config
    from hpsearch.search.test_part import current_test_figures
    from hpsearch.storage.run_store import RunStore

    run_dir = resolve_run_dir(run_ref, runs_dir)
    with RunStore.open(run_dir, read_only=True) as store:
        objective = stored_config(store).objective
    with ConfirmProgress(quiet=quiet, objective=objective) as progress:
        result = confirm_run(
            run_dir,
            top_k=top_k,
            seeds=seeds,
            execution=Execution(workers, backend, scheduler, trust),
            reporter=progress,
        )
    print_confirmation(result, run_dir, objective)
    figures = current_test_figures(run_dir)
    if figures is not None:
        render.say(
            plain(
                f"test part: the model predict uses ({model_label(figures)}) scores {figures.summary()} on "
                f"{figures.rows} rows no search step saw — its dev figures chose it, the test figure did not"
            )
        )


@click.command()
@click.argument("source", metavar="CONFIG.yaml|RUN", required=False)
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="NAME=VALUE",
    help="With CONFIG.yaml: set a hyperparameter (repeatable).",
)
@click.option(
    "--trial", type=click.IntRange(min=0), help="With a search RUN: hand this trial over to a new babysat run."
)
@click.option("--epochs", type=click.IntRange(min=1), help="Epochs to train (CONFIG.yaml: in all; RUN: more).")
@click.option(
    "--replay",
    "replay_ref",
    metavar="RUN",
    help="Re-execute RUN's decisions from the start and check every epoch's J, bit for bit.",
)
@click.option("--name", help="Name of the new run (default: CONFIG's name + -babysit, or RUN-trial-N).")
@runs_dir_option
def babysit(
    source: str | None,
    assignments: tuple[str, ...],
    trial: int | None,
    epochs: int | None,
    replay_ref: str | None,
    name: str | None,
    runs_dir: Path | None,
) -> None:
    """Panda: train one model epoch by epoch; nudge its learning rate, roll back when it worsens.

    (Panda: one model tended with care, as a panda raises one cub; caviar,
    a search, trains many at once and keeps the best, as a fish lays eggs.)

    \b
    hpsearch babysit CONFIG.yaml [--set NAME=VALUE ...]  a new model, as train
    hpsearch babysit RUN --trial N                       a search's trial, on
    hpsearch babysit RUN                                 a stopped babysat run
    hpsearch babysit --replay RUN                        the same, bit for bit

    Keys on a terminal: - halves the learning rate, + doubles it, r rolls back
    to the best epoch, p pauses, s saves and stops (so does Ctrl-C). The
    babysit: section of the config sets the unattended rules.
    """
    from hpsearch.babysit.session import continue_babysit, continue_trial, replay_babysit, start_babysit
    from hpsearch.config.loading import load_config
    from hpsearch.config.overrides import parse_assignments
    from hpsearch.config.single_model import single_model_config

    if replay_ref is not None:
        if source is not None:
            raise click.UsageError("--replay takes the run; give no other CONFIG.yaml or RUN")
        result = replay_babysit(resolve_run_dir(replay_ref, runs_dir), watcher=None)
        render.say(
            plain(
                f"replayed run '{result.name}': {result.epochs} epochs and {result.decisions} "
                "decisions — every epoch's J identical to the record, bit for bit"
            )
        )
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
            result = start_babysit(config, model, runs_dir=runs_dir_or_default(runs_dir), name=name, watcher=watcher)
        elif trial is not None:
            result = continue_trial(
                resolve_run_dir(source, runs_dir),
                trial,
                runs_dir=runs_dir_or_default(runs_dir),
                name=name,
                epochs=epochs,
                watcher=watcher,
            )
        else:
            if name is not None:
                raise click.UsageError("--name names a new run; this continues RUN")
            result = continue_babysit(resolve_run_dir(source, runs_dir), epochs=epochs, watcher=watcher)
    rec = result.record
    render.console.print(
        render.result_table(
            TrainResult(rec.status, rec.train_cost, rec.dev_cost, rec.dev_accuracy, rec.epochs_run, rec.seconds)
        )
    )
    why = {"epochs": f"trained its {result.target} epochs"}.get(result.stopped, f"stopped ({result.stopped})")
    render.say(
        plain(
            f"run '{result.name}' {why}; saved in {result.run_dir} — continue with: "
            f"hpsearch babysit {result.again} --epochs N"
        )
    )


def _refuse_own_objective(run_ref: str, runs_dir: Path | None) -> None:
    """RunError when the run tunes an own objective: its models are the user's code, hpsearch keeps none."""
    from hpsearch.core.errors import RunError
    from hpsearch.search.run_config import stored_config
    from hpsearch.storage.run_store import RunStore

    with RunStore.open(resolve_run_dir(run_ref, runs_dir), read_only=True) as store:
        objective = stored_config(store).objective
    if objective is not None:
        raise RunError(
            f"run '{run_ref}' tunes an own objective: its models are your code's, hpsearch keeps none "
            "to predict with — see hpsearch show for the best parameters"
        )


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


@click.command()
@click.argument("model_ref", metavar="RUN|MODEL.npz")
@click.argument("data_file", metavar="DATA.csv", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the predictions CSV to FILE (default: stdout).",
)
@click.option("--proba", is_flag=True, help="Add one probability column per class.")
@click.option(
    "--keep",
    multiple=True,
    metavar="COLUMN",
    help="Copy this column of DATA.csv into the output (an id to join on); repeatable.",
)
@runs_dir_option
def predict(
    model_ref: str, data_file: Path, out: Path | None, proba: bool, keep: tuple[str, ...], runs_dir: Path | None
) -> None:
    """Predict the class (or, for a regression, the number) of every row of DATA.csv with a run's best model
    (or a saved model file).

    DATA.csv needs the training columns (extra ones are ignored); it is prepared
    as the training data was. If it holds the label column, accuracy and cost (a regression:
    RMSE and R² in the target's units) are printed too.
    """
    from hpsearch.predict.model_files import resolve_model
    from hpsearch.predict.scoring import predict_csv
    from hpsearch.predict.writing import save_predictions, write_predictions

    if not model_ref.lower().endswith(".npz"):
        _refuse_own_objective(model_ref, runs_dir)
    predictions = predict_csv(resolve_model(model_ref, runs_dir_or_default(runs_dir)), data_file, keep, proba)
    if out is not None:
        save_predictions(predictions, out, proba=proba)  # atomic, never through a symlink
    else:
        with click.open_file("-", "w", encoding="utf-8") as f:
            write_predictions(predictions, f, proba=proba)
    summary = render.err_console if out is None else render.console  # stdout holds the CSV
    if out is not None:
        render.say(plain(f"{len(predictions.classes)} predictions written to {out}"), summary)
    scored = len(predictions.classes) - predictions.skipped
    rows = f"{scored} rows" + (f"; {predictions.skipped} without a label skipped" if predictions.skipped else "")
    if predictions.accuracy is not None:
        render.say(
            plain(
                f"against its {predictions.label} column: accuracy {predictions.accuracy:.2%}, "
                f"cost J {render.fmt(predictions.cost)} ({rows})"
            ),
            summary,
        )
    if predictions.rmse is not None:
        render.say(
            plain(
                f"against its {predictions.label} column: RMSE {render.fmt(predictions.rmse)}, "
                f"R² {render.fmt(predictions.r2)} ({rows})"
            ),
            summary,
        )
