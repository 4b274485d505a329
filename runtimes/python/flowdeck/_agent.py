"""Client for the flowdeck concurrency agent.

Protocol: newline-delimited JSON (UTF-8). Each request carries an integer ``id``;
responses carry the same id and may arrive in any order, so one reader thread
dispatches them to the waiting callers. One connection per process, shared by
all threads (and by asyncio code through non-blocking futures).

Transport:
- ``$FLOWDECK_AGENT_SOCKET`` set: connect to that unix-domain socket (served by
  the worker that started this flow run);
- otherwise spawn ``[$FLOWDECK_NODE or "node", $FLOWDECK_CLI or
  <repo>/bin/flowdeck.js, "agent"]`` once, lazily, and talk over its
  stdin/stdout (its stderr passes through). The agent exits when its stdin
  closes, which releases every lease taken on that connection.

Closing the connection (including the process dying) releases every lease the
connection holds, so nothing here needs to renew anything.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import json
import os
import socket
import subprocess
import sys
import threading
from typing import Any, Dict, List, Optional

from .errors import AgentConnectionError

_RUNTIMES_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_REPO_DIR = os.path.dirname(_RUNTIMES_DIR)


def default_cli_path() -> str:
    """bin/flowdeck.js of the repository this runtimes/ folder belongs to."""
    return os.path.join(_REPO_DIR, "bin", "flowdeck.js")


def holder_id() -> str:
    run_id = os.environ.get("FLOWDECK_FLOW_RUN_ID")
    return run_id if run_id else "pid:%d" % os.getpid()


class _Transport:
    """A bidirectional byte stream: readline() / write(bytes) / close()."""

    description = "agent"

    def readline(self) -> bytes:  # pragma: no cover - interface
        raise NotImplementedError

    def write(self, data: bytes) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class _SocketTransport(_Transport):
    def __init__(self, path: str) -> None:
        self.description = "concurrency agent socket %s" % path
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
        except OSError:
            sock.close()
            raise
        self._sock = sock
        self._rfile = sock.makefile("rb")

    def readline(self) -> bytes:
        return self._rfile.readline()

    def write(self, data: bytes) -> None:
        self._sock.sendall(data)

    def close(self) -> None:
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self._sock.close()
        except OSError:
            pass


class _SubprocessTransport(_Transport):
    def __init__(self, argv: List[str]) -> None:
        self.description = "concurrency agent process %r" % (argv,)
        # stderr is inherited so the agent's diagnostics reach the run's logs.
        self._proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,
            close_fds=True,
        )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._stdin = self._proc.stdin
        self._stdout = self._proc.stdout

    def readline(self) -> bytes:
        return self._stdout.readline()

    def write(self, data: bytes) -> None:
        self._stdin.write(data)
        self._stdin.flush()

    def close(self) -> None:
        # Closing its stdin makes the agent release this connection's leases and exit.
        try:
            self._stdin.close()
        except OSError:
            pass


def _open_transport() -> _Transport:
    path = os.environ.get("FLOWDECK_AGENT_SOCKET")
    if path:
        try:
            return _SocketTransport(path)
        except OSError as exc:
            raise AgentConnectionError(
                "Cannot connect to the flowdeck concurrency agent at %s: %s" % (path, exc)
            ) from exc
    node = os.environ.get("FLOWDECK_NODE") or "node"
    cli = os.environ.get("FLOWDECK_CLI") or default_cli_path()
    argv = [node, cli, "agent"]
    try:
        return _SubprocessTransport(argv)
    except OSError as exc:
        raise AgentConnectionError(
            "Cannot start the flowdeck concurrency agent (%s): %s" % (" ".join(argv), exc)
        ) from exc


class AgentConnection:
    """One multiplexed connection to the agent."""

    def __init__(self, transport: _Transport) -> None:
        self._transport = transport
        self._lock = threading.Lock()
        self._pending: Dict[int, "concurrent.futures.Future[Dict[str, Any]]"] = {}
        self._next_id = 0
        self._closed = False
        self._close_reason = "connection closed"
        self.pid = os.getpid()
        self._reader = threading.Thread(
            target=self._read_loop, name="flowdeck-agent-reader", daemon=True
        )
        self._reader.start()

    @property
    def closed(self) -> bool:
        return self._closed

    def _read_loop(self) -> None:
        reason = "the concurrency agent closed the connection"
        try:
            while True:
                line = self._transport.readline()
                if not line:
                    break
                line = line.strip()
                if not line:
                    continue
                try:
                    msg = json.loads(line.decode("utf-8"))
                except (ValueError, UnicodeDecodeError):
                    _warn("ignoring a malformed line from the concurrency agent: %r" % line[:200])
                    continue
                if not isinstance(msg, dict):
                    continue
                req_id = msg.get("id")
                with self._lock:
                    fut = self._pending.pop(req_id, None) if isinstance(req_id, int) else None
                if fut is None:
                    continue
                try:
                    fut.set_result(msg)
                except concurrent.futures.InvalidStateError:
                    pass
        except Exception as exc:  # socket errors while reading
            reason = "lost the connection to the concurrency agent: %s" % exc
        self._fail_all(reason)

    def _fail_all(self, reason: str) -> None:
        with self._lock:
            self._closed = True
            self._close_reason = reason
            pending = list(self._pending.values())
            self._pending.clear()
        for fut in pending:
            try:
                fut.set_exception(AgentConnectionError(reason))
            except concurrent.futures.InvalidStateError:
                pass

    def send(self, payload: Dict[str, Any]) -> "concurrent.futures.Future[Dict[str, Any]]":
        """Send a request; the returned future resolves with the response dict
        (or fails with AgentConnectionError). Never blocks on the response."""
        fut: "concurrent.futures.Future[Dict[str, Any]]" = concurrent.futures.Future()
        with self._lock:
            if self._closed:
                raise AgentConnectionError(self._close_reason)
            self._next_id += 1
            req_id = self._next_id
            message = dict(payload)
            message["id"] = req_id
            data = (json.dumps(message, ensure_ascii=False) + "\n").encode("utf-8")
            self._pending[req_id] = fut
            try:
                self._transport.write(data)
            except (OSError, ValueError) as exc:
                self._pending.pop(req_id, None)
                self._closed = True
                self._close_reason = "lost the connection to the concurrency agent: %s" % exc
                raise AgentConnectionError(self._close_reason) from exc
        return fut

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._transport.close()


_conn_lock = threading.Lock()
_conn: Optional[AgentConnection] = None


def get_connection() -> AgentConnection:
    """The process-wide connection, opened lazily (and re-opened after it was
    lost, or in a forked child)."""
    global _conn
    with _conn_lock:
        conn = _conn
        if conn is None or conn.closed or conn.pid != os.getpid():
            conn = AgentConnection(_open_transport())
            _conn = conn
        return conn


def _close_at_exit() -> None:
    conn = _conn
    if conn is not None and conn.pid == os.getpid():
        try:
            conn.close()
        except Exception:
            pass


atexit.register(_close_at_exit)


def request(payload: Dict[str, Any]) -> "concurrent.futures.Future[Dict[str, Any]]":
    return get_connection().send(payload)


def _warn(message: str) -> None:
    try:
        from ._logging import get_logger

        get_logger("flowdeck.concurrency").warning(message)
    except Exception:
        try:
            sys.stderr.write("WARNING: %s\n" % message)
            sys.stderr.flush()
        except Exception:
            pass


def warn(message: str) -> None:
    _warn(message)
