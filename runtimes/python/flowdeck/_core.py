"""Acquire / release logic shared by the sync and async concurrency APIs."""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any, Dict, List, Optional, Sequence, Union

from . import _agent
from .errors import (
    AcquireConcurrencySlotTimeoutError,
    AgentConnectionError,
    ConcurrencySlotAcquisitionError,
)

Names = Union[str, Sequence[str], None]

# How long a release waits for the agent's answer before giving up (the lease is
# still released when the connection closes or expires).
RELEASE_TIMEOUT_SECONDS = 30.0


def normalize_names(names: Names) -> List[str]:
    """A name or a list of names -> list of names. Empty/None means "no limits"
    (Prefect treats that as a no-op)."""
    if not names:
        return []
    if isinstance(names, str):
        return [names]
    if isinstance(names, (bytes, bytearray)):
        raise TypeError("concurrency limit names must be str, not bytes")
    result = list(names)
    for name in result:
        if not isinstance(name, str):
            raise TypeError(
                "concurrency limit names must be str, got %s" % type(name).__name__
            )
    return result


def acquire_payload(
    names: List[str],
    occupy: int,
    timeout_seconds: Optional[float],
    strict: bool,
    mode: str,
) -> Dict[str, Any]:
    return {
        "op": "acquire",
        "names": names,
        "occupy": occupy,
        "timeout_seconds": timeout_seconds,
        "strict": bool(strict),
        "mode": mode,
        "holder": _agent.holder_id(),
    }


def interpret_acquire(
    response: Dict[str, Any], names: List[str], timeout_seconds: Optional[float]
) -> Optional[str]:
    """Turn an acquire response into a lease id (or None) or raise the
    Prefect-named error."""
    if response.get("ok"):
        for warning in response.get("warnings") or []:
            _agent.warn(str(warning))
        lease_id = response.get("lease_id")
        return lease_id
    error = response.get("error")
    message = response.get("message")
    if error == "timeout":
        raise AcquireConcurrencySlotTimeoutError(
            message
            or "Attempt to acquire concurrency slots timed out after %s second(s)"
            % (timeout_seconds,)
        )
    if error == "missing-limits":
        raise ConcurrencySlotAcquisitionError(
            message or "Concurrency limits %r must be created before acquiring slots" % (names,)
        )
    raise ConcurrencySlotAcquisitionError(
        message or "Unable to acquire concurrency slots on %r: %s" % (names, error or "unknown error")
    )


def _release_if_granted(mode: str):
    """Callback for an acquisition whose caller stopped waiting (interrupted or
    cancelled): if the agent grants it anyway, give the slots straight back."""

    def callback(fut: "concurrent.futures.Future[Dict[str, Any]]") -> None:
        if mode != "concurrency" or fut.cancelled() or fut.exception() is not None:
            return
        response = fut.result()
        lease_id = response.get("lease_id")
        if response.get("ok") and lease_id is not None:
            try:
                _agent.request({"op": "release", "lease_id": lease_id})
            except AgentConnectionError:
                pass

    return callback


# --------------------------------------------------------------------------- sync


def acquire(
    names: List[str],
    occupy: int = 1,
    timeout_seconds: Optional[float] = None,
    strict: bool = False,
    mode: str = "concurrency",
) -> Optional[str]:
    fut = _agent.request(acquire_payload(names, occupy, timeout_seconds, strict, mode))
    try:
        response = fut.result()
    except AgentConnectionError:
        raise
    except BaseException:
        # KeyboardInterrupt (or similar) while waiting: don't leak a late grant.
        fut.add_done_callback(_release_if_granted(mode))
        raise
    return interpret_acquire(response, names, timeout_seconds)


def release(lease_id: Optional[str]) -> None:
    if lease_id is None:
        return
    try:
        fut = _agent.request({"op": "release", "lease_id": lease_id})
        response = fut.result(timeout=RELEASE_TIMEOUT_SECONDS)
    except AgentConnectionError:
        # The connection is gone: the agent released its leases when it closed.
        return
    except concurrent.futures.TimeoutError:
        _agent.warn("the concurrency agent did not confirm the release of lease %s" % lease_id)
        return
    if not response.get("ok"):
        _agent.warn(
            "releasing lease %s failed: %s"
            % (lease_id, response.get("message") or response.get("error"))
        )


# -------------------------------------------------------------------------- async


async def _await_cf(fut: "concurrent.futures.Future[Any]", mode: str) -> Any:
    """Await a concurrent future without letting asyncio cancellation cancel it
    (a cancelled waiter must still release a late grant)."""
    loop = asyncio.get_running_loop()
    waiter = loop.create_future()

    def copy(src: "concurrent.futures.Future[Any]") -> None:
        def apply() -> None:
            if waiter.done():
                return
            if src.cancelled():
                waiter.cancel()
            elif src.exception() is not None:
                waiter.set_exception(src.exception())  # type: ignore[arg-type]
            else:
                waiter.set_result(src.result())

        try:
            loop.call_soon_threadsafe(apply)
        except RuntimeError:  # loop closed
            pass

    fut.add_done_callback(copy)
    try:
        return await waiter
    except asyncio.CancelledError:
        fut.add_done_callback(_release_if_granted(mode))
        raise


async def aacquire(
    names: List[str],
    occupy: int = 1,
    timeout_seconds: Optional[float] = None,
    strict: bool = False,
    mode: str = "concurrency",
) -> Optional[str]:
    loop = asyncio.get_running_loop()
    payload = acquire_payload(names, occupy, timeout_seconds, strict, mode)
    # The first call may connect or spawn the agent: do it off the event loop.
    fut = await loop.run_in_executor(None, _agent.request, payload)
    response = await _await_cf(fut, mode)
    return interpret_acquire(response, names, timeout_seconds)


async def arelease(lease_id: Optional[str]) -> None:
    if lease_id is None:
        return
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, release, lease_id)


class AsyncConcurrency:
    """``async with`` part of the concurrency context managers (shared by
    flowdeck.sync.concurrency and flowdeck.asyncio.concurrency)."""

    def __init__(
        self,
        names: Names,
        occupy: int = 1,
        timeout_seconds: Optional[float] = None,
        max_retries: Optional[int] = None,
        lease_duration: Optional[float] = None,
        strict: bool = False,
        holder: Any = None,
        raise_on_lease_renewal_failure: Optional[bool] = None,
        create_if_missing: Optional[bool] = None,
        **_ignored: Any,
    ) -> None:
        self.names: List[str] = normalize_names(names)
        self.occupy = occupy
        self.timeout_seconds = timeout_seconds
        self.strict = strict
        self._leases: List[Optional[str]] = []
        #: the lease of the most recent acquisition (None: nothing was limited)
        self.lease_id: Optional[str] = None

    async def __aenter__(self) -> Any:
        lease = None
        if self.names:
            lease = await aacquire(
                self.names, self.occupy, self.timeout_seconds, self.strict, "concurrency"
            )
        self._leases.append(lease)
        self.lease_id = lease
        return self

    async def __aexit__(self, *_exc: Any) -> None:
        lease = self._leases.pop() if self._leases else None
        await arelease(lease)

    def __repr__(self) -> str:
        return "concurrency(%r, occupy=%r, timeout_seconds=%r, strict=%r)" % (
            self.names,
            self.occupy,
            self.timeout_seconds,
            self.strict,
        )
