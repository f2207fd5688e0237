"""Classes or a number to predict: the rule ``data.task: auto`` follows, and its one line of explanation.

The rule, on the training file's label column(s):

- several label columns: regression (one output per column);
- text: classification;
- numbers with at least ``CONTINUOUS_LABEL_VALUES`` distinct non-integer values: regression;
- numbers (integers included) with at least ``CONTINUOUS_LABEL_VALUES`` distinct values and fewer than
  ``MIN_ROWS_PER_CLASS`` rows per value on average (a measurement such as a price or a count): regression;
- otherwise classification (a few values, each with rows enough to learn it: classes).

``data.task: classification`` or ``regression`` overrides it.
"""

from __future__ import annotations

import numpy as np

from hpsearch.data.split import label_keys
from hpsearch.data.tables import Column

CLASSIFICATION, REGRESSION = "classification", "regression"

CONTINUOUS_LABEL_VALUES = 10
"""A number label with at least this many distinct non-integer values (or distinct values, when they are
also spread thin over the rows) is a number to predict, not classes."""
MIN_ROWS_PER_CLASS = 3
"""A number label with that many distinct values but fewer rows per value on average is a measurement:
classes need rows to learn from (scikit-learn's diabetes target: 214 values in 442 rows)."""


def looks_like_a_number(labels: Column) -> str | None:
    """Why a label column looks like a number to predict rather than classes (None: it looks like classes)."""
    if not labels.is_numeric:
        return None
    values = labels.numbers[~labels.missing]
    values = values[np.isfinite(values)]
    fractional = np.unique(values[values != np.floor(values)])
    if len(fractional) >= CONTINUOUS_LABEL_VALUES:
        return f"has {len(fractional)} distinct non-integer values"
    distinct = len(np.unique(label_keys(labels)[~labels.missing]))  # as classes would count them (2**53 + 1 too)
    if distinct >= CONTINUOUS_LABEL_VALUES and distinct * MIN_ROWS_PER_CLASS > len(values):
        return f"has {distinct} distinct values in {len(values)} rows"
    return None


def decide_task(labels: list[Column], requested: str) -> tuple[str, str | None]:
    """The task of a training file's label columns, and (for ``auto``) one line saying which and how to override."""
    if requested != "auto":
        return requested, None
    names = ", ".join(repr(c.name) for c in labels)
    if len(labels) > 1:
        return REGRESSION, (
            f"data.task auto: {len(labels)} label columns ({names}), so a regression with one output "
            "each — set data.task to say otherwise"
        )
    reason = looks_like_a_number(labels[0])
    if reason is not None:
        return REGRESSION, (
            f"data.task auto: label {names} {reason}, so it is a number to predict (regression) "
            "— set data.task: classification to treat its values as classes"
        )
    if labels[0].is_numeric:
        return CLASSIFICATION, (
            f"data.task auto: label {names} has few distinct values, so they are classes "
            "(classification) — set data.task: regression to predict it as a number"
        )
    return CLASSIFICATION, None  # text labels can only be classes: nothing to say
