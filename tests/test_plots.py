"""plot_run writes valid PNGs for real-looking runs and for degenerate ones, without warnings."""

from __future__ import annotations

import math
import struct
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from hpsearch.analysis.importance import hyperparameter_importance
from hpsearch.analysis.plots import plot_run
from hpsearch.analysis.plots.parameter_axis import one_minus_log_position, one_minus_log_ticks
from hpsearch.core.errors import MissingDependencyError
from hpsearch.core.records import RoundRecord, TrialRecord, TrialStatus
from hpsearch.space.search_space import Space

pytest.importorskip("matplotlib", reason="plots need the plot extra: pip install 'hpsearch[plot]'")
# A warning from matplotlib (identical limits, log of nonpositive values, ...) is a bug here.
pytestmark = pytest.mark.filterwarnings("error")

FIRST = {
    "learning_rate": {"scale": "log", "low": 1e-4, "high": 1.0},
    "beta1": {"scale": "one_minus_log", "low": 0.9, "high": 0.999},
    "layers": {"scale": "int", "low": 1, "high": 4},
    "hidden_units": {"scale": "int_log", "low": 16, "high": 256},
    "batch_size": {"choice": [32, 64, 128]},
}
ZOOM = {
    "learning_rate": {"scale": "log", "low": 1e-3, "high": 1e-2},
    "beta1": {"scale": "one_minus_log", "low": 0.95, "high": 0.995},
    "layers": {"scale": "int", "low": 2, "high": 3},
    "hidden_units": {"scale": "int_log", "low": 64, "high": 128},
    "batch_size": {"choice": [64]},
}


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from the PNG signature and IHDR chunk; fails on anything else."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    assert head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def make_trial(number: int, rnd: int, params: dict, status: TrialStatus, cost: float | None) -> TrialRecord:
    epochs = 6 if cost is not None else 0
    curve = [] if cost is None else [cost + 1.0 / (e + 1) for e in range(epochs)]
    return TrialRecord(
        trial=number,
        round=rnd,
        index=number,
        params=params,
        seed=number,
        status=status,
        dev_cost=cost,
        train_cost=None if cost is None else cost * 0.8,
        dev_accuracy=None if cost is None else 0.9,
        epochs_run=epochs,
        seconds=0.5,
        history={"train_cost": [c * 0.8 for c in curve], "dev_cost": curve, "dev_accuracy": [0.9] * epochs},
        error="ValueError: boom" if status is TrialStatus.FAILED else None,
    )


def synthetic_run(spaces: list[dict], per_round: int, seed: int = 0) -> tuple[list[RoundRecord], list[TrialRecord]]:
    """Rounds over ``spaces`` (the first initial, the rest zoom) with ok, diverged and failed trials."""
    rng = np.random.default_rng(seed)
    rounds, trials = [], []
    for r, spec in enumerate(spaces):
        space = Space.from_json(spec)
        rounds.append(
            RoundRecord(
                round=r,
                space=spec,
                n_trials=per_round,
                sampler="random",
                kind="initial" if r == 0 else "zoom",
                top_k=None if r == 0 else 3,
                first_trial=len(trials),
            )
        )
        for i in range(per_round):
            params = space.from_unit(rng.uniform(size=len(space)))
            lr = params.get("learning_rate", 1e-2)
            if i % 9 == 4:
                status, cost = TrialStatus.DIVERGED, [math.nan, math.inf][i % 2]
            elif i % 9 == 7:
                status, cost = TrialStatus.FAILED, None
            else:
                status, cost = TrialStatus.OK, 0.1 + (math.log10(lr) + 2.5) ** 2 + 0.05 * rng.uniform()
            trials.append(make_trial(len(trials), r, params, status, cost))
    return rounds, trials


def test_a_two_round_run_gets_every_png(tmp_path: Path):
    from matplotlib.image import imread

    rounds, trials = synthetic_run([FIRST, ZOOM], per_round=20)
    importance = hyperparameter_importance(Space.from_json(FIRST), trials)
    written = plot_run(rounds, trials, tmp_path, top_k=5, importance=importance)
    expected = {f"cost_vs_{name}.png" for name in FIRST} | {"pairs.png", "progress.png", "learning_curves.png"}
    assert {p.name for p in written} == expected
    assert sorted(tmp_path.iterdir()) == sorted(written)
    for path in written:
        width, height = png_size(path)
        assert 400 <= width <= 2000 and 300 <= height <= 2000, (path.name, width, height)
        assert imread(path).shape[:2] == (height, width)  # the header agrees with a real decoder


def test_the_one_minus_log_axis_is_monotone_in_one_minus_beta_with_equal_decades():
    betas = np.array([0.0, 0.5, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999])
    positions = one_minus_log_position(betas)
    order = np.argsort(1.0 - betas)
    assert np.all(np.diff(positions[order]) > 0), "position must grow with 1 − β"
    decades = one_minus_log_position([0.9, 0.99, 0.999])
    assert np.allclose(np.diff(decades), -1.0)


