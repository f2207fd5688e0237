"""Who may make a stored run execute code or connect somewhere: the trust policy of resume, zoom and confirm.

A run folder can come from someone else (a colleague's share, a download). Its config may name a command,
a Python module or a dask scheduler; training it would run that command or import that module. The
built-in engine on local workers runs only hpsearch's code, so it is always allowed; the rest needs the
run to have been created by this user on this machine, or ``--trust``.
"""

from __future__ import annotations

from hpsearch.config.search_config import SearchConfig
from hpsearch.core.errors import RunError
from hpsearch.search.options import Execution
from hpsearch.storage.run_store import RunStore, machine_id


def check_trusted(store: RunStore, config: SearchConfig, execution: Execution) -> None:
    """RunError (one line saying what would run) for a run this user on this machine did not create whose
    objective is a command or a Python function, or whose trials go to a dask scheduler, unless
    ``execution.trust``. The built-in engine on local workers runs only hpsearch's code: always allowed.
    """
    if execution.trust or store.created_by == machine_id():
        return
    would = []
    objective = config.objective
    if objective is not None and objective.command is not None:
        would.append(f"run the command {' '.join(objective.command)!r} (in {objective.base_dir})")
    elif objective is not None:
        would.append(f"import and call {objective.python!r} (from {objective.base_dir})")
    if (execution.backend or config.search.backend) == "dask":
        would.append(f"connect to the dask scheduler {execution.scheduler or config.search.scheduler!r}")
    if not would:
        return
    creator = f"by {store.created_by}" if store.created_by else "by an hpsearch that recorded no creator"
    raise RunError(
        f"run '{store.name}' was created {creator}, not by {machine_id()}: it would "
        f"{' and '.join(would)} — read {store.run_dir / 'config.yaml'}, then add --trust to allow it"
    )
