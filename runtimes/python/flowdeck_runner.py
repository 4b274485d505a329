"""flowdeck's Python flow runner: one process per flow run.

    python3 runtimes/python/flowdeck_runner.py <entrypoint>

- cwd is the flow's working directory; the entrypoint is relative to it:
  ``flows/x.py:func``, ``./flows/x.py:func``, ``x.py:Class.method``,
  ``pkg.mod:func`` or ``pkg.mod.func`` (importable from cwd).
- stdin: one line with the parameters as a JSON object; stdin then stays open.
  When it reaches EOF (the worker died or closed it) the whole process group is
  killed, so no flow process outlives its worker.
- the function is called with the parameters as keyword arguments; an awaitable
  result is run with asyncio.run.
- exit status: 0 the function returned; 1 it raised (traceback on stderr, last
  line ``ExceptionType: message``); 2 the entrypoint could not be loaded (or the
  runner was misused).

Standard library only; Python 3.9+.
"""

import asyncio
import importlib
import importlib.util
import inspect
import json
import os
import signal
import sys
import threading
import traceback

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_LOAD_ERROR = 2

RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))
SHIM_DIR = os.path.join(RUNTIME_DIR, "prefect_shim")


class LoadError(Exception):
    """The entrypoint cannot be loaded (exit status 2). ``details`` is printed
    before the one-line message (e.g. an import error's traceback)."""

    def __init__(self, message, details=None):
        super().__init__(message)
        self.details = details


# ------------------------------------------------------------------ output setup


def _setup_stdio():
    """python -u semantics for every output line, UTF-8 whatever the locale."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is None:
            continue
        try:
            stream.reconfigure(encoding="utf-8", errors="backslashreplace", line_buffering=True)
        except (AttributeError, ValueError, OSError):
            pass
    # Python processes the flow starts get unbuffered output too.
    os.environ.setdefault("PYTHONUNBUFFERED", "1")


def _flush_outputs():
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            pass


def _err(message):
    try:
        sys.stderr.write(message if message.endswith("\n") else message + "\n")
        sys.stderr.flush()
    except Exception:
        pass


# -------------------------------------------------------------- stdin watchdog


def _descendants(root_pid):
    """Pids of root_pid's descendants, from /proc (Linux); [] elsewhere."""
    children = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, "rb") as fh:
                stat = fh.read().decode("utf-8", "replace")
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    result, stack = [], [root_pid]
    while stack:
        for child in children.get(stack.pop(), []):
            result.append(child)
            stack.append(child)
    return result


def _kill_everything():
    """The worker is gone: kill this process and everything it started."""
    flusher = threading.Thread(target=_flush_outputs, daemon=True)
    flusher.start()
    flusher.join(0.25)  # best effort: a pipe nobody reads must not stall us
    pid = os.getpid()
    try:
        leader = os.getpgid(0) == pid
    except OSError:
        leader = False
    if leader:
        # The worker starts the runner as a process-group leader: the group is
        # exactly this flow run's processes.
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
    # Not a group leader (started by hand, or the group kill failed): never
    # signal a group we do not own; kill our own descendants instead.
    for child in reversed(_descendants(pid)):
        try:
            os.kill(child, signal.SIGKILL)
        except OSError:
            pass
    os._exit(137)


def _watch_stdin(fd):
    # os.read on the raw descriptor: a daemon thread blocked inside a buffered
    # reader would hold its lock at interpreter shutdown.
    try:
        while True:
            if not os.read(fd, 65536):
                break
    except OSError:
        pass
    _kill_everything()


