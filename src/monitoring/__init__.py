"""Monitoring: drift since a reference run, realised performance, the retrain decision."""

from customer_ml.monitoring.monitor import Monitoring, decide, monitor, read_reference

__all__ = ["Monitoring", "decide", "monitor", "read_reference"]
