"""Shim of ``prefect.logging``: ``get_run_logger()`` prints to stderr."""

from flowdeck import get_run_logger

__all__ = ["get_run_logger"]
