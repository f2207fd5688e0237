"""io.npz: every .npz hpsearch reads has its headers checked before anything is allocated; every .npz it
writes goes through the one atomic, symlink-refusing writer."""

from __future__ import annotations

import io
import os
import signal
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from numpy.lib import format as npy_format

import hpsearch.core.memory
from hpsearch.cli.main import cli
from hpsearch.core.errors import DataError
from hpsearch.io.npz import NpzUnreadable, npz_bytes, read_arrays, save_npz
from hpsearch.nn import ModelConfig, Network
from hpsearch.nn.state import TrainingState
from hpsearch.storage.run_store import RunStore

GB = 10**9


def npy_member(shape: tuple[int, ...], dtype: str, data: bytes) -> bytes:
    """An .npy member whose header declares ``shape`` and ``dtype``, followed by ``data`` (maybe far less)."""
    buffer = io.BytesIO()
    npy_format.write_array_header_1_0(buffer, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape})
    return buffer.getvalue() + data


def rewrite_member(path: Path, name: str, member: bytes, compression: int = zipfile.ZIP_STORED) -> None:
    """Replace the member ``name``.npy of the archive at ``path`` (its other members kept)."""
    with zipfile.ZipFile(path) as archive:
        others = {info.filename: archive.read(info) for info in archive.infolist() if info.filename != f"{name}.npy"}
    with zipfile.ZipFile(path, "w") as archive:
        for filename, content in others.items():
            archive.writestr(filename, content)
        archive.writestr(f"{name}.npy", member, compress_type=compression)


def a_network_file(path: Path) -> Path:
    Network.init(3, 2, ModelConfig(hidden=(4,))).save(path)
    return path


