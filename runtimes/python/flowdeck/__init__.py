"""flowdeck's Python runtime API.

    from flowdeck import flow, task, concurrency, rate_limit

- ``flow`` / ``task``: Prefect-style decorators (see ``flowdeck._flows``);
- ``concurrency`` (``with`` or ``async with``) and ``rate_limit`` (blocking call):
  global concurrency limits held through the flowdeck concurrency agent;
- ``flowdeck.asyncio``: ``async with concurrency(...)``, ``await rate_limit(...)``;
- errors: ``AcquireConcurrencySlotTimeoutError`` (a ``TimeoutError``) and
  ``ConcurrencySlotAcquisitionError``, named as in Prefect.

Standard library only; Python 3.9+.
"""

from ._flows import Flow, Task, TaskFuture, TaskFutureList, flow, task, unmapped
from ._logging import get_run_logger
from .errors import (
    AcquireConcurrencySlotTimeoutError,
    AgentConnectionError,
    ConcurrencySlotAcquisitionError,
)
from .sync import concurrency, rate_limit

__version__ = "0.1.0"

__all__ = [
    "flow",
    "task",
    "Flow",
    "Task",
    "TaskFuture",
    "TaskFutureList",
    "unmapped",
    "get_run_logger",
    "concurrency",
    "rate_limit",
    "AcquireConcurrencySlotTimeoutError",
    "ConcurrencySlotAcquisitionError",
    "AgentConnectionError",
]
