"""Scoring: champion models applied to the snapshot as of a date (no training imports)."""
