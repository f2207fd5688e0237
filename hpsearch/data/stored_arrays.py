"""A run's stored arrays: the prepared data its trials train on, written once into the run folder.

::

    runs/NAME/data/
      X_train.npy y_train.npy X_dev.npy y_dev.npy   the prepared arrays (workers memory-map them)
      X_test.npy y_test.npy                         the test part, only with data.test_fraction/test_path
      preparation.npz                               the fitted Preparation (``prep_*`` arrays)
      dataset.json                                  name, class names, notices, source files and digests
      fold_index.npy  fold1/ .. fold{K-1}/          with data.cv: K, each row's fold, and folds 1..K-1 laid out
                                                    as this folder is (the folder itself is fold 0)
      all/                                          with data.cv: fold 0's rows and the test part, prepared on every
                                                    non-test row: what a refit trains on (train and dev together)

The data file is parsed once, when the run starts. Local workers open these
arrays memory-mapped (no parsing, no scikit-learn import, one copy in the page
cache for all of them); ``resume`` trains on exactly the data the run started
with, even if the source file has changed or gone since (``source_changes``
says so). Dask workers on other machines cannot see the run folder: the
runner sends them the arrays once each (``PreparedData.in_memory``).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import shutil
import stat
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hpsearch.core.dataset import Dataset
from hpsearch.core.errors import DataError
from hpsearch.core.limits import MAX_HASH_BYTES, MAX_META_BYTES
from hpsearch.data.data_config import MAX_CV_FOLDS
from hpsearch.data.datasets import DataConfig, load_dataset
from hpsearch.data.preparation import Preparation, preparation_arrays
from hpsearch.io import bounded_json
from hpsearch.io.digests import sha256_file
from hpsearch.io.npz import checked_arrays, read_arrays
from hpsearch.io.safe_files import fsync_dir, write_atomic, write_bytes_atomic

DATA_DIR = "data"
_META = "dataset.json"
_PREPARATION = "preparation.npz"
_ARRAYS = ("X_train", "y_train", "X_dev", "y_dev")
_TEST_ARRAYS = ("X_test", "y_test")
_FILES = tuple(f"{name}.npy" for name in _ARRAYS)
_FOLD_INDEX = "fold_index.npy"
_ALL_ROWS = "all"
PREPARED_FILES = (*(f"{DATA_DIR}/{name}.npy" for name in _ARRAYS), f"{DATA_DIR}/{_PREPARATION}", f"{DATA_DIR}/{_META}")
"""The prepared data's files, relative to the run folder: the run keeps their digests and checks them
before training on them (``RunStore.check_digests``)."""


def prepared_files(run_dir: Path) -> list[str]:
    """``PREPARED_FILES`` and, for a run with a test part (``dataset.json`` says so), the test arrays: a run
    whose test files vanished is refused by the digest check rather than read as one without a test part."""
    meta = Path(run_dir) / DATA_DIR / _META
    stored = _read_meta(meta) if meta.is_file() else {}
    test = stored.get("test") is True
    tests = [f"{name}.npy" for name in _TEST_ARRAYS if test]
    folds = [f"{DATA_DIR}/fold{k}/{name}" for k in range(1, _cv(stored)) for name in (*_FILES, _PREPARATION, _META)]
    every = [f"{DATA_DIR}/{_ALL_ROWS}/{name}" for name in (*_FILES, *tests, _PREPARATION, _META)]
    return [
        *PREPARED_FILES,
        *(f"{DATA_DIR}/{name}" for name in tests),
        *([f"{DATA_DIR}/{_FOLD_INDEX}"] if folds else []),
        *folds,
        *(every if stored.get(_ALL_ROWS) is True else []),  # runs cross-validated before the refit's own rows: none
    ]


def _cv(meta: dict[str, Any]) -> int:
    """The folds of a stored run's ``dataset.json`` (1: no cross-validation; older runs store no ``cv``)."""
    cv = meta.get("cv", 1)
    if type(cv) is not int or not 1 <= cv <= MAX_CV_FOLDS:
        raise DataError("dataset.json: is damaged (its cv) — was it changed outside hpsearch?")
    return cv