def test_one_minus_log_ticks_are_labelled_in_beta():
    positions, labels = one_minus_log_ticks(-3.2, -0.9)
    assert labels == ["0.999", "0.99", "0.9"]
    assert np.allclose(positions, [-3, -2, -1])
    # A zoomed box spanning less than two decades gets 1 − 2·10^−k and 1 − 5·10^−k too.
    positions, labels = one_minus_log_ticks(math.log10(1 - 0.995), math.log10(1 - 0.95))
    assert labels == ["0.995", "0.99", "0.98", "0.95"]
    assert np.allclose(1 - 10.0 ** np.array(positions), [0.995, 0.99, 0.98, 0.95])
    assert one_minus_log_ticks(math.log10(1 - 0.99), math.log10(1 - 0.8))[1] == ["0.99", "0.98", "0.95", "0.9", "0.8"]


def degenerate_runs() -> dict[str, tuple[list[RoundRecord], list[TrialRecord]]]:
    rounds, trials = synthetic_run([FIRST], per_round=9)
    first = RoundRecord(round=0, space=FIRST, n_trials=1, sampler="random")
    params = Space.from_json(FIRST).center()
    collapsed = {**FIRST, "layers": {"scale": "int", "low": 2, "high": 2}}
    choice_only = {"batch_size": {"choice": [32, 64]}, "activation": {"choice": ["relu", "tanh"]}}
    choice_rounds, choice_trials = synthetic_run([choice_only], per_round=9)
    return {
        "only failed trials": ([first], [make_trial(k, 0, params, TrialStatus.FAILED, None) for k in range(3)]),
        "a single ok trial": ([first], [make_trial(0, 0, params, TrialStatus.OK, 0.4)]),
        "no trials at all": ([first], []),
        "nan and inf costs, an ok trial's too": (
            rounds,
            trials + [make_trial(99, 0, params, TrialStatus.OK, math.nan)],
        ),
        "exact zero costs beside a huge one": (
            [first],
            [make_trial(k, 0, params, TrialStatus.OK, c) for k, c in enumerate([0.0, 0.0, 1e-9, 0.3, 40.0])],
        ),
        "a parameter with a single value": synthetic_run([FIRST, collapsed], per_round=9),
        "no numeric parameter": (choice_rounds, choice_trials),
    }


@pytest.mark.parametrize("case", list(degenerate_runs()))
def test_degenerate_runs_plot_without_error(tmp_path: Path, case: str):
    rounds, trials = degenerate_runs()[case]
    written = plot_run(rounds, trials, tmp_path)
    assert {"progress.png", "learning_curves.png"} <= {p.name for p in written}
    for path in written:
        png_size(path)


def test_pairs_needs_two_numeric_parameters(tmp_path: Path):
    rounds, trials = degenerate_runs()["no numeric parameter"]
    names = {p.name for p in plot_run(rounds, trials, tmp_path)}
    assert names == {"cost_vs_activation.png", "cost_vs_batch_size.png", "progress.png", "learning_curves.png"}


