"""Shim of ``prefect.logging.loggers``."""

from flowdeck import get_run_logger

__all__ = ["get_run_logger"]
