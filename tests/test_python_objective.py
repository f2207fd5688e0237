"""A Python function as the objective: its return value, its errors, its reports and pruning, its import."""

from __future__ import annotations

import sys
import textwrap
import time

import pytest

from hpsearch.objectives.evaluate import evaluate
from hpsearch.objectives.function import Trial, TrialPruned
from hpsearch.objectives.spec import ObjectiveSpec


def spec_of(function, **changes) -> ObjectiveSpec:
    spec = ObjectiveSpec.for_callable(function, metric="val_loss", **changes)
    return spec


def run(spec, params=None, tmp_path=None, **kwargs):
    return evaluate(spec, params or {"lr": 0.5}, seed=11, trial=4, trial_dir=tmp_path, **kwargs)


def test_a_returned_number_is_the_value(tmp_path):
    result = run(spec_of(lambda params: params["lr"] * 2), tmp_path=tmp_path)
    assert (result.status, result.value, result.error) == ("ok", 1.0, None)


def test_a_returned_dict_gives_the_value_and_the_other_numeric_metrics(tmp_path):
    result = run(spec_of(lambda params: {"val_loss": 0.25, "val_acc": 0.75, "note": "text"}), tmp_path=tmp_path)
    assert (result.status, result.value, result.metrics) == ("ok", 0.25, {"val_acc": 0.75})


def test_a_function_that_raises_is_failed_with_its_message(tmp_path):
    def train(params):
        raise ValueError(f"learning rate {params['lr']} is too high\nsecond line")

    result = run(spec_of(train), tmp_path=tmp_path)
    assert result.status == "failed"
    assert result.error.startswith("ValueError: learning rate 0.5 is too high (traceback in ")
    assert result.error.endswith("/traceback.txt)")
    assert "second line" in (tmp_path / "traceback.txt").read_text()


@pytest.mark.parametrize("returned", [None, "0.5", True, {"val_acc": 0.9}, {"val_loss": float("inf")}])
def test_a_return_without_a_finite_metric_is_failed_with_a_reason(tmp_path, returned):
    result = run(spec_of(lambda params: returned), tmp_path=tmp_path)
    assert result.status == "failed"
    assert result.error


def test_the_trial_handle_gives_seed_number_folder_and_collects_reports(tmp_path):
    seen = {}

    def train(params, trial: Trial):
        seen.update(seed=trial.seed, number=trial.number, dir=trial.dir, params=trial.params)
        for epoch in range(3):
            trial.report(epoch, val_loss=1.0 / (epoch + 1), train_loss=0.5)
        return {"val_loss": 0.3}

    result = run(spec_of(train), {"lr": 0.1, "batch": 128}, tmp_path)
    assert seen == {"seed": 11, "number": 4, "dir": tmp_path, "params": {"lr": 0.1, "batch": 128}}
    assert result.status == "ok" and result.value == 0.3
    assert [h["epoch"] for h in result.history] == [0, 1, 2]
    assert result.history[1] == {"epoch": 1, "val_loss": 0.5, "train_loss": 0.5}


def test_pruning_raises_through_a_catch_all_and_the_trial_is_pruned(tmp_path):
    reached = []

    def train(params, trial):
        for epoch in range(10):
            try:
                trial.report(epoch, val_loss=2.0)
            except Exception:  # noqa: BLE001 — a user's catch-all must not swallow the stop
                reached.append("swallowed")
            reached.append(epoch)
        return 2.0

    result = run(spec_of(train), tmp_path=tmp_path, should_stop=lambda epoch, value: epoch >= 2)
    assert result.status == "pruned"
    assert result.value == 2.0
    assert reached == [0, 1]
    assert [h["epoch"] for h in result.history] == [0, 1, 2]
    assert issubclass(TrialPruned, BaseException) and not issubclass(TrialPruned, Exception)


