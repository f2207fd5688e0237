"""Hostile run folders and model files from someone else: tampered checkpoints, states, prepared arrays,
crafted ``run.sqlite`` rows, a ``dataset.json`` naming a device, a run that would run someone's code,
and ``predict`` on hostile input. Each command runs in a child process under a memory limit and a timeout
(``tests.hostile.test_hostile.hpsearch``) and ends with one line and exit code 2, or does the safe thing.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hpsearch.config.loading import load_config
from hpsearch.search.api import start_search
from hpsearch.storage.run_store import RunStore
from tests.conftest import write_tiny_config
from tests.hostile.test_hostile import assert_one_line_error, copy_run, hpsearch, hpsearch_batch

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS, FIFOs and /dev/zero")


@pytest.fixture(scope="module")
def twelve_trials(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run of 12 one-epoch trials (enough for importance), made once; tests copy it."""
    folder = tmp_path_factory.mktemp("twelve")
    config = write_tiny_config(folder, trials=12, epochs=1, samples=120)
    result = hpsearch("run", str(config), "-q", cwd=folder)
    assert result.returncode == 0, result.stderr
    return folder / "runs" / "tiny"


def sql(run: Path, statement: str, *args: object) -> None:
    db = sqlite3.connect(run / "run.sqlite")
    with db:
        db.execute(statement, args)
    db.close()


def foreign(run: Path) -> None:
    """Make ``run`` look received: created by another machine or user."""
    sql(run, "INSERT OR REPLACE INTO meta (key, value) VALUES ('created_by', 'someone-else')")


# -- 1. checkpoints, states and prepared arrays are checked against their digests --------------------


def _fingerprint(run: Path) -> list[tuple]:
    with RunStore.open(run, read_only=True) as store:
        return sorted((t.trial, t.status.value, t.epochs_run, t.value) for t in store.trials())


