"""Batch scoring on every core: the rows are split between this process and forked copies
of it, one per further core, each scoring its share single-threaded.

Scoring is per row (the population it ranks against is the feature store, not the batch), so
the split changes no number: the parts, concatenated in order, equal one process's scores bit
for bit. (TreeSHAP is tabulated per cell for every part of at least `MIN_ROWS` rows, as for
the whole batch, and each row adds its trees' values in tree order; only batches of under
2,000 rows, which are never split, take LightGBM's `pred_contrib`, whose sums differ in the
last bits.)
Forking shares the models and the rows with the workers at no cost (copy on write). A worker
writes its scores as an Arrow stream into shared memory mapped before the fork, so they come
back without a copy or a Python object per row (the text columns are Arrow arrays); a result
too large for that space comes back pickled through the worker's pipe. Most of a batch's
time is single-threaded Python and numpy (reasons, tags, segments), which threads cannot
share; processes can.

Workers are used on Linux only (fork is unsafe on macOS) and for batches of at least
`MIN_ROWS` per process (below that, the fork costs what it saves). Every process limits its
OpenMP and BLAS pools to one thread while it scores: GNU OpenMP's thread pool does not survive
a fork, and a worker that used it would wait forever.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import logging
import mmap
import os
import pickle
import select
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
from threadpoolctl import threadpool_limits

from customer_ml.models.cellshap import thread_limit

__all__ = ["MIN_ROWS", "map_rows", "worker_count"]

log = logging.getLogger(__name__)

MIN_ROWS = 25_000  # rows per process below which one process is as fast
SPACE_PER_ROW = 4096  # shared memory reserved per row of a worker's result (pages: on use)
SPACE_BASE = 16 << 20  # and per worker
PR_SET_PDEATHSIG = 1  # Linux prctl option


def worker_count(rows: int, workers: int = 0) -> int:
    """Processes to score `rows` with: `workers` (0: one per core this process may use; set
    it where a CPU quota allows fewer), fewer when some would get less than `MIN_ROWS` rows;
    1 where fork is not available."""
    if sys.platform != "linux" or not hasattr(os, "fork"):
        return 1
    wanted = workers or len(os.sched_getaffinity(0))
    return max(1, min(wanted, rows // MIN_ROWS))


@dataclass
class _Worker:
    pid: int
    pipe: int  # read end: the message (see `_run`)
    space: mmap.mmap | None  # shared: the result as an Arrow stream
    deadline: float  # time.monotonic() by which the result must be in
    timeout_s: float
    reaped: bool = False


def map_rows(
    fn: Callable[[pd.DataFrame], pd.DataFrame],
    frame: pd.DataFrame,
    workers: int,
    *,
    timeout_s: float = 900.0,
) -> pd.DataFrame:
    """``fn(frame)``, computed as `workers` contiguous parts of `frame`'s rows, one per
    process (this one takes the first, the others are forked; a part whose fork fails is
    computed here too); the results are concatenated in row order. An error in a worker is
    raised here; an interrupted call stops its workers.

    A worker that dies without a result or has none `timeout_s` seconds after its start is
    killed and its part forked once more; if that fails too, the call raises a RuntimeError
    naming the part's rows."""
    bounds = np.linspace(0, len(frame), workers + 1).astype(int).tolist()
    parts = [frame.iloc[lo:hi].reset_index(drop=True) for lo, hi in itertools.pairwise(bounds)]
    started: list[_Worker | None] = [None]  # per part; None: computed here
    retried: list[_Worker | None] = []
    try:
        started += [_fork(fn, part, timeout_s) for part in parts[1:]]
        with _one_thread():
            here = {i: fn(p) for i, (p, w) in enumerate(zip(parts, started, strict=True)) if not w}
        results = []
        for i, w in enumerate(started):
            if w is None:
                results.append(here[i])
                continue
            try:
                results.append(_collect(w))
            except _Lost as first:
                log.warning(
                    "scoring rows %d-%d: %s; retrying once", bounds[i], bounds[i + 1] - 1, first
                )
                again = _fork(fn, parts[i], timeout_s)
                retried.append(again)
                try:
                    results.append(fn(parts[i]) if again is None else _collect(again))
                except _Lost as second:
                    lo, hi = bounds[i], bounds[i + 1]
                    raise RuntimeError(
                        f"scoring rows {lo}-{hi - 1} (of {len(frame)}) failed twice in a "
                        f"worker: {first}, then {second}; with scoring.workers: 1, no workers "
                        "are used"
                    ) from None
    finally:
        for w in started + retried:
            if w is not None:
                _stop(w)
    return pd.concat(results, ignore_index=True)


class _Lost(Exception):
    """A worker ended without a result, or did not finish in time."""


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    with threadpool_limits(limits=1), thread_limit(1):
        yield


