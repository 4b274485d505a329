"""flowdeck's Prefect compatibility shim.

Not Prefect. The flowdeck runner puts this package on ``sys.path`` when no real
``prefect`` package is importable (or always, with FLOWDECK_PREFECT_SHIM=always),
so flow files written for Prefect run unchanged under flowdeck:

    from prefect import flow, task, get_run_logger
    from prefect.concurrency.sync import concurrency, rate_limit
    from prefect.concurrency.asyncio import concurrency, rate_limit

Everything here is re-exported from the ``flowdeck`` package.
"""

import contextlib

from flowdeck import Flow, Task, flow, get_run_logger, task, unmapped

__version__ = "0+flowdeck.shim"
__flowdeck_shim__ = True


@contextlib.contextmanager
def tags(*_tags, **_kwargs):
    """Accepted for compatibility; flowdeck does not record task/flow tags."""
    yield


__all__ = ["flow", "task", "Flow", "Task", "get_run_logger", "unmapped", "tags"]
