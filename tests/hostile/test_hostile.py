"""Hostile input: every command ends at once with one line and exit code 2, in bounded memory,
writing nothing outside the run folder and losing nothing from an existing run.

Each case runs the real ``hpsearch`` in a child process under a memory limit
(``RLIMIT_AS``) and a time limit. Small hostile files are committed next to
this file; large ones are generated here.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from hpsearch.config.loading import load_config
from hpsearch.core.records import RoundRecord
from hpsearch.search.api import start_search
from hpsearch.storage.run_store import RunStore
from tests.conftest import write_tiny_config

HERE = Path(__file__).parent
CONFIGS = sorted(HERE.glob("*.yaml"))
MEMORY_LIMIT = 3 * 1024**3  # bytes of address space: numpy, rich and the CLI fit in far less
TIME_LIMIT = 60  # seconds; each case ends in about one


def hpsearch(
    *args: str,
    cwd: Path,
    file_size: int | None = None,
    close_stdout: bool = False,
    stdout: int = subprocess.PIPE,
    module: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a child process under the memory limit (and a file size limit: a full disk)."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
        if file_size is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
        if close_stdout:
            os.close(1)

    child_env = {**os.environ, "HPSEARCH_RUNS_DIR": str(cwd / "runs"), "PYTHONPATH": str(HERE.parent.parent)}
    return subprocess.run(
        [sys.executable, *(["-m", "hpsearch"] if module else []), *args],
        cwd=cwd,
        env=child_env,
        preexec_fn=limit,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=TIME_LIMIT,
    )


# Several commands in one child (one import of hpsearch instead of one per command), each through
# click's test runner, so each still gets its own exit code, stdout and stderr.
_BATCH = """
import json, sys
from click.testing import CliRunner
from hpsearch.cli.main import cli
results = []
for args in json.loads(sys.argv[1]):
    r = CliRunner().invoke(cli, args)
    tb = "Traceback" if r.exc_info and r.exit_code not in (0, 2) else ""
    results.append([r.exit_code, r.stdout, r.stderr + tb])
print(json.dumps(results))
"""


def hpsearch_batch(commands: list[list[str]], cwd: Path) -> list[subprocess.CompletedProcess[str]]:
    """Run each command in one child process under the memory limit: one result per command."""
    import json

    child = hpsearch("-c", _BATCH, json.dumps(commands), cwd=cwd, module=False)
    assert child.returncode == 0, child.stderr[-3000:]
    return [
        subprocess.CompletedProcess(args, code, out, err)
        for args, (code, out, err) in zip(commands, json.loads(child.stdout))
    ]


def assert_one_line_error(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, (result.returncode, result.stderr[-3000:])
    assert len(lines) == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr and "Traceback" not in (result.stdout or "")
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def snapshot(folder: Path, skip: Path | None = None) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` (except under ``skip``) with its size and modification time."""
    seen = {}
    for root, _, files in os.walk(folder):
        if skip is not None and Path(root).is_relative_to(skip):
            continue
        for name in files:
            path = Path(root) / name
            stat = path.lstat()
            seen[str(path)] = (stat.st_size, stat.st_mtime_ns)
    return seen


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_each_hostile_config_is_one_line_for_every_command(path: Path, tmp_path: Path) -> None:
    config = tmp_path / path.name
    config.write_bytes(path.read_bytes())
    before = snapshot(tmp_path)
    commands = [["run", str(config), "--dry-run"], ["run", str(config)], ["train", str(config)]]
    for result in hpsearch_batch(commands, tmp_path):
        assert_one_line_error(result, str(config))
    assert not (tmp_path / "runs").exists()  # refused before anything is written
    assert snapshot(tmp_path) == before


def test_generated_giants_end_at_once(tmp_path: Path) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("data: {dataset: spirals}\nname: " + "[" * 10_000 + "]" * 10_000 + "\n")
    big = tmp_path / "big.yaml"
    with open(big, "w") as f:  # 5 MB of valid YAML: refused by size, never parsed
        f.write("data: {dataset: spirals}\n")
        f.writelines(f"# {'x' * 97}\n" for _ in range(50_000))
    mapping_bomb = tmp_path / "mapping_bomb.yaml"
    text = "data: {dataset: spirals}\nx0: &x0 {k: " + "v" * 1000 + "}\n"
    text += "".join(f"x{i}: &x{i} [{', '.join(f'*x{i - 1}' for _ in range(10))}]\n" for i in range(1, 8))
    mapping_bomb.write_text(text + "model: *x7\n")
    assert_one_line_error(hpsearch("run", str(deep), "--dry-run", cwd=tmp_path), "deep")
    assert_one_line_error(hpsearch("run", str(big), "--dry-run", cwd=tmp_path), "larger than 1,000,000 bytes")
    assert_one_line_error(hpsearch("run", str(mapping_bomb), "--dry-run", cwd=tmp_path), "expands to more than")
    assert_one_line_error(hpsearch("run", "/dev/zero", "--dry-run", cwd=tmp_path), "larger than")


