"""Panda: ``hpsearch babysit`` — rules, rollback on divergence, replay, hand-over from a search, keys on a terminal."""

from __future__ import annotations

import fcntl
import math
import os
import select
import signal
import sqlite3
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hpsearch.babysit.rules import RuleKeeper
from hpsearch.babysit.session import STATE_FILE, continue_babysit, replay_babysit, start_babysit
from hpsearch.cli.main import cli
from hpsearch.config.loading import load_config
from hpsearch.config.overrides import single_model_config
from hpsearch.core.decisions import BabysitRules, Decision
from hpsearch.core.errors import ReplayMismatch
from hpsearch.core.records import TrialStatus
from hpsearch.data.datasets import load_dataset
from hpsearch.nn import train
from hpsearch.storage.run_store import RunStore
from tests.conftest import write_tiny_config

REPO = Path(__file__).resolve().parents[1]

# Plain momentum at 6 on these blobs (no batch norm) blows up at its 5th epoch (checked in the test).
DIVERGING = """\
name: steep
data: {dataset: blobs, samples: 300, classes: 3, features: 2, noise: 2.0}
model: {layers: 2, hidden_units: 16, optimizer: momentum, learning_rate: 6.0, batchnorm: false, batch_size: 32,
        epochs: 12}
babysit: {patience: %d}
"""


def invoke(*args: str, code: int = 0) -> object:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == code, f"{args}: exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    return result


def read_run(run_dir: Path) -> tuple[object, list[Decision], dict[str, list[float]]]:
    with RunStore.open(run_dir) as store:
        (record,) = store.trials()
        return record, store.decisions().get(0, []), store.epoch_log(0)[0]


# ---------------------------------------------------------------------- the rules, worked by hand


def apply_rules(rules: BabysitRules, costs: list[float], rate: float = 1.0) -> list[Decision]:
    """Feed dev J values epoch by epoch, applying each decision as the loop does (no keys)."""
    keeper, made = RuleKeeper(rules), []
    for epoch, cost in enumerate(costs, start=1):
        diverged = not math.isfinite(cost)
        keeper.observe(epoch, cost, diverged)
        decision = keeper.rule_decision(epoch, diverged, rate, lambda multiplier, rolled_back: rate * multiplier)
        if decision is not None:
            made.append(decision)
            keeper.applied(decision)
            rate = decision.learning_rate_after
            if decision.action == "stop":
                break
    return made


def test_patience_factor_and_min_learning_rate_on_a_hand_worked_sequence() -> None:
    rules = BabysitRules(patience=2, factor=0.5, rollback=True, min_learning_rate=0.2)
    # epoch:  1    2    3 (tie: not better)  4     5    6     7     8    9    10 (never reached)
    costs = [1.0, 0.9, 0.9, 0.93, 0.8, 0.85, 0.86, 0.9, 0.9, 0.1]
    assert apply_rules(rules, costs) == [
        Decision(4, "lower", "patience", 1.0, 0.5, rolled_back_to=2),  # epochs 3, 4 not better than epoch 2
        Decision(7, "lower", "patience", 0.5, 0.25, rolled_back_to=5),  # epoch 5 better; 6, 7 not
        Decision(9, "stop", "min_learning_rate", 0.25, 0.25, rolled_back_to=5),  # 0.125 would be below 0.2
    ]


def test_without_rollback_patience_only_lowers_and_divergence_still_rolls_back() -> None:
    rules = BabysitRules(patience=3, factor=0.1, rollback=False, min_learning_rate=0.0)
    costs = [2.0, 1.5, 1.6, 1.7, 1.8, math.nan, 1.4]
    made = apply_rules(rules, costs)
    assert made == [
        Decision(5, "lower", "patience", 1.0, 0.1, rolled_back_to=None),
        Decision(6, "lower", "divergence", 0.1, 0.1 * 0.1, rolled_back_to=2),
    ]


def test_babysit_section_is_validated_with_one_line_per_problem(tmp_path: Path, runs_dir: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        (DIVERGING % 3).replace("babysit: {patience: 3}", "babysit: {patience: 0, factor: 2, rollbak: true}")
    )
    result = invoke("babysit", str(path), code=2)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3 and "Traceback" not in result.output
    assert all(str(path) in line for line in lines)
    assert "babysit.patience" in lines[0] and "babysit.factor" in lines[1] and "did you mean 'rollback'" in lines[2]


# ---------------------------------------------------------------------- divergence


