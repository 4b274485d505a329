"""Prefect-style ``@flow`` and ``@task`` decorators.

They do not orchestrate anything: a flow is the function the worker runs in
this process, a task is a function that can also be submitted to a thread pool.
What they keep from Prefect is the calling convention (``@flow``,
``@flow(name=...)``, ``.fn``, ``.name``, ``.with_options()``, ``task.submit()``
returning a future with ``.result()`` / ``.wait()``, ``task.map()``) and
``retries`` / ``retry_delay_seconds``. Other Prefect options are accepted and
ignored.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Union

from ._logging import get_run_logger

RetryDelay = Union[None, float, int, Sequence[Union[float, int]]]


def _delay_for(retry_delay_seconds: RetryDelay, attempt: int) -> float:
    """Delay before retry number ``attempt`` (1-based)."""
    if retry_delay_seconds is None:
        return 0.0
    if isinstance(retry_delay_seconds, (int, float)):
        return float(retry_delay_seconds)
    delays = list(retry_delay_seconds)
    if not delays:
        return 0.0
    return float(delays[min(attempt, len(delays)) - 1])


class _Callable:
    """Common machinery: name, fn, retries, sync/async calling."""

    kind = "callable"

    def __init__(
        self,
        fn: Callable[..., Any],
        name: Optional[str] = None,
        retries: Optional[int] = None,
        retry_delay_seconds: RetryDelay = None,
        **options: Any,
    ) -> None:
        if not callable(fn):
            raise TypeError("@%s must decorate a function, got %r" % (self.kind, fn))
        self.fn = fn
        self.name = name or self._default_name(fn)
        self.retries = int(retries or 0)
        self.retry_delay_seconds = retry_delay_seconds
        self.options = dict(options)
        self.isasync = inspect.iscoroutinefunction(fn)
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    @staticmethod
    def _default_name(fn: Callable[..., Any]) -> str:
        return getattr(fn, "__name__", type(fn).__name__)

    def with_options(self, **options: Any) -> Any:
        settings: Dict[str, Any] = dict(self.options)
        settings.update(
            name=self.name, retries=self.retries, retry_delay_seconds=self.retry_delay_seconds
        )
        settings.update(options)
        return type(self)(self.fn, **settings)

    def _log_retry(self, attempt: int, exc: BaseException, delay: float) -> None:
        get_run_logger().warning(
            "%s %r failed (attempt %d/%d): %s: %s - retrying in %s second(s)",
            self.kind.capitalize(),
            self.name,
            attempt,
            self.retries + 1,
            type(exc).__name__,
            exc,
            delay,
        )

    def _run_sync(self, args: Sequence[Any], kwargs: Dict[str, Any]) -> Any:
        attempt = 0
        while True:
            attempt += 1
            try:
                return self.fn(*args, **kwargs)
            except Exception as exc:
                if attempt > self.retries:
                    raise
                delay = _delay_for(self.retry_delay_seconds, attempt)
                self._log_retry(attempt, exc, delay)
                if delay > 0:
                    time.sleep(delay)

    async def _run_async(self, args: Sequence[Any], kwargs: Dict[str, Any]) -> Any:
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self.fn(*args, **kwargs)
            except Exception as exc:
                if attempt > self.retries:
                    raise
                delay = _delay_for(self.retry_delay_seconds, attempt)
                self._log_retry(attempt, exc, delay)
                if delay > 0:
                    await asyncio.sleep(delay)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.isasync:
            return self._run_async(args, kwargs)
        return self._run_sync(args, kwargs)

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        # Decorated methods bind like plain functions.
        if instance is None:
            return self
        return functools.partial(self, instance)

    def __repr__(self) -> str:
        return "%s(name=%r, fn=%r)" % (type(self).__name__, self.name, self.fn)


class Flow(_Callable):
    kind = "flow"

    @staticmethod
    def _default_name(fn: Callable[..., Any]) -> str:
        # Prefect's default flow name: the function name with dashes.
        return getattr(fn, "__name__", type(fn).__name__).replace("_", "-")


# ------------------------------------------------------------------------ tasks

_executor_lock = threading.Lock()
_executor: Optional[concurrent.futures.ThreadPoolExecutor] = None


def _get_executor() -> concurrent.futures.ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=64, thread_name_prefix="flowdeck-task"
            )
        return _executor


class unmapped:  # noqa: N801 - Prefect's name
    """Wrap an argument of ``task.map()`` that is passed whole to every call."""

    def __init__(self, value: Any) -> None:
        self.value = value


class TaskFuture:
    """The result of ``task.submit()``: ``.result()``, ``.wait()``, ``.done()``."""

    def __init__(self, future: "concurrent.futures.Future[Any]", task_name: str) -> None:
        self._future = future
        self.task_name = task_name
        self.task_run_id = str(uuid.uuid4())

    def wait(self, timeout: Optional[float] = None) -> None:
        concurrent.futures.wait([self._future], timeout=timeout)

    def result(self, timeout: Optional[float] = None, raise_on_failure: bool = True) -> Any:
        try:
            return self._future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            raise
        except Exception as exc:
            if raise_on_failure:
                raise
            return exc

    def done(self) -> bool:
        return self._future.done()

    def add_done_callback(self, fn: Callable[["TaskFuture"], Any]) -> None:
        self._future.add_done_callback(lambda _f: fn(self))

    def __repr__(self) -> str:
        return "TaskFuture(%r, done=%r)" % (self.task_name, self.done())


class TaskFutureList(list):
    """A list of TaskFutures (what ``task.map()`` returns)."""

    def wait(self, timeout: Optional[float] = None) -> None:
        concurrent.futures.wait([f._future for f in self], timeout=timeout)

    def result(self, timeout: Optional[float] = None, raise_on_failure: bool = True) -> List[Any]:
        return [f.result(timeout=timeout, raise_on_failure=raise_on_failure) for f in self]


def _resolve(value: Any) -> Any:
    """Replace futures passed as task arguments by their results (one level
    into lists, tuples, sets and dicts, like Prefect's upstream resolution)."""
    if isinstance(value, TaskFuture):
        return value.result()
    if isinstance(value, list) and not isinstance(value, TaskFutureList):
        return [_resolve_leaf(v) for v in value]
    if isinstance(value, TaskFutureList):
        return [v.result() for v in value]
    if isinstance(value, tuple):
        return tuple(_resolve_leaf(v) for v in value)
    if isinstance(value, set):
        return {_resolve_leaf(v) for v in value}
    if isinstance(value, dict):
        return {k: _resolve_leaf(v) for k, v in value.items()}
    return value


def _resolve_leaf(value: Any) -> Any:
    return value.result() if isinstance(value, TaskFuture) else value


def _is_mappable(value: Any) -> bool:
    if isinstance(value, (str, bytes, bytearray, Mapping, unmapped)):
        return False
    try:
        iter(value)
    except TypeError:
        return False
    return True


class Task(_Callable):
    kind = "task"

    def _run_in_thread(self, args: Sequence[Any], kwargs: Dict[str, Any], wait_for: Iterable[Any]) -> Any:
        for dep in wait_for or ():
            if isinstance(dep, (TaskFuture, TaskFutureList)):
                dep.wait()
        args = tuple(_resolve(a) for a in args)
        kwargs = {k: _resolve(v) for k, v in kwargs.items()}
        result = self(*args, **kwargs)
        if inspect.isawaitable(result):
            return _run_awaitable(result)
        return result

    def submit(self, *args: Any, wait_for: Iterable[Any] = (), return_state: bool = False, **kwargs: Any) -> TaskFuture:
        """Run the task in a worker thread; returns a TaskFuture."""
        future = _get_executor().submit(self._run_in_thread, args, kwargs, wait_for)
        return TaskFuture(future, self.name)

    def map(self, *args: Any, wait_for: Iterable[Any] = (), return_state: bool = False, **kwargs: Any) -> TaskFutureList:
        """Submit one run per element of the iterable arguments (all of the same
        length); other arguments, and those wrapped in ``unmapped()``, are passed
        whole to every run."""
        mapped_lengths = set()
        positional: List[Any] = []
        for value in args:
            if _is_mappable(value):
                value = list(value)
                mapped_lengths.add(len(value))
            positional.append(value)
        named: Dict[str, Any] = {}
        for key, value in kwargs.items():
            if _is_mappable(value):
                value = list(value)
                mapped_lengths.add(len(value))
            named[key] = value
        if not mapped_lengths:
            raise ValueError(
                "No iterable parameters were received. Parameters for map must "
                "include at least one iterable."
            )
        if len(mapped_lengths) > 1:
            raise ValueError(
                "Received iterable parameters with different lengths: %s" % sorted(mapped_lengths)
            )
        count = mapped_lengths.pop()

        def pick(value: Any, i: int) -> Any:
            if isinstance(value, unmapped):
                return value.value
            if isinstance(value, list):  # a mapped argument (made a list above)
                return value[i]
            return value

        futures = TaskFutureList()
        for i in range(count):
            call_args = [pick(v, i) for v in positional]
            call_kwargs = {k: pick(v, i) for k, v in named.items()}
            futures.append(self.submit(*call_args, wait_for=wait_for, **call_kwargs))
        return futures


def _run_awaitable(awaitable: Any) -> Any:
    async def runner() -> Any:
        return await awaitable

    return asyncio.run(runner())


def _make_decorator(cls: type, kind: str) -> Callable[..., Any]:
    def decorator(__fn: Optional[Callable[..., Any]] = None, **options: Any) -> Any:
        if __fn is None:
            return lambda fn: cls(fn, **options)
        if options:
            return cls(__fn, **options)
        return cls(__fn)

    decorator.__name__ = kind
    decorator.__qualname__ = kind
    decorator.__doc__ = (
        "Use as @%s or @%s(name=..., retries=..., retry_delay_seconds=..., **ignored)." % (kind, kind)
    )
    return decorator


flow = _make_decorator(Flow, "flow")
task = _make_decorator(Task, "task")