def test_without_matplotlib_it_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` raise ImportError
    rounds, trials = synthetic_run([FIRST], per_round=3)
    with pytest.raises(MissingDependencyError, match=r"pip install 'hpsearch\[plot\]'"):
        plot_run(rounds, trials, tmp_path / "plots")
    assert not (tmp_path / "plots").exists()


def test_no_band_for_diverged_or_failed_trials_when_there_are_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from hpsearch.analysis.plots.cost_plots import parameter_figure
    from hpsearch.analysis.plots.run_view import RunView

    rounds, trials = synthetic_run([FIRST], per_round=9)
    good = [t for t in trials if t.status is TrialStatus.OK]
    view = RunView.of(rounds, good, 3)
    assert len(parameter_figure(view, "learning_rate").axes) == 1
    view = RunView.of(rounds, trials, 3)
    assert len(parameter_figure(view, "learning_rate").axes) == 2  # the band, and the plot


def test_integer_ticks_are_plain_numbers():
    from hpsearch.analysis.plots.canvas import tick_text

    assert [tick_text(v) for v in (1024.0, 16.0, 2048.0, 0.003, 2.5, 1e5)] == [
        "1024",
        "16",
        "2048",
        "0.003",
        "2.5",
        "100000",
    ]


def test_pairs_are_the_two_most_important_numeric_parameters():
    from hpsearch.analysis.importance import Importance, ImportanceReport
    from hpsearch.analysis.plots.run_view import RunView, choose_pair

    rounds, trials = synthetic_run([FIRST], per_round=12)
    view = RunView.of(rounds, trials, 3)
    report = ImportanceReport(
        "m", 12, [Importance("batch_size", 0.5), Importance("layers", 0.3), Importance("beta1", 0.1)], True
    )
    assert choose_pair(view, report) == ("layers", "beta1")  # batch_size is a choice
    assert choose_pair(view, None) == ("beta1", "hidden_units")  # else the first two numeric ones by name


def halving_run() -> tuple[list[RoundRecord], list[TrialRecord]]:
    """One round under early stopping: 2 trials at the top rung (ok), 6 pruned at rung 1 — none diverged."""
    rounds, trials = synthetic_run([FIRST], per_round=8)
    shaped = []
    for t in trials:
        cost = 0.2 + 0.1 * t.trial
        top = t.trial < 2
        curve = [cost + 0.5, cost + 0.2, cost] if top else [cost + 0.5]
        shaped.append(
            TrialRecord(
                trial=t.trial,
                round=0,
                index=t.trial,
                params=t.params,
                seed=t.trial,
                status=TrialStatus.OK if top else TrialStatus.PRUNED,
                dev_cost=curve[-1],
                train_cost=curve[-1] * 0.8,
                dev_accuracy=0.9,
                epochs_run=len(curve),
                seconds=0.1,
                rung=1 if top else 0,
                value=curve[-1],
                history={"dev_cost": curve, "train_cost": [c * 0.8 for c in curve], "dev_accuracy": [0.9] * len(curve)},
            )
        )
    return rounds, shaped


def _legend(ax) -> list[str]:
    legend = ax.get_legend()
    return [] if legend is None else [text.get_text() for text in legend.get_texts()]


def _hollow_points(ax) -> int:
    """How many scatter points of ``ax`` are drawn without a face (hollow markers)."""
    count = 0
    for collection in ax.collections:
        faces = collection.get_facecolors()
        if (
            len(collection.get_offsets())
            and (len(faces) == 0 or (faces[:, 3] == 0).all())
            and collection.get_sizes().max() < 100
        ):  # the top-K rings are larger
            count += len(collection.get_offsets())
    return count


def test_pruned_trials_are_drawn_hollow_at_their_rung_value_not_in_the_diverged_band():
    from hpsearch.analysis.plots.cost_plots import pairs_figure, parameter_figure, progress_figure
    from hpsearch.analysis.plots.run_view import RunView

    rounds, trials = halving_run()
    view = RunView.of(rounds, trials, 3)
    assert view.good.sum() == 8 and view.pruned_mask.sum() == 6  # every pruned trial has its value
    figure = parameter_figure(view, "learning_rate")
    assert len(figure.axes) == 1  # no diverged/failed band: none diverged or failed
    ax = figure.axes[0]
    assert _hollow_points(ax) == 6
    assert any("pruned" in label for label in _legend(ax))
    assert not any("diverged" in label for label in _legend(ax))
    pairs = pairs_figure(view, "learning_rate", "beta1").axes[0]
    assert _hollow_points(pairs) == 6 and not any("diverged" in label for label in _legend(pairs))
    progress = progress_figure(view).axes[0]
    assert any("pruned" in label for label in _legend(progress))
    assert not any("diverged" in label for label in _legend(progress))


def test_curve_titles_and_legends_say_what_is_drawn():
    from hpsearch.analysis.plots.curve_plots import learning_curves_figure, rung_curves_figure
    from hpsearch.analysis.plots.run_view import RunView

    rounds, trials = synthetic_run([FIRST], per_round=9)
    ok = [t for t in trials if t.status is TrialStatus.OK][:3]
    view = RunView.of(rounds, ok, 3)
    assert learning_curves_figure(view, {}).axes[0].get_title() == "learning curves of the best 3 trials"
    rounds, trials = halving_run()
    # 8 trials at the top rung: the legend names the best 5 and says 3 more are drawn in colour
    top = [
        replace(t, status=TrialStatus.OK, rung=1, history={**t.history, "dev_cost": [1.0, 0.9, t.dev_cost]})
        for t in trials
    ]
    ax = rung_curves_figure(0, top).axes[0]
    named = [label for label in _legend(ax) if label.startswith("#")]
    assert len(named) == 5
    assert "(and 3 more at the top rung, in colour)" in _legend(ax)
    assert "8 at the top rung in colour, the best 5 named" in ax.get_title()


def test_only_box_zoom_rounds_are_outlined_as_boxes():
    """A tpe round stores the whole space searched so far: drawing it as a 'box' would shade every axis."""
    from dataclasses import replace

    from hpsearch.analysis.plots.run_view import RunView

    rounds, trials = synthetic_run([FIRST, ZOOM, FIRST], per_round=6)
    rounds[2] = replace(rounds[2], sampler="tpe")
    assert [number for number, _ in RunView.of(rounds, trials, 3).zoom_boxes()] == [1]


def test_a_regression_gets_its_dev_rmse_per_epoch_in_the_targets_units(tmp_path: Path):
    from dataclasses import replace

    rounds, trials = synthetic_run([FIRST], per_round=8)
    trials = [replace(t, history={**t.history, "dev_rmse": [40.0 * c for c in t.history["dev_cost"]]}) for t in trials]
    written = plot_run(rounds, trials, tmp_path, top_k=3)
    assert tmp_path / "rmse_curves.png" in written
    width, height = png_size(tmp_path / "rmse_curves.png")
    assert width >= 400 and height >= 300