def _fork(
    fn: Callable[[pd.DataFrame], pd.DataFrame], part: pd.DataFrame, timeout_s: float = 900.0
) -> _Worker | None:
    """A worker computing ``fn(part)``; None if the process cannot be forked (e.g. a limit on
    processes, or no memory for a copy under strict overcommit)."""
    try:  # shared and anonymous; pages are taken as they are written
        space: mmap.mmap | None = mmap.mmap(-1, len(part) * SPACE_PER_ROW + SPACE_BASE)
    except OSError:  # e.g. strict overcommit: the result comes pickled
        space = None
    read, write = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read)
        os.close(write)
        return None
    if pid:
        os.close(write)
        return _Worker(pid, read, space, time.monotonic() + timeout_s, timeout_s)
    status = 1  # the worker: it never returns into the caller's code, whatever happens
    try:
        os.close(read)
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C stops the parent, which stops us
        _die_with_parent()
        ok, message = _run(fn, part, space)
        status = 0 if ok else 1
        with os.fdopen(write, "wb") as pipe:
            pipe.write(message)
    finally:
        os._exit(status)


def _run(
    fn: Callable[[pd.DataFrame], pd.DataFrame], part: pd.DataFrame, space: mmap.mmap | None
) -> tuple[bool, bytes]:
    """In the worker: whether ``fn(part)`` worked, and the message for the parent: the
    result's size in `space` and its column types, or (without space, or if it does not fit)
    the result pickled, or the exception."""
    try:
        with _one_thread():
            result = fn(part)
        size = _write(result, space)
        message = ("pickle", result) if size is None else ("arrow", (size, result.iloc[:0]))
        return True, pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
    except Exception as e:  # raised again in the parent
        try:
            return False, pickle.dumps(("error", e))
        except Exception:  # an exception that does not pickle: its text
            return False, pickle.dumps(("error", RuntimeError(f"{type(e).__name__}: {e}")))


def _write(result: pd.DataFrame, space: mmap.mmap | None) -> int | None:
    """`result` as an Arrow stream into `space`: its size; None without space, or when it
    does not fit or Arrow cannot hold it."""
    if space is None:
        return None
    sink = pa.FixedSizeBufferWriter(pa.py_buffer(space))
    try:
        table = pa.Table.from_pandas(result, preserve_index=False, nthreads=1)
        with pa.ipc.new_stream(sink, table.schema) as stream:
            stream.write_table(table)
    except (pa.ArrowException, ValueError, TypeError, OSError):
        return None
    return int(sink.tell())


def _die_with_parent() -> None:
    """Linux: the kernel kills this worker if the parent dies (even by SIGKILL)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _read(worker: _Worker) -> bytes:
    """The worker's whole message (up to the pipe's end); raises _Lost past its deadline."""
    chunks: list[bytes] = []
    while True:
        left = worker.deadline - time.monotonic()
        ready, _, _ = select.select([worker.pipe], [], [], max(left, 0.0))
        if not ready:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, signal.SIGKILL)
            raise _Lost(f"no result after {worker.timeout_s:g} s (scoring.worker_timeout_s)")
        chunk = os.read(worker.pipe, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _collect(worker: _Worker) -> pd.DataFrame:
    """A worker's result."""
    message = _read(worker)
    _, status = os.waitpid(worker.pid, 0)  # the pipe is closed: the worker has exited
    worker.reaped = True
    if not message:
        raise _Lost(f"worker pid {worker.pid} stopped without a result ({_describe(status)})")
    kind, value = pickle.loads(message)
    if kind == "error":
        raise value
    if kind == "pickle":
        return value
    size, template = value  # the result's column types: an empty result
    assert worker.space is not None
    table = pa.ipc.open_stream(pa.py_buffer(worker.space)[:size]).read_all()
    return _frame(table, template)


def _frame(table: pa.Table, template: pd.DataFrame) -> pd.DataFrame:
    """`table` as a frame with `template`'s column types (Arrow-backed columns without a
    copy: the shared memory stays mapped while they use it)."""
    columns = {}
    for name, dtype in template.dtypes.items():
        column = table.column(str(name))
        if isinstance(dtype, pd.ArrowDtype | pd.StringDtype):
            columns[name] = pd.array(column, dtype=dtype)
        else:
            columns[name] = column.to_pandas().astype(dtype)
    return pd.DataFrame(columns)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


def _stop(worker: _Worker) -> None:
    """Close the pipe and reap the worker (killing it first if it is still running)."""
    with contextlib.suppress(OSError):
        os.close(worker.pipe)
    if worker.reaped:  # its pid may belong to another process by now
        return
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(worker.pid, os.WNOHANG)
        if not done:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, signal.SIGKILL)
            os.waitpid(worker.pid, 0)