def test_hostile_command_line_values_are_one_line(tmp_path: Path) -> None:
    config = write_tiny_config(tmp_path, trials=1, epochs=1)
    for args in (
        ["--backend", "dask", "--scheduler", "foo://x"],
        ["--backend", "dask", "--scheduler", "[::"],
        ["--trials", str(10**12)],
        ["--workers", str(10**9)],
    ):
        result = hpsearch("run", str(config), *args, cwd=tmp_path)
        assert result.returncode == 2 and "Traceback" not in result.stderr, (args, result.stderr)
    assert_one_line_error(
        hpsearch("train", str(config), "--set", "learning_rate=" + "9" * 400, cwd=tmp_path), "--set learning_rate"
    )
    assert not (tmp_path / "runs").exists()


# -- an existing run, attacked ---------------------------------------------------------


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small finished run, made once; tests copy it."""
    folder = tmp_path_factory.mktemp("finished")
    config = write_tiny_config(folder, trials=4, epochs=2)
    result = hpsearch("run", str(config), "-q", cwd=folder)
    assert result.returncode == 0, result.stderr
    return folder / "runs" / "tiny"


def copy_run(run: Path, to: Path) -> Path:
    shutil.copytree(run, to, symlinks=True)
    return to


@pytest.mark.parametrize(
    "link",
    [
        "lock",
        "models",
        "models/best.npz",
        "models/best.npz.tmp",
        "plots",
        "plots/report.html",
        "plots/progress.png",
        "run.sqlite-wal",
        "run.sqlite-shm",
    ],
)
def test_a_symlink_planted_in_a_run_is_never_written_through(link: str, finished_run: Path, tmp_path: Path) -> None:
    run = copy_run(finished_run, tmp_path / "runs" / "tiny")
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "file").write_text("keep me\n")
    target = precious if link in ("models", "plots") else precious / "file"
    planted = run / link
    planted.parent.mkdir(exist_ok=True)
    if planted.is_dir() and not planted.is_symlink():
        shutil.rmtree(planted)
    planted.unlink(missing_ok=True)
    planted.symlink_to(target)
    before = snapshot(precious)
    commands = [["resume", "tiny", "--retry-failed"], ["zoom", "tiny", "--top", "2", "--trials", "1"], ["plot", "tiny"]]
    for result in hpsearch_batch(commands, tmp_path):
        line = assert_one_line_error(result, "symlink")
        assert str(planted) in line or link.split("/")[0] in line
    assert snapshot(precious) == before
    assert (precious / "file").read_text() == "keep me\n"
    # nothing was lost from the run
    planted.unlink()
    with RunStore.open(run) as store:
        assert len(store.trials()) == 4


def test_plot_elsewhere_replaces_a_symlink_instead_of_writing_through_it(finished_run: Path, tmp_path: Path) -> None:
    copy_run(finished_run, tmp_path / "runs" / "tiny")
    out = tmp_path / "out"
    out.mkdir()
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me\n")
    (out / "report.html").symlink_to(precious)
    result = hpsearch("plot", "tiny", "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert precious.read_text() == "keep me\n"
    assert not (out / "report.html").is_symlink() and "<html" in (out / "report.html").read_text()


def test_markup_and_control_sequences_are_printed_as_plain_text(finished_run: Path, tmp_path: Path) -> None:
    folder = "r[bold][link=https:evil]\x1b]0;owned\x07\x1b[2J"  # a run folder from someone else
    copy_run(finished_run, tmp_path / "runs" / folder)
    listed = hpsearch("list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "\x1b" not in listed.stdout and "\x07" not in listed.stdout
    assert "r[bold][link=https:evil]\\x1b]0;owned\\x07" in listed.stdout.replace("\n", "")
    shown = hpsearch("show", str(tmp_path / "runs" / folder), cwd=tmp_path)
    assert shown.returncode == 0 and "\x1b" not in shown.stdout, shown.stderr
    # a data path with markup and ESC sequences, through the file-not-found error
    (tmp_path / "c[").mkdir()
    config = tmp_path / "c[/x].yaml"  # the file x].yaml in the folder c[: its path holds [/x]
    # YAML's double quotes spell ESC \\e and BEL \\a
    config.write_text('data: {path: "missing[/x][link=file:///etc/passwd]\\e]0;owned\\a\\e[2J.csv", label: y}\n')
    line = assert_one_line_error(hpsearch("run", str(config), cwd=tmp_path))
    assert "\x1b" not in line and "\x07" not in line
    assert "missing[/x][link=file:/etc/passwd]\\x1b]0;owned\\x07" in line  # (a path folds the //)
    # a config name that is not a legal run name
    named = tmp_path / "named.yaml"
    named.write_text(
        'name: "[/x][link=file:///etc/passwd]\\e]0;owned\\a"\n'
        "data: {dataset: spirals, samples: 60}\nmodel: {epochs: 1}\n"
        "search: {trials: 1, workers: 1}\n"
    )
    line = assert_one_line_error(hpsearch("run", str(named), cwd=tmp_path), "[/x]")
    assert "\x1b" not in line


def test_a_damaged_run_is_one_line_and_list_shows_the_others(finished_run: Path, tmp_path: Path) -> None:
    damaged = copy_run(finished_run, tmp_path / "runs" / "damaged")
    copy_run(finished_run, tmp_path / "runs" / "fine")
    with open(damaged / "run.sqlite", "r+b") as f:  # garbage over the header of every page after the first two
        size = f.seek(0, 2)
        for offset in range(2 * 4096, size, 4096):
            f.seek(offset)
            f.write(b"\x0d" + b"\xff" * 7)
    for command in (["show", "damaged"], ["export", "damaged"], ["resume", "damaged"]):
        assert_one_line_error(hpsearch(*command, cwd=tmp_path), "damaged")
    listed = hpsearch("list", cwd=tmp_path)
    assert listed.returncode == 0 and "fine" in listed.stdout, listed.stderr
    # the damaged run is listed too, on its own line with the reason, never left out silently
    (line,) = [line for line in listed.stdout.splitlines() if line.startswith("damaged")]
    assert "not in the table" in line and "not a readable hpsearch run (run.sqlite: " in line, listed.stdout


def test_a_full_disk_during_export_and_plot_leaves_no_truncated_file(finished_run: Path, tmp_path: Path) -> None:
    run = copy_run(finished_run, tmp_path / "runs" / "tiny")
    with RunStore.open(run) as store, store.lock():  # 300 more trials: every output is large
        first = store.trials()[0]
        store.add_round(
            RoundRecord(
                round=1,
                space=store.rounds()[0].space,
                n_trials=300,
                sampler="random",
                kind="zoom",
                top_k=2,
                first_trial=4,
            )
        )
        for i in range(300):
            store.record_trial(replace(first, trial=4 + i, round=1, index=i))
    out = tmp_path / "out"
    out.mkdir()
    # 40 kB a file: SQLite's 32 kB shared-memory file fits, the JSON export and report.html do not
    limit = 40_000
    assert_one_line_error(
        hpsearch("export", "tiny", "--json", str(out / "x.json"), cwd=tmp_path, file_size=limit),
        "x.json",
        "File too large",
    )
    assert list(out.iterdir()) == []  # neither a truncated file nor a temp file
    assert_one_line_error(hpsearch("plot", "tiny", "--out", str(out), cwd=tmp_path, file_size=limit), "File too large")
    written = list(out.iterdir())
    assert all(p.suffix == ".png" and p.read_bytes().endswith(b"IEND\xaeB`\x82") for p in written), written


def test_export_into_a_closed_pipe_exits_quietly(finished_run: Path, tmp_path: Path) -> None:
    copy_run(finished_run, tmp_path / "runs" / "tiny")
    for command in (["export", "tiny"], ["show", "tiny"], ["export", "tiny", "--json", "-"]):
        child = subprocess.Popen(
            [sys.executable, "-m", "hpsearch", *command],
            cwd=tmp_path,
            env={**os.environ, "HPSEARCH_RUNS_DIR": str(tmp_path / "runs")},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        child.stdout.close()  # like `| head -0`: the reader is gone before anything is written
        _, err = child.communicate(timeout=TIME_LIMIT)
        assert child.returncode == 0, (command, err.decode())
        assert err == b"", (command, err.decode())


def test_a_closed_stdout_is_silent_not_a_crash(finished_run: Path, tmp_path: Path) -> None:
    copy_run(finished_run, tmp_path / "runs" / "tiny")
    for command in (["list"], ["show", "tiny"], ["export", "tiny"]):
        result = hpsearch(*command, cwd=tmp_path, close_stdout=True, stdout=subprocess.DEVNULL)
        assert result.returncode in (0, 2), (command, result.stderr)
        assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) <= 1, result.stderr


@contextlib.contextmanager
def read_only(run: Path) -> Iterator[None]:
    """``run`` and everything in it read-only for the block (root: immutable, as a mode allows root anything)."""
    folders = [run, *run.rglob("*")]  # every folder and file
    as_root = os.geteuid() == 0
    if as_root and subprocess.run(["chattr", "+i", *map(str, folders)], capture_output=True).returncode != 0:
        pytest.skip("running as root where chattr +i is not available: cannot make a read-only folder")
    if not as_root:
        for path in folders:
            path.chmod(path.stat().st_mode & ~0o222)
    try:
        yield
    finally:
        if as_root:
            subprocess.run(["chattr", "-i", *map(str, folders)], check=True)
        for path in folders:
            path.chmod(path.stat().st_mode | 0o200)


def test_a_read_only_run_still_shows_exports_and_lists(finished_run: Path, tmp_path: Path) -> None:
    run = copy_run(finished_run, tmp_path / "runs" / "tiny")
    with read_only(run):
        before = snapshot(run)
        shown = hpsearch("show", "tiny", cwd=tmp_path)
        assert shown.returncode == 0 and "4/4 trials done" in shown.stdout, shown.stderr
        exported = hpsearch("export", "tiny", cwd=tmp_path)
        assert exported.returncode == 0 and len(exported.stdout.splitlines()) == 5, exported.stderr
        listed = hpsearch("list", cwd=tmp_path)
        assert "tiny" in listed.stdout and "4/4" in listed.stdout, listed.stderr
        assert_one_line_error(hpsearch("resume", "tiny", cwd=tmp_path), "lock")
        assert snapshot(run) == before


def test_a_read_only_copy_whose_write_ahead_log_holds_the_trials_shows_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run folder copied while its search ran (run.sqlite-wal not merged yet), then opened where it cannot be
    written: its trials, its rounds and its best model's digest are in the log, and are read from there."""
    copied = tmp_path / "copy" / "runs" / "tiny"
    real_close = RunStore.close

    def copy_then_close(store: RunStore) -> None:  # the last copy is made as the search's store closes
        shutil.rmtree(copied, ignore_errors=True)
        shutil.copytree(store.run_dir, copied)
        real_close(store)

    monkeypatch.setattr(RunStore, "close", copy_then_close)
    start_search(load_config(write_tiny_config(tmp_path, trials=4, epochs=2)), runs_dir=tmp_path / "runs")
    monkeypatch.undo()
    assert (copied / "run.sqlite-wal").stat().st_size > 0  # the case: writes in the log only
    with read_only(copied):
        before = snapshot(copied)
        shown = hpsearch("show", "tiny", cwd=copied.parent.parent)
        assert shown.returncode == 0 and "4/4 trials done" in shown.stdout, shown.stdout + shown.stderr
        assert "changed" not in shown.stdout + shown.stderr and "tamper" not in shown.stdout + shown.stderr
        exported = hpsearch("export", "tiny", cwd=copied.parent.parent)
        assert exported.returncode == 0 and len(exported.stdout.splitlines()) == 5, exported.stderr
        assert_one_line_error(hpsearch("resume", "tiny", cwd=copied.parent.parent), "lock")
        assert snapshot(copied) == before


