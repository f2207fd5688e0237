"""The architecture of docs/architecture.md is checked, not hoped for: import-linter's contracts in pyproject.toml."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def lint_imports(package_parent: Path) -> subprocess.CompletedProcess[str]:
    """Run lint-imports with the project's contracts on the ``hpsearch`` package found under ``package_parent``."""
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    command = [
        str(Path(sys.executable).with_name("lint-imports")),
        "--config",
        str(ROOT / "pyproject.toml"),
        "--no-cache",
    ]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, cwd=package_parent)


def test_the_package_keeps_its_import_rules() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout and result.stdout.count("KEPT") == 4


def test_a_forbidden_import_breaks_the_rules(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "hpsearch", tmp_path / "hpsearch", ignore=shutil.ignore_patterns("__pycache__"))
    layers = tmp_path / "hpsearch" / "nn" / "layers.py"
    layers.write_text(layers.read_text() + "\nfrom hpsearch.storage import run_store  # noqa: E402\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1
    assert "BROKEN" in result.stdout and "hpsearch.nn.layers -> hpsearch.storage.run_store" in result.stdout


MAX_MODULE_LINES = 420
MAX_FUNCTION_LINES = 80


def test_modules_and_functions_stay_small_enough_to_read() -> None:
    """One concept per module: no module past ~400 lines, no function past 80 (docstring included)."""
    import ast

    too_long = []
    for path in sorted((ROOT / "hpsearch").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        name = path.relative_to(ROOT).as_posix()
        if len(text.splitlines()) > MAX_MODULE_LINES:
            too_long.append(f"{name}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}:{node.lineno} {node.name}(): {length} lines")
    assert not too_long, "split these: " + "; ".join(too_long)