@dataclass(frozen=True)
class PreparedData:
    """A small, picklable handle on a run's prepared data: what a local worker is sent per trial."""

    folder: str

    def load(self) -> Dataset:
        """The dataset, memory-mapped read-only, without its test part (``test_rows``); opened once per process."""
        return _open(self.folder, os.stat(Path(self.folder) / _META).st_mtime_ns)

    def in_memory(self) -> Dataset:
        """The dataset with its arrays read into memory (to send to machines that cannot see the folder), its
        other folds with it (``data.cv``)."""
        data = self.load()
        arrays = {name: np.array(getattr(data, name)) for name in _ARRAYS}
        folds = tuple(self.fold(k).in_memory() for k in range(1, self.n_folds()))
        return dataclasses.replace(data, **arrays, folds=folds)

    def n_folds(self) -> int:
        """The run's ``data.cv`` folds; 1 for a run without cross-validation."""
        return _cv(_read_meta(Path(self.folder) / _META))

    def fold(self, k: int) -> PreparedData:
        """Fold ``k``'s prepared data (its dev part the fold; fold 0 is this folder itself)."""
        return self if k == 0 else PreparedData(str(Path(self.folder) / f"fold{k}"))

    def refit_data(self) -> PreparedData:
        """What a refit trains on (its train and dev rows together) and the test part scores it with: with
        ``data.cv``, every non-test row prepared on them all (``all/``); else this data, as a run cross-validated
        before ``all/`` existed, whose refit learns fold 0's preparation."""
        every = Path(self.folder) / _ALL_ROWS
        return PreparedData(str(every)) if _read_meta(Path(self.folder) / _META).get(_ALL_ROWS) is True else self

    def fold_index(self) -> np.ndarray | None:
        """The fold of each row of the data file (-1: a test row), or None for a run without cross-validation."""
        path = Path(self.folder) / _FOLD_INDEX
        return np.load(path, allow_pickle=False) if path.is_file() else None

    def test_rows(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The test part ``(X_test, y_test)``, prepared like dev, or None for a run without one. ``load`` never
        holds them: what trains, ranks or stops trials cannot read a test row."""
        path = Path(self.folder)
        if _read_meta(path / _META).get("test") is not True:
            return None
        X, y = (np.load(path / f"{name}.npy", allow_pickle=False) for name in _TEST_ARRAYS)
        return X, y

    def model_state(self, network_state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """A network's arrays plus the data preparation (``prep_*`` keys): what ``models/best.npz`` holds."""
        return {**network_state, **preparation_arrays(self.load().preparation)}


def write_prepared(run_dir: Path, dataset: Dataset) -> PreparedData:
    """Write ``dataset`` into ``run_dir/data`` (atomically: the folder appears whole or not at all).

    Each file goes through ``io.safe_files`` (fresh temp file, fsync, rename, never through a
    symlink) into a fresh hidden staging folder, which is fsynced and renamed into place.
    """
    folder = Path(run_dir) / DATA_DIR
    staging = Path(run_dir) / f".{DATA_DIR}.{uuid.uuid4().hex[:8]}.tmp"
    staging.mkdir()
    try:
        every = {_ALL_ROWS: True} if dataset.all_rows is not None else {}
        _write_files(staging, dataset, {"cv": len(dataset.folds) + 1, **every} if dataset.folds else {})
        for k, fold in enumerate(dataset.folds, start=1):
            (staging / f"fold{k}").mkdir()
            _write_files(staging / f"fold{k}", dataclasses.replace(fold, X_test=None, y_test=None), {})
        if dataset.all_rows is not None:
            (staging / _ALL_ROWS).mkdir()
            _write_files(staging / _ALL_ROWS, dataset.all_rows, {})
        if dataset.fold_index is not None:
            write_atomic(staging, _FOLD_INDEX, lambda file: np.save(file, dataset.fold_index, allow_pickle=False))
        try:
            os.rename(staging, folder)
        except OSError:
            if not (folder / _META).is_file():  # not another process that wrote it first
                raise
        else:
            fsync_dir(Path(run_dir))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return PreparedData(str(folder.resolve()))


def _write_files(folder: Path, dataset: Dataset, layout: dict[str, Any]) -> None:
    """The arrays, preparation and ``dataset.json`` of one Dataset into ``folder`` (``layout``: in fold 0's, the
    folds ``cv`` and whether ``all/`` is stored)."""
    test = dataset.X_test is not None
    for name in (*_ARRAYS, *(_TEST_ARRAYS if test else ())):
        array = getattr(dataset, name)
        write_atomic(folder, f"{name}.npy", lambda file, a=array: np.save(file, a, allow_pickle=False))
    preparation = checked_arrays(preparation_arrays(dataset.preparation))
    write_atomic(folder, _PREPARATION, lambda file: np.savez(file, **preparation))
    meta = {
        "name": dataset.name,
        "class_names": list(dataset.class_names),
        "notices": list(dataset.notices),
        "sources": [_source_stamp(path, digest) for path, digest in dataset.sources],
        **_regression_meta(dataset),
        **({"test": True} if test else {}),
        **layout,
    }
    write_bytes_atomic(folder, _META, json.dumps(meta, indent=1).encode("utf-8"))


def prepared_data(run_dir: Path, data: DataConfig) -> PreparedData:
    """The run's prepared data; a run started by an older hpsearch has none, so it is prepared now from ``data``."""
    folder = Path(run_dir) / DATA_DIR
    if (folder / _META).is_file():
        return PreparedData(str(folder.resolve()))
    return write_prepared(run_dir, load_dataset(data))


def run_data_notes(run_dir: Path) -> list[str]:
    """What to tell about a run's data: notices from its preparation, and source files changed since it started."""
    path = Path(run_dir) / DATA_DIR / _META
    if not path.is_file():
        return []
    meta = _read_meta(path)
    return [*meta["notices"], *source_changes(meta["sources"])]


def source_changes(sources: list[dict]) -> list[str]:
    """One line per source file that changed or vanished since it was read.

    Compared by size and modification time first; by content (SHA-256) only when the size is the same
    and the time is not, and only for a regular file of at most ``MAX_HASH_BYTES``: a path naming a
    device (``/dev/zero``) or a FIFO is never opened, so a run folder from someone else cannot make
    ``show`` hash forever.
    """
    lines = []
    kept = "the run (and resume) keep training on the data as it was; start a new run to use the new file"
    for source in sources:
        path = Path(source["path"])
        try:
            info = path.stat()
        except OSError:
            lines.append(
                f"{path}: the data file is gone since the run started — the run keeps training on its "
                "prepared copy of the data"
            )
            continue
        if not stat.S_ISREG(info.st_mode):
            lines.append(f"{path}: is not a regular file (a device, FIFO or folder) — not compared; {kept}")
        elif info.st_size != source["size"]:
            lines.append(f"{path}: the data file has changed since the run started (its size) — {kept}")
        elif info.st_mtime_ns == source["mtime_ns"]:
            continue
        elif info.st_size > MAX_HASH_BYTES:
            lines.append(f"{path}: modified since the run started, too large to compare by content — {kept}")
        else:
            try:
                changed = sha256_file(path, max_bytes=MAX_HASH_BYTES) != source["sha256"]
            except (OSError, ValueError):
                changed = True
            if changed:
                lines.append(f"{path}: the data file has changed since the run started — {kept}")
    return lines


def _read_meta(path: Path) -> dict[str, Any]:
    """``dataset.json``, bounded in size and nesting and checked field by field (DataError naming it)."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_META_BYTES:
            raise ValueError(f"not a regular file of at most {MAX_META_BYTES:,} bytes")
        meta = bounded_json.loads(path.read_bytes())
        if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
            raise ValueError("no name")
        for key in ("class_names", "notices"):
            if not isinstance(meta.get(key), list) or not all(isinstance(v, str) for v in meta[key]):
                raise ValueError(f"{key} is not a list of text")
        sources = meta.get("sources")
        fields = {"path": str, "sha256": str, "size": int, "mtime_ns": int}
        if not isinstance(sources, list) or not all(
            isinstance(s, dict) and all(type(s.get(k)) is t for k, t in fields.items()) for s in sources
        ):
            raise ValueError("sources are not a list of {path, sha256, size, mtime_ns}")
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: is damaged ({error}) — was it changed outside hpsearch?") from None
    return meta


def _source_stamp(path: str, digest: str) -> dict:
    info = os.stat(path)
    return {"path": path, "sha256": digest, "size": info.st_size, "mtime_ns": info.st_mtime_ns}


@functools.lru_cache(maxsize=MAX_CV_FOLDS + 1)
def _open(folder: str, stamp: int) -> Dataset:
    """The prepared arrays of ``folder``, memory-mapped (``stamp``: reopened if the folder was rewritten); room for
    every fold of a cross-validated run, whose segments come to a worker in any order of folds."""
    path = Path(folder)
    meta = _read_meta(path / _META)
    arrays = {name: np.load(path / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in _ARRAYS}
    preparation = Preparation.from_arrays(read_arrays(path / _PREPARATION, str(path / _PREPARATION)))
    return Dataset(
        meta["name"],
        **arrays,
        class_names=tuple(meta["class_names"]),
        preparation=preparation,
        notices=tuple(meta["notices"]),
        sources=tuple((s["path"], s["sha256"]) for s in meta["sources"]),
        **_regression_fields(meta, path / _META),
    )


def _regression_meta(dataset: Dataset) -> dict[str, Any]:
    """What ``dataset.json`` adds for a regression: the task, target names, and their training mean and scale."""
    if dataset.task != "regression":
        return {}
    return {
        "task": dataset.task,
        "target_names": list(dataset.target_names),
        "target_mean": [float(v) for v in dataset.target_mean],
        "target_scale": [float(v) for v in dataset.target_scale],
    }


def _regression_fields(meta: dict[str, Any], path: Path) -> dict[str, Any]:
    """The ``Dataset`` fields of a stored regression (none for classification, as older runs stored it)."""
    if meta.get("task", "classification") == "classification":
        return {}
    names, mean, scale = meta.get("target_names"), meta.get("target_mean"), meta.get("target_scale")
    valid = (
        meta["task"] == "regression"
        and isinstance(names, list)
        and names
        and all(isinstance(n, str) for n in names)
        and all(
            isinstance(v, list) and len(v) == len(names) and all(type(x) is float and np.isfinite(x) for x in v)
            for v in (mean, scale)
        )
        and all(x > 0 for x in scale)
    )
    if not valid:
        raise DataError(f"{path}: is damaged (its regression targets) — was it changed outside hpsearch?")
    return {
        "task": "regression",
        "target_names": tuple(names),
        "target_mean": np.array(mean),
        "target_scale": np.array(scale),
    }
