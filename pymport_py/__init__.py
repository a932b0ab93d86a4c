"""pymport_py: Node.js embedded in CPython.

Module-level functions act on the main Node environment, which starts on first
use (or with :func:`start`) and runs its event loop on its own thread::

    import pymport_py as node
    node.require("path").basename("a/b/c.txt")   # 'c.txt'
    node.globalThis.Math.max(1, 7, 3)            # 7
"""
from __future__ import annotations

import _thread
import atexit
import contextlib
import functools
import math
import operator
import os
import time
import types
import weakref

from ._version import __version__

# typing is not imported at run time (it costs more than the rest of this module).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable, Iterator, ParamSpec

    from ._futures import JSFuture as JSFuture
    from ._pymport import (
        EnvironmentClosed as EnvironmentClosed,
        JSComparisonWarning as JSComparisonWarning,
        JSError as JSError,
        JSObject as JSObject,
        JSRangeError as JSRangeError,
        JSReferenceError as JSReferenceError,
        JSSyntaxError as JSSyntaxError,
        JSTypeError as JSTypeError,
        ProcessExit as ProcessExit,
        live as live,
        null as null,
        ref as ref,
        set_lock_wait_limit as set_lock_wait_limit,
    )
    from ._pymport import Environment as _Environment

__all__ = [
    "EnvironmentClosed", "JSComparisonWarning", "JSError", "JSObject", "JSRangeError", "JSReferenceError",
    "JSSyntaxError", "JSTypeError", "ProcessExit", "live", "null", "ref", "require", "import_module",
    "eval", "globalThis", "new", "to_js", "adopt", "start", "shutdown", "running", "Worker", "JSFuture", "deadline", "set_lock_wait_limit", "turn",
    "__version__",
]

_HERE = os.path.dirname(os.path.abspath(__file__))


# The extension, pymport_py._pymport, is linked to libnode: importing it loads
# libnode (about 50 MB of code, with ICU, OpenSSL and libuv) and makes it global,
# as native addons need. `import pymport_py` does not: what needs the extension
# (its types and exceptions, and every function that calls into JavaScript) is
# looked up on first use by the module's __getattr__ (below), which loads it then
# (_load) and binds these names in the module. Until then no Node is in the process
# (docs/scaling.md#cold-start).
#
# The names that come from the extension are every name of __all__ that this
# module does not define, plus these private ones (name here: name there). A new
# public name of the extension only needs its place in __all__ (and, for type
# checkers, in the TYPE_CHECKING import above).
_PRIVATE = {"_Environment": "Environment", "_forwarding": "_forwarding",
            "_get_deadline": "_get_deadline", "_set_deadline": "_set_deadline",
            "_python_exiting": "_python_exiting", "_signal_fd": "_signal_fd"}

_native: types.ModuleType | None = None  # the extension, once _load() set it up
_load_lock = _thread.allocate_lock()


def _load() -> types.ModuleType:
    """The extension, imported on first need, with what depends on it set up once.

    Any thread; two at once get the same module, set up once: Python's import
    lock makes the import happen once, and _load_lock the setup."""
    native = _native
    if native is not None:
        return native
    try:
        from . import _pymport
    except ImportError as error:  # a checkout not built yet, or its libnode gone
        raise ImportError(
            f"pymport_py's extension could not be loaded ({error}). In a checkout, build it "
            "first: scripts/install-deps && python3 -m pip install --no-build-isolation -e . "
            "(README.md); an installed pymport_py needs the libnode it was built with "
            "(docs/platforms.md).", name=__name__) from error
    with _load_lock:
        if _native is None:
            _loaded(_pymport)
    return _pymport


def _loaded(native: types.ModuleType) -> None:
    """What happens once, when the extension is first loaded: its names and the
    forwarding functions are bound in this module, JSError learns to pickle, and
    Ctrl-C on the main thread is made to reach JavaScript. _load_lock held."""
    global _native, _JSOBJECT_NAMES, _main_ident
    import threading

    namespace = globals()
    _main_ident = threading.main_thread().ident
    _JSOBJECT_NAMES = frozenset(dir(native.JSObject))
    native.JSError.__reduce__ = _js_error_reduce
    native.JSError.__copy__ = _js_error_copy
    for name, there in _PRIVATE.items():
        namespace[name] = getattr(native, there)
    for name, prep in _forwarded.items():
        namespace[name] = _make_forwarding(native, prep)
    for cls, name, prep in _forwarded_methods:
        setattr(cls, name, _make_forwarding(native, prep))
    for name in __all__:
        if name not in namespace and name not in _NOT_NATIVE:
            namespace[name] = getattr(native, name)
    _native = native  # last: _load's first line now skips the lock
    _install_signal_fd()


