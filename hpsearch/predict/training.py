"""One model trained from a config file, without a search: the Python API under ``hpsearch train``.

::

    from hpsearch import load_config, train_model
    trained = train_model(load_config("configs/quickstart.yaml"), {"learning_rate": 0.01}, save=Path("m.npz"))
    trained.result.dev_cost, trained.model.predict(rows)

Each searched hyperparameter takes its entry of ``values``, else the centre of its range on its own
scale (``config.single_model``); ``TrainedModel.sources`` says where every value came from
(``config.value_sources``). Nothing is stored in a run folder: a model to keep is saved with ``save``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from hpsearch.config.search_config import SearchConfig
from hpsearch.config.single_model import single_model_config
from hpsearch.config.value_sources import ignored_settings, single_model_sources
from hpsearch.data.datasets import load_dataset
from hpsearch.nn import ModelConfig, train
from hpsearch.nn.results import TrainResult
from hpsearch.predict.model import Model


@dataclass(frozen=True)
class ModelPlan:
    """The model about to be trained: its hyperparameters, ``(name, value, where it came from)`` for each,
    and one line per set value the engine ignores under the others (``beta`` with ``optimizer: adam``)."""

    hyperparams: ModelConfig
    sources: list[tuple[str, Any, str]]
    ignored: list[str]


@dataclass(frozen=True, eq=False)
class TrainedModel:
    """What ``train_model`` made: the training result, the model (network and data preparation, ready to
    predict or save) and the plan it was trained by."""

    result: TrainResult
    model: Model
    plan: ModelPlan


class TrainReporter(Protocol):
    """What a front end hears while ``train_model`` runs (the CLI draws the values table and a bar from it).

    ``note``: something about the data the user should know (a dropped index column). ``training_started``:
    the data are read and the model is planned; training starts now. ``epoch_finished``: an epoch ended
    (``hpsearch.nn.train``'s ``on_epoch``: its 0-based index and its costs).
    """

    def note(self, message: str) -> None: ...

    def training_started(self, plan: ModelPlan) -> None: ...

    def epoch_finished(self, epoch: int, stats: dict[str, float]) -> None: ...


def train_model(
    config: SearchConfig,
    values: Mapping[str, Any] | None = None,
    *,
    save: Path | None = None,
    reporter: TrainReporter | None = None,
) -> TrainedModel:
    """Train the one model ``config`` describes, with ``values`` set by hyperparameter name (``train --set``).

    A value problem (an unknown name, a value out of range) is a ConfigError before the data are read; a data
    problem a DataError before training. ``save``: write the model file there (atomically), as ``train --save``.
    The same config and values train the same model, bit for bit (its seed is the ``seed`` hyperparameter).
    """
    values = dict(values or {})
    hyperparams = single_model_config(config, values)
    plan = ModelPlan(
        hyperparams, single_model_sources(config, values, hyperparams), ignored_settings(values, hyperparams)
    )
    data = load_dataset(config.resolved_data())
    if reporter is not None:
        for line in data.notices:
            reporter.note(line)
        if data.X_test is not None:  # one model chose nothing on dev rows: its dev J is no winner's flattered figure
            reporter.note(
                "the test part (data.test_fraction/test_path) is left out and unused: train scores its "
                "one model on the dev rows — a search (hpsearch run) scores its winner on the test part"
            )
        if data.folds:  # one model: the first fold's split stands in for the dev split
            reporter.note(
                f"data.cv: train trains one model, on fold 0 of the {len(data.folds) + 1} folds (its dev rows that "
                "fold) — a search (hpsearch run) cross-validates every trial"
            )
        reporter.training_started(plan)
    result, network = train(hyperparams, data, on_epoch=reporter.epoch_finished if reporter is not None else None)
    model = Model.from_training(network, data)
    if save is not None:
        model.save(save)
    return TrainedModel(result, model, plan)


__all__ = ["ModelPlan", "TrainReporter", "TrainedModel", "train_model"]
