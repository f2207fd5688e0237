"""execution.leftovers: what a kill -9 leaves in shared memory is removed once its maker is gone, and only that."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hpsearch.execution import leftovers


@pytest.fixture
def shm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in for /dev/shm (and the temp folder, and no JOBLIB_TEMP_FOLDER)."""
    folder = tmp_path / "shm"
    folder.mkdir()
    monkeypatch.setattr(leftovers, "SHARED_MEMORY", str(folder))
    monkeypatch.setattr(leftovers.tempfile, "gettempdir", lambda: str(folder))
    monkeypatch.delenv("JOBLIB_TEMP_FOLDER", raising=False)
    return folder


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_only_loky_and_joblib_leftovers_of_dead_makers_are_removed(shm: Path, tmp_path: Path) -> None:
    dead, alive = _dead_pid(), os.getpid()
    hexa, hexb = "0" * 32, "f" * 32
    (shm / f"sem.loky-{dead}-_x9ab_c").write_bytes(b"")
    (shm / f"joblib_memmapping_folder_{dead}_{hexa}_{hexb}").mkdir()
    (shm / f"joblib_memmapping_folder_{dead}_{hexa}_{hexb}" / "a.pkl").write_bytes(b"x")
    kept = [
        f"sem.loky-{alive}-abc",
        f"joblib_memmapping_folder_{alive}_{hexa}_{hexb}",  # the maker still runs
        f"sem.mp-{dead}-abc",
        f"joblib_memmapping_folder_{dead}",
        f"other_{dead}",
    ]  # not loky's or joblib's
    for name in kept:
        (shm / name).write_bytes(b"")
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "file").write_text("keep me\n")
    link = f"joblib_memmapping_folder_{dead}_{hexb}_{hexa}"
    (shm / link).symlink_to(precious)  # named like one, but a link: never followed, never removed
    removed = leftovers.remove_leftovers()
    assert sorted(Path(p).name for p in removed) == sorted(
        [f"sem.loky-{dead}-_x9ab_c", f"joblib_memmapping_folder_{dead}_{hexa}_{hexb}"]
    )
    assert sorted(os.listdir(shm)) == sorted(kept + [link])
    assert (precious / "file").read_text() == "keep me\n"


def test_the_watcher_can_run_the_module_without_hpsearch_on_its_path(shm: Path) -> None:
    """The bare watcher (``python -I -S``) runs the file itself after the search's death."""
    dead = _dead_pid()
    (shm / f"sem.loky-{dead}-abc").write_bytes(b"")
    script = (
        f"import runpy; ns = runpy.run_path({leftovers.__file__!r}); "
        f"ns['SHARED_MEMORY'] = {str(shm)!r}; ns['remove_leftovers'].__globals__['SHARED_MEMORY'] = {str(shm)!r}; "
        "print(ns['remove_leftovers']())"
    )
    out = subprocess.run([sys.executable, "-I", "-S", "-c", script], capture_output=True, text=True, check=True)
    assert f"sem.loky-{dead}-abc" in out.stdout