def test_a_function_that_catches_the_prune_and_returns_is_still_pruned(tmp_path):
    def train(params, trial):
        try:
            trial.report(1, val_loss=9.0)
        except TrialPruned:
            pass
        return 0.1

    result = run(spec_of(train), tmp_path=tmp_path, should_stop=lambda epoch, value: True)
    assert result.status == "pruned"


@pytest.mark.skipif(sys.platform == "win32", reason="SIGALRM")
def test_a_function_past_its_timeout_is_failed(tmp_path):
    def train(params):
        time.sleep(30)
        return 1.0

    result = run(spec_of(train, timeout=0.3), tmp_path=tmp_path)
    assert (result.status, result.error) == ("failed", "timed out after 0.3 s")


def test_module_function_is_imported_from_the_config_folder(tmp_path):
    (tmp_path / "my_objective_mod.py").write_text(
        textwrap.dedent("""
        def train(params, trial):
            return {"val_loss": params["x"] ** 2 + trial.seed}
    """)
    )
    spec = ObjectiveSpec("python", None, "my_objective_mod:train", "val_loss", "minimize", None, str(tmp_path))
    try:
        result = run(spec, {"x": 3}, tmp_path)
    finally:
        sys.modules.pop("my_objective_mod", None)
        sys.path.remove(str(tmp_path))
    assert (result.status, result.value) == ("ok", 20.0)


@pytest.mark.parametrize(
    "target, words",
    [
        ("no_such_module_hp:train", "cannot import no_such_module_hp"),
        ("json:no_such_function", "json has no no_such_function"),
    ],
)
def test_a_function_that_cannot_be_found_is_failed_with_the_fix(tmp_path, target, words):
    spec = ObjectiveSpec("python", None, target, "val_loss", "minimize", None, str(tmp_path))
    result = run(spec, tmp_path=tmp_path)
    sys.path.remove(str(tmp_path))
    assert result.status == "failed"
    assert words in result.error


@pytest.mark.parametrize(
    "raise_it, reason",
    [
        (lambda: sys.exit(0), "SystemExit: 0"),
        (lambda: sys.exit(), "SystemExit"),
        (lambda: (_ for _ in ()).throw(GeneratorExit()), "GeneratorExit"),
    ],
)
def test_sys_exit_and_generator_exit_fail_their_trial_only(tmp_path, raise_it, reason):
    result = run(spec_of(lambda params: raise_it()), tmp_path=tmp_path / "t")
    assert result.status == "failed" and result.error.split(" (")[0] == reason
    assert (tmp_path / "t" / "traceback.txt").exists()


def test_a_keyboard_interrupt_still_stops_the_search(tmp_path):
    def train(params):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(spec_of(train), tmp_path=tmp_path)


@pytest.mark.parametrize("returned", ["float32", "int64", "array0d"])
def test_numpy_scalars_and_0d_arrays_are_numbers(tmp_path, returned):
    import numpy as np

    value = {"float32": np.float32(0.25), "int64": np.int64(3), "array0d": np.array(0.5)}[returned]
    result = run(spec_of(lambda params: value), tmp_path=tmp_path)
    assert result.status == "ok" and result.value == float(value)


def test_reports_with_huge_or_numpy_numbers_keep_only_finite_ones(tmp_path):
    import numpy as np

    def train(params, trial):
        trial.report(1, val_loss=np.float32(0.5), huge=10**400, inf=float("inf"), fine=np.int64(2))
        return {"val_loss": 0.3, "huge": 10**400, "n": np.float64(1.5)}

    result = run(spec_of(train), tmp_path=tmp_path)
    assert result.status == "ok" and result.metrics == {"n": 1.5}
    assert result.history == [{"epoch": 1, "val_loss": 0.5, "fine": 2}]


def test_a_metric_out_of_float_range_fails_saying_so(tmp_path):
    result = run(spec_of(lambda params: 10**400), tmp_path=tmp_path)
    assert result.status == "failed" and "integer of 401 digits, out of float range" in result.error
