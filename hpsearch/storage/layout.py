"""What a run folder holds, by name.

::

    config.yaml        the resolved config the run was started with (for people)
    run.sqlite         rounds, trials and metadata (the record the program reads)
    lock               held (flock) by the one process writing to the run
    models/best.npz    weights of the best trial so far (np.savez, no pickle)
    models/best-state.npz  its whole training state (optimizer moments, RNGs, history)
    models/refit.npz, refit.json  search.refit: the best model's configuration retrained on train+dev rows
    models/test.json   the test figures of the model predict uses (data.test_fraction/test_path)
    checkpoints/       training states of trials paused at a rung (early stopping only)
    data/              the prepared arrays the trials train on (hpsearch.data.stored_arrays)
"""

from __future__ import annotations

RUN_DB = "run.sqlite"
CONFIG_FILE = "config.yaml"
LOCK_FILE = "lock"
MODELS_DIR = "models"
BEST_MODEL = "best.npz"
BEST_STATE = "best-state.npz"
CHECKPOINTS_DIR = "checkpoints"
