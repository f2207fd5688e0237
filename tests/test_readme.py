"""README's Quick start: two one-line commands that CI runs verbatim (see .ci/run)."""

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def quickstart_lines(readme: str) -> list[str]:
    """The commands of the first code block under README's '## Quick start' (SystemExit if it is not two)."""
    section = re.search(r"^## Quick start\n(.*?)(?=^## )", readme, re.S | re.M)
    block = section and re.search(r"^```[a-z]*\n(.*?)^```", section.group(1), re.S | re.M)
    if not block:
        raise SystemExit("README.md: no code block under '## Quick start'")
    lines = [line for line in block.group(1).splitlines() if line.strip()]
    if len(lines) != 2:
        raise SystemExit(f"README.md: the Quick start block must hold exactly 2 commands, it holds {len(lines)}")
    return lines


def test_quickstart_is_two_self_contained_commands():
    search, tests = quickstart_lines((ROOT / "README.md").read_text(encoding="utf-8"))
    for line in (search, tests):
        words = shlex.split(line)
        assert words[:4] == ["python3", "-m", "venv", ".venv"], "each line creates the venv itself"
        assert "activate" not in line and "source" not in words, "no activation step"
    assert search.endswith("hpsearch run configs/quickstart.yaml")
    assert '".[test]"' in tests and tests.endswith("-m pytest")
    assert (ROOT / "configs" / "quickstart.yaml").is_file()


def test_ci_runs_the_readme_lines_as_written():
    search, tests = quickstart_lines((ROOT / "README.md").read_text(encoding="utf-8"))
    commands = [line.strip() for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    assert search in commands, "CI must run README's first Quick start line as written"
    assert commands[-1] == tests, "CI must end with README's test command as written"


@pytest.mark.parametrize(
    "readme, message",
    [
        ("# x\n## Quick start\nno block\n## Next\n", "no code block"),
        ("# x\n## Quick start\n```bash\none\n```\n## Next\n", "exactly 2 commands"),
        ("# x\n## Quick start\n```bash\na\nb\nc\n```\n## Next\n", "exactly 2 commands"),
    ],
)
def test_extractor_refuses_a_broken_section(readme, message):
    with pytest.raises(SystemExit, match=message):
        quickstart_lines(readme)


def test_readme_is_a_landing_page_whose_links_lead_into_the_docs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 250, "README is the landing page: move the details into docs/"
    links = re.findall(r"\]\(([^)#]+\.md)(?:#[^)]*)?\)", readme)
    assert len(links) >= 20 and all((ROOT / link).is_file() for link in links), [
        l for l in links if not (ROOT / l).is_file()
    ]
    for section in ("## Quick start", "## A five-minute tour", "## What makes it different", "## Documentation"):
        assert section in readme


def _skeleton(line: str) -> str:
    """A line of output with its numbers as ``#``: what stays when the same commands run again."""
    return re.sub(r"\d+(\.\d+)?(e[-+]?\d+)?", "#", line.rstrip())


def tour_blocks(readme: str) -> list[tuple[str, list[str]]]:
    """The tour's commands (``$ hpsearch ...``) with the output README shows under each."""
    section = re.search(r"^## A five-minute tour\n(.*?)(?=^## )", readme, re.S | re.M).group(1)
    steps: list[tuple[str, list[str]]] = []
    for block in re.findall(r"^```console\n(.*?)^```", section, re.S | re.M):
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            else:
                steps[-1][1].append(line)
    return steps


def test_the_tour_runs_and_prints_what_readme_shows(tmp_path, monkeypatch):
    """Every command of the tour runs as written; each line README shows outside a table comes out again, its
    numbers aside (a search's figures are bit for bit only on one machine and one numpy build)."""
    import shutil

    from click.testing import CliRunner

    from hpsearch.cli.main import cli

    steps = tour_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    assert [c.split()[1] for c, _ in steps] == ["run", "show", "zoom", "plot", "run", "predict"]
    for folder in ("configs", "examples"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HPSEARCH_RUNS_DIR", "runs")
    monkeypatch.setenv("COLUMNS", "100")
    for command, shown in steps:
        words = shlex.split(command)
        assert words[0] == "hpsearch"
        result = CliRunner().invoke(cli, words[1:])
        assert result.exit_code == 0, f"{command}\n{result.output}"
        printed = {_skeleton(line) for line in result.output.replace(str(tmp_path) + "/", "").splitlines()}
        for line in shown:
            if line.strip() and line[0] not in "┏┃┡│└…":
                assert _skeleton(line) in printed, f"{command}: README shows {line!r}, which it no longer prints"
