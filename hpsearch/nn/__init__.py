"""The NumPy training engine: fully connected nets with batch norm, softmax and four optimizers.

>>> from hpsearch.nn import ModelConfig, train
>>> result, network = train(ModelConfig(hidden=(64, 64), epochs=10), dataset)
>>> network.predict(dataset.X_dev)

``train`` returns a ``hpsearch.records.TrainResult`` and the trained ``Network``;
``Network.save``/``Network.load`` write and read it as ``.npz``.
"""

from hpsearch.nn.hyperparams import HYPERPARAMETERS, ModelConfig
from hpsearch.nn.model import Network
from hpsearch.nn.train import train

__all__ = ["HYPERPARAMETERS", "ModelConfig", "Network", "train"]