_NOT_NATIVE = frozenset({"globalThis", "JSFuture"})  # __all__ names made in __getattr__


def __getattr__(name: str) -> Any:
    if name == "globalThis":
        return _env().globalThis  # of the main environment running now: never kept
    if name == "JSFuture":  # pure Python; its module imports concurrent.futures
        from ._futures import JSFuture

        globals()[name] = JSFuture
        return JSFuture
    if name in __all__ or name in _forwarded or name in _PRIVATE:
        _load()
        namespace = globals()
        if name in namespace:
            return namespace[name]
    raise AttributeError(f"module 'pymport_py' has no attribute {name!r}")


def __dir__() -> list[str]:
    # Not globalThis, as before: looking it up starts Node (help() would).
    return sorted((set(globals()) | set(__all__) | set(_PRIVATE)) - {"globalThis"})


_signal_pending = False  # the wakeup fd is still to be tried, on the main thread
_main_ident: int | None = None  # the main thread's, once the extension loaded


def _install_signal_fd() -> None:
    # Ctrl-C while the main thread runs JS: Python's signal handler writes to
    # the wakeup fd, and pymport_py's watcher interrupts the JS (docs/threading.md).
    # Only when no wakeup fd is set (asyncio sets its own while its loop runs).
    # Tried once, on the main thread: when the extension loads there, else at the
    # main thread's next use of an environment (_signal_from_main_thread).
    global _signal_pending
    if _thread.get_ident() != _main_ident:
        _signal_pending = True
        return
    _signal_pending = False
    import signal

    fd = _native._signal_fd() if _native is not None else -1
    if fd < 0:
        return
    old = signal.set_wakeup_fd(fd, warn_on_full_buffer=False)
    if old != -1 and old != fd:
        signal.set_wakeup_fd(old)


def _signal_from_main_thread() -> None:
    """Called at each use of an environment while the wakeup fd is still to be
    tried (the extension loaded on another thread): tries it on the main thread."""
    if _thread.get_ident() == _main_ident:
        with _load_lock:
            if _signal_pending:
                _install_signal_fd()


_BOOTSTRAP = os.path.join(_HERE, "js", "bootstrap.js")
_PROCESS_JS = os.path.join(_HERE, "js", "process.js")


def _new_environment(rest: list[str], exec_argv: list[str], base: str | None) -> _Environment:
    """A started environment whose process.execPath is the node launcher
    (pymport_py._launcher, docs/cli.md) and whose process.execArgv are the
    options given (without the one _node_options adds)."""
    from . import _launcher

    native = _load()
    if _signal_pending:
        _signal_from_main_thread()
    exec_path = _launcher.path()
    env: _Environment = native.Environment(_BOOTSTRAP, rest, exec_argv, base,
                                           program=_launcher.argv0 or exec_path or "pymport_py")
    shown = exec_argv
    if shown[:1] == ["--max-old-space-size=0"] and not any(
            o.startswith("--max-old-space-size") for o in shown[1:]):
        shown = shown[1:]
    try:
        env.require(_PROCESS_JS).setup(exec_path, shown)
    except BaseException:
        env.shutdown()
        raise
    return env


