"""Write ``tests/fixtures/plans-before-conditions.json``: what the samplers planned before conditions existed.

Run once, on the code before conditional parameters (commit 96573a9):
``python -m tests.make_plan_fixture``. ``test_space_conditions`` re-plans the
same spaces and compares. Floats are stored as ``repr`` text so the comparison is bit-exact.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hpsearch.space.samplers import plan_round
from hpsearch.space.scales import Choice, Int, IntLog, Log, OneMinusLog, Uniform
from hpsearch.space.search_space import Space

FIXTURE = Path(__file__).parent / "fixtures" / "plans-before-conditions.json"

#: name -> the space's JSON (``Space.to_json``), planned by each sampler below.
SPACES: dict[str, dict[str, Any]] = {
    "engine": Space(
        {
            "learning_rate": Log(1e-4, 1.0),
            "beta1": OneMinusLog(0.9, 0.999),
            "hidden_units": IntLog(16, 512),
            "layers": Int(1, 4),
            "batch_size": Choice((32, 64, 128, 256)),
            "l2": Uniform(0.0, 0.01),
            "optimizer": Choice(("gd", "momentum", "adam")),
        }
    ).to_json(),
    "small": Space({"x": Uniform(-1.0, 2.0), "flag": Choice((True, False)), "k": Int(0, 3)}).to_json(),
}
#: (space, sampler, seed, round, trials); the grid ignores seed, round and trials, so it is planned once.
CASES = [
    (space, sampler, seed, round, 8)
    for space in SPACES
    for sampler in ("random", "quasi")
    for seed, round in ((0, 0), (7, 1), (123, 2))
] + [("small", "grid", 0, 0, 0)]


def encode(params: dict[str, Any]) -> dict[str, str]:
    """Each value as its ``repr``: exact for floats, and distinguishes 1 from 1.0 and True."""
    return {name: repr(value) for name, value in params.items()}


def main() -> None:
    out = []
    for space, sampler, seed, round, n in CASES:
        plan = plan_round(Space.from_json(SPACES[space]), n, seed=seed, round=round, sampler=sampler, grid_points=3)
        out.append(
            {
                "space": space,
                "sampler": sampler,
                "seed": seed,
                "round": round,
                "n": n,
                "plan": [encode(p) for p in plan],
            }
        )
    lines = ",\n".join(json.dumps(case) for case in out)
    FIXTURE.write_text(f'{{"spaces": {json.dumps(SPACES)},\n"cases": [\n{lines}\n]}}\n', encoding="utf-8")


if __name__ == "__main__":
    main()
