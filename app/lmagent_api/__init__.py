"""The reference service every app on the platform copies: probes, metrics, traces, JSON logs."""

__version__ = "0.1.0"
