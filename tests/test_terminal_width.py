"""Every command's output fits the terminal: the real CLI on a pseudo-terminal of 80 and of 120 columns.

A small screen emulator (``Screen``) replays what the command wrote: a character
written past the last column is a line the terminal had to wrap (the test fails),
and what rich erased (the live "Best so far" table, which is transient) is gone
from the screen. Off a terminal (a pipe, a log), tables fit ``COLUMNS``, or 80 when it is unset; a message
stays one whole line there, so that it can be grepped.
"""

from __future__ import annotations

import csv
import fcntl
import io
import os
import re
import select
import shutil
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]

CONFIG = """\
name: sp
data: {dataset: spirals, samples: 300, classes: 3, seed: 0}
model: {epochs: 2, layers: 1}
space:
  learning_rate: {scale: log, low: 1.0e-3, high: 0.5}
  beta1: {scale: one_minus_log, low: 0.8, high: 0.999}
  hidden_units: {scale: int_log, low: 4, high: 32}
  batch_size: {choice: [32, 64]}
  optimizer: {choice: [adam, momentum]}
  l2: {scale: uniform, low: 0, high: 0.01}
search: {trials: 12, rounds: 2, zoom_trials: 3, workers: 1, seed: 0}
"""
COMMANDS = (
    "train",
    "run",
    "resume",
    "zoom",
    "confirm",
    "babysit",
    "predict",
    "show",
    "export",
    "list",
    "plot",
    "importance",
    "serve",
)
_BOX = "┏┃┡│└"
_CSI = re.compile(r"\[([0-9;?]*)([A-Za-z@])")
_OSC = re.compile(r"\][^\x07\x1b]*(\x07|\x1b\\)")


class Screen:
    """The little of a VT100 that rich and click use: text, CR/LF, cursor up/down/column, erase line."""

    def __init__(self, width: int, height: int = 50):
        self.width, self.height = width, height
        self.lines: list[list[str]] = [[]]
        self.row = self.col = 0
        self.overflows: list[str] = []  # the start of each line written past the last column

    def feed(self, data: str) -> None:
        i = 0
        while i < len(data):
            char = data[i]
            if char == "\x1b":
                match = _CSI.match(data, i + 1) or _OSC.match(data, i + 1)
                if match is None:
                    i += 2
                    continue
                if match.re is _CSI:
                    self._csi(match.group(1), match.group(2))
                i = match.end()
                continue
            if char == "\r":
                self.col = 0
            elif char == "\n":
                self.row += 1
                while len(self.lines) <= self.row:
                    self.lines.append([])
            elif char == "\b":
                self.col = max(self.col - 1, 0)
            elif char >= " ":
                if self.col >= self.width:  # a real terminal wraps here
                    self.overflows.append("".join(self.lines[self.row])[:60])
                    self.col = 0
                    self.row += 1
                    while len(self.lines) <= self.row:
                        self.lines.append([])
                line = self.lines[self.row]
                line.extend(" " * (self.col + 1 - len(line)))
                line[self.col] = char
                self.col += 1
            i += 1

    def _csi(self, args: str, command: str) -> None:
        n = int(args) if args.isdigit() else 1
        if command == "A":  # never above the screen's top line: what scrolled off it stays
            self.row = max(self.row - n, len(self.lines) - self.height, 0)
        elif command == "B":
            self.row += n
            while len(self.lines) <= self.row:
                self.lines.append([])
        elif command == "G":
            self.col = n - 1
        elif command == "K":
            line = self.lines[self.row]
            if args in ("2", ""):  # the whole line (rich) or to its end
                del line[0 if args == "2" else self.col :]

    @property
    def text(self) -> str:
        return "\n".join("".join(line).rstrip() for line in self.lines)