def _read_parameters():
    try:
        fd = sys.stdin.fileno() if sys.stdin is not None else 0
        os.fstat(fd)
    except (OSError, ValueError, AttributeError):
        raise LoadError("flowdeck runner: no standard input to read the parameters from")
    buf = b""
    while b"\n" not in buf:
        try:
            chunk = os.read(fd, 65536)
        except InterruptedError:
            continue
        except OSError as exc:
            raise LoadError("flowdeck runner: cannot read the parameters from stdin: %s" % exc)
        if not chunk:
            # EOF before a complete parameters line: the worker is already gone.
            _kill_everything()
        buf += chunk
    line = buf.split(b"\n", 1)[0]
    try:
        params = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise LoadError("flowdeck runner: the parameters line is not valid JSON: %s" % exc)
    if not isinstance(params, dict):
        raise LoadError(
            "flowdeck runner: the parameters must be a JSON object, got %s" % type(params).__name__
        )
    # Keep the worker's pipe on a private descriptor (not inherited by the
    # flow's subprocesses) and give the flow /dev/null as its stdin, so that
    # input() or a child reading stdin gets EOF instead of hanging.
    watch_fd = fd
    try:
        watch_fd = os.dup(fd)
        devnull = os.open(os.devnull, os.O_RDONLY)
        try:
            os.dup2(devnull, fd)
        finally:
            os.close(devnull)
    except OSError:
        pass
    watcher = threading.Thread(target=_watch_stdin, args=(watch_fd,), name="flowdeck-stdin-watch", daemon=True)
    watcher.start()
    return params


# ------------------------------------------------------------------- sys.path


def _prepend_path(path):
    path = os.path.abspath(path)
    while path in sys.path:
        sys.path.remove(path)
    sys.path.insert(0, path)


def _setup_prefect_shim():
    """Make ``import prefect`` work in flows written for Prefect.

    FLOWDECK_PREFECT_SHIM: ``auto`` (default): the shim only when no real prefect
    package is importable; ``always``: the shim shadows an installed prefect;
    ``never``: leave sys.path alone."""
    mode = (os.environ.get("FLOWDECK_PREFECT_SHIM") or "auto").strip().lower()
    if mode not in ("auto", "always", "never"):
        _err("flowdeck runner: unknown FLOWDECK_PREFECT_SHIM=%r, using 'auto'" % mode)
        mode = "auto"
    if mode == "never":
        return
    if mode == "always":
        sys.modules.pop("prefect", None)
        _prepend_path(SHIM_DIR)
        return
    try:
        spec = importlib.util.find_spec("prefect")
    except (ImportError, ValueError):
        spec = None
    # A bare directory named "prefect" (a namespace package) is not Prefect.
    if spec is None or spec.origin is None or spec.origin == "namespace":
        if SHIM_DIR not in sys.path:
            # Appended: a regular package found anywhere on the path wins over a
            # namespace portion, and nothing real is shadowed.
            sys.path.append(SHIM_DIR)


def _export_pythonpath():
    """Python processes started by the flow can `import flowdeck` too."""
    current = os.environ.get("PYTHONPATH", "")
    parts = [p for p in current.split(os.pathsep) if p]
    if RUNTIME_DIR not in parts:
        parts.append(RUNTIME_DIR)
        os.environ["PYTHONPATH"] = os.pathsep.join(parts)


# ---------------------------------------------------------------- entrypoints


def _parse_entrypoint(entrypoint):
    """-> (kind, location, attribute path) where kind is "file" or "module"."""
    entrypoint = entrypoint.strip()
    if not entrypoint:
        raise LoadError("flowdeck runner: empty entrypoint")
    if ":" in entrypoint:
        location, attr = entrypoint.rsplit(":", 1)
        if not location or not attr:
            raise LoadError("flowdeck runner: invalid entrypoint %r (expected path/to/file.py:function)" % entrypoint)
        looks_like_file = (
            location.endswith(".py")
            or "/" in location
            or os.sep in location
            or os.path.isfile(location)
        )
        return ("file" if looks_like_file else "module"), location, attr
    if entrypoint.endswith(".py") or "/" in entrypoint:
        raise LoadError(
            "flowdeck runner: invalid entrypoint %r: name the function, as in %s:my_flow" % (entrypoint, entrypoint)
        )
    if "." not in entrypoint:
        raise LoadError(
            "flowdeck runner: invalid entrypoint %r (expected file.py:function or module.function)" % entrypoint
        )
    return "dotted", entrypoint, None


def _package_module_name(path):
    """For a file inside a package (its folder has __init__.py): (package root,
    dotted name), so relative imports in the flow file work. Else None."""
    folder = os.path.dirname(path)
    parts = [os.path.splitext(os.path.basename(path))[0]]
    while os.path.isfile(os.path.join(folder, "__init__.py")):
        parts.insert(0, os.path.basename(folder))
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    if len(parts) == 1 or not all(p.isidentifier() for p in parts):
        return None
    return folder, ".".join(parts)


