"""The NumPy training engine: fully connected nets with batch norm, softmax and four optimizers.

Example (``dataset`` is a ``hpsearch.data.datasets.Dataset``)::

    from hpsearch.nn import ModelConfig, Network, train

    result, network = train(ModelConfig(hidden=(64, 64), epochs=10), dataset)
    result.dev_accuracy, result.history["dev_cost"]
    network.predict(dataset.X_dev)
    network.save("best.npz")
    Network.load("best.npz").predict_proba(dataset.X_dev)

``train`` returns a ``hpsearch.nn.results.TrainResult`` and the trained ``Network``.
Training in steps, with pauses that may cross processes, goes through a
``TrainingState``::

    from hpsearch.nn import TrainingState, fit, start

    state = fit(start(config, dataset), dataset, until_epoch=10)
    state.save("trial.npz")
    state = fit(TrainingState.load("trial.npz"), dataset, until_epoch=30)
    state.result()  # the same bits as train(config, dataset) with epochs=30
"""

from hpsearch.nn.hyperparams import HYPERPARAMETERS, ModelConfig
from hpsearch.nn.model import Network
from hpsearch.nn.state import StopTraining, TrainingState, fit, start
from hpsearch.nn.train import train

__all__ = ["HYPERPARAMETERS", "ModelConfig", "Network", "StopTraining", "TrainingState", "fit", "start", "train"]
