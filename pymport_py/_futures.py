"""Futures and awaitables crossing between asyncio and JavaScript (used by the extension)."""
from __future__ import annotations

import concurrent.futures
import sys
import threading
from concurrent.futures import _base
from typing import TYPE_CHECKING, Any, Awaitable, Generator

if TYPE_CHECKING:
    import asyncio
else:
    # asyncio is imported when first needed (it costs a large part of `import
    # pymport_py`); until a program imports it, nothing here can be an asyncio
    # object and no asyncio loop runs.
    asyncio = None


def _asyncio() -> Any:
    global asyncio
    if asyncio is None:
        import asyncio as module
        asyncio = module
    return asyncio


class JSFuture(concurrent.futures.Future[Any]):
    """A ``concurrent.futures.Future`` that is also awaitable from any asyncio loop.

    Returned by ``JSObject.call_async``; settled from Node's loop thread, and
    through ``loop.call_soon_threadsafe`` on the loop that awaits it.
    """

    # The base class's state, made lazily: a future that is only settled and read (a
    # call_async whose result() finds it done) never makes its lock or lists. _state,
    # _result and _exception are the class attributes below until set; _condition,
    # _waiters and _done_callbacks are made on first use (concurrent.futures.wait(),
    # as_completed(), repr(), the base class's methods). While a future has no lock, no
    # thread can be inside one of the base class's ``with self._condition:`` blocks,
    # so the extension reads and settles it under the GIL alone; once it has one, the
    # extension goes through the base class's methods, which take it.
    _state: str = _base.PENDING
    _result: Any = None
    _exception: BaseException | None = None

    #: The JSObject whose environment settles this future (set by the extension).
    _source: Any = None

    # The extension replaces result(), exception(), done(), cancelled(), running(),
    # cancel(), add_done_callback(), set_result() and set_exception() with C
    # functions that read and change the state above directly (result() and
    # exception() raise the future's exception from the frame that waited, with no
    # frames of pymport_py or concurrent.futures in its traceback). result() and
    # exception() wait without the lock, marked in the dict (_waited), so that
    # whoever settles the future wakes them; they raise RuntimeError instead of
    # waiting forever inside a call from the JavaScript of the environment that
    # settles the future (a Python callback, timer or done-callback of that
    # environment).

    def __init__(self) -> None:
        """A pending future (made by the extension); the base class's lock and lists
        are made when first used."""

    @property
    def _condition(self) -> threading.Condition:
        made = self.__dict__.get("_lazy_condition")
        if made is None:
            # setdefault: of two threads making it at once, both use the first one's
            made = self.__dict__.setdefault("_lazy_condition", threading.Condition())
        return made

    @_condition.setter
    def _condition(self, value: threading.Condition) -> None:
        self.__dict__["_lazy_condition"] = value

    @property
    def _waiters(self) -> list[Any]:
        return self.__dict__.setdefault("_lazy_waiters", [])

    @_waiters.setter
    def _waiters(self, value: list[Any]) -> None:
        self.__dict__["_lazy_waiters"] = value

    @property
    def _done_callbacks(self) -> list[Any]:
        return self.__dict__.setdefault("_lazy_callbacks", [])

    @_done_callbacks.setter
    def _done_callbacks(self, value: list[Any]) -> None:
        self.__dict__["_lazy_callbacks"] = value

    def __await__(self) -> Generator[Any, None, Any]:
        """``await future``: the result, or the exception raised, without blocking the
        awaiting loop (at once when the future is already done)."""
        return await_future(self)


_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def background_loop() -> asyncio.AbstractEventLoop:
    """The asyncio loop, on a daemon thread of its own, that runs Python coroutines
    handed to JavaScript when the calling thread runs no loop."""
    global _loop
    with _loop_lock:
        if _loop is None or _loop.is_closed():
            loop = _asyncio().new_event_loop()
            ready = threading.Event()

            def run() -> None:
                _asyncio().set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            threading.Thread(target=run, name="pymport_py-asyncio", daemon=True).start()
            ready.wait()
            _loop = loop
        return _loop


async def _await_into(awaitable: Awaitable[Any], target: concurrent.futures.Future[Any]) -> None:
    """Awaits ``awaitable`` and settles ``target`` with its outcome, SystemExit and
    KeyboardInterrupt included: asyncio lets those escape a task and stop its loop,
    which left the Promise, and every later one on that loop, waiting forever."""
    try:
        value = await awaitable
    except _asyncio().CancelledError:
        target.cancel()
        raise
    except BaseException as e:  # noqa: B036 - the outcome goes to JavaScript
        if not target.done():
            target.set_exception(e)
    else:
        if not target.done():
            target.set_result(value)


_tasks: set[asyncio.Task[None]] = set()  # the loops keep only weak references to tasks


def _start(loop: asyncio.AbstractEventLoop, awaitable: Awaitable[Any],
           target: concurrent.futures.Future[Any]) -> None:
    task = loop.create_task(_await_into(awaitable, target))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


def _copy_outcome(source: asyncio.Future[Any], target: concurrent.futures.Future[Any]) -> None:
    if source.cancelled():
        target.cancel()
    elif source.exception() is not None:
        target.set_exception(source.exception())
    else:
        target.set_result(source.result())


def to_concurrent_future(obj: Any) -> concurrent.futures.Future[Any]:
    """A concurrent future with the outcome of ``obj`` (a concurrent or asyncio
    future, a coroutine or any awaitable). Coroutines run on the asyncio loop
    running in this thread, or else on the background loop."""
    if isinstance(obj, concurrent.futures.Future):
        return obj
    result: concurrent.futures.Future[Any] = concurrent.futures.Future()
    aio = sys.modules.get("asyncio")  # not imported: obj is no asyncio future, no loop runs
    if aio is not None and isinstance(obj, aio.Future):
        obj.get_loop().call_soon_threadsafe(
            obj.add_done_callback, lambda f: _copy_outcome(f, result))
        return result
    try:
        running = aio.get_running_loop() if aio is not None else None
    except RuntimeError:
        running = None
    if running is not None:
        _start(running, obj, result)
        return result
    loop = background_loop()
    loop.call_soon_threadsafe(_start, loop, obj, result)
    return result


def _settled(future: concurrent.futures.Future[Any]) -> Generator[Any, None, Any]:
    return future.result()
    yield  # a generator that finishes at once: nothing to wait for


def settled(value: Any) -> Generator[Any, None, Any]:
    """The iterator behind ``await`` of a JSObject already settled with ``value``."""
    return value
    yield  # finishes at once


def await_future(future: concurrent.futures.Future[Any]) -> Generator[Any, None, Any]:
    """The iterator behind ``await js_object``: a settled future gives its
    outcome at once (no trip through the event loop), like a done asyncio future."""
    if future.done():
        return _settled(future)
    return _asyncio().wrap_future(future).__await__()


_pool: concurrent.futures.ThreadPoolExecutor | None = None


def call_in_thread(fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any] | None) -> concurrent.futures.Future[Any]:
    """Runs fn(*args, **kwargs) on a Python thread (PyObject.callAsync from JS)."""
    global _pool
    with _loop_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(thread_name_prefix="pymport_py-call")
    return _pool.submit(fn, *args, **(kwargs or {}))