def test_a_diverging_learning_rate_is_rolled_back_and_lowered_and_ends_better_than_train(
    tmp_path: Path, runs_dir: Path
) -> None:
    path = tmp_path / "steep.yaml"
    path.write_text(DIVERGING % 100)  # patience out of the way: only divergence acts
    config = load_config(path)
    plain, _ = train(single_model_config(config, {}), load_dataset(config.resolved_data()))
    assert plain.status is TrialStatus.DIVERGED and plain.epochs_run > 1

    out = invoke("babysit", str(path))
    record, decisions, history = read_run(runs_dir / "steep-babysit")
    diverged_at = plain.epochs_run  # the same epochs as train, up to the divergence
    assert history["dev_cost"][: diverged_at - 1] == plain.history["dev_cost"][: diverged_at - 1]
    first = decisions[0]
    assert (first.epoch, first.action, first.reason) == (diverged_at, "lower", "divergence")
    assert first.learning_rate_after == first.learning_rate_before * 0.5 == 3.0
    best_before = int(np.nanargmin(history["dev_cost"][: diverged_at - 1])) + 1
    assert first.rolled_back_to == best_before
    # the epoch after the rollback trains at the lowered rate, from the best epoch's state
    assert history["learning_rate"][diverged_at] == 3.0
    assert record.status is TrialStatus.OK and record.epochs_run == 12
    assert not math.isfinite(plain.dev_cost) or record.dev_cost < plain.dev_cost
    assert f"decision: epoch {diverged_at}: lower learning rate 6 → 3 (divergence)" in out.stderr
    assert sum(line.startswith("epoch ") for line in out.stderr.splitlines()) == 12  # one plain line per epoch


# ---------------------------------------------------------------------- replay


class Scripted:
    """A watcher that presses the given keys at the boundary after the given epochs."""

    def __init__(self, keys: dict[int, str]):
        self.pressed, self.at = keys, 0

    def epoch(self, report: object) -> None:
        self.at = report.epoch

    def decision(self, decision: Decision) -> None:
        pass

    def keys(self) -> str:
        return self.pressed.get(self.at, "")


def test_replay_reproduces_every_epoch_bit_for_bit_and_catches_a_changed_record(tmp_path: Path, runs_dir: Path) -> None:
    path = write_tiny_config(tmp_path, epochs=12, samples=120, extra="babysit: {patience: 2, factor: 0.3}\n")
    config = load_config(path)
    result = start_babysit(
        config,
        single_model_config(config, {"learning_rate": 0.1}),
        runs_dir=runs_dir,
        watcher=Scripted({3: "-", 5: "r", 7: "+", 8: "-+x"}),
    )
    kinds = [(d.epoch, d.reason) for d in result.decisions]
    assert {(3, "key -"), (5, "key r"), (7, "key +"), (8, "key -"), (8, "key +")} <= set(kinds)
    assert any(reason == "patience" for _, reason in kinds)
    assert invoke("babysit", "--replay", result.name).stdout.startswith(
        f"replayed run '{result.name}': 12 epochs and {len(result.decisions)} decisions"
    )

    db = result.run_dir / "run.sqlite"
    with sqlite3.connect(db) as connection:  # a decision one epoch later than it was made
        connection.execute("UPDATE decisions SET epoch = epoch + 1 WHERE seq = 0")
    with pytest.raises(ReplayMismatch, match="epoch 4 replays with"):
        replay_babysit(result.run_dir)
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE decisions SET epoch = epoch - 1 WHERE seq = 0")
        connection.execute("UPDATE epochs SET dev_cost = dev_cost + 1e-12 WHERE epoch = 9")
    out = invoke("babysit", "--replay", result.name, code=1)
    assert "epoch 10 replays with dev_cost" in out.stderr


def test_continuing_after_a_stop_is_the_same_as_never_stopping(tmp_path: Path, runs_dir: Path) -> None:
    path = write_tiny_config(tmp_path, epochs=9, samples=120, extra="babysit: {patience: 2}\n")
    config = load_config(path)
    model = single_model_config(config, {})
    stopped = start_babysit(config, model, runs_dir=runs_dir, name="halves", watcher=Scripted({4: "s"}))
    assert stopped.stopped == "key s" and stopped.record.epochs_run == 4
    assert (stopped.run_dir / STATE_FILE).is_file()
    resumed = continue_babysit(stopped.run_dir)  # to its target, 9
    straight = start_babysit(config, model, runs_dir=runs_dir, name="straight")
    _, _, halves = read_run(resumed.run_dir)
    _, _, whole = read_run(straight.run_dir)
    assert halves == whole and len(whole["dev_cost"]) == 9
    assert [d.reason for d in resumed.decisions if d.action != "stop"] == [d.reason for d in straight.decisions]
    replay_babysit(resumed.run_dir)
    out = invoke("babysit", "halves", code=2)
    assert "has trained all its 9 epochs" in out.stderr


