"""The error types live in customer_ml.errors and are the same classes at their old homes."""

from __future__ import annotations

import customer_ml
from customer_ml import config, errors
from customer_ml.data import io


def test_one_class_per_error_wherever_it_is_imported_from() -> None:
    assert io.DataError is errors.DataError is customer_ml.DataError
    assert config.ConfigError is errors.ConfigError is customer_ml.ConfigError
    assert issubclass(errors.DataError, errors.UserError)
    assert issubclass(errors.ConfigError, ValueError)  # callers catching ValueError still do
