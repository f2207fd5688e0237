"""safe_files: no write through a symlink, whole files or none, one line naming a planted link."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from hpsearch.core.errors import RunError
from hpsearch.io.safe_files import (
    check_no_symlinks,
    interrupts_deferred,
    make_folder,
    open_for_write,
    write_atomic,
    write_bytes_atomic,
)


@pytest.fixture
def precious(tmp_path: Path) -> Path:
    path = tmp_path / "precious"
    path.write_text("keep me\n")
    return path


def test_open_for_write_refuses_a_symlink_and_a_path(tmp_path: Path, precious: Path) -> None:
    (tmp_path / "lock").symlink_to(precious)
    with pytest.raises(RunError, match="lock' is a symlink"):
        open_for_write(tmp_path, "lock")
    for name in ("../x", "a/b", "..", ""):
        with pytest.raises(RunError, match="not a plain file name"):
            open_for_write(tmp_path, name)
    assert precious.read_text() == "keep me\n"


def test_an_atomic_write_replaces_a_symlink_instead_of_writing_through_it(tmp_path: Path, precious: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "best.npz").symlink_to(precious)
    path = write_bytes_atomic(folder, "best.npz", b"new")
    assert path.read_bytes() == b"new" and not path.is_symlink()
    assert precious.read_text() == "keep me\n"
    assert sorted(os.listdir(folder)) == ["best.npz"]  # no temp file left


def test_a_failed_atomic_write_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    (tmp_path / "out.csv").write_text("old")

    def fail() -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        write_bytes_atomic(tmp_path, "out.csv", b"new", before_replace=fail)
    assert (tmp_path / "out.csv").read_text() == "old"
    assert os.listdir(tmp_path) == ["out.csv"]


def test_make_folder_and_check_no_symlinks_name_the_link(tmp_path: Path, precious: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    assert make_folder(run, "models").is_dir()
    assert make_folder(run, "models").is_dir()  # already there: fine
    check_no_symlinks(run)
    (run / "plots").symlink_to(tmp_path)
    with pytest.raises(RunError, match="not a folder"):
        make_folder(run, "plots")
    with pytest.raises(RunError, match=r"holds a symlink, '.*/run/plots' ->"):
        check_no_symlinks(run)


def _ctrl_c() -> None:
    """Ctrl-C arriving now, as the terminal sends it."""
    os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_inside_a_write_is_delivered_once_the_file_is_whole(tmp_path: Path) -> None:
    def write(file) -> None:
        file.write(b"first half ")
        _ctrl_c()
        file.write(b"second half")

    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path, "out.bin", write)
    assert (tmp_path / "out.bin").read_bytes() == b"first half second half"
    assert os.listdir(tmp_path) == ["out.bin"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the user's Ctrl-C works again


def test_deferred_blocks_nest_and_the_outermost_delivers(tmp_path: Path) -> None:
    done = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts_deferred():
            write_bytes_atomic(tmp_path, "a", b"a")
            _ctrl_c()
            write_bytes_atomic(tmp_path, "b", b"b")  # the inner block's end does not deliver it
            done.append("b")
    assert done == ["b"] and sorted(os.listdir(tmp_path)) == ["a", "b"]