# ---------------------------------------------------------------------- caviar hands over to panda


def test_continuing_a_search_trial_starts_with_exactly_its_recorded_history(tmp_path: Path, runs_dir: Path) -> None:
    path = write_tiny_config(tmp_path, trials=3, epochs=3, samples=120)
    invoke("run", str(path), "--quiet")
    with RunStore.open(runs_dir / "tiny") as store:
        trials = {t.trial: t for t in store.trials()}
        best, _ = store.best_state()
    other = next(t for t in trials if t != best)
    for trial in (best, other):  # the best from models/best-state.npz, another trained again
        out = invoke("babysit", "tiny", "--trial", str(trial), "--epochs", "2")
        assert f"run 'tiny-trial-{trial}' trained its 5 epochs" in out.stdout
        record, decisions, history = read_run(runs_dir / f"tiny-trial-{trial}")
        recorded = trials[trial].history
        for key in ("train_cost", "dev_cost", "dev_accuracy", "learning_rate"):
            assert history[key][:3] == recorded[key], key  # bit for bit
        assert len(history["dev_cost"]) == 5 and record.epochs_run == 5
        assert (decisions[0].epoch, decisions[0].action, decisions[0].reason) == (
            3,
            "handover",
            f"run tiny trial {trial}",
        )
        replay_babysit(runs_dir / f"tiny-trial-{trial}")  # from scratch through the hand-over

    out = invoke("babysit", "tiny", code=2)
    assert f"pick the trial to babysit with --trial N (its best is trial {best})" in out.stderr
    assert "no finished trial 99" in invoke("babysit", "tiny", "--trial", "99", code=2).stderr
    assert "is a babysat model" in invoke("resume", f"tiny-trial-{best}", code=2).stderr
    shown = invoke("show", f"tiny-trial-{best}").stdout
    assert "Decisions" in shown and "handover" in shown


# ---------------------------------------------------------------------- keys on a real terminal


