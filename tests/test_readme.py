"""README's Quick start: two one-line commands that CI runs verbatim (see .ci/run)."""

import importlib.util
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _extractor():
    spec = importlib.util.spec_from_file_location("quickstart_lines", ROOT / ".ci" / "quickstart_lines.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.quickstart_lines


def test_quickstart_is_two_self_contained_commands():
    search, tests = _extractor()((ROOT / "README.md").read_text(encoding="utf-8"))
    for line in (search, tests):
        words = shlex.split(line)
        assert words[:4] == ["python3", "-m", "venv", ".venv"], "each line creates the venv itself"
        assert "activate" not in line and "source" not in words, "no activation step"
    assert search.endswith("hpsearch run configs/quickstart.yaml")
    assert '".[test]"' in tests and tests.endswith("-m pytest")
    assert (ROOT / "configs" / "quickstart.yaml").is_file()


def test_ci_runs_the_readme_lines():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "quickstart_lines.py 1" in ci and "quickstart_lines.py 2" in ci


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
        _extractor()(readme)


def test_the_python_api_example_runs(tmp_path, monkeypatch):
    import re
    import shutil

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Python API"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md (Python API)", "exec"), {})
    assert (tmp_path / "runs" / "quickstart" / "models" / "best.npz").is_file()
