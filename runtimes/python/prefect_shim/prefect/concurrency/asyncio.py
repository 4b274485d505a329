"""Shim of ``prefect.concurrency.asyncio``: ``async with concurrency(...)``,
``await rate_limit(...)``.

Backed by flowdeck's global concurrency limits (``flowdeck gcl create NAME --limit N``).
"""

from flowdeck.asyncio import concurrency, rate_limit
from flowdeck.errors import AcquireConcurrencySlotTimeoutError, ConcurrencySlotAcquisitionError

__all__ = [
    "concurrency",
    "rate_limit",
    "AcquireConcurrencySlotTimeoutError",
    "ConcurrencySlotAcquisitionError",
]
