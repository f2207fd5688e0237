"""hpsearch: hyperparameter search for NumPy neural networks.

The Python API under the ``hpsearch`` command::

    from hpsearch import load_config, start_search
    result = start_search(load_config("configs/quickstart.yaml"), runs_dir=Path("runs"))

The engine lives in ``hpsearch.nn`` (``train``, ``Network``, ``ModelConfig``),
datasets in ``hpsearch.data``, search spaces in ``hpsearch.space``.
"""

__version__ = "0.1.0"

from hpsearch.config import SearchConfig, load_config  # noqa: E402
from hpsearch.errors import HpsearchError  # noqa: E402
from hpsearch.search import Execution, SearchResult, planned_trials, resume_search, start_search, zoom_search  # noqa: E402

__all__ = [
    "Execution",
    "HpsearchError",
    "SearchConfig",
    "SearchResult",
    "load_config",
    "planned_trials",
    "resume_search",
    "start_search",
    "zoom_search",
]
