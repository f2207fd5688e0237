"""Check hpsearch against the lowest versions its dependency floors allow.

``pyproject.toml`` says ``numpy>=1.24``, ``joblib>=1.4``, ...; nothing in CI
installs exactly those floors, so a feature newer than a floor (joblib's
``return_as="generator_unordered"`` needs 1.4) can slip in unnoticed. This
script reads the floors from ``pyproject.toml``, installs each at ``==floor``
into a fresh virtual environment next to the checkout (``.venv-lowest``), adds
hpsearch itself without dependencies, and runs the test suite there.

It needs the network (pip) and Python 3.11 (tomllib; numpy 1.24 has no wheels
for 3.12), so CI does not run it; run it by hand before raising
or lowering a floor::

    python3.11 benchmarks/check_lowest_versions.py            # whole suite
    python3.11 benchmarks/check_lowest_versions.py -k search  # extra pytest arguments
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-lowest"
# Test tools need not be at their floors: only what hpsearch runs with is checked.
TEST_TOOLS = ["pytest", "hypothesis", "scikit-learn", "matplotlib", "import-linter"]


def floors(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """``name==floor`` for every run-time dependency declared as ``name>=floor``."""
    declared = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    pins = []
    for requirement in declared:
        match = re.fullmatch(r"\s*([A-Za-z0-9_.\[\]-]+)\s*>=\s*([0-9][0-9A-Za-z.]*)\s*", requirement)
        if match is None:
            raise SystemExit(f"cannot read a floor from {requirement!r}: write it as name>=version")
        pins.append(f"{match[1]}=={match[2]}")
    return pins


def main(pytest_args: list[str]) -> int:
    pins = floors()
    print("lowest versions:", " ".join(pins))
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, *pins, *TEST_TOOLS], check=True)
    subprocess.run([*pip, "--no-deps", "-e", str(ROOT)], check=True)
    subprocess.run([str(VENV / "bin" / "python"), "-m", "pip", "check"], check=True)
    return subprocess.run([str(VENV / "bin" / "python"), "-m", "pytest", "-x", "-q", *pytest_args], cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
