"""The storage contract (docs/architecture.md): each table of run.sqlite has one owner module, the only code that
reads or writes it (``storage.schema`` excepted: it creates the tables and migrates older runs); writes that span
tables share one transaction; a trial's record is written only by ``TrialTable.put``, so it is never stored twice."""

from __future__ import annotations

import ast
import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from hpsearch.core.decisions import Decision
from hpsearch.core.errors import RunError
from hpsearch.core.records import RoundRecord, TrialRecord, TrialStatus
from hpsearch.pruning.schedule import RungResult
from hpsearch.storage.records import EpochLog
from hpsearch.storage.run_store import RunStore
from hpsearch.storage.schema import SCHEMA

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_MODULE = "hpsearch/storage/schema.py"

#: table -> the one module that reads and writes it (docs/architecture.md, "The storage contract").
OWNERS = {
    "meta": SCHEMA_MODULE,
    "rounds": "hpsearch/storage/rounds.py",
    "trials": "hpsearch/storage/trials.py",
    "epochs": "hpsearch/storage/epochs.py",
    "rung_results": "hpsearch/storage/rungs.py",
    "promotions": "hpsearch/storage/rungs.py",
    "decisions": "hpsearch/storage/decision_log.py",
    "confirmations": "hpsearch/storage/confirmations.py",
    "best_model_saves": "hpsearch/storage/artifacts.py",
    "file_digests": "hpsearch/storage/artifacts.py",
    "warm_trials": "hpsearch/storage/warm.py",
}

_TABLE = r"\s+\"?(\w+)"
_WRITES = re.compile(
    r"\b(?:INSERT(?:\s+OR\s+\w+)?\s+INTO|REPLACE\s+INTO|UPDATE|DELETE\s+FROM|ALTER\s+TABLE"
    r"|DROP\s+TABLE|CREATE\s+TABLE(?:\s+IF\s+NOT\s+EXISTS)?)" + _TABLE
)
_READS = re.compile(r"\b(?:FROM|JOIN)" + _TABLE)


