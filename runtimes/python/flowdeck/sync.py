"""Synchronous concurrency API: ``with concurrency(...)`` and ``rate_limit(...)``.

Mirrors ``prefect.concurrency.sync``. Slots are taken through the flowdeck
concurrency agent (see ``_agent``); the agent does the waiting, with backoff,
until ``timeout_seconds`` passes.
"""

from __future__ import annotations

from typing import Any, Optional

from . import _core
from ._core import Names
from .errors import AcquireConcurrencySlotTimeoutError, ConcurrencySlotAcquisitionError


class concurrency(_core.AsyncConcurrency):  # noqa: N801 - named like Prefect's
    """Hold ``occupy`` slots on every named global concurrency limit while the
    block runs; all of them or none.

    ``with concurrency("dbt-global", occupy=1, strict=True): ...``

    Signature: ``concurrency(names, occupy=1, timeout_seconds=None,
    max_retries=None, lease_duration=None, strict=False, holder=None,
    raise_on_lease_renewal_failure=None, **ignored)``.

    - waits until the slots are free, or raises AcquireConcurrencySlotTimeoutError
      (a TimeoutError) once ``timeout_seconds`` has passed (None waits forever);
    - ``strict=True`` raises ConcurrencySlotAcquisitionError when a named limit
      does not exist; otherwise a missing or inactive limit does not limit (the
      agent's warning is printed to stderr);
    - asking for more slots than a limit has raises ConcurrencySlotAcquisitionError;
    - the slots are released when the block exits (and by the agent if this
      process dies).

    Prefect-only keyword arguments (max_retries, lease_duration, holder,
    raise_on_lease_renewal_failure, create_if_missing, ...) are accepted and
    ignored. The object also works with ``async with`` (the acquisition then
    does not block the event loop).
    """

    def __enter__(self) -> "concurrency":
        lease = None
        if self.names:
            lease = _core.acquire(
                self.names, self.occupy, self.timeout_seconds, self.strict, "concurrency"
            )
        self._leases.append(lease)
        self.lease_id = lease
        return self

    def __exit__(self, *_exc: Any) -> None:
        lease = self._leases.pop() if self._leases else None
        _core.release(lease)


def rate_limit(
    names: Names,
    occupy: int = 1,
    timeout_seconds: Optional[float] = None,
    strict: bool = False,
    create_if_missing: Optional[bool] = None,
    **_ignored: Any,
) -> None:
    """Block until ``occupy`` slots of every named limit are taken. The limits
    must have ``slot_decay_per_second > 0``: the slots are not released, they
    come back by decay. Errors as for ``concurrency``."""
    names_list = _core.normalize_names(names)
    if not names_list:
        return
    _core.acquire(names_list, occupy, timeout_seconds, strict, "rate_limit")


__all__ = [
    "concurrency",
    "rate_limit",
    "AcquireConcurrencySlotTimeoutError",
    "ConcurrencySlotAcquisitionError",
]