def _module_name_for(path):
    stem = os.path.splitext(os.path.basename(path))[0]
    if stem.isidentifier() and stem not in sys.modules:
        return stem
    return "__flowdeck_entrypoint__"


def _format_exception_tail(exc):
    return "%s: %s" % (type(exc).__name__, exc) if str(exc) else type(exc).__name__


def _load_file(location, display):
    path = location
    if not os.path.isfile(path) and not path.endswith(".py") and os.path.isfile(path + ".py"):
        path = path + ".py"
    if not os.path.exists(path):
        raise LoadError("flowdeck runner: entrypoint file not found: %s (in %s)" % (location, os.getcwd()))
    if os.path.isdir(path):
        raise LoadError("flowdeck runner: entrypoint %s is a directory, not a Python file" % location)
    if path.endswith((".js", ".mjs", ".cjs", ".ts")):
        raise LoadError("flowdeck runner: %s is not a Python file (JavaScript flows run under the node runner)" % location)
    path = os.path.abspath(path)
    # As Prefect does: the working directory and the flow file's folder are importable.
    _prepend_path(os.getcwd())
    _prepend_path(os.path.dirname(path))
    packaged = _package_module_name(path)
    if packaged is not None:
        root, dotted = packaged
        top = dotted.split(".", 1)[0]
        loaded_top = sys.modules.get(top)
        if loaded_top is not None and os.path.dirname(
            os.path.abspath(getattr(loaded_top, "__file__", None) or "")
        ) != os.path.join(root, top):
            packaged = None  # the package name is taken by something else
        elif root not in sys.path:
            sys.path.insert(1, root)
    _setup_prefect_shim()
    if packaged is not None:
        root, dotted = packaged
        try:
            module = importlib.import_module(dotted)
        except BaseException as exc:  # noqa: B902
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise LoadError(
                "flowdeck runner: failed to import %s: %s" % (display, _format_exception_tail(exc)),
                traceback.format_exc(),
            )
        if os.path.abspath(getattr(module, "__file__", "") or "") == path:
            return module
        # Another module of that name won: fall back to loading the file itself.
    name = _module_name_for(path)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise LoadError("flowdeck runner: cannot load %s as a Python module" % location)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:  # noqa: B902 - includes SystemExit at import time
        sys.modules.pop(name, None)
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise LoadError(
            "flowdeck runner: failed to import %s: %s" % (display, _format_exception_tail(exc)),
            traceback.format_exc(),
        )
    return module


def _load_module(module_name, display):
    _prepend_path(os.getcwd())
    _setup_prefect_shim()
    try:
        spec = importlib.util.find_spec(module_name)
    except ModuleNotFoundError as exc:
        spec = None
        if exc.name and not (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise LoadError(
                "flowdeck runner: failed to import %s: %s" % (display, _format_exception_tail(exc)),
                traceback.format_exc(),
            )
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise LoadError(
            "flowdeck runner: failed to import %s: %s" % (display, _format_exception_tail(exc)),
            traceback.format_exc(),
        )
    if spec is None:
        raise LoadError(
            "flowdeck runner: module not found: %s (not importable from %s)" % (module_name, os.getcwd())
        )
    if spec.origin and os.path.isfile(spec.origin):
        _prepend_path(os.path.dirname(spec.origin))
    try:
        return importlib.import_module(module_name)
    except BaseException as exc:  # noqa: B902
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise LoadError(
            "flowdeck runner: failed to import %s: %s" % (display, _format_exception_tail(exc)),
            traceback.format_exc(),
        )


def _split_dotted(dotted):
    """``pkg.mod.func`` (or ``pkg.mod.Class.method``) -> (module, attribute path):
    the longest importable module prefix."""
    _prepend_path(os.getcwd())
    parts = dotted.split(".")
    for i in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:i])
        try:
            if importlib.util.find_spec(module_name) is not None:
                return module_name, ".".join(parts[i:])
        except ModuleNotFoundError:
            continue
        except BaseException as exc:  # the package's __init__ failed
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise LoadError(
                "flowdeck runner: failed to import %s: %s" % (module_name, _format_exception_tail(exc)),
                traceback.format_exc(),
            )
    module_name, attr = dotted.rsplit(".", 1)
    return module_name, attr


