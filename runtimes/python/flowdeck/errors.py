"""Error classes raised by flowdeck's concurrency API.

The names and base classes match Prefect's (``prefect.concurrency._asyncio``), so
``except AcquireConcurrencySlotTimeoutError`` / ``except TimeoutError`` written for
Prefect keeps working. The Prefect compatibility shim re-exports these same
classes, so either import path catches them.
"""


class ConcurrencySlotAcquisitionError(Exception):
    """Raised when concurrency slots cannot be acquired (missing limit with
    strict=True, more slots asked than a limit has, invalid request, lost
    connection to the concurrency agent)."""


class AcquireConcurrencySlotTimeoutError(TimeoutError):
    """Raised when acquiring concurrency slots times out."""


class AgentConnectionError(ConcurrencySlotAcquisitionError):
    """The concurrency agent could not be reached or went away."""


__all__ = [
    "ConcurrencySlotAcquisitionError",
    "AcquireConcurrencySlotTimeoutError",
    "AgentConnectionError",
]
