"""The NumPy training engine: fully connected nets with batch norm, softmax and four optimizers.

Example (``dataset`` is a ``hpsearch.core.dataset.Dataset``)::

    from hpsearch.nn import ModelConfig, Network, train

    result, network = train(ModelConfig(hidden=(64, 64), epochs=10), dataset)
    result.dev_accuracy, result.history["dev_cost"]
    network.predict(dataset.X_dev)
    network.save("best.npz")
    Network.load("best.npz").predict_proba(dataset.X_dev)

``train`` returns a ``hpsearch.nn.results.TrainResult`` and the trained ``Network``.

The task lives in the data: a ``Dataset`` with ``task="regression"`` (targets
(m, n_targets) standardized on the training part, with ``target_mean`` and
``target_scale``) trains a linear output on ``J = (1/2m) sum ||ŷ - y||^2``; its
history adds ``dev_rmse`` and ``dev_r2`` in target units (``dev_accuracy`` is
NaN), and ``network.predict`` returns (m, n_targets) values in target units::

    result, network = train(ModelConfig(hidden=(32,)), regression_data)
    result.dev_r2, result.dev_rmse, network.predict(X)  # X prepared as X_dev
Training in steps, with pauses that may cross processes, goes through a
``TrainingState``::

    from hpsearch.nn import TrainingState, fit, start

    state = fit(start(config, dataset), dataset, until_epoch=10)
    state.save("trial.npz")
    state = fit(TrainingState.load("trial.npz"), dataset, until_epoch=30)
    state.result()  # the same bits as train(config, dataset) with epochs=30
"""

from hpsearch.nn.hyperparams import HYPERPARAMETERS, ModelConfig
from hpsearch.nn.loop import StopTraining, fit, start
from hpsearch.nn.model import Network
from hpsearch.nn.state import TrainingState
from hpsearch.nn.train import train

__all__ = ["HYPERPARAMETERS", "ModelConfig", "Network", "StopTraining", "TrainingState", "fit", "start", "train"]
