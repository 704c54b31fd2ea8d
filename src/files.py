"""Atomic outputs: write into a temporary folder beside the target, then rename it into place."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["atomic_dir", "atomic_file", "write_parquet"]


@contextlib.contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """Yield a fresh temporary folder; on success it replaces `target` whole.

    On an exception the temporary folder is removed and `target` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_file(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success it is renamed onto `target`."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.tmp-", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, target)


def write_parquet(frame: pd.DataFrame, path: str | Path) -> None:
    """``frame.to_parquet(path, index=False)``, readable by a plain ``pd.read_parquet``:
    pandas 3 records an Arrow list column's type by a name its own reader cannot parse back
    ("list<item: string>[pyarrow]"), so such columns are described as object columns; they
    read back as one array per row, as lists of Python strings always did."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    meta = json.loads(table.schema.metadata[b"pandas"])
    for column in meta["columns"]:
        name = column.get("field_name")
        if name in table.column_names and pa.types.is_nested(table.schema.field(name).type):
            column["numpy_type"] = "object"
    pq.write_table(
        table.replace_schema_metadata(
            {**table.schema.metadata, b"pandas": json.dumps(meta).encode()}
        ),
        path,
    )