def test_a_choice_of_150_000_items_loads_in_linear_time_and_its_dry_run_histogram_is_capped(tmp_path: Path) -> None:
    """Just under the 1 MB limit: parsing once took minutes (each item compared with every earlier one), and the
    dry run drew a histogram row per choice."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"

    def label(i: int) -> str:
        out = ""
        while True:
            i, r = divmod(i, 36)
            out = digits[r] + out
            if not i:
                return "k" + out

    (tmp_path / "many_obj.py").write_text("def f(params):\n    return len(params['c'])\n")
    config = tmp_path / "many.yaml"
    config.write_text(
        "objective: {python: many_obj:f, metric: value}\nspace:\n  c: {choice: ["
        + ",".join(label(i) for i in range(150_000))
        + "]}\nsearch: {trials: 20, seed: 0}\n"
    )
    assert 800_000 < config.stat().st_size < 1_000_000
    result = hpsearch("run", str(config), "--dry-run", cwd=tmp_path)  # TIME_LIMIT: a minute, not minutes
    assert result.returncode == 0, result.stderr[-3000:]
    histogram = result.stdout.partition("Where the search will look")[2].splitlines()
    rows = [line for line in histogram if "█" in line]
    assert 1 < len(rows) <= 12 and "… 149,989 more" in rows[-1], result.stdout[-3000:]
