"""The hyperparameter schema and ModelConfig agree: one list of names, one set of defaults."""

from __future__ import annotations

from dataclasses import fields

from hpsearch.nn import HYPERPARAMETERS, ModelConfig


def test_model_config_has_exactly_the_schema_names_with_its_defaults() -> None:
    assert [f.name for f in fields(ModelConfig)] == list(HYPERPARAMETERS)
    defaults = ModelConfig().to_dict()
    for name, spec in HYPERPARAMETERS.items():
        assert defaults[name] == spec.default, name
        assert type(defaults[name]) is type(spec.default), name


def test_every_default_is_legal() -> None:
    for name, spec in HYPERPARAMETERS.items():
        if spec.default is not None:  # None: "derived" (hidden from layers, decay_rate from lr_decay)
            assert spec.check(spec.default) == (spec.default, None), name
