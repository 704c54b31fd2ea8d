"""Ids in logs: the pseudonym equals the one pseudonymise_ids gives at load time."""

from __future__ import annotations

import duckdb
import pytest

from customer_ml.privacy import pseudonym


def test_pseudonym_is_the_load_time_hash_with_the_salt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_SALT", "pepper")
    (want,) = duckdb.sql("SELECT left(sha256('pepper' || 'cust-42'), 16)").fetchall()[0]
    assert pseudonym("cust-42", salt_env="MY_SALT") == f"id:{want}"
    assert "cust-42" not in pseudonym("cust-42", salt_env="MY_SALT")
    monkeypatch.setenv("MY_SALT", "other")
    assert pseudonym("cust-42", salt_env="MY_SALT") != f"id:{want}"
