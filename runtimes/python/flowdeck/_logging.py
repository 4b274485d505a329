"""Loggers that print to stderr (the worker stores every output line as the run's logs)."""

from __future__ import annotations

import logging
import os
import sys

_FORMAT = "%(asctime)s.%(msecs)03d | %(levelname)-7s | %(name)s - %(message)s"
_DATEFMT = "%H:%M:%S"


class _StderrHandler(logging.StreamHandler):
    """A stream handler that always writes to the *current* sys.stderr."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self):  # noqa: D401
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


_configured = set()


def get_logger(name: str) -> logging.Logger:
    logger = logging.getLogger(name)
    if name not in _configured:
        _configured.add(name)
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter(_FORMAT, _DATEFMT))
        logger.addHandler(handler)
        logger.propagate = False
        level = os.environ.get("FLOWDECK_LOGGING_LEVEL") or os.environ.get("PREFECT_LOGGING_LEVEL") or "INFO"
        try:
            logger.setLevel(level.upper())
        except (ValueError, TypeError):
            logger.setLevel(logging.INFO)
    return logger


def get_run_logger(*_args, **_kwargs) -> logging.Logger:
    """Return a logger for the current flow run (prints to stderr)."""
    return get_logger("flowdeck.flow_run")
