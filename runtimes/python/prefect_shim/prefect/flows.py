"""Shim of ``prefect.flows`` (see ``prefect/__init__.py``)."""

from flowdeck import Flow, flow

__all__ = ["Flow", "flow"]
