"""PNG pictures of a finished search, each parameter on its own scale.

``plot_run`` writes:

* ``cost_vs_<name>.png`` for every searched parameter: dev J against its values,
  coloured by round, the top K ringed, each zoom round's box shaded, and every
  trial without a finite dev J (diverged or failed) as an ``x`` in a band above
  the plot — drawn apart, never dropped. A choice parameter gets a strip plot.
* ``pairs.png``: dev J over the plane of the two most important numeric
  parameters, one marker per round, zoom boxes outlined — coarse to fine.
* ``progress.png``: best dev J so far against trials finished.
* ``learning_curves.png``: train and dev J per epoch of the best trials.
* ``rungs_round<N>.png`` (a round under early stopping): every trial's dev J
  per epoch, the rung epochs marked.
* ``confirm.png`` (after ``hpsearch confirm``): a strip plot of the confirmed
  trials' repeats, one column each in confirmed order, mean and first run marked.

With an own objective, its metric takes the place of dev J everywhere (axes
are labelled with its name; with ``maximize``, best so far is the highest),
and the learning curves are its per-epoch reports of the metric.

matplotlib is an optional extra, imported only when plotting. The pictures
are drawn in the modules of this package: ``cost_plots`` (cost over the
searched values), ``curve_plots`` (per epoch), ``confirm_plot``; ``canvas``
holds what they share, ``run_view`` and ``parameter_axis`` prepare the run.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from hpsearch.analysis.importance import ImportanceReport
from hpsearch.analysis.plots.canvas import save_png, slug
from hpsearch.analysis.plots.confirm_plot import confirm_figure
from hpsearch.analysis.plots.cost_plots import pairs_figure, parameter_figure, progress_figure
from hpsearch.analysis.plots.curve_plots import learning_curves_figure, metric_curves_figure, rung_curves_figure
from hpsearch.analysis.plots.run_view import RunView, choose_pair
from hpsearch.core.decisions import Decision
from hpsearch.core.errors import MissingDependencyError
from hpsearch.core.records import RoundRecord, TrialRecord
from hpsearch.io.safe_files import check_no_symlinks, make_folder
from hpsearch.objectives.spec import ObjectiveSpec

if TYPE_CHECKING:
    from hpsearch.confirm.summary import Confirmation

PLOTS_DIR = "plots"


def plot_run(
    rounds: list[RoundRecord],
    trials: list[TrialRecord],
    out_dir: Path,
    *,
    top_k: int = 5,
    importance: ImportanceReport | None = None,
    objective: ObjectiveSpec | None = None,
    decisions: Mapping[int, list[Decision]] | None = None,
    confirmation: Confirmation | None = None,
    warm: list[TrialRecord] | None = None,
) -> list[Path]:
    """Write every picture of a run into ``out_dir`` (created if missing); return the files written.

    Parameters
    ----------
    rounds
        The run's rounds; their spaces set each parameter's scale and axis range.
    trials
        Every trial of the run, in any order, whatever its status.
    top_k
        How many of the best trials are ringed.
    importance
        Picks the pair for ``pairs.png``: its two most important numeric
        parameters; without it (or when it has too few trials), the first two by name.
    objective
        The run's own objective (None: the built-in engine): its metric is plotted instead of dev J.
    decisions
        Trial → its decisions (``hpsearch babysit``), marked on its learning curve.
    confirmation
        ``confirm.load_confirmation``'s summary: adds ``confirm.png``.
    warm
        A warm-started run's earlier trials that count as its history (``search.history``): drawn grey, apart
        from its own, in each ``cost_vs_*.png``.

    Raises
    ------
    MissingDependencyError
        When matplotlib is not installed.
    """
    try:
        import matplotlib  # noqa: F401  (only checks that the extra is installed)
    except ImportError as error:
        raise MissingDependencyError("matplotlib", "plot", "hpsearch plot") from error

    out_dir.mkdir(parents=True, exist_ok=True)
    view = replace(RunView.of(rounds, trials, top_k, objective), warm=tuple(warm or ()))
    written = []
    for name in view.axes:
        written.append(save_png(parameter_figure(view, name), out_dir / f"cost_vs_{slug(name)}.png"))
    pair = choose_pair(view, importance)
    if pair is not None:
        written.append(save_png(pairs_figure(view, *pair), out_dir / "pairs.png"))
    written.append(save_png(progress_figure(view), out_dir / "progress.png"))
    written.append(save_png(learning_curves_figure(view, decisions or {}), out_dir / "learning_curves.png"))
    if objective is None and any("dev_rmse" in t.history for t in view.ranked):  # a regression, in its units
        written.append(save_png(metric_curves_figure(view, "dev_rmse", "dev RMSE"), out_dir / "rmse_curves.png"))
    for rnd in rounds:
        in_round = [t for t in trials if t.round == rnd.round]
        if objective is None and any(t.rung is not None for t in in_round):  # the engine's rungs of dev J
            written.append(save_png(rung_curves_figure(rnd.round, in_round), out_dir / f"rungs_round{rnd.round}.png"))
    if confirmation is not None:
        written.append(save_png(confirm_figure(confirmation), out_dir / "confirm.png"))
    return written


def run_plots_dir(run_dir: Path) -> Path:
    """``run_dir/plots``, created if missing; RunError if the run folder holds a symlink."""
    check_no_symlinks(run_dir)
    return make_folder(run_dir, PLOTS_DIR)
