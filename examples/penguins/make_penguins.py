"""Write penguins-train.csv and penguins-dev.csv: data with the Palmer penguins' real shape.

Nothing is downloaded: the rows are drawn (seeded) from per-species means and
spreads close to the real set's — 344 penguins of three species on three
islands, text columns (species, island, sex), missing cells written as ``NA``
(two birds with no measurements, eleven with no sex) — and saved the way
``DataFrame.to_csv(path)`` saves them, with pandas' unnamed index column first.

    python examples/penguins/make_penguins.py
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

# species: (birds per island, [mean, std] of bill length, bill depth, flipper length, body mass)
SPECIES = {
    "Adelie": ({"Biscoe": 44, "Dream": 56, "Torgersen": 52}, [(38.8, 2.7), (18.3, 1.2), (190.0, 6.5), (3701.0, 459.0)]),
    "Chinstrap": ({"Dream": 68}, [(48.8, 3.3), (18.4, 1.1), (195.8, 7.1), (3733.0, 384.0)]),
    "Gentoo": ({"Biscoe": 124}, [(47.5, 3.1), (15.0, 1.0), (217.2, 6.5), (5076.0, 504.0)]),
}
MALE_SHIFT = (1.8, 0.9, 2.5, 250.0)  # males are larger; females the same amount smaller
COLUMNS = ["species", "island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "sex", "year"]


def penguins(seed: int = 0) -> list[list[str]]:
    """344 rows of text cells, in the real file's order (by species, then island)."""
    rng = np.random.default_rng(seed)
    rows = []
    for species, (islands, stats) in SPECIES.items():
        for island, count in islands.items():
            for _ in range(count):
                sex = "male" if rng.random() < 0.5 else "female"
                sign = 1 if sex == "male" else -1
                bill, depth, flipper, mass = (
                    rng.normal(m + sign * s * 0.5, s * 0.8) for (m, s), s in zip(stats, MALE_SHIFT)
                )
                rows.append(
                    [
                        species,
                        island,
                        f"{bill:.1f}",
                        f"{depth:.1f}",
                        f"{flipper:.0f}",
                        f"{mass:.0f}",
                        sex,
                        str(rng.choice([2007, 2008, 2009])),
                    ]
                )
    # The real file's gaps: two birds never measured, nine more without a recorded sex.
    for i in (3, 271):
        rows[i][2:7] = ["NA"] * 5
    for i in rng.choice([i for i in range(len(rows)) if i not in (3, 271)], size=9, replace=False):
        rows[i][6] = "NA"
    return rows


def main() -> None:
    rows = penguins()
    rng = np.random.default_rng(1)
    dev = np.zeros(len(rows), dtype=bool)
    dev[rng.choice(len(rows), size=len(rows) // 5, replace=False)] = True
    folder = Path(__file__).parent
    for name, part in (("penguins-train.csv", ~dev), ("penguins-dev.csv", dev)):
        with open(folder / name, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(["", *COLUMNS])  # pandas writes its index as an unnamed first column
            for index, row in enumerate(row for row, keep in zip(rows, part) if keep):
                writer.writerow([index, *row])


if __name__ == "__main__":
    main()
