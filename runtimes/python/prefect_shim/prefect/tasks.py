"""Shim of ``prefect.tasks`` (see ``prefect/__init__.py``)."""

from flowdeck import Task, task

__all__ = ["Task", "task"]