def on_terminal(
    args: list[str], width: int, env: dict[str, str], cwd: Path, timeout: float = 120, height: int = 50
) -> Screen:
    """Run ``hpsearch ARGS`` on a pseudo-terminal ``width`` columns wide; what it drew, replayed."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "hpsearch", *args], stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env
    )
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    while True:
        assert time.monotonic() < deadline, f"hpsearch {' '.join(args)} hung:\n{out[-2000:].decode(errors='replace')}"
        if select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 1 << 16)
            except OSError:  # EIO: the child closed the terminal
                chunk = b""
            if chunk:
                out += chunk
                continue
            if process.poll() is not None:
                break
        elif process.poll() is not None:
            break
    os.close(master)
    screen = Screen(width, height)
    screen.feed(out.decode(errors="replace"))
    assert process.wait() == 0, f"hpsearch {' '.join(args)} failed:\n{screen.text}"
    return screen


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One small quick run ('base'), a CSV of rows to predict, and the environment the commands run in."""
    folder = tmp_path_factory.mktemp("width")
    (folder / "sp.yaml").write_text(CONFIG)
    env = {key: value for key, value in os.environ.items() if key not in ("COLUMNS", "LINES")}
    env.update(HPSEARCH_RUNS_DIR=str(folder / "runs"), TERM="xterm-256color", PYTHONPATH=str(REPO))
    subprocess.run(
        [sys.executable, "-m", "hpsearch", "run", "sp.yaml", "--name", "base", "-q"],
        cwd=folder,
        env=env,
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    rng = np.random.default_rng(0)
    with open(folder / "rows.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["x0", "x1"])
        writer.writerows([f"{v:.3f}" for v in rng.normal(size=2)] for _ in range(5))
    exported = subprocess.run(
        [sys.executable, "-m", "hpsearch", "export", "base"],
        cwd=folder,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    best = next(csv.DictReader(io.StringIO(exported)))
    return {"folder": folder, "env": env, "best_trial": best["trial"], "best_j": float(best["dev_cost"])}


def _fits(screen: Screen, width: int, what: str) -> None:
    assert not screen.overflows, f"{what}: lines wider than {width} columns: {screen.overflows}\n{screen.text}"


def _no_letter_a_line(text: str) -> None:
    """No table header folded one letter a line: no header cell holds a lone character on two lines running."""
    for block in re.findall(r"┏[^\n]*\n((?:┃[^\n]*\n)+)┡", text):
        rows = [[cell.strip() for cell in line.strip("┃").split("┃")] for line in block.splitlines()]
        for above, below in zip(rows, rows[1:]):
            assert not any(len(a) == 1 and len(b) == 1 for a, b in zip(above, below)), f"a header folded:\n{block}"
        assert "…" not in block, f"a header cut:\n{block}"


@pytest.mark.parametrize("width", [80, 120])
def test_every_command_fits_the_terminal(world: dict, width: int) -> None:
    folder, env = world["folder"], world["env"]
    name = f"w{width}"
    commands = [
        ["run", "sp.yaml", "--name", name],
        ["run", "sp.yaml", "--dry-run"],
        ["show", "base"],
        ["list"],
        ["importance", "base"],
        ["zoom", name, "--trials", "2"],
        ["confirm", "base", "--top", "2", "--seeds", "2"],
        ["predict", "base", "rows.csv", "--out", f"p{width}.csv"],
        ["babysit", "base", "--trial", "0", "--epochs", "1", "--name", f"b{width}"],
        ["train", "sp.yaml"],
    ]
    screens = {}
    for args in commands:
        screen = on_terminal(args, width, env, folder)
        _fits(screen, width, " ".join(args))
        _no_letter_a_line(screen.text)
        screens["dry-run" if "--dry-run" in args else args[0]] = screen.text
    # the live top-5 was transient: only the final leaderboard stays on screen
    assert "Best so far" not in screens["run"] and "Leaderboard" in screens["run"]
    # the best trial's J, whole, on its row of show's leaderboard
    row = next(line for line in screens["show"].splitlines() if re.match(r"[│┃]\s+1\s+[│┃]", line))
    cells = [cell.strip() for cell in row.strip("│┃").split("│")]
    assert cells[1] == world["best_trial"]
    assert any(_close(cell, world["best_j"]) for cell in cells), (row, world["best_j"])


def _close(cell: str, value: float) -> bool:
    try:
        return abs(float(cell) - value) <= 5e-4 * abs(value)  # 4 significant digits
    except ValueError:
        return False


def test_help_of_every_command_fits_80_columns(world: dict) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def helped(command: str) -> Screen:  # each on its own terminal; four at once (the suite's slowest test else)
        return on_terminal([command, "--help"] if command else ["--help"], 80, world["env"], world["folder"])

    commands = ("", *COMMANDS)
    with ThreadPoolExecutor(max_workers=4) as pool:
        for command, screen in zip(commands, pool.map(helped, commands)):
            _fits(screen, 80, f"{command} --help")


@pytest.mark.parametrize("columns", [None, "100"])
def test_piped_output_fits_columns_or_80(world: dict, columns: str | None) -> None:
    env = {**world["env"], **({"COLUMNS": columns} if columns else {})}
    width = int(columns or 80)
    for args in (["show", "base"], ["list"], ["importance", "base"], ["run", "sp.yaml", "--dry-run"]):
        result = subprocess.run(
            [sys.executable, "-m", "hpsearch", *args],
            cwd=world["folder"],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=True,
        )
        tables = [line for line in result.stdout.splitlines() if line[:1] in _BOX]  # (a message stays one line)
        assert tables, result.stdout
        for line in tables:
            assert len(line) <= width, f"{' '.join(args)}: {len(line)} columns piped (COLUMNS={columns}):\n{line}"
        _no_letter_a_line(result.stdout)


@pytest.mark.parametrize("height", [10, 14])
def test_the_live_table_is_gone_when_a_search_ends_on_a_short_terminal(world: dict, height: int) -> None:
    # A live view taller than the screen scrolls its top off, where it can no longer be erased. A zoom of a
    # run shows the run's best trials from its start.
    shutil.copytree(world["folder"] / "runs" / "base", world["folder"] / "runs" / f"short{height}")
    screen = on_terminal(["zoom", f"short{height}", "--trials", "2"], 80, world["env"], world["folder"], height=height)
    _fits(screen, 80, "zoom")
    assert "Best so far" not in screen.text and "Leaderboard" in screen.text
