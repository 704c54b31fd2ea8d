"""The package version (its own module: the report names it without importing the package root)."""

__version__ = "0.1.0"
