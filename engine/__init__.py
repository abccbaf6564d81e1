"""ml-crypto-trading engine: one event-driven code path for back-test and live trading."""

__version__ = "0.1.0"
