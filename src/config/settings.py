"""Configuration: YAML files validated into frozen pydantic models.

Every model forbids unknown keys, so a typo in a config is an error that names the key and the
file. Relative paths resolve against the folder of the config file, so a command works from any
working directory.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path, PosixPath
from typing import Any, Literal

import yaml
from pydantic import (
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from customer_ml.config.rules import (
    DEFAULT_PLAYBOOKS,
    FrequencyBands,
    LifecycleRule,
    PlaybookRule,
    ServingConfig,
    Strict,
    TagsConfig,
    ValueTierRule,
)
from customer_ml.errors import ConfigError

__all__ = [
    "CleaningConfig",
    "Config",
    "ConfigError",
    "CustomersSource",
    "DataConfig",
    "EventsSource",
    "FeaturesConfig",
    "FrequencyBands",
    "LifecycleRule",
    "MonitoringConfig",
    "PlaybookRule",
    "ServingConfig",
    "SparkConfig",
    "SyntheticSource",
    "TagsConfig",
    "TransactionsSource",
    "ValueTierRule",
    "load_config",
]


_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class UrlPath(PosixPath):
    """A URL that Spark reads (``hdfs://``, ``s3a://``, ``file://``, ...), kept verbatim in
    `url` (as a Path its double slash would collapse); never resolved against a folder."""

    url: str = ""


def location(path: Path) -> str:
    """The text a reader is given for `path`: the URL as written, else the path."""
    return path.url if isinstance(path, UrlPath) else str(path)


def _keep_url(value: Any) -> Any:
    if isinstance(value, str) and _URL.match(value):
        path = UrlPath(value)
        path.url = value
        return path
    return value


def _resolve(value: Path | None, info: ValidationInfo) -> Path | None:
    """Resolve a relative path against the config file's folder (passed as context)."""
    if value is None or isinstance(value, UrlPath):
        return value
    base = (info.context or {}).get("base_dir")
    value = Path(value).expanduser()
    return value if value.is_absolute() or base is None else Path(base) / value


class ReadOptions(Strict):
    """How to read a CSV file (names follow pandas.read_csv)."""

    sep: str | None = Field(None, description="delimiter; None sniffs it; a regex such as \\s+")
    header: bool = True
    encoding: str = "utf-8"
    quotechar: str = '"'
    skiprows: int = Field(0, ge=0)
    decimal: str = "."
    na_values: tuple[str, ...] = ("",)


class TableSource(Strict):
    path: Path
    format: Literal["auto", "csv", "parquet"] = "auto"
    read_options: ReadOptions = ReadOptions()
    ts_format: str | None = Field(None, description="strptime format of timestamps; None = ISO")
    personal_columns: tuple[str, ...] = Field(
        (), description="columns dropped at load (names, e-mails, phones, addresses)"
    )

    _keep_path_url = field_validator("path", mode="before")(_keep_url)
    _resolve_path = field_validator("path")(_resolve)

    @property
    def file_format(self) -> str:
        if self.format != "auto":
            return self.format
        name = self.path.name.lower()
        return "parquet" if name.endswith((".parquet", ".pq")) else "csv"


class TransactionColumns(Strict):
    """Canonical name -> column in the file. `amount` or `unit_price` (x quantity) is optional."""

    customer_id: str
    ts: str
    amount: str | None = None
    unit_price: str | None = None
    quantity: str | None = None
    order_id: str | None = None
    product_id: str | None = None
    category: str | None = None
    channel: str | None = None

    @model_validator(mode="after")
    def _price_needs_quantity(self) -> TransactionColumns:
        if self.unit_price and not self.quantity:
            raise ValueError("unit_price needs quantity too (amount = quantity x unit_price)")
        if self.unit_price and self.amount:
            raise ValueError("map either amount or unit_price, not both")
        return self


class TransactionsSource(TableSource):
    columns: TransactionColumns


class CustomerColumns(Strict):
    customer_id: str
    signup_ts: str | None = None
    churn_label: str | None = Field(None, description="contractual churn label column")


class CustomersSource(TableSource):
    columns: CustomerColumns
    attributes: tuple[str, ...] | None = Field(
        None, description="attribute columns to keep; None keeps every other non-personal column"
    )
    churn_positive: str = Field("Yes", description="value of churn_label that means churned")


class EventColumns(Strict):
    customer_id: str
    ts: str
    event_type: str


class EventsSource(TableSource):
    columns: EventColumns


class SyntheticSource(Strict):
    """Data from the built-in generator (planted segments, known truth)."""

    n_customers: int = Field(5000, gt=0)
    start: dt.date = dt.date(2023, 1, 1)
    days: int = Field(730, gt=30)
    acquisition_days: int = Field(365, gt=0)
    with_events: bool = True


class DataConfig(Strict):
    transactions: TransactionsSource | None = None
    customers: CustomersSource | None = None
    events: EventsSource | None = None
    synthetic: SyntheticSource | None = None

    @model_validator(mode="after")
    def _one_source(self) -> DataConfig:
        if self.synthetic is not None and (self.transactions or self.customers or self.events):
            raise ValueError("use either synthetic or files (transactions/customers/events)")
        if self.synthetic is None and self.transactions is None and self.customers is None:
            raise ValueError("name transactions (or customers, for contractual data) or synthetic")
        return self


class CleaningConfig(Strict):
    """Explicit, counted cleaning steps applied at load (raw files are never modified)."""

    drop_missing_customer_id: bool = True
    returns: Literal["drop", "net", "keep"] = Field(
        "drop", description="returns/cancellations: drop them, net them against spend, or keep"
    )
    cancellation_pattern: str | None = Field(
        None, description="regex on order_id marking a cancellation, e.g. '^C'"
    )
    drop_nonpositive_price: bool = True
    drop_bad_timestamps: bool = Field(
        False,
        description="drop rows whose timestamp does not parse (counted) instead of stopping "
        "with an error naming the first of them",
    )
    drop_duplicates: bool = True
    merge_same_day: bool = Field(True, description="count purchases per customer-day (BTYD)")
    exclude_products: str | None = Field(
        None, description="regex on product_id for non-product rows (postage, fees, ...)"
    )


class PrivacyConfig(Strict):
    pseudonymise_ids: bool = False
    salt_env: str = "CUSTOMER_ML_SALT"


class PathsConfig(Strict):
    out: Path = Path("out")
    mlruns: Path = Path("mlruns")

    _resolve_paths = field_validator("out", "mlruns")(_resolve)


class FeaturesConfig(Strict):
    """Behaviour-vector settings (see customer_ml.features.catalogue for every feature)."""

    windows: tuple[int, ...] = Field((30, 90, 180, 365), description="windows in days")
    top_categories: int = Field(8, ge=0, description="category-share columns for the top N")
    event_windows: tuple[int, ...] = (30, 90)
    age_column: str | None = Field("age", description="attribute banded into age_band")
    age_bands: tuple[int, ...] = (18, 25, 35, 45, 55, 65)
    engine: Literal["arrays", "sql", "spark"] = Field(
        "arrays",
        description="arrays: DuckDB streams the history, numpy reduces each customer's rows "
        "(faster); sql: one DuckDB aggregation (the same SQL runs in a warehouse); spark: the "
        "same SQL on Apache Spark (see the spark section), for the snapshot and batch scoring",
    )

    @field_validator("windows", "event_windows")
    @classmethod
    def _positive(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if not v or any(w <= 0 for w in v):
            raise ValueError("windows must be positive day counts")
        return tuple(sorted(set(v)))


class BacktestConfig(Strict):
    """Rolling origins as_of - k * horizon (k = 1..n_origins); each trains on labelled
    snapshots at the `n_train_cutoffs` cutoffs whose label windows end by the origin."""

    n_origins: int = Field(2, ge=1)
    n_train_cutoffs: int = Field(3, ge=1)
    n_boot: int = Field(200, ge=0, description="bootstrap resamples for confidence intervals")
    ablation: bool = Field(
        True,
        description="backtest the feature groups (behaviour, products, attributes) one at a "
        "time on top of RFM and drop from the learned models those that do not help",
    )


class TuningConfig(Strict):
    """Optuna (TPE, seeded, median pruning) budgets per tuned model."""

    n_trials: int = Field(20, ge=0, description="0 = no tuning: LightGBM defaults")
    timeout_s: float = Field(30.0, gt=0, description="stop a study after this many seconds")
    max_rounds: int = Field(500, ge=10, description="boosting rounds, early-stopped")
    prefer_smaller: bool = Field(
        True,
        description="serve the smallest model (fewest leaves over all trees) whose validation "
        "score is within one bootstrap standard error of the best trial's (the "
        "one-standard-error rule): as good within noise, cheaper to score and explain",
    )


class RecommendConfig(Strict):
    """`customer-ml recommend`: the ranker's Optuna budget (an inner time split before the
    backtest's cut; the final fit reuses the parameters found there)."""

    n_trials: int = Field(8, ge=0, description="0 = no tuning: the ranker's defaults")
    timeout_s: float = Field(12.0, gt=0, description="stop the study after this many seconds")
    in_scores: int = Field(
        3,
        ge=0,
        le=50,
        description="top products per customer in scores and target lists, from "
        "`customer-ml recommend` as of the same date; 0 = none",
    )


class ScoringConfig(Strict):
    """Batch scoring."""

    workers: int = Field(
        0,
        ge=0,
        description="processes that score a batch (0: one per core); each gets at least "
        "25,000 customers, and there are none but the main one on platforms without fork",
    )
    worker_timeout_s: float = Field(
        900.0,
        gt=0,
        description="a worker with no result this many seconds after its start is killed and "
        "its rows scored once more in a new one; a second failure fails the job",
    )


class MonitoringConfig(Strict):
    """`customer-ml monitor` / `cycle`: when drift or realised performance calls for a retrain."""

    max_share_drifted: float = Field(
        0.35, ge=0, le=1, description="retrain when more than this share of features drifted"
    )
    max_auc_drop: float = Field(
        0.05, ge=0, description="retrain when the realised churn AUC is this far below the backtest"
    )
    drift_on_predictions: bool = Field(
        True, description="retrain when the churn or LTV predictions themselves drifted"
    )
    control_share: float = Field(
        0.1, ge=0, lt=1, description="share of each target list held out as a control group"
    )


class DuckDBConfig(Strict):
    """The default engine's DuckDB: the memory it may hold before it spills to disk."""

    memory_limit: str | None = Field(
        None,
        pattern=r"^\s*\d+(\.\d+)?\s*([KMGT]i?B)\s*$",
        description="e.g. 8GB (default: 40 % of this machine's memory). Beyond it, DuckDB "
        "spills tables and intermediate results to temp_directory. The snapshot's numpy and "
        "pandas work comes on top, about 1.5 KB per customer at its peak",
    )
    temp_directory: Path | None = Field(
        None, description="where DuckDB spills (default: a directory in the system's temp)"
    )

    _resolve_temp = field_validator("temp_directory")(_resolve)


class SparkConfig(Strict):
    """`engine: spark` (or ``--engine spark``): where the snapshot and batch scoring run."""

    master: str = Field(
        "local[*]", description="spark://host:7077, yarn, k8s://..., or local[N] on this machine"
    )
    app_name: str = "customer-ml"
    conf: dict[str, str] = Field(
        default_factory=dict,
        description="spark.* settings passed to the session builder, e.g. "
        "spark.executor.memory: 4g",
    )
    scores_partition_by: tuple[str, ...] = Field(
        ("segment",), description="partition columns of the scores written by Spark"
    )
    btyd_fit_customers: int = Field(
        1_000_000,
        ge=1000,
        description="BTYD models are fit on the driver from at most this many customers' "
        "(frequency, recency, T, monetary value), a seeded sample beyond it",
    )

    @field_validator("conf", mode="before")
    @classmethod
    def _spark_keys(cls, v: Any) -> Any:
        if not isinstance(v, dict):
            return v
        bad = [k for k in v if not str(k).startswith("spark.")]
        if bad:
            raise ValueError(f"Spark settings start with 'spark.': {bad}")
        # YAML reads 4 and true as numbers and booleans; Spark wants text ("true")
        return {str(k): str(x).lower() if isinstance(x, bool) else str(x) for k, x in v.items()}


class Config(Strict):
    data: DataConfig
    project: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="names the MLflow experiments and registered models (default: config "
        "file name)",
    )
    cleaning: CleaningConfig = CleaningConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    as_of: dt.date | None = Field(None, description="default: the last transaction date")
    horizon_days: int = Field(90, gt=0)
    seed: int = 42
    features: FeaturesConfig = FeaturesConfig()
    tags: TagsConfig = TagsConfig()
    paths: PathsConfig = PathsConfig()
    backtest: BacktestConfig = BacktestConfig()
    tuning: TuningConfig = TuningConfig()
    recommend: RecommendConfig = RecommendConfig()
    playbooks: dict[str, tuple[PlaybookRule, ...]] = Field(
        default_factory=lambda: dict(DEFAULT_PLAYBOOKS),
        description="named playbooks: ordered rules, the first match gives the action",
    )
    default_playbook: str = Field("retention", description="the playbook behind the scores")
    serving: ServingConfig = ServingConfig()
    scoring: ScoringConfig = ScoringConfig()
    monitoring: MonitoringConfig = MonitoringConfig()
    spark: SparkConfig = SparkConfig()
    duckdb: DuckDBConfig = DuckDBConfig()
    source: Path | None = Field(None, description="the file this config was read from")

    @model_validator(mode="after")
    def _playbook_known(self) -> Config:
        if self.default_playbook not in self.playbooks:
            raise ValueError(
                f"default_playbook {self.default_playbook!r} is not among the playbooks "
                f"{sorted(self.playbooks)}"
            )
        return self

    @property
    def project_name(self) -> str:
        if self.project:
            return self.project
        return self.source.stem if self.source else "demo"


def _format_errors(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "(top level)"
        if e["type"] == "extra_forbidden":
            lines.append(f"  {where}: unknown key")
        elif e["type"] == "missing":
            lines.append(f"  {where}: required key is missing")
        else:
            lines.append(f"  {where}: {e['msg']} (got {e.get('input')!r})")
    return "\n".join(lines)


def parse_config(raw: dict[str, Any], *, base_dir: Path, source: Path | None = None) -> Config:
    """Validate a config mapping; relative paths resolve against `base_dir`."""
    if source is not None:
        raw = {**raw, "source": source}
    where = str(source) if source else "config"
    try:
        return Config.model_validate(raw, context={"base_dir": base_dir})
    except ValidationError as err:
        raise ConfigError(f"{where}: invalid config\n{_format_errors(err)}") from None


def _yaml_where(err: yaml.YAMLError) -> str:
    """': <problem> at line L, column C' in one line (PyYAML's own text spans several)."""
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f": {problem}{where}"


def load_config(path: str | Path) -> Config:
    """Read and validate a YAML config file.

    Raises
    ------
    ConfigError
        naming the file and every unknown, missing or invalid key.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML{_yaml_where(err)}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level")
    return parse_config(raw, base_dir=path.resolve().parent, source=path.resolve())
