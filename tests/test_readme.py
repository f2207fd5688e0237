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


def test_the_python_api_example_runs(tmp_path, monkeypatch):
    import shutil

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Python API") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md (Python API)", "exec"), {})
    assert (tmp_path / "runs" / "quickstart" / "models" / "best.npz").is_file()
