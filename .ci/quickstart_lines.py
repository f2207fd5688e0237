"""Print line N (1 or 2) of the first code block under README's '## Quick start'.

CI runs these lines exactly as README shows them, so README's promise is what CI proves.
Exits 2 when the section or its two-line block is missing.
"""

import re
import sys
from pathlib import Path


def quickstart_lines(readme: str) -> list[str]:
    section = re.search(r"^## Quick start\n(.*?)(?=^## )", readme, re.S | re.M)
    block = section and re.search(r"^```[a-z]*\n(.*?)^```", section.group(1), re.S | re.M)
    if not block:
        raise SystemExit("README.md: no code block under '## Quick start'")
    lines = [line for line in block.group(1).splitlines() if line.strip()]
    if len(lines) != 2:
        raise SystemExit(f"README.md: the Quick start block must hold exactly 2 commands, it holds {len(lines)}")
    return lines


if __name__ == "__main__":
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    print(quickstart_lines(readme)[int(sys.argv[1]) - 1])