def _node_options(exec_argv: list[str], max_heap_mb: int | None) -> list[str]:
    if max_heap_mb is not None:
        try:
            mb = operator.index(max_heap_mb)  # 0.5 would become 0, which V8 reads as no limit
        except TypeError:
            raise TypeError("max_heap_mb must be a whole number of MiB, not "
                            f"{type(max_heap_mb).__name__} {max_heap_mb!r}") from None
        if not 1 <= mb <= 1 << 32:
            raise ValueError(f"max_heap_mb must be from 1 to {1 << 32} (MiB), not {mb}")
        return exec_argv + [f"--max-old-space-size={mb}"]  # the last one wins
    if not any(o.startswith("--max-old-space-size") for o in exec_argv):
        # V8 flags are per process: reset what an earlier environment set.
        return ["--max-old-space-size=0"] + exec_argv
    return exec_argv


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Stop JavaScript that this thread runs past ``seconds`` from now with TimeoutError.

    Nested deadlines keep the earliest. The environment stays usable::

        with pymport_py.deadline(0.5):
            pymport_py.eval("while (true) {}")    # TimeoutError after 0.5 s
    """
    if math.isnan(seconds):  # TypeError for what is not a real number
        raise ValueError("deadline() takes a number of seconds, not nan")
    native = _load()
    previous = native._get_deadline()
    until = time.monotonic() + seconds  # inf, or a time past int64 nanoseconds: no deadline
    if previous is not None:
        until = min(until, previous)
    native._set_deadline(until)
    try:
        yield
    finally:
        native._set_deadline(previous)


@contextlib.contextmanager
def _holding_turn(env: _Environment) -> Iterator[None]:
    env.hold_turn()
    try:
        yield
    finally:
        env.release_turn()


def turn() -> contextlib.AbstractContextManager[None]:
    """Hold the main environment's turn: its event loop runs nothing until the block ends.

    Without it, the loop thread runs JavaScript's events only while this
    thread is blocked (sleeping, waiting, at a switch interval), so the
    statements between two blocking points already act as one synchronous
    turn, as under node. ``turn()`` makes a block one turn even across a
    blocking call (docs/threading.md#turns)::

        with pymport_py.turn():
            ws = WebSocket(url)
            time.sleep(0.1)         # the 'open' event waits
            ws.on("open", on_open)

    Waiting for a Promise of this environment inside the block raises
    RuntimeError: nothing could settle it.
    """
    return _holding_turn(_env())


_lock = _thread.allocate_lock()
_main: _Environment | None = None
_main_base: str | None = None


def _split_argv(argv: Iterable[str]) -> tuple[list[str], list[str]]:
    """Leading options (``--expose-gc``) are Node/V8 options; the rest is process.argv."""
    exec_argv: list[str] = []
    rest = [str(a) for a in argv]
    while rest and rest[0].startswith("-"):
        exec_argv.append(rest.pop(0))
    return exec_argv, rest


def start(argv: Iterable[str] = (), cwd: str | os.PathLike[str] | None = None,
          max_heap_mb: int | None = None) -> None:
    """Start the main Node environment now.

    ``argv``: leading options (``--expose-gc``, ``--max-old-space-size=256``) are
    Node/V8 options, the rest appear in ``process.argv`` after the program name.
    ``cwd``: the directory that ``require``, ``import_module`` and the global
    ``require`` of eval'd code resolve from (default: the current working
    directory at each call). ``max_heap_mb``: the V8 heap limit; JS that reaches
    it raises MemoryError instead of aborting the process. Raises RuntimeError
    if it is already running.
    """
    global _main, _main_base
    exec_argv, rest = _split_argv(argv)
    exec_argv = _node_options(exec_argv, max_heap_mb)
    base = os.path.abspath(os.fspath(cwd)) if cwd is not None else None
    with _lock:
        if _main is not None and _main.running:
            raise RuntimeError("the main Node environment is already running; shutdown() first")
        old, _main = _main, None
        if old is not None:
            old.shutdown()
        _main = _new_environment(rest, exec_argv, base)
        _main_base = base


def _env() -> _Environment:
    global _main, _main_base
    env = _main
    if env is not None and env.running:
        if _signal_pending:
            _signal_from_main_thread()
        return env
    with _lock:
        if _main is None or not _main.running:
            old, _main = _main, None
            if old is not None:
                old.shutdown()
            _main = _new_environment([], _node_options([], None), None)
            _main_base = None
        return _main


# process 'exit', emitted as node emits it when its process ends: once (node's own
# `process._exiting` guard, which process.exit() sets too), with the exit code so far. A
# listener that throws is an uncaught exception (sys.unraisablehook), as under node.
# Called with `here` true, it emits only where that runs nothing (no listener, and
# process.emit not replaced, as signal-exit replaces it) and returns whether it did.
_EMIT_EXIT = """(here) => {
  if (process._exiting) return true;
  if (here && (process.listenerCount('exit') > 0 || Object.hasOwn(process, 'emit'))) return false;
  process._exiting = true;
  try {
    process.emit('exit', process.exitCode ?? 0);
  } catch (err) {
    process.emit('uncaughtException', err, 'uncaughtException');
  }
  return true;
}"""


def _stop(env: _Environment) -> None:
    """Stops ``env`` as a node process ends: its ``process.on('exit')`` listeners run
    first, on its loop thread, for at most 10 s (packages clean up there: puppeteer
    closes its browser); then the environment stops. Without listeners there is
    nothing to wait for, and the event is emitted from this thread."""
    try:
        if env.running:
            emit = env.eval(_EMIT_EXIT)
            if not emit(True):
                emit.call_async(False).result(10)
    except (EnvironmentClosed, RuntimeError, TimeoutError):
        pass  # stopped meanwhile, called from its own JS, or a listener hung
    finally:
        env.shutdown()  # whatever happened, Ctrl-C included


def shutdown() -> None:
    """Stop the main environment (no-op when it is not running).

    Its ``process.on('exit')`` listeners run first, as when a node process ends.
    Pending calls fail with EnvironmentClosed; JSObjects of it become unusable.
    Any later use starts a new environment."""
    global _main
    with _lock:
        env, _main = _main, None
    if env is not None:
        _stop(env)


def running() -> bool:
    """True while the main environment runs."""
    env = _main
    return env is not None and env.running


if TYPE_CHECKING:
    _P = ParamSpec("_P")

# The module's forwarding functions, by name, until the extension loads (_loaded).
_forwarded: dict[str, Callable[..., Any]] = {}


def _make_forwarding(native: types.ModuleType, prep: Callable[..., Any]) -> Any:
    """``prep``, which returns ``(fn, args)`` or ``(fn, args, kwargs)``, made a function
    that calls ``fn(*args, **kwargs)`` once ``prep`` has returned (from C): an exception of
    that call, such as a JSError, then has no frame of pymport_py in its traceback, only
    the caller's."""
    forwarding = native._forwarding(prep)
    functools.update_wrapper(forwarding, prep)
    return forwarding


