"""Where Prefect defines its concurrency errors; the same classes as flowdeck's."""

from flowdeck.errors import AcquireConcurrencySlotTimeoutError, ConcurrencySlotAcquisitionError

__all__ = ["AcquireConcurrencySlotTimeoutError", "ConcurrencySlotAcquisitionError"]
