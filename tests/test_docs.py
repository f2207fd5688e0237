"""The docs site (docs/, mkdocs.yml): generated reference pages current, every config key and command option in
them, ``mkdocs build --strict`` clean, and every ``bash`` and ``python`` block of the tutorial and how-to pages
(and the Python API page's example) run, with tiny budgets, so the examples cannot rot.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from hpsearch.cli.main import cli

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
RUN_PAGES = sorted(str(p.relative_to(DOCS)) for p in [*DOCS.glob("tutorial/*.md"), *DOCS.glob("how-to/*.md")]) + [
    "reference/python-api.md"
]
NOT_RUN = re.compile(r"<!-- not run: (.+?) -->\n$")


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "scripts" / "gen_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_reference_pages_are_current() -> None:
    assert _generator().main(["--check"]) == 0, "run: python scripts/gen_docs.py"


def test_config_reference_lists_every_key_of_the_schema() -> None:
    from hpsearch.config.search_config import TOP_LEVEL_KEYS
    from hpsearch.config.search_settings import SearchSettings
    from hpsearch.core.decisions import BabysitRules
    from hpsearch.data.data_config import DATA_KEYS
    from hpsearch.nn.hyperparams import HYPERPARAMETERS
    from hpsearch.objectives.spec import OBJECTIVE_KEYS
    from hpsearch.pruning.schedule import EarlyStopping

    page = (DOCS / "reference" / "config-keys.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `([^`]+)` \|", page, re.M))
    expected = {
        *TOP_LEVEL_KEYS,
        *(f"data.{k}" for k in DATA_KEYS),
        *(f"model.{k}" for k in HYPERPARAMETERS),
        *(f"search.{f.name}" for f in fields(SearchSettings)),
        *(f"search.early_stopping.{f.name}" for f in fields(EarlyStopping)),
        *(f"objective.{k}" for k in OBJECTIVE_KEYS),
        *(f"babysit.{f.name}" for f in fields(BabysitRules)),
        *(f"space.NAME.{k}" for k in ("scale", "low", "high", "choice", "when")),
    }
    assert expected <= listed, f"missing from the config reference: {sorted(expected - listed)}"
    for key, default in (("model.batchnorm", "true"), ("model.learning_rate", "0.001"), ("model.l2", "0.0")):
        assert re.search(rf"^\| `{re.escape(key)}` \|[^|]*\| {re.escape(default)} \|", page, re.M), key


def test_commands_reference_lists_every_command_and_option() -> None:
    page = (DOCS / "reference" / "commands.md").read_text(encoding="utf-8")
    for name, command in cli.commands.items():
        assert f"\n## hpsearch {name}\n" in page, name
        section = page.split(f"\n## hpsearch {name}\n")[1].split("\n## ")[0]
        help_text = CliRunner().invoke(cli, [name, "--help"], terminal_width=200).output
        for param in command.params:
            for opt in [*param.opts, *param.secondary_opts] if param.param_type_name == "option" else []:
                assert f"`{opt}`" in section, f"{name} {opt} is not in docs/reference/commands.md"
                assert opt in help_text, f"{name} {opt} is not in --help"


def test_mkdocs_builds_strict(tmp_path: Path) -> None:
    """A broken link, a missing anchor or a page left out of the navigation fails the build."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "reference" / "config-keys" / "index.html").is_file()
    api = (tmp_path / "site" / "reference" / "python-api" / "index.html").read_text(encoding="utf-8")
    for name in ("start_search", "resume_search", "zoom_search", "tune", "dry_run", "train_model", "starter_config"):
        assert re.search(rf'id="hpsearch\.[\w.]*\b{name}"', api), f"the Python API page lacks {name}"


# --- examples that cannot rot ------------------------------------------------------------------------------


def code_blocks(page: str) -> list[tuple[str, str, str | None]]:
    """``(language, code, why not run)`` of each bash/python block of a docs page, in order."""
    text = (DOCS / page).read_text(encoding="utf-8")
    blocks = []
    for match in re.finditer(r"^```(bash|python)\n(.*?)^```", text, re.S | re.M):
        before = NOT_RUN.search(text[: match.start()])
        blocks.append((match.group(1), match.group(2), before.group(1) if before else None))
    return blocks


def _tiny(path: Any, overrides: Any = None, *, load: Any) -> Any:
    """``load_config`` with a tiny budget (4 trials, 2 rounds of 2, 3 epochs) under any override given."""
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    search, model, space = raw.get("search") or {}, raw.get("model") or {}, raw.get("space") or {}
    tiny: dict[str, Any] = {"search.trials": min(search.get("trials", 20), 4)}
    if search.get("rounds", 1) > 1:
        tiny.update({"search.rounds": 2, "search.zoom_trials": 2})
    if "objective" not in raw and "epochs" not in space and not search.get("early_stopping"):
        tiny["model.epochs"] = min(model.get("epochs", 20), 3)
    return load(path, {**tiny, **(overrides or {})})


def _run_shell_line(line: str, folder: Path) -> None:
    words = shlex.split(line, comments=True)
    if not words:
        return
    if words[0] == "hpsearch":
        result = CliRunner().invoke(cli, words[1:])
        assert result.exit_code == 0, f"{line}\n{result.output}\n{result.exception!r}"
    elif words[0] in ("python", "python3"):
        done = subprocess.run([sys.executable, *words[1:]], cwd=folder, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{line}\n{done.stdout}{done.stderr}"
    else:
        raise AssertionError(f"a run block holds {words[0]!r}, which the docs test cannot run: {line}")


@pytest.mark.parametrize("page", RUN_PAGES)
def test_every_example_of_the_page_runs(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hpsearch.config import loading

    blocks = code_blocks(page)
    for shutil_source in ("configs", "examples"):
        shutil.copytree(ROOT / shutil_source, tmp_path / shutil_source)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("HPSEARCH_RUNS_DIR", str(tmp_path / "runs"))
    load = loading.load_config
    monkeypatch.setattr(loading, "load_config", lambda path, overrides=None: _tiny(path, overrides, load=load))
    namespace: dict[str, Any] = {}
    for language, code, why_not in blocks:
        if why_not is not None:
            continue
        first = code.splitlines()[0] if code.strip() else ""
        if language == "python" and re.fullmatch(r"# [\w/]+\.py", first):
            (tmp_path / first[2:]).write_text(code, encoding="utf-8")  # a file the next blocks import
        elif language == "python":
            exec(compile(code, f"docs/{page}", "exec"), namespace)
        else:
            for line in code.splitlines():
                _run_shell_line(line, tmp_path)


def test_blocks_left_unrun_say_why_and_are_few() -> None:
    skipped = [(page, why) for page in RUN_PAGES for _, _, why in code_blocks(page) if why is not None]
    assert all(why.strip() for _, why in skipped)
    assert len(skipped) <= 5, skipped
    assert sum(1 for page in RUN_PAGES for b in code_blocks(page) if b[2] is None) >= 15