def test_a_swapped_or_scaled_checkpoint_is_trained_again_with_a_note(tmp_path: Path, monkeypatch) -> None:
    from tests.test_early_stopping import halving_config

    config = load_config(halving_config(tmp_path))
    straight = start_search(config, runs_dir=tmp_path / "runs", name="straight")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # after rung 0, before its promotions: every trial has a checkpoint

    monkeypatch.setattr(RunStore, "record_promotions", crash)
    with pytest.raises(BaseException):
        start_search(config, runs_dir=tmp_path / "runs", name="crashed")
    monkeypatch.undo()
    folder = tmp_path / "runs" / "crashed" / "checkpoints"
    promoted = sorted(t.trial for t in straight.trials if t.rung)  # the checkpoints resume continues from
    other = next(t.trial for t in straight.trials if not t.rung)
    checkpoints = [folder / f"trial-{t}-epoch-1.npz" for t in (other, *promoted[:2])]
    assert all(path.is_file() for path in checkpoints)
    shutil.copyfile(checkpoints[0], checkpoints[1])  # one trial's state over another's
    with np.load(checkpoints[2]) as archive:  # a weight matrix scaled, the file otherwise valid
        arrays = {k: archive[k] for k in archive.files}
    key = next(k for k in arrays if k.endswith("W1"))
    arrays[key] = arrays[key] * 2
    np.savez(checkpoints[2], **arrays)
    result = hpsearch("resume", "crashed", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    notes = result.stdout + result.stderr
    assert checkpoints[1].name in notes and checkpoints[2].name in notes, notes
    assert "trained again from its start" in notes
    assert _fingerprint(tmp_path / "runs" / "crashed") == _fingerprint(straight.run_dir)


def test_a_changed_prepared_array_or_best_state_is_one_line(twelve_trials: Path, tmp_path: Path) -> None:
    run = copy_run(twelve_trials, tmp_path / "runs" / "tiny")
    X = np.load(run / "data" / "X_train.npy")
    np.save(run / "data" / "X_train.npy", X * 2)  # same header, other numbers
    for result in hpsearch_batch(
        [
            ["resume", "tiny"],
            ["confirm", "tiny", "--top", "1", "--seeds", "2"],
            ["zoom", "tiny", "--top", "2", "--trials", "1"],
        ],
        tmp_path,
    ):
        assert_one_line_error(result, "X_train.npy", "changed")
    shutil.copyfile(twelve_trials / "data" / "X_train.npy", run / "data" / "X_train.npy")
    state = run / "models" / "best-state.npz"
    with np.load(state) as archive:
        arrays = {k: archive[k] for k in archive.files}
    np.savez(state, **arrays, extra=np.zeros(1))
    trial = json.loads(hpsearch("export", "tiny", "--json", "-", cwd=tmp_path).stdout)
    best = trial["trials"][0]["trial"] if isinstance(trial, dict) else trial[0]["trial"]
    assert_one_line_error(hpsearch("babysit", "tiny", "--trial", str(best), cwd=tmp_path), "best-state.npz")


# -- 2. tampered model files ---------------------------------------------------------------------------


def _tampered_model(run: Path, out: Path, **meta_changes: object) -> Path:
    with np.load(run / "models" / "best.npz") as archive:
        arrays = {k: archive[k] for k in archive.files}
    meta = json.loads(str(arrays["prep_meta"][()]))
    meta.update(meta_changes)
    arrays["prep_meta"] = np.array(json.dumps(meta))
    np.savez(out, **arrays)
    return out


def test_tampered_model_files_are_one_line(twelve_trials: Path, tmp_path: Path) -> None:
    data = tmp_path / "rows.csv"
    data.write_text("x0,x1,x2,x3\n0.1,0.2,0.3,0.4\n")
    deep = _tampered_model(twelve_trials, tmp_path / "deep.npz")
    with np.load(deep) as archive:
        arrays = {k: archive[k] for k in archive.files}
    arrays["prep_meta"] = np.array("[" * 100_000 + "]" * 100_000)
    np.savez(deep, **arrays)
    short = _tampered_model(twelve_trials, tmp_path / "short.npz", class_names=["a"])
    typed = _tampered_model(twelve_trials, tmp_path / "typed.npz", class_names=7)
    numbers = _tampered_model(twelve_trials, tmp_path / "numbers.npz", class_names=[1, [2], {"3": 3}])
    with np.load(twelve_trials / "models" / "best.npz") as archive:
        arrays = {k: archive[k] for k in archive.files}
    arrays["prep_scale"] = np.zeros_like(arrays["prep_scale"])
    zero = tmp_path / "zero.npz"
    np.savez(zero, **arrays)
    results = hpsearch_batch(
        [["predict", str(path), str(data)] for path in (deep, short, typed, numbers, zero)], tmp_path
    )
    for path, result in zip((deep, short, typed, numbers, zero), results):
        assert_one_line_error(result, path.name)


# -- 3. crafted run.sqlite ----------------------------------------------------------------------------


def test_a_round_of_a_trillion_trials_is_one_line_not_a_hang(twelve_trials: Path, tmp_path: Path) -> None:
    run = copy_run(twelve_trials, tmp_path / "runs" / "tiny")
    sql(run, "UPDATE rounds SET n_trials = ?", 10**12)
    for result in hpsearch_batch([["resume", "tiny"], ["show", "tiny"], ["zoom", "tiny", "--trials", "1"]], tmp_path):
        assert_one_line_error(result, "n_trials", "tiny")


def test_deep_json_in_a_row_is_one_line_naming_the_trial(twelve_trials: Path, tmp_path: Path) -> None:
    run = copy_run(twelve_trials, tmp_path / "runs" / "tiny")
    sql(run, "UPDATE trials SET params = ? WHERE trial = 3", "[" * 50_000 + "]" * 50_000)
    commands = [["show", "tiny"], ["export", "tiny"], ["importance", "tiny"], ["resume", "tiny"]]
    for result in hpsearch_batch(commands, tmp_path):
        assert_one_line_error(result, "tiny", "trial 3", "params")


def test_a_text_cost_is_one_line_naming_the_trial(twelve_trials: Path, tmp_path: Path) -> None:
    run = copy_run(twelve_trials, tmp_path / "runs" / "tiny")
    sql(run, "UPDATE trials SET dev_cost = 'cheap', value = 'cheap' WHERE trial = 5")
    for result in hpsearch_batch([["importance", "tiny"], ["show", "tiny"], ["export", "tiny"]], tmp_path):
        assert_one_line_error(result, "tiny", "trial 5", "dev_cost")


# -- 4. data/dataset.json naming a device, a FIFO or a huge file -------------------------------------


@pytest.mark.parametrize("source", ["/dev/zero", "fifo", "sparse"])
def test_show_never_hashes_a_device_a_fifo_or_a_huge_file(source: str, twelve_trials: Path, tmp_path: Path) -> None:
    run = copy_run(twelve_trials, tmp_path / "runs" / "tiny")
    path = Path(source)
    if source == "fifo":
        path = tmp_path / "fifo"
        os.mkfifo(path)
    elif source == "sparse":
        path = tmp_path / "huge.csv"
        with open(path, "wb") as f:
            f.truncate(50 * 2**30)  # 50 GiB of holes: reading it all would take minutes
    meta = json.loads((run / "data" / "dataset.json").read_text())
    meta["sources"] = [{"path": str(path), "sha256": "0" * 64, "size": 50 * 2**30, "mtime_ns": 1}]
    (run / "data" / "dataset.json").write_text(json.dumps(meta))
    started = time.monotonic()
    result = hpsearch("show", "tiny", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert time.monotonic() - started < 20
    assert path.name in result.stdout + result.stderr


# -- 5. trust: a received run does not run its stored code unasked -----------------------------------


def test_a_received_run_of_a_command_shows_what_would_run_and_needs_trust(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    script = tmp_path / "job.py"
    script.write_text(
        f"import json, pathlib\npathlib.Path({str(marker)!r}).touch()\nprint(json.dumps({{'loss': 0.5}}))\n"
    )
    config = tmp_path / "obj.yaml"
    config.write_text(
        f"name: obj\nobjective:\n  command: [{sys.executable}, {script}]\n  metric: loss\n"
        "space:\n  x: {scale: uniform, low: 0, high: 1}\nsearch:\n  trials: 2\n  seed: 1\n  workers: 1\n"
    )
    assert hpsearch("run", str(config), "-q", cwd=tmp_path).returncode == 0
    run = tmp_path / "runs" / "obj"
    sql(run, "DELETE FROM trials WHERE trial = 1")
    marker.unlink()
    foreign(run)
    for command in (
        ["resume", "obj"],
        ["zoom", "obj", "--top", "1", "--trials", "1"],
        ["confirm", "obj", "--top", "1", "--seeds", "2"],
    ):
        line = assert_one_line_error(hpsearch(*command, cwd=tmp_path), "--trust", str(script))
        assert "obj" in line
    assert not marker.exists()
    trusted = hpsearch("resume", "obj", "--trust", "-q", cwd=tmp_path)
    assert trusted.returncode == 0, trusted.stderr[-3000:]
    assert marker.exists()


def test_a_received_run_of_the_built_in_engine_needs_no_trust(twelve_trials: Path, tmp_path: Path) -> None:
    run = copy_run(twelve_trials, tmp_path / "runs" / "tiny")
    sql(run, "DELETE FROM trials WHERE trial = 11")
    foreign(run)
    result = hpsearch("resume", "tiny", "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]


# -- 6. predict --------------------------------------------------------------------------------------


def test_predict_out_replaces_a_symlink_and_a_full_disk_leaves_no_truncated_file(
    twelve_trials: Path, tmp_path: Path
) -> None:
    rng = np.random.default_rng(0)
    data = tmp_path / "rows.csv"
    data.write_text("x0,x1,x2,x3\n" + "".join(",".join(map(str, r)) + "\n" for r in rng.normal(size=(4000, 4))))
    model = str(twelve_trials / "models" / "best.npz")
    precious = tmp_path / "precious"
    precious.write_text("keep me\n")
    link = tmp_path / "out.csv"
    link.symlink_to(precious)
    result = hpsearch("predict", model, str(data), "--out", str(link), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert precious.read_text() == "keep me\n" and not link.is_symlink()
    old = tmp_path / "old.csv"
    old.write_text("old\n")
    line = assert_one_line_error(
        hpsearch("predict", model, str(data), "--out", str(old), "--proba", cwd=tmp_path, file_size=20_000), "old.csv"
    )
    assert "File too large" in line
    assert old.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize("cell", ["inf", "-inf", "1e309"])
def test_predict_refuses_infinite_inputs_naming_row_and_column(cell: str, twelve_trials: Path, tmp_path: Path) -> None:
    data = tmp_path / "rows.csv"
    data.write_text(f"x0,x1,x2,x3\n0.1,0.2,0.3,0.4\n0.1,{cell},0.3,0.4\n")
    result = hpsearch("predict", str(twelve_trials / "models" / "best.npz"), str(data), cwd=tmp_path)
    assert_one_line_error(result, "line 3", "x1")


def test_predict_escapes_control_characters_in_class_names(twelve_trials: Path, tmp_path: Path) -> None:
    model = _tampered_model(twelve_trials, tmp_path / "evil.npz", class_names=["a\x1b[31m", "b\x07", "c"])
    data = tmp_path / "rows.csv"
    data.write_text("x0,x1,x2,x3\n0.1,0.2,0.3,0.4\n5,5,5,5\n-5,-5,-5,-5\n")
    result = hpsearch("predict", str(model), str(data), "--proba", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "a\\x1b[31m" in result.stdout


def test_predict_keeps_the_row_number_and_chosen_columns(twelve_trials: Path, tmp_path: Path) -> None:
    data = tmp_path / "rows.csv"
    data.write_text("id,x0,x1,x2,x3\nA-7,0.1,0.2,0.3,0.4\n\nB-9,5,5,5,5\n")
    result = hpsearch("predict", str(twelve_trials / "models" / "best.npz"), str(data), "--keep", "id", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0] == "row,id,prediction"
    assert [line.split(",")[:2] for line in lines[1:]] == [["0", "A-7"], ["1", "B-9"]]
    assert_one_line_error(
        hpsearch("predict", str(twelve_trials / "models" / "best.npz"), str(data), "--keep", "nope", cwd=tmp_path),
        "nope",
    )


# -- 7. memory of CSV reading --------------------------------------------------------------------------


def test_one_long_cell_in_an_unused_column_costs_its_length_not_its_length_times_rows(
    twelve_trials: Path, tmp_path: Path
) -> None:
    data = tmp_path / "rows.csv"
    rows = ["0.1,0.2,0.3,0.4,a"] * 8_000
    rows[0] = "0.1,0.2,0.3,0.4," + "z" * 130_000
    data.write_text("x0,x1,x2,x3,note\n" + "\n".join(rows) + "\n")  # 260 kB: 4 GB as fixed-width strings
    result = hpsearch("predict", str(twelve_trials / "models" / "best.npz"), str(data), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(result.stdout.splitlines()) == 8_001


def test_a_csv_of_a_million_columns_is_one_line(tmp_path: Path) -> None:
    data = tmp_path / "wide.csv"
    data.write_text(",".join(f"c{k}" for k in range(1_000_000)) + ",y\n" + "1," * 1_000_000 + "0\n")
    config = tmp_path / "wide.yaml"
    config.write_text(f"data: {{path: {data}, label: y}}\nmodel: {{epochs: 1}}\nsearch: {{trials: 1}}\n")
    started = time.monotonic()
    assert_one_line_error(hpsearch("run", str(config), "--dry-run", cwd=tmp_path), "wide.csv", "columns")
    assert time.monotonic() - started < 15


# -- 8. symlinks that the user's own code writes inside trials/<n>/ ----------------------------------


def test_a_link_inside_a_trial_folder_does_not_refuse_the_run(tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    script.write_text(
        "import json, os, pathlib\nd = pathlib.Path(os.environ['HPSEARCH_TRIAL_DIR'])\n"
        "(d / 'ckpt-3').write_text('x')\n(d / 'latest').symlink_to('ckpt-3')\n"
        "print(json.dumps({'loss': 0.5}))\n"
    )
    config = tmp_path / "obj.yaml"
    config.write_text(
        f"name: obj\nobjective:\n  command: [{sys.executable}, {script}]\n  metric: loss\n"
        "space:\n  x: {scale: uniform, low: 0, high: 1}\nsearch:\n  trials: 2\n  seed: 1\n  workers: 1\n"
    )
    assert hpsearch("run", str(config), "-q", cwd=tmp_path).returncode == 0
    run = tmp_path / "runs" / "obj"
    assert any(p.is_symlink() for p in (run / "trials").rglob("latest"))
    for command in (
        ["resume", "obj", "-q"],
        ["zoom", "obj", "--top", "1", "--trials", "1", "-q"],
        ["confirm", "obj", "--top", "1", "--seeds", "2", "-q"],
    ):
        result = hpsearch(*command, cwd=tmp_path)
        assert result.returncode == 0, (command, result.stderr[-3000:])
    (run / "models").mkdir(exist_ok=True)
    (run / "models" / "best.npz").symlink_to(tmp_path / "elsewhere")  # hpsearch's own names are still checked
    assert_one_line_error(hpsearch("resume", "obj", cwd=tmp_path), "symlink")