def load_entrypoint(entrypoint):
    kind, location, attr = _parse_entrypoint(entrypoint)
    if kind == "dotted":
        location, attr = _split_dotted(location)
        kind = "module"
    if kind == "file":
        module = _load_file(location, location)
    else:
        module = _load_module(location, location)
    obj = module
    walked = []
    for part in attr.split("."):
        walked.append(part)
        if not part.isidentifier():
            raise LoadError("flowdeck runner: invalid function name %r in entrypoint %r" % (attr, entrypoint))
        try:
            obj = getattr(obj, part)
        except AttributeError:
            if len(walked) == 1:
                raise LoadError("flowdeck runner: function %r not found in %s" % (attr, location))
            raise LoadError(
                "flowdeck runner: %r not found in %s (no attribute %r on %s)"
                % (attr, location, part, ".".join(walked[:-1]))
            )
    if not callable(obj):
        raise LoadError("flowdeck runner: %s in %s is not callable (it is a %s)" % (attr, location, type(obj).__name__))
    return obj


# -------------------------------------------------------------------- running


def _check_parameters(obj, params, entrypoint):
    """A clear message when the parameters do not fit the function's signature."""
    if isinstance(obj, type):
        return None
    try:
        # Follows __wrapped__, so @flow-decorated functions show their own signature.
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    try:
        signature.bind(**params)
    except TypeError as exc:
        name = getattr(obj, "__name__", None) or entrypoint
        return (
            "ParameterBindError: Error binding parameters for function %r: %s. "
            "Function %r has signature %r but received parameters %s"
            % (name, exc, name, str(signature), sorted(params))
        )
    return None


def _print_failure(exc):
    """The traceback, with the last line ``ExceptionType: message``."""
    tb = exc.__traceback__
    # Hide the runner's own frame: the traceback starts in the flow's code.
    while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename) == os.path.abspath(__file__):
        tb = tb.tb_next
    te = traceback.TracebackException(type(exc), exc, tb)
    lines = list(te.format())
    only = list(te.format_exception_only())
    if only and lines[-len(only):] == only and not isinstance(exc, SyntaxError):
        head = only[0]
        qualified = head.split(":", 1)[0].strip()
        bare = type(exc).__qualname__
        if qualified != bare and qualified.endswith("." + bare):
            only[0] = bare + head[len(qualified):]
        lines = lines[: -len(only)] + only
    try:
        sys.stderr.write("".join(lines))
        sys.stderr.flush()
    except Exception:
        pass


async def _await(awaitable):
    return await awaitable


def run(entrypoint):
    try:
        params = _read_parameters()
        _export_pythonpath()
        func = load_entrypoint(entrypoint)
    except LoadError as exc:
        if exc.details:
            _err(exc.details.rstrip("\n"))
        _err(str(exc))
        return EXIT_LOAD_ERROR

    problem = _check_parameters(func, params, entrypoint)
    if problem:
        _err(problem)
        return EXIT_FAILED

    try:
        result = func(**params)
        if inspect.isawaitable(result):
            result = asyncio.run(result if inspect.iscoroutine(result) else _await(result))
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: B902 - KeyboardInterrupt fails the run too
        _print_failure(exc)
        return EXIT_FAILED
    return EXIT_OK


def main(argv=None):
    _setup_stdio()
    if RUNTIME_DIR not in sys.path:
        sys.path.insert(0, RUNTIME_DIR)
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        _err("usage: python3 flowdeck_runner.py <entrypoint>   (parameters: one JSON object line on stdin)")
        return EXIT_LOAD_ERROR
    # Import the runtime before user paths are added, so a user folder named
    # like it cannot shadow it.
    import flowdeck  # noqa: F401

    code = run(argv[0])
    _flush_outputs()
    return code


if __name__ == "__main__":
    sys.exit(main())