def peak_allocation(action) -> int:
    """Bytes NumPy and Python allocated at most while ``action()`` ran (it may raise)."""
    tracemalloc.start()
    try:
        action()
    except Exception:
        pass
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def test_a_model_whose_w1_declares_4_gb_is_refused_before_allocating(tmp_path: Path) -> None:
    path = a_network_file(tmp_path / "model.npz")
    rewrite_member(path, "W1", npy_member((GB // 8 * 4,), "<f8", b"\0" * 3_900_000))  # 4 GB declared, 3.9 MB held
    assert path.stat().st_size < 4_000_000
    with pytest.raises(DataError) as refused:
        Network.load(path)
    message = str(refused.value)
    assert str(path) in message and "W1" in message and "declares" in message and "\n" not in message
    assert peak_allocation(lambda: Network.load(path)) < 50_000_000


def test_predict_with_such_a_model_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path = a_network_file(tmp_path / "model.npz")
    rewrite_member(path, "W1", npy_member((GB // 2,), "<f8", b"\0" * 1000))
    (tmp_path / "rows.csv").write_text("a,b,c\n1,2,3\n")
    result = CliRunner().invoke(cli, ["predict", str(path), str(tmp_path / "rows.csv")])
    assert result.exit_code == 2 and "model.npz" in result.output and "W1" in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_a_zip_bomb_is_refused_when_it_would_not_fit_in_memory(tmp_path: Path, monkeypatch) -> None:
    path = a_network_file(tmp_path / "bomb.npz")
    # 40 MB of zeros deflate to a few tens of KB: the header is honest, the memory is not there.
    rewrite_member(path, "W1", npy_member((5_000_000,), "<f8", bytes(40_000_000)), zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 1_000_000
    monkeypatch.setattr(hpsearch.core.memory, "available_bytes", lambda: 10_000_000)
    with pytest.raises(DataError, match=r"bomb.npz: array W1 of shape \(5000000,\) needs ~.* GiB, more than"):
        Network.load(path)


def test_arrays_that_fit_alone_but_not_together_are_refused(tmp_path: Path, monkeypatch) -> None:
    content = npz_bytes({"a": np.zeros(600_000), "b": np.zeros(600_000)})  # 4.8 MB each
    monkeypatch.setattr(hpsearch.core.memory, "available_bytes", lambda: 8_000_000)
    with pytest.raises(DataError, match="its arrays a, b together needs"):
        read_arrays(content, "two.npz")


def test_object_arrays_and_members_that_are_not_arrays_are_refused(tmp_path: Path) -> None:
    path = a_network_file(tmp_path / "pickled.npz")
    rewrite_member(path, "W1", npy_member((2,), "|O", b"\x80\x04pickle"))
    with pytest.raises(DataError, match="pickled.npz: array W1 holds Python objects"):
        Network.load(path)
    with zipfile.ZipFile(tmp_path / "notes.npz", "w") as archive:
        archive.writestr("notes.txt", b"x" * 100)
    with pytest.raises(DataError, match="notes.npz: member 'notes.txt' is not a NumPy array"):
        read_arrays(tmp_path / "notes.npz", str(tmp_path / "notes.npz"))


def test_a_member_claiming_more_than_the_file_has_is_unreadable(tmp_path: Path) -> None:
    content = bytearray(npz_bytes({"W1": np.ones(1000)}))
    with zipfile.ZipFile(io.BytesIO(bytes(content))) as archive:
        info = archive.getinfo("W1.npy")
    # Patch the central directory's sizes of the stored member to claim 4 GB.
    central = content.rindex(b"PK\x01\x02")
    content[central + 20 : central + 28] = (4 * GB // 2).to_bytes(4, "little") * 2
    assert info.compress_type == zipfile.ZIP_STORED
    with pytest.raises(NpzUnreadable, match="claim more bytes than the file has"):
        read_arrays(bytes(content), "lying.npz")


def test_a_checkpoint_declaring_4_gb_is_not_loaded(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path / "run", name="run", config={}, config_text="")
    with store:
        store.save_checkpoint(3, 2, {"W1": np.ones((3, 4)), "b1": np.zeros(4)})
        assert set(store.load_checkpoint(3, 2)) == {"W1", "b1"}
        path = tmp_path / "run" / "checkpoints" / "trial-3-epoch-2.npz"
        rewrite_member(path, "W1", npy_member((GB // 8, 4), "<f8", b"\0" * 3_900_000))
        # None: the trial is trained again from its start, deterministically, to the same state.
        assert peak_allocation(lambda: store.load_checkpoint(3, 2)) < 50_000_000
        assert store.load_checkpoint(3, 2) is None


def test_a_training_state_declaring_4_gb_is_one_line_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "state.npz"
    save_npz(path, {"W1": np.ones(3), "state": np.array("{}")})
    rewrite_member(path, "W1", npy_member((GB // 2,), "<f8", b""))
    with pytest.raises(
        DataError, match=r"state.npz: array W1 declares shape \(500000000,\) \(3.73 GiB\) but holds 0 bytes"
    ):
        TrainingState.load(path)


def test_save_npz_replaces_a_symlink_and_never_writes_through_it(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.write_text("keep me\n")
    (tmp_path / "model.npz").symlink_to(precious)
    a_network_file(tmp_path / "model.npz")
    assert precious.read_text() == "keep me\n" and not (tmp_path / "model.npz").is_symlink()
    assert Network.load(tmp_path / "model.npz").n_features == 3
    assert sorted(os.listdir(tmp_path)) == ["model.npz", "precious"]  # no temp file left


def test_save_npz_refuses_object_arrays_and_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="object dtype"):
        save_npz(tmp_path / "x.npz", {"a": np.array([{"k": 1}], dtype=object)})
    assert os.listdir(tmp_path) == []


def test_what_was_written_reads_back_exactly(tmp_path: Path) -> None:
    arrays = {"W1": np.arange(12.0).reshape(3, 4), "labels": np.array(["a", "bb"]), "n": np.array(7)}
    save_npz(tmp_path / "a.npz", arrays)
    for source in (tmp_path / "a.npz", (tmp_path / "a.npz").read_bytes()):
        back = read_arrays(source, "a.npz")
        assert set(back) == set(arrays) and all(np.array_equal(back[k], arrays[k]) for k in arrays)
    assert set(read_arrays(tmp_path / "a.npz", "a.npz", names=("W1", "gone"))) == {"W1"}


def test_ctrl_c_inside_saving_the_best_model_stops_after_the_whole_save(tmp_path: Path, monkeypatch) -> None:
    """The Ctrl-C that once landed inside np.savez (a ValueError traceback, exit 1): it now arrives after the
    model, its training state and their digests are all written."""
    real_close = zipfile._ZipWriteFile.close
    calls = []

    def ctrl_c_then_close(self) -> None:  # Ctrl-C as the first member of the zip is being closed
        calls.append(1)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGINT)
        real_close(self)

    monkeypatch.setattr(zipfile._ZipWriteFile, "close", ctrl_c_then_close)
    with RunStore.create(tmp_path / "run", name="run", config={}, config_text="") as store:
        with pytest.raises(KeyboardInterrupt):
            store.save_best_model(4, {"W1": np.ones((3, 4)), "b1": np.zeros(4)}, {"W1": np.ones(3), "t": np.ones(2)})
        monkeypatch.undo()
        assert store.best_model()[0] == 4 and store.best_state()[0] == 4
        assert set(store.read_tracked("models/best.npz")) == {"W1", "b1"}
