"""customer-ml: customer segmentation, churn and lifetime value on point-in-time features.

The public API for notebooks; the CLI and the service are thin layers over it.
"""

from customer_ml.config import Config, ConfigError, load_config, parse_config
from customer_ml.data.dataset import CleaningReport, Dataset
from customer_ml.data.io import DataError
from customer_ml.data.load import connect, from_frames, load_data
from customer_ml.data.synthetic import SyntheticData, generate

__all__ = [
    "CleaningReport",
    "Config",
    "ConfigError",
    "DataError",
    "Dataset",
    "SyntheticData",
    "connect",
    "from_frames",
    "generate",
    "load_config",
    "load_data",
    "parse_config",
]
__version__ = "0.1.0"
