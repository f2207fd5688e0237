"""The config a stored run was created with, read as that run meant it.

A setting added after a run was made gets a new default; a run stored before the setting existed keeps
behaving as it did, so it resumes, zooms and shows the same. Each such case is one line here.
"""

from __future__ import annotations

from hpsearch.config.search_config import SearchConfig, config_from_dict
from hpsearch.storage.run_store import RunStore


def stored_config(store: RunStore) -> SearchConfig:
    """The resolved config a run was created with.

    A run stored before ``search.zoom`` existed zoomed in the box: it keeps doing so (the default is now auto).
    """
    raw = store.config
    search = raw.get("search") or {}
    if isinstance(search, dict) and "zoom" not in search:
        raw = {**raw, "search": {**search, "zoom": "box"}}
    return config_from_dict(raw, source=str(store.run_dir / "config.yaml"), base_dir=store.run_dir)


def stored_metric(store: RunStore) -> str:
    """What a stored engine run ranks by (``search.metric``); a run stored before the key, or without it, by J."""
    search = store.config.get("search")
    return str(search.get("metric", "cost")) if isinstance(search, dict) else "cost"
