"""Shim of ``prefect.concurrency.sync``: ``with concurrency(...)``, ``rate_limit(...)``.

Backed by flowdeck's global concurrency limits (``flowdeck gcl create NAME --limit N``).
"""

from flowdeck.errors import AcquireConcurrencySlotTimeoutError, ConcurrencySlotAcquisitionError
from flowdeck.sync import concurrency, rate_limit

__all__ = [
    "concurrency",
    "rate_limit",
    "AcquireConcurrencySlotTimeoutError",
    "ConcurrencySlotAcquisitionError",
]