def _forwards(prep: Callable[_P, Any]) -> Callable[_P, Any]:
    """A module-level function of pymport_py made with _make_forwarding. The forwarding
    type is the extension's: until the extension loads, the name is not bound (the end
    of this module unbinds it), and __getattr__ loads the extension, which binds it."""
    _forwarded[prep.__name__] = prep
    return prep


# The classes' forwarding methods (class, name, prep), until the extension loads.
_forwarded_methods: list[tuple[type, str, Callable[..., Any]]] = []


class _ForwardingMethod:
    """A method to be made with _make_forwarding: when the extension loads (_loaded),
    the class attribute is replaced by the forwarding function; an access before
    that (a Worker's method looked up on the class) loads the extension."""

    def __init__(self, prep: Callable[..., Any]):
        self._prep = prep
        functools.update_wrapper(self, prep)  # type: ignore[arg-type]

    def __set_name__(self, owner: type, name: str) -> None:
        self._owner = owner
        _forwarded_methods.append((owner, name, self._prep))

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        _load()
        return self._owner.__dict__[self._prep.__name__].__get__(obj, owner)


def _forwards_method(prep: Callable[_P, Any]) -> Callable[_P, Any]:
    """A method of pymport_py made with _make_forwarding (_ForwardingMethod)."""
    method: Callable[_P, Any] = _ForwardingMethod(prep)  # type: ignore[assignment]
    return method


def _base() -> str:
    return _main_base if _main_base is not None else os.getcwd()


def _resolve_from(default: str, base: Any) -> str:
    """The directory to resolve from: ``base`` (a directory, or a file whose
    directory is meant, such as ``__file__``), else ``default``."""
    if base is None:
        return default
    where: str = os.path.abspath(os.fspath(base))
    return where if not os.path.isfile(where) else os.path.dirname(where)


def _require_target(default: str, base: Any, paths: Any) -> Any:
    if paths is None:
        return _resolve_from(default, base)
    if base is not None:
        raise TypeError("require() takes base or paths, not both")
    if isinstance(paths, (str, bytes, os.PathLike)):
        raise TypeError("paths must be a list of directories, not a single path")
    return [os.path.abspath(os.fspath(p)) for p in paths]