class Terminal:
    """The real command on a pseudo terminal: keys go in, the screen's bytes come out."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]):
        self.master, self.slave = os.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
        self.settings = termios.tcgetattr(self.slave)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hpsearch", *args],
            stdin=self.slave,
            stdout=self.slave,
            stderr=self.slave,
            cwd=cwd,
            env=env,
        )
        self.screen, self.seen = b"", 0

    def wait_for(self, text: str, timeout: float = 60.0) -> None:
        """Read until ``text`` shows after what was waited for last (the timeout only guards a hang)."""
        deadline = time.monotonic() + timeout
        while text.encode() not in self.screen[self.seen :]:
            assert time.monotonic() < deadline, (
                f"{text!r} never showed:\n{self.screen[-3000:].decode(errors='replace')}"
            )
            if select.select([self.master], [], [], 0.2)[0]:
                try:
                    self.screen += os.read(self.master, 1 << 16)
                except OSError:  # the child closed the terminal
                    break
        self.seen = self.screen.index(text.encode(), self.seen) + len(text)

    def press(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def finish(self, timeout: float = 60.0) -> int:
        deadline = time.monotonic() + timeout
        while self.process.poll() is None:
            assert time.monotonic() < deadline, "the command did not stop"
            if select.select([self.master], [], [], 0.2)[0]:
                try:
                    self.screen += os.read(self.master, 1 << 16)
                except OSError:
                    break
        return self.process.wait(timeout)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def terminal_env(runs_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HPSEARCH_RUNS_DIR": str(runs_dir),
        "TERM": "xterm-256color",
        "PYTHONPATH": str(REPO),
        "COLUMNS": "160",
        "LINES": "40",
    }


def test_keys_pressed_on_a_pseudo_terminal_steer_the_real_command(
    tmp_path: Path, runs_dir: Path, terminal_env: dict[str, str]
) -> None:
    path = write_tiny_config(tmp_path, samples=120, extra="babysit: {patience: 1000000}\n")
    term = Terminal(["babysit", str(path), "--epochs", "1000000", "--name", "keys"], tmp_path, terminal_env)
    try:
        term.wait_for("epoch 3/1000000")  # the live view draws
        term.press("-")
        term.wait_for("(key -)")
        term.press("p")
        term.wait_for("PAUSED")
        term.press("r")  # queued while paused: applies at the boundary where it continues
        term.wait_for("next boundary: r")
        term.press("p")
        term.wait_for("(key r)")
        term.press("s")
        assert term.finish() == 0
        assert termios.tcgetattr(term.slave) == term.settings  # cbreak undone on the way out
    finally:
        term.close()
    screen = term.screen.decode(errors="replace")
    assert (
        "keys: - halve  + double  r roll back  p pause  s save & stop" in screen
        and "run 'keys' stopped (key s)" in screen
    )
    record, decisions, history = read_run(runs_dir / "keys")
    assert [(d.action, d.reason) for d in decisions] == [("lower", "key -"), ("rollback", "key r"), ("stop", "key s")]
    halved, rolled, stop = decisions
    assert halved.epoch >= 3 and halved.learning_rate_after == halved.learning_rate_before / 2
    assert history["learning_rate"][halved.epoch] == halved.learning_rate_after  # the next epoch trains at it
    assert rolled.epoch > halved.epoch and rolled.rolled_back_to is not None
    assert stop.epoch == record.epochs_run == len(history["dev_cost"])
    replay_babysit(runs_dir / "keys")


def test_ctrl_c_on_a_terminal_saves_and_the_run_continues_exactly(
    tmp_path: Path, runs_dir: Path, terminal_env: dict[str, str]
) -> None:
    path = write_tiny_config(tmp_path, samples=120, extra="babysit: {patience: 1000000}\n")
    term = Terminal(["babysit", str(path), "--epochs", "1000000", "--name", "cut"], tmp_path, terminal_env)
    try:
        term.wait_for("epoch 2/1000000")
        term.process.send_signal(signal.SIGINT)
        assert term.finish() == 130
        assert termios.tcgetattr(term.slave) == term.settings
    finally:
        term.close()
    assert "continue with: hpsearch babysit cut" in term.screen.decode(errors="replace")
    record, decisions, history = read_run(runs_dir / "cut")
    assert decisions[-1].reason == "ctrl-c" and decisions[-1].epoch == record.epochs_run == len(history["dev_cost"])
    continued = continue_babysit(runs_dir / "cut", epochs=3)
    assert continued.record.epochs_run == record.epochs_run + 3
    replay_babysit(runs_dir / "cut")  # the interrupted epoch left no trace: same J as straight training


def test_plot_of_a_babysat_run_marks_its_decisions(tmp_path: Path, runs_dir: Path) -> None:
    pytest.importorskip("matplotlib", reason="plots need the plot extra: pip install 'hpsearch[plot]'")
    from hpsearch.analysis.plots.curve_plots import learning_curves_figure
    from hpsearch.analysis.plots.run_view import RunView

    path = tmp_path / "steep.yaml"
    path.write_text(DIVERGING % 100)
    invoke("babysit", str(path))
    assert any(line.endswith("learning_curves.png") for line in invoke("plot", "steep-babysit").stdout.splitlines())
    with RunStore.open(runs_dir / "steep-babysit") as store:
        rounds, trials, decisions = store.rounds(), store.trials(), store.decisions()
    figure = learning_curves_figure(RunView.of(rounds, trials, 5), decisions)
    marked = [line.get_xdata()[0] for line in figure.axes[0].get_lines() if line.get_linestyle() == ":"]
    assert marked == [d.epoch + 0.5 for d in decisions[0]]  # one dotted line at each decision's boundary


def test_rows_left_past_the_saved_state_by_a_killed_process_are_forgotten_on_continue(
    tmp_path: Path, runs_dir: Path
) -> None:
    from hpsearch.storage.records import EpochLog

    path = write_tiny_config(tmp_path, epochs=8, samples=120, extra="babysit: {patience: 1000}\n")
    config = load_config(path)
    stopped = start_babysit(
        config, single_model_config(config, {}), runs_dir=runs_dir, name="killed", watcher=Scripted({3: "s"})
    )
    with RunStore.open(stopped.run_dir) as store:  # what a process killed after epoch 5 would have left
        store.record_progress(
            0,
            0,
            EpochLog(
                3,
                {
                    "train_cost": [9.0, 9.0],
                    "dev_cost": [9.0, 9.0],
                    "dev_accuracy": [0.0, 0.0],
                    "learning_rate": [1.0, 1.0],
                },
            ),
        )
        store.record_decision(0, Decision(5, "lower", "key -", 1.0, 0.5))
    continued = continue_babysit(stopped.run_dir)
    _, decisions, history = read_run(stopped.run_dir)
    assert len(history["dev_cost"]) == 8 and 9.0 not in history["dev_cost"]
    assert (
        [(d.epoch, d.reason) for d in decisions] == [(3, "key s")] == [(d.epoch, d.reason) for d in continued.decisions]
    )
    replay_babysit(stopped.run_dir)
