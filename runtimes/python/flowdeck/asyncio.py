"""Asynchronous concurrency API: ``async with concurrency(...)`` and
``await rate_limit(...)``. Mirrors ``prefect.concurrency.asyncio``.

Waiting for slots never blocks the event loop: the request is sent from a
worker thread and the answer is awaited as a future. A task cancelled while
waiting gives back any slots the agent grants afterwards.
"""

from __future__ import annotations

from typing import Any, Optional

from . import _core
from ._core import Names
from .errors import AcquireConcurrencySlotTimeoutError, ConcurrencySlotAcquisitionError


class concurrency(_core.AsyncConcurrency):  # noqa: N801 - named like Prefect's
    """``async with concurrency("dbt-global", occupy=1, strict=True): ...``

    Same arguments and semantics as ``flowdeck.sync.concurrency``;
    Prefect-only keyword arguments are accepted and ignored."""


async def rate_limit(
    names: Names,
    occupy: int = 1,
    timeout_seconds: Optional[float] = None,
    strict: bool = False,
    create_if_missing: Optional[bool] = None,
    **_ignored: Any,
) -> None:
    """``await rate_limit("api", occupy=1)``: wait until the slots are taken
    (they come back by decay, not by release)."""
    names_list = _core.normalize_names(names)
    if not names_list:
        return
    await _core.aacquire(names_list, occupy, timeout_seconds, strict, "rate_limit")


__all__ = [
    "concurrency",
    "rate_limit",
    "AcquireConcurrencySlotTimeoutError",
    "ConcurrencySlotAcquisitionError",
]
