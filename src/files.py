"""Atomic outputs: write into a temporary folder beside the target, then rename it into place."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import sys
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

    On an exception the temporary folder is removed and `target` is left as it was. The
    swap is one atomic rename on Linux, so a process killed at any moment (even by SIGKILL)
    leaves either the previous folder or the new one in place, never neither (elsewhere, a
    crash between the two renames is repaired by the next call).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _recover(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if target.exists() and _exchange(tmp, target):  # one atomic step: never no target
        shutil.rmtree(tmp, ignore_errors=True)  # now the previous outputs
        return
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    if target.exists():
        target.rename(old)
    tmp.rename(target)  # a crash just before this leaves `old`: see _recover
    shutil.rmtree(old, ignore_errors=True)


RENAME_EXCHANGE = 2  # Linux renameat2 flag


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where the system
    or the file system cannot, and the caller renames in two steps."""
    if sys.platform != "linux":
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_cwd = -100
    done = renameat2(at_cwd, os.fsencode(a), at_cwd, os.fsencode(b), RENAME_EXCHANGE)
    return bool(done == 0)


def _recover(target: Path) -> None:
    """Put back the previous outputs if a crash came between the two renames."""
    if target.exists():
        return
    olds = sorted(target.parent.glob(f".{target.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if olds:
        olds[-1].rename(target)


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