@_forwards
def require(id: str, base: str | os.PathLike[str] | None = None, *, paths: Iterable[str | os.PathLike[str]] | None = None) -> Any:
    """CommonJS ``require(id)``, resolved as a module in ``base`` would resolve it.

    ``base`` is a directory, or a file such as ``__file__`` (its directory is
    used); by default the working directory (or ``start(cwd=...)``). Relative
    ids (``./lib.js``) are relative to it, bare ids are looked up in the
    ``node_modules`` directories from it upwards, ``node:`` builtins and JSON
    files work as in Node. ``paths`` instead searches these directories, as
    ``require.resolve(id, {paths})`` does. A missing module raises JSError
    with ``.code == 'MODULE_NOT_FOUND'``::

        node.require("lodash", __file__).chunk([1, 2, 3], 2).to_py()   # [[1, 2], [3]]
    """
    return _env().require, (id, _require_target(_base(), base, paths))


@_forwards
def import_module(specifier: str, base: str | os.PathLike[str] | None = None) -> Any:
    """ES module ``import(specifier)``; returns the module namespace.

    Relative specifiers and bare package names resolve from ``base`` (a
    directory, or a file such as ``__file__``; by default the working
    directory). Absolute paths, ``file:`` URLs and ``node:`` builtins work too.
    A missing module raises JSError with ``.code == 'ERR_MODULE_NOT_FOUND'``.
    """
    return _env().import_module, (specifier, _resolve_from(_base(), base))


@_forwards
def eval(source: str) -> Any:  # noqa: A001 - the JS name
    """Run a script in the global scope and return the value of its last expression."""
    return _env().eval, (source, _main_base)


@_forwards
def new(constructor: JSObject, *args: Any, **kwargs: Any) -> Any:
    """``new constructor(*args)``; keyword arguments become one trailing options object."""
    return constructor.new, args, kwargs


@_forwards
def to_js(value: Any) -> Any:
    """Convert ``value`` deeply to JavaScript and return the result (a JSObject for objects)."""
    return _env().to_js, (value,)


def adopt(value: JSObject) -> Any:
    """A structured-clone copy of ``value``, a JSObject of any environment, in the main one.

    The copy has the data of ``value`` (nested objects and arrays, Map, Set,
    Date, RegExp, typed arrays, errors, cycles), as ``postMessage`` copies it,
    and no link to the original. Functions, symbols, Promises, Python objects
    (PyObjects) and other values that a structured clone cannot copy raise
    TypeError naming where they are::

        with pymport_py.Worker() as w:
            config = pymport_py.adopt(w.eval("({ retries: 3, hosts: ['a', 'b'] })"))
    """
    return _env().adopt(value)


class Worker:
    """A further Node environment, with its own isolate, event loop and loop thread.

    ``argv``, ``cwd`` and ``max_heap_mb`` mean what they mean for :func:`start`
    (``cwd`` is where the worker's ``require`` and ``import_module`` resolve from).
    Python threads that call into different workers run JavaScript in parallel.
    JSObjects belong to the environment that made them: passing one to another
    environment raises ValueError; :meth:`adopt` copies one into this worker.
    Use as a context manager, or call close()::

        with pymport_py.Worker() as w:
            w.eval("1 + 1")
    """

    def __init__(self, argv: Iterable[str] = (), cwd: str | os.PathLike[str] | None = None,
                 max_heap_mb: int | None = None):
        exec_argv, rest = _split_argv(argv)
        exec_argv = _node_options(exec_argv, max_heap_mb)
        self._base = os.path.abspath(os.fspath(cwd)) if cwd is not None else None
        self._env = _new_environment(rest, exec_argv, self._base)
        _open_environments.add(self._env)

    def _where(self) -> str:
        return self._base if self._base is not None else os.getcwd()

    @_forwards_method
    def require(self, id: str, base: str | os.PathLike[str] | None = None, *,
                paths: Iterable[str | os.PathLike[str]] | None = None) -> Any:
        """CommonJS ``require(id)`` in this worker (see :func:`pymport_py.require`);
        resolved from ``base``, else the worker's ``cwd``."""
        return self._env.require, (id, _require_target(self._where(), base, paths))

    @_forwards_method
    def import_module(self, specifier: str, base: str | os.PathLike[str] | None = None) -> Any:
        """ES module ``import(specifier)`` in this worker (see :func:`pymport_py.import_module`)."""
        return self._env.import_module, (specifier, _resolve_from(self._where(), base))

    @_forwards_method
    def eval(self, source: str) -> Any:  # noqa: A003 - the JS name
        """Run a script in this worker's global scope."""
        return self._env.eval, (source, self._base)

    @property
    def globalThis(self) -> JSObject:  # noqa: N802 - the JS name
        """The worker's global object."""
        return self._env.globalThis

    @_forwards_method
    def new(self, constructor: JSObject, *args: Any, **kwargs: Any) -> Any:
        """``new constructor(*args)``."""
        return constructor.new, args, kwargs

    @_forwards_method
    def to_js(self, value: Any) -> Any:
        """Convert ``value`` deeply to a JavaScript value of this worker."""
        return self._env.to_js, (value,)

    def adopt(self, value: JSObject) -> Any:
        """A structured-clone copy of ``value``, a JSObject of any environment, in this worker
        (see :func:`pymport_py.adopt`)."""
        return self._env.adopt(value)

    def turn(self) -> contextlib.AbstractContextManager[None]:
        """Hold this worker's turn for a block (see :func:`pymport_py.turn`)."""
        return _holding_turn(self._env)

    @property
    def running(self) -> bool:
        """True until the worker is closed (or stopped by process.exit)."""
        return self._env.running

    def close(self) -> None:
        """Stop the worker, after its ``process.on('exit')`` listeners ran: pending
        calls and futures fail with EnvironmentClosed."""
        _stop(self._env)

    def __enter__(self) -> "Worker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<pymport_py.Worker {'running' if self.running else 'closed'}>"


