"""The errors a user can act on. The CLI reports each as one line and exits with code 2; the
service answers them with a 4xx. (Also importable from their old homes: `customer_ml.config`
and `customer_ml.data.io`.)"""

from __future__ import annotations

__all__ = ["ConfigError", "DataError", "UserError"]


class UserError(ValueError):
    """Bad input: the message names the file, key, column, row or value to fix."""


class ConfigError(UserError):
    """A config file that cannot be read or does not validate."""


class DataError(UserError):
    """Input data that cannot be used, with a message naming the file, row, column or value."""