def _sql_texts(tree: ast.AST) -> list[tuple[int, str]]:
    """Every string literal of a module but its docstrings, an f-string's literal parts joined around ``?``."""
    docstrings = {
        id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    texts = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            texts.append((node.lineno, node.value))
        elif isinstance(node, ast.JoinedStr):
            texts.append((node.lineno, "".join(v.value if isinstance(v, ast.Constant) else "?" for v in node.values)))
    return texts


def contract_breaches(package: Path) -> list[str]:
    """``module:line writes|reads table`` for each SQL string in ``package`` (a copy of ``hpsearch``) that touches
    a table outside its owner module."""
    breaches = set()
    for path in sorted(package.rglob("*.py")):
        module = f"hpsearch/{path.relative_to(package).as_posix()}"
        if module == SCHEMA_MODULE:
            continue
        for line, text in _sql_texts(ast.parse(path.read_text(encoding="utf-8"))):
            touched = [("writes", t) for t in _WRITES.findall(text)]
            touched += [("reads", t) for t in _READS.findall(_WRITES.sub(" ", text))]  # DELETE FROM is a write
            breaches |= {
                f"{module}:{line} {verb} {table} (owner: {OWNERS[table]})"
                for verb, table in touched
                if table in OWNERS and OWNERS[table] != module
            }
    return sorted(breaches)


def test_every_table_has_one_owner_module() -> None:
    db = sqlite3.connect(":memory:")
    db.executescript(SCHEMA)
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == set(OWNERS)
    assert all((ROOT / module).is_file() for module in OWNERS.values())


def test_only_a_tables_owner_reads_or_writes_it() -> None:
    assert contract_breaches(ROOT / "hpsearch") == []


@pytest.mark.parametrize(
    "module, sql, verb, table",
    [
        ("storage/decision_log.py", "DELETE FROM trials WHERE trial = ?", "writes", "trials"),
        ("storage/rungs.py", "INSERT OR REPLACE INTO trials (trial) VALUES (?)", "writes", "trials"),
        ("storage/run_store.py", "SELECT COUNT(*) FROM rounds", "reads", "rounds"),
        ("analysis/leaderboard.py", "UPDATE confirmations SET model_sha256 = NULL", "writes", "confirmations"),
    ],
)
def test_a_write_or_read_outside_the_owner_breaks_the_contract(
    tmp_path: Path, module: str, sql: str, verb: str, table: str
) -> None:
    shutil.copytree(ROOT / "hpsearch", tmp_path / "hpsearch", ignore=shutil.ignore_patterns("__pycache__"))
    path = tmp_path / "hpsearch" / module
    path.write_text(path.read_text() + f'\n\ndef _breach(db) -> None:\n    db.execute(f"{sql}")\n')
    breaches = contract_breaches(tmp_path / "hpsearch")
    assert len(breaches) == 1 and breaches[0].startswith(f"hpsearch/{module}:") and f"{verb} {table}" in breaches[0]


def test_the_architecture_document_names_each_tables_owner() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    for table, module in OWNERS.items():
        dotted = module.removesuffix(".py").replace("/", ".").removeprefix("hpsearch.")
        assert re.search(rf"^\| `{table}` \| `{re.escape(dotted)}`", text, re.MULTILINE), (table, dotted)


# -- the writes that span tables ----------------------------------------------------------------------------------


def _store(tmp_path: Path) -> RunStore:
    store = RunStore.create(tmp_path / "demo", name="demo", config={"name": "demo"}, config_text="name: demo\n")
    store.add_round(
        RoundRecord(round=0, space={"learning_rate": {"low": 1e-4, "high": 0.1}}, n_trials=4, sampler="random")
    )
    return store


def _record(trial: int, status: TrialStatus) -> TrialRecord:
    failed = status is TrialStatus.FAILED
    return TrialRecord(
        trial=trial,
        round=0,
        index=trial,
        params={"learning_rate": 0.01},
        seed=trial + 1,
        status=status,
        dev_cost=None if failed else 0.25,
        epochs_run=0 if failed else 2,
        history={} if failed else {"dev_cost": [0.5, 0.25]},
        rung=None if failed else 0,
    )


def test_a_pruned_record_never_replaces_a_stored_one(tmp_path: Path) -> None:
    """Promotions went around the guard before: a rung's pruned records overwrote any earlier record."""
    with _store(tmp_path) as store:
        store.record_trial(_record(0, TrialStatus.OK))
        with pytest.raises(RunError, match="already has a record of trial 0"):
            store.record_promotions(0, 0, 0, [1], [_record(0, TrialStatus.PRUNED)])
        assert [t.status for t in store.trials()] == [TrialStatus.OK]
        assert store.promotions(0) == {}  # the promotions of the refused call are not kept either
        store.record_trial(_record(1, TrialStatus.FAILED))
        store.record_promotions(0, 0, 0, [2], [_record(1, TrialStatus.PRUNED)])  # a failed record is retried
        assert [(t.trial, t.status) for t in store.trials()] == [(0, TrialStatus.OK), (1, TrialStatus.PRUNED)]
        assert store.promotions(0) == {(0, 0): [2]}


def test_a_transaction_spans_the_tables_and_a_refused_part_is_undone_alone(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        store.record_trial(_record(0, TrialStatus.OK))
        with pytest.raises(RunError):
            store.record_progress(
                1,
                0,
                EpochLog(0, {"dev_cost": [0.5]}),
                rung=RungResult(1, 0.5, False, rung=0, epoch=1),
                final=_record(0, TrialStatus.OK),
            )  # the record is refused: nothing is kept
        assert store.epoch_log(1)[0]["dev_cost"] == [] and store.rung_entries([1]) == {}
        with store.transaction():
            store.record_decision(1, Decision(1, "lower", "patience", 0.1, 0.05))
            with pytest.raises(RunError):
                store.tables.trials.put(_record(0, TrialStatus.OK))
            store.tables.epochs.add(1, EpochLog(0, {"dev_cost": [0.5]}))
        assert store.decisions() == {1: [Decision(1, "lower", "patience", 0.1, 0.05)]}
        assert store.epoch_log(1)[0]["dev_cost"] == [0.5]
        with pytest.raises(KeyError), store.transaction():
            store.record_decision(1, Decision(2, "stop", "patience", 0.05, 0.05))
            raise KeyError("interrupted")
        assert len(store.decisions()[1]) == 1