# A JSError pickles (process pools send it from the process that raised it to
# the caller, which may run no Node): its args, name, message, stack, code and
# notes as they are, and .value, a live JS object that cannot leave its
# process, as a snapshot of its plain data (docs/errors.md#pickling). These are
# JSError's methods once the extension loads (_loaded).
_PLAIN_DATA = (str, int, float, bool, type(None))
_JSOBJECT_NAMES: frozenset[str] = frozenset()  # set by _loaded


def _cause_text(cause: Any) -> Any:
    """What a JS error's `cause` becomes in a snapshot: plain data as it is, an
    Error as its stack, another JS object as util.inspect shows it, a Python
    exception as "Type: message"."""
    if isinstance(cause, _PLAIN_DATA):
        return cause
    if isinstance(cause, JSObject):
        stack = cause["stack"] if "stack" in cause else None
        return stack if isinstance(stack, str) else repr(cause)
    if isinstance(cause, BaseException):
        return f"{type(cause).__name__}: {cause}"
    return str(cause)


def _js_value_snapshot(value: Any) -> Any:
    """The picklable stand-in for a JSError's .value: a JS object becomes a
    types.SimpleNamespace of its properties (own and inherited, as dir() lists
    them) whose values are str, int, float, bool or None, plus `cause` as text;
    None when its environment is gone. Any other value is kept."""
    if not isinstance(value, JSObject):
        return value
    try:
        names = [n for n in value.__dir__() if n not in _JSOBJECT_NAMES]
    except Exception:
        return None
    data: dict[str, Any] = {}
    for name in names:
        try:
            item = value[name]
            data[name] = _cause_text(item) if name == "cause" else item
        except Exception:
            continue
        if not isinstance(data[name], _PLAIN_DATA):
            del data[name]
    return types.SimpleNamespace(**data)


def _js_error_reduce(self: JSError) -> tuple[Any, ...]:
    """JSError.__reduce__: the class, its args and its attributes, with .value
    made picklable (_js_value_snapshot)."""
    state = dict(self.__dict__)
    if "value" in state:
        state["value"] = _js_value_snapshot(state["value"])
    return (type(self), self.args, state)


def _js_error_copy(self: JSError) -> JSError:
    """JSError.__copy__: a shallow copy keeps the live .value (pickling does not)."""
    copied = type(self)(*self.args)
    copied.__dict__.update(self.__dict__)
    return copied


# For type checkers; at runtime __getattr__ looks it up in the running main environment.
globalThis: JSObject


# Environments still open at interpreter exit are stopped while threads can
# still take the GIL (their teardown releases Python objects JS held).
_open_environments: weakref.WeakSet[_Environment] = weakref.WeakSet()


def _shutdown_all() -> None:
    if _native is None:
        return  # the extension never loaded: no Node ran
    shutdown()
    for env in list(_open_environments):
        _stop(env)
    _native._python_exiting()


# Registered at import, not when the extension loads: exit handlers run last
# registered first, so the environments stop after the handlers that the program
# registered after importing pymport_py (which may still use JavaScript), as they
# always did.
atexit.register(_shutdown_all)

for _name in _forwarded:  # bound when the extension loads (_forwards)
    del globals()[_name]
del _name
