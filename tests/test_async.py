"""Async (DESIGN.md §4, §7): call_async and JSFuture, Promises awaited from
asyncio, Python coroutines, asyncio and concurrent futures handed to JavaScript."""

import asyncio
import concurrent.futures
import gc
import sys
import threading
import time

import pytest

import pymport_py as node

JOIN_TIMEOUT = 30
WAIT = 60  # seconds: ends a wait that would otherwise hang; a passing test never reaches it


@pytest.fixture
def unraisables(monkeypatch):
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: seen.append(u.exc_value))
    return seen


def _resolvable():
    """A pending Promise and its resolve/reject functions (JSObjects)."""
    box = node.eval(
        """(() => { const b = {}; b.promise = new Promise((res, rej) => { b.resolve = res; b.reject = rej }); return b })()"""
    )
    return box.promise, box.resolve, box.reject


# ---- call_async ----


def test_call_async_returns_a_jsfuture_with_the_result():
    add = node.eval("(a, b) => a + b")
    fut = add.call_async(2, 3)
    assert isinstance(fut, node.JSFuture)
    assert isinstance(fut, concurrent.futures.Future)
    assert fut.result(10) == 5


def test_call_async_passes_keyword_arguments_and_binds_this():
    show = node.eval("(...args) => JSON.stringify(args)")
    assert show.call_async(1, "two", flag=True).result(10) == '[1,"two",{"flag":true}]'
    counter = node.eval("({ n: 40, bump(by) { this.n += by; return this.n } })")
    assert counter.bump.call_async(2).result(10) == 42
    assert counter.n == 42


def test_call_async_returns_before_a_returned_promise_settles():
    box = node.eval("({})")
    started = threading.Event()
    make = node.eval("(box, started) => { started(); return new Promise((resolve) => { box.resolve = resolve }) }")
    fut = make.call_async(box, started.set)
    assert started.wait(10)
    assert not fut.done()
    box.resolve("settled later")
    assert fut.result(10) == "settled later"


def test_call_async_returns_while_the_environment_is_busy():
    # Another thread holds the environment (its JS is inside a Python callback
    # that waits): call_async must not wait for the Node lock.
    entered = threading.Event()
    release = threading.Event()

    def hold():
        entered.set()
        assert release.wait(30)
        return "held"

    holder_result = []
    holder = threading.Thread(target=lambda: holder_result.append(node.eval("(f) => f()")(hold)))
    add = node.eval("(a, b) => a + b")
    holder.start()
    try:
        assert entered.wait(10)
        returned = threading.Event()
        futs = []
        caller = threading.Thread(target=lambda: (futs.append(add.call_async(20, 22)), returned.set()))
        caller.start()
        assert returned.wait(10), "call_async blocked while the environment was busy"
        assert not futs[0].done()  # cannot have run: the holder has the Node lock
    finally:
        release.set()
        holder.join(JOIN_TIMEOUT)
    caller.join(JOIN_TIMEOUT)
    assert holder_result == ["held"]
    assert futs[0].result(10) == 42


def test_call_async_from_inside_a_callback_is_queued_not_run_inline():
    add = node.eval("(a, b) => a + b")
    futs = []

    def cb():
        fut = add.call_async(1, 2)
        futs.append((fut, fut.done()))
        return 0

    node.eval("(f) => f()")(cb)
    fut, done_at_once = futs[0]
    assert done_at_once is False
    assert fut.result(10) == 3


def test_call_async_settles_with_a_thenable():
    make = node.eval(
        """(ok) => ({ then(resolve, reject) {
             setTimeout(() => ok ? resolve('thenable value') : reject(new RangeError('thenable no')), 5)
           } })"""
    )
    assert make.call_async(True).result(10) == "thenable value"
    with pytest.raises(node.JSRangeError, match="thenable no"):
        make.call_async(False).result(10)


@pytest.mark.parametrize(
    "throw, expected",
    [
        ("null.x", node.JSTypeError),
        ("new Array(-1)", node.JSRangeError),
        ("undefinedName", node.JSReferenceError),
        ("eval('(')", node.JSSyntaxError),
        ("(() => { const e = new Error('custom'); e.name = 'MyError'; throw e })()", node.JSError),
        ("(() => { throw 42 })()", node.JSError),
    ],
)
def test_call_async_errors_are_the_same_exceptions_as_sync_throws(throw, expected):
    sync_fn = node.eval(f"() => {throw}")
    async_fn = node.eval(f"async () => {{ await null; return {throw} }}")
    with pytest.raises(node.JSError) as sync_info:
        sync_fn()
    for fut in (sync_fn.call_async(), async_fn.call_async()):
        exc = fut.exception(10)
        assert type(exc) is type(sync_info.value) is expected
        assert exc.name == sync_info.value.name
        assert exc.message == sync_info.value.message


def test_call_async_of_a_non_callable_raises_type_error_like_a_sync_call():
    obj = node.eval("({ a: 1 })")
    with pytest.raises(TypeError) as sync_info:
        obj()
    exc = obj.call_async().exception(10)
    assert isinstance(exc, TypeError), repr(exc)
    assert type(exc) is type(sync_info.value)


def test_rejection_of_a_promise_waited_with_result_is_typed_like_sync_throw():
    failing = node.eval("async (n) => { await null; throw new TypeError(`bad ${n}`) }")
    with pytest.raises(TypeError) as info:
        failing(3).result(10)
    assert type(info.value) is node.JSTypeError
    assert info.value.message == "bad 3"


def test_python_exception_raised_in_a_callback_during_call_async_is_the_same_object():
    err = KeyError("from the callback")

    def cb():
        raise err

    sync_path = node.eval("(f) => f()")
    assert sync_path.call_async(cb).exception(10) is err
    async_path = node.eval("async (f) => { await null; return f() }")
    assert async_path.call_async(cb).exception(10) is err
    with pytest.raises(KeyError) as info:
        sync_path.call_async(cb).result(10)
    assert info.value is err


def test_cancelled_call_async_does_not_run():
    node.eval("globalThis.__cancelCalls = 0")
    bump = node.eval("() => ++globalThis.__cancelCalls")
    read = node.eval("() => globalThis.__cancelCalls")
    cancelled = []

    def inside():
        # This thread holds the Node lock: the queued call cannot have started.
        fut = bump.call_async()
        cancelled.append((fut, fut.cancel()))

    node.eval("(f) => f()")(inside)
    fut, ok = cancelled[0]
    assert ok is True
    assert fut.cancelled()
    with pytest.raises(concurrent.futures.CancelledError):
        fut.result(0)
    # A call queued after it has run; the cancelled one never did.
    assert read.call_async().result(10) == 0
    assert node.eval("globalThis.__cancelCalls") == 0
    assert bump() == 1



def _once_in_call(thread_id, line):
    """Waits until the thread's innermost Python frame is at `line` (it is
    inside the call made there), for at most WAIT seconds."""
    end = time.monotonic() + WAIT
    while time.monotonic() < end:
        frame = sys._current_frames().get(thread_id)
        if frame is not None and frame.f_lineno == line:
            return True
        time.sleep(0.001)
    return False


def test_cancel_from_another_thread_ends_a_wait_for_a_queued_call():
    entered, release = threading.Event(), threading.Event()
    hold, add = node.eval("(f) => f()"), node.eval("(a, b) => a + b")
    holder = threading.Thread(target=lambda: hold(lambda: (entered.set(), release.wait(WAIT))))
    holder.start()
    try:
        assert entered.wait(WAIT)  # the holder has the Node lock: nothing queued can run
        fut = add.call_async(1, 2)
        outcome = []

        def waiter():
            try:
                outcome.append(fut.result(WAIT))
            except concurrent.futures.CancelledError:
                outcome.append("cancelled")

        t = threading.Thread(target=waiter)
        t.start()
        assert _once_in_call(t.ident, waiter.__code__.co_firstlineno + 2)
        assert fut.cancel()
        t.join(JOIN_TIMEOUT)
        assert outcome == ["cancelled"]
    finally:
        release.set()
        holder.join(JOIN_TIMEOUT)


def test_a_result_returns_while_a_later_call_of_its_batch_still_runs():
    # The loop thread runs what was queued during the turn() block as one
    # batch: the call after the awaited one spins, and the wait still ends.
    spin = node.eval("(flag) => { while (Atomics.load(flag, 0) === 0) {} return 'spun' }")
    add = node.eval("(a, b) => a + b")
    first, last = bytearray(1), bytearray(1)
    with node.turn():
        opened = spin.call_async(first)
        summed = add.call_async(2, 3)
        spun = spin.call_async(last)
    main, waiting = threading.get_ident(), []
    line = sys._getframe().f_lineno + 3  # the result() below: opens the first spin once there
    opener = threading.Thread(target=lambda: (waiting.append(_once_in_call(main, line)), first.__setitem__(0, 1)))
    opener.start()
    assert summed.result(WAIT) == 5
    assert not spun.done()
    last[0] = 1
    assert (opened.result(WAIT), spun.result(WAIT)) == ("spun", "spun")
    opener.join(JOIN_TIMEOUT)
    assert waiting == [True]


def test_cancelling_right_away_is_safe():
    bump = node.eval("globalThis.__raceCalls = 0; () => ++globalThis.__raceCalls")
    futs = [bump.call_async() for _ in range(200)]
    n_cancelled = sum(1 for f in futs if f.cancel())
    concurrent.futures.wait(futs, timeout=30)
    assert all(f.done() for f in futs)
    ran = [f.result() for f in futs if not f.cancelled()]
    assert len(ran) == 200 - n_cancelled
    assert node.eval("globalThis.__raceCalls") == len(ran)
    assert sorted(ran) == list(range(1, len(ran) + 1))


def test_jsfuture_is_awaitable_from_asyncio():
    add = node.eval("async (a, b) => { await new Promise(r => setTimeout(r, 10)); return a + b }")

    async def main():
        return await add.call_async(40, 2), await asyncio.gather(*(add.call_async(i, i) for i in range(20)))

    single, many = asyncio.run(main())
    assert single == 42
    assert many == [2 * i for i in range(20)]


def test_call_async_of_a_long_js_call_does_not_block_the_asyncio_loop():
    # The JS marks flags[1] when it starts, then spins, calling nothing, until
    # flags[0] is set (a bytearray is a Uint8Array over the same bytes): the
    # asyncio ticker sets it after ticking 5 times while the JS runs, so the JS
    # ends only if the asyncio loop ran while it did.
    busy = node.eval(
        """(flags, capMs) => {
             Atomics.store(flags, 1, 1);
             const end = Date.now() + capMs;
             while (Atomics.load(flags, 0) === 0) {
               if (Date.now() > end) return 'cap';
             }
             return 'busy done';
           }"""
    )
    flags = bytearray(2)

    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while ticks < 5:
                await asyncio.sleep(0.01)
                if flags[1]:  # the JS is running
                    ticks += 1
            flags[0] = 1

        t = asyncio.create_task(ticker())
        try:
            return await busy.call_async(flags, WAIT * 1000), ticks
        finally:
            t.cancel()
            await asyncio.gather(t, return_exceptions=True)

    result, ticks = asyncio.run(main())
    assert (result, ticks) == ("busy done", 5)


def test_many_call_async_from_many_threads():
    mul = node.eval("(a, b) => a * b")
    results = {}
    errors = []
    barrier = threading.Barrier(8, timeout=10)

    def worker(tid):
        try:
            barrier.wait()
            futs = [mul.call_async(tid, i) for i in range(200)]
            results[tid] = [f.result(30) for f in futs]
        except BaseException as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert results == {t: [t * i for i in range(200)] for t in range(8)}



def test_jsfuture_behaves_as_a_concurrent_future():
    later = node.eval("(x) => new Promise((r) => setTimeout(() => r(x), 5))")
    fut = later.call_async("v")
    seen = []
    fut.add_done_callback(lambda f: seen.append(("before", f.result())))
    assert repr(fut).startswith("<JSFuture at ")
    done, not_done = concurrent.futures.wait([fut], timeout=WAIT)
    assert (done, not_done) == ({fut}, set())
    assert (fut.done(), fut.running(), fut.cancelled(), fut.cancel()) == (True, False, False, False)
    assert fut.result() == "v" and fut.exception() is None
    assert "state=finished returned str" in repr(fut)
    fut.add_done_callback(lambda f: seen.append(("after", f.result())))  # done: runs at once
    assert seen == [("before", "v"), ("after", "v")]

    failing = node.eval("() => { throw new RangeError('no') }").call_async()
    assert list(concurrent.futures.as_completed([failing], timeout=WAIT)) == [failing]
    assert isinstance(failing.exception(), node.JSRangeError)
    with pytest.raises(node.JSRangeError):
        failing.result()

    # One made directly is a plain pending future that its owner settles.
    own = node.JSFuture()
    own.add_done_callback(lambda f: seen.append(("own", f.result())))
    assert (own.done(), own.running()) == (False, False)
    assert own.set_running_or_notify_cancel() is True and own.running()
    own.set_result(3)
    assert (own.result(0), seen[-1]) == (3, ("own", 3))
    with pytest.raises(concurrent.futures.InvalidStateError):
        own.set_result(4)
    gone = node.JSFuture()
    assert gone.cancel() and gone.cancelled() and gone.done()
    with pytest.raises(concurrent.futures.CancelledError):
        gone.exception(0)


# ---- Promises awaited from Python ----


def test_promise_is_awaitable_from_asyncio_run():
    async def main():
        ok = await node.eval("new Promise(r => setTimeout(() => r({a: [1, 2]}), 20))")
        try:
            await node.eval("Promise.reject(new RangeError('nope'))")
        except ValueError as e:
            return ok.to_py(), type(e), e.message
        return ok.to_py(), None, None

    assert asyncio.run(main()) == ({"a": [1, 2]}, node.JSRangeError, "nope")


def test_thenable_is_awaitable():
    thenable = node.eval("({ then(res) { setTimeout(() => res('from then'), 5) } })")

    async def main():
        return await thenable

    assert asyncio.run(main()) == "from then"



def test_a_fulfilled_promise_gives_its_value_at_once_and_a_subclass_its_then():
    # An await of a fulfilled Promise finishes without yielding to the asyncio
    # loop; a Promise subclass's `then` decides its outcome, as under JS's await.
    ready = node.eval("(x) => Promise.resolve(x)")
    sub = node.eval("""(x) => {
        class Doubling extends Promise { then(f, r) { return super.then(f && ((v) => f(v * 2)), r) } }
        return Doubling.resolve(x)
    }""")
    log = []

    async def other():
        log.append("other ran")

    async def main():
        asyncio.get_running_loop().call_soon(log.append, "loop turned")
        task = asyncio.ensure_future(other())
        got = [await ready(i) for i in range(5)]
        log.append("awaits done")
        await task
        return got, await sub(21)

    assert asyncio.run(main()) == ([0, 1, 2, 3, 4], 42)
    assert log == ["awaits done", "loop turned", "other ran"]
    assert (ready(7).result(WAIT), sub(5).result(WAIT)) == (7, 10)


def test_promise_awaited_from_a_loop_in_another_thread():
    promise, resolve, _ = _resolvable()
    awaiting = threading.Event()
    out = []

    def thread_main():
        async def main():
            awaiting.set()
            return await promise

        out.append(asyncio.run(main()))

    t = threading.Thread(target=thread_main)
    t.start()
    assert awaiting.wait(10)
    resolve("resolved from the main thread")
    t.join(JOIN_TIMEOUT)
    assert not t.is_alive()
    assert out == ["resolved from the main thread"]


def test_gather_of_50_promises():
    make = node.eval("(i) => new Promise(r => setTimeout(() => r(i * i), 50 - i))")

    async def main():
        return await asyncio.gather(*(make(i) for i in range(50)))

    assert asyncio.run(main()) == [i * i for i in range(50)]


def test_gather_of_promises_from_several_asyncio_loops_in_threads():
    make = node.eval("(i) => new Promise(r => setTimeout(() => r(i + 1), i % 7))")
    results = {}
    errors = []

    def thread_main(tid):
        async def main():
            return await asyncio.gather(*(make(tid * 100 + i) for i in range(50)))

        try:
            results[tid] = asyncio.run(main())
        except BaseException as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=thread_main, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT)
    assert errors == []
    assert results == {t: [t * 100 + i + 1 for i in range(50)] for t in range(4)}


def test_result_with_timeout_on_a_never_settling_promise_raises_timeout_error():
    never = node.eval("new Promise(() => {})")
    with pytest.raises(TimeoutError):
        never.result(timeout=0.2)
    # The environment still works; a JSFuture of a never-settling call times
    # out the same way.
    assert node.eval("1 + 1") == 2
    fut = node.eval("() => new Promise(() => {})").call_async()
    with pytest.raises(TimeoutError):
        fut.result(timeout=0.2)
    assert not fut.done()


def test_awaiting_a_js_timer_promise_does_not_block_the_asyncio_loop():
    # The Promise is settled by a JS timer once the asyncio ticker has ticked 5
    # times (it writes a bytearray the timer reads) while the coroutine awaits
    # it: it settles with 'timer' only if the asyncio loop ran during the await.
    flag = bytearray(1)

    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while ticks < 5:
                await asyncio.sleep(0.01)
                ticks += 1
            flag[0] = 1

        promise = node.eval(
            """(flag, capMs) => new Promise((resolve) => {
                 const end = Date.now() + capMs;
                 const id = setInterval(() => {
                   if (Atomics.load(flag, 0) === 0 && Date.now() < end) return;
                   clearInterval(id);
                   resolve(flag[0] ? 'timer' : 'cap');
                 }, 5);
               })"""
        )(flag, WAIT * 1000)
        t = asyncio.create_task(ticker())
        try:
            return await promise, ticks
        finally:
            t.cancel()
            await asyncio.gather(t, return_exceptions=True)

    assert asyncio.run(main()) == ("timer", 5)


def test_cancelling_the_awaiting_task_is_safe_and_the_environment_keeps_working(unraisables):
    promise, resolve, _ = _resolvable()

    async def main():
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(promise, 0.05)
        never = node.eval("new Promise(() => {})")
        task = asyncio.ensure_future(never)
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # Settling the promise whose awaiter was cancelled is harmless.
        resolve("too late")
        return await node.eval("new Promise(r => setTimeout(() => r('still works'), 5))")

    assert asyncio.run(main()) == "still works"
    assert node.eval("2 + 2") == 4
    assert promise.result(5) == "too late"
    assert unraisables == []


# ---- Python async into JavaScript ----


def test_async_def_becomes_a_function_returning_a_promise():
    async def py_double(x):
        await asyncio.sleep(0)
        return x * 2

    assert node.eval("async (f) => (await f(4)) + 1")(py_double).result(10) == 9
    assert node.eval("(f) => f(1) instanceof Promise")(py_double) is True


def test_async_def_runs_on_the_background_loop_when_no_loop_runs():
    seen = {}

    async def where(x):
        seen["thread"] = threading.current_thread().name
        seen["loop"] = asyncio.get_running_loop()
        return x

    assert node.eval("async (f) => await f('bg')")(where).result(10) == "bg"
    assert seen["thread"] == "pymport_py-asyncio"
    first_loop = seen["loop"]
    # The same background loop serves later calls and calls from other threads.
    out = []
    t = threading.Thread(target=lambda: out.append(node.eval("(f) => f('t')")(where).result(10)))
    t.start()
    t.join(JOIN_TIMEOUT)
    assert out == ["t"]
    assert seen["thread"] == "pymport_py-asyncio"
    assert seen["loop"] is first_loop


def test_async_def_runs_on_the_running_loop_of_the_caller():
    seen = {}

    async def py_double(x):
        seen["loop"] = asyncio.get_running_loop()
        seen["thread"] = threading.get_ident()
        await asyncio.sleep(0.01)
        return x * 2

    async def main():
        seen["outer"] = asyncio.get_running_loop()
        return await node.eval("async (f) => (await f(4)) + 1")(py_double)

    assert asyncio.run(main()) == 9
    assert seen["loop"] is seen["outer"]
    assert seen["thread"] == threading.get_ident()


def test_coroutine_object_becomes_a_promise():
    async def coro(x):
        await asyncio.sleep(0.01)
        return x + 1

    assert node.eval("(p) => p instanceof Promise")(coro(0)) is True
    assert node.eval("(p) => p.then(v => v * 10)")(coro(4)).result(10) == 50

    async def main():
        return await node.eval("(p) => p.then(v => v * 10)")(coro(1))

    assert asyncio.run(main()) == 20


def test_python_exception_from_a_coroutine_is_catchable_in_js():
    async def fails():
        await asyncio.sleep(0)
        raise ValueError("coroutine failed")

    catch = node.eval(
        """async (p) => {
             try { await p; return 'no error' }
             catch (e) { return [e instanceof Error, e.pythonType, e.message] }
           }"""
    )
    assert catch(fails()).result(10).to_py() == [True, "ValueError", "ValueError: coroutine failed"]

    async def main():
        return (await catch(fails())).to_py()

    assert asyncio.run(main()) == [True, "ValueError", "ValueError: coroutine failed"]


def test_python_exception_from_a_coroutine_comes_back_as_the_same_object():
    err = LookupError("round trip")

    async def fails():
        raise err

    passthrough = node.eval("async (p) => { await p }")
    with pytest.raises(LookupError) as info:
        passthrough(fails()).result(10)
    assert info.value is err
    assert node.eval("(f) => f()").call_async(fails).exception(10) is err


def test_asyncio_future_becomes_a_promise_both_ways():
    double = node.eval("(p) => p.then(v => v * 2)")
    catch = node.eval("(p) => p.then(() => 'no error', e => [e.pythonType, e.message])")

    async def main():
        loop = asyncio.get_running_loop()
        ok = loop.create_future()
        bad = loop.create_future()
        p_ok, p_bad = double(ok), catch(bad)
        loop.call_later(0.01, ok.set_result, 21)
        loop.call_later(0.01, bad.set_exception, OSError("asyncio future failed"))
        return await p_ok, (await p_bad).to_py()

    assert asyncio.run(main()) == (42, ["OSError", "OSError: asyncio future failed"])


def test_concurrent_future_becomes_a_promise_both_ways():
    double = node.eval("(p) => p.then(v => v * 2)")
    catch = node.eval("(p) => p.then(() => 'no error', e => [e.pythonType, e.pythonValue])")
    ok = concurrent.futures.Future()
    bad = concurrent.futures.Future()
    err = ZeroDivisionError("concurrent future failed")
    p_ok, p_bad = double(ok), catch(bad)
    threading.Timer(0.01, ok.set_result, (50,)).start()
    threading.Timer(0.01, bad.set_exception, (err,)).start()
    assert p_ok.result(10) == 100
    kind, value = p_bad.result(10).to_py()
    assert kind == "ZeroDivisionError"
    assert value is err


def test_future_that_is_already_done_becomes_a_settled_promise():
    done = concurrent.futures.Future()
    done.set_result("ready")
    assert node.eval("async (p) => await p")(done).result(10) == "ready"


def test_cancelled_python_future_rejects_the_promise():
    fut = concurrent.futures.Future()
    p = node.eval("(p) => p.then(() => 'fulfilled', () => 'rejected')")(fut)
    fut.cancel()
    assert p.result(10) == "rejected"


def test_js_rejection_reaches_python_awaiting_through_a_python_coroutine():
    # Both directions in one chain: Python awaits a JS promise that awaits a
    # Python coroutine that awaits a JS promise that rejects.
    js_fail = node.eval("async () => { await null; throw new TypeError('deep') }")

    async def middle():
        return await js_fail()

    outer = node.eval("async (f) => await f()")

    async def main():
        with pytest.raises(node.JSTypeError, match="deep"):
            await outer(middle)
        return "ok"

    assert asyncio.run(main()) == "ok"


# Blocking on a future that only the environment's own threads can settle,
# from inside a call from that environment's JavaScript, would wait forever.
def test_waiting_for_call_async_inside_a_call_from_the_same_environment_raises(run_python):
    proc = run_python(
        """
        import threading, pymport_py
        pymport_py.set_lock_wait_limit(None)
        g = pymport_py.eval("() => 5")
        def wait_inside():
            try:
                return g.call_async().result()
            except RuntimeError as e:
                return "refused" if "could never settle" in str(e) else str(e)
        # a callback on the calling thread
        print(pymport_py.eval("(f) => f()")(wait_inside))
        # a timer on the loop thread
        out, done = [], threading.Event()
        pymport_py.eval("(f, d) => { setTimeout(() => d(f()), 0); }")(wait_inside, lambda v: (out.append(v), done.set()))
        assert done.wait(30)
        print(out[0])
        # a done-callback, which runs where the future is settled: here by the
        # microtasks that run after the eval() that resolves the Promise
        pending = pymport_py.eval("globalThis.p = new Promise((r) => { globalThis.release = r; }); () => p")
        fut = pending.call_async()
        called = threading.Event()
        fut.add_done_callback(lambda f: (out.append(wait_inside()), called.set()))
        pymport_py.eval("release(5)")
        assert called.wait(30)
        print(out[1], fut.result())
        # a Worker's future waited for inside the main environment's JS: allowed
        w = pymport_py.Worker()
        h = w.eval("() => 6")
        print(pymport_py.eval("(f) => f()")(lambda: h.call_async().result(30)))
        w.close()
        """,
        timeout=60,
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout == "refused\nrefused\nrefused 5\n6\n", proc.report


def test_a_promise_of_a_dropped_python_future_is_rejected():
    future = concurrent.futures.Future()
    node.eval("""(p) => {
        globalThis.outcome = p.then((v) => 'resolved ' + v, (e) => 'rejected: ' + e.message);
    }""")(future)
    del future
    gc.collect()
    assert node.eval("outcome").result(30) == (
        "rejected: RuntimeError: the Python awaitable behind this Promise was dropped before it "
        "finished: nothing can settle it")


def test_a_never_finished_python_future_does_not_keep_a_closed_worker():
    # Each environment holds the extension module; a closed Worker whose
    # Promise waited for a future that never finishes used to stay allocated
    # for as long as that future lived.
    module = sys.modules["pymport_py._pymport"]
    gc.collect()
    before = sys.getrefcount(module)
    worker = node.Worker()
    never = concurrent.futures.Future()
    worker.eval("(p) => { globalThis.p = p; }")(never)
    worker.close()
    del worker
    gc.collect()
    assert sys.getrefcount(module) == before
    never.set_result(1)   # settling it later is harmless


@pytest.mark.parametrize("value", [(), ("only",), (1, 2), (1, (2, 3))])
def test_a_promise_or_call_async_settling_with_a_tuple_gives_that_tuple(value):
    # A tuple result was spread into set_result's arguments: a 1-tuple gave
    # its item, any other tuple never settled.
    echo = node.eval("(x) => x")
    assert node.eval("async (x) => x")(node.ref(value)).result(30) == value
    assert echo.call_async(node.ref(value)).result(30) == value


def test_an_awaitable_raising_system_exit_rejects_its_promise_and_later_ones_still_work(run_python):
    # SystemExit escaped asyncio's task and stopped the background loop: that
    # Promise and every later one waited forever.
    proc = run_python(
        """
        import asyncio, pymport_py as node
        class Exits:
            def __await__(self):
                raise SystemExit(3)
                yield
        async def seven():
            await asyncio.sleep(0)
            return 7
        echo = node.eval("(x) => x")
        for _ in range(2):
            try:
                echo(Exits()).result(30)
            except SystemExit as e:
                print("SystemExit", e.code)
        print(echo(seven()).result(30))
        """,
        timeout=120,
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout == "SystemExit 3\nSystemExit 3\n7\n", proc.report


# ---- stress: many threads settling, waiting and awaiting at once ----


def test_futures_settled_while_many_threads_wait_await_and_add_callbacks():
    # The loop thread settles futures that other threads are reading, waiting
    # for (result(), concurrent.futures.wait, as_completed), awaiting from
    # their own asyncio loops, cancelling and adding done callbacks to, all at
    # the same time: every future ends with its own outcome and runs each of
    # its callbacks exactly once.
    add = node.eval("(a, b) => a + b")
    later = node.eval("(x) => new Promise((r) => setImmediate(() => r(x)))")
    ready = node.eval("(x) => Promise.resolve(x)")
    fail = node.eval("(x) => { throw new RangeError('no ' + x) }")
    calls = {}
    called = threading.Condition()
    errors = []
    barrier = threading.Barrier(6, timeout=30)

    def counted(fut, key):
        def cb(f):
            with called:
                calls[key] = calls.get(key, 0) + 1
                called.notify_all()
        fut.add_done_callback(cb)

    def check(got, want, where):
        if got != want:
            errors.append((where, got, want))

    def blocking(tid):
        barrier.wait()
        for rnd in range(40):
            futs = [add.call_async(tid, i) for i in range(20)] + [later.call_async(i) for i in range(5)]
            for i, f in enumerate(futs):
                counted(f, (tid, rnd, i))
            bad = fail.call_async(rnd)
            if rnd % 3 == 0:
                done, _ = concurrent.futures.wait(futs, timeout=WAIT)
                check(len(done), len(futs), "wait")
            elif rnd % 3 == 1:
                check(len(list(concurrent.futures.as_completed(futs, timeout=WAIT))), len(futs), "as_completed")
            check([f.result(WAIT) for f in futs[:20]], [tid + i for i in range(20)], "result")
            check([f.result(WAIT) for f in futs[20:]], list(range(5)), "later")
            late = []
            for f in futs:
                f.add_done_callback(late.append)  # done: called at once, here
            check(late, futs, "late callbacks")
            exc = bad.exception(WAIT)
            check((type(exc), str(exc)), (node.JSRangeError, f"RangeError: no {rnd}"), "exception")

    def awaiting(tid):
        async def main():
            barrier.wait()
            for rnd in range(40):
                pending = [add.call_async(tid, i) for i in range(10)]
                for i, f in enumerate(pending):
                    counted(f, (tid, rnd, i))
                got = await asyncio.gather(*pending, *(later(i) for i in range(5)),
                                           *(later.call_async(i) for i in range(5)))
                check(got, [tid + i for i in range(10)] + list(range(5)) * 2, "gather")
                check([await ready(i) for i in range(10)], list(range(10)), "ready")
                try:
                    await fail.call_async(rnd)
                    errors.append("no error")
                except node.JSRangeError as e:
                    check(str(e), f"RangeError: no {rnd}", "await error")
        asyncio.run(main())

    def cancelling(tid):
        barrier.wait()
        for rnd in range(40):
            futs = [add.call_async(tid, i) for i in range(30)]
            for i, f in enumerate(futs):
                counted(f, (tid, rnd, i))
            cancelled = [f.cancel() for f in futs[::2]]
            for i, f in enumerate(futs):
                if i % 2 == 0 and cancelled[i // 2]:
                    check(f.cancelled(), True, "cancelled")
                    with pytest.raises(concurrent.futures.CancelledError):
                        f.result(WAIT)
                else:
                    check(f.result(WAIT), tid + i, "not cancelled")

    def run(target, tid):
        try:
            target(tid)
        except BaseException as e:  # noqa: BLE001
            errors.append(repr(e))

    kinds = [blocking, blocking, awaiting, awaiting, cancelling, cancelling]
    threads = [threading.Thread(target=run, args=(k, t)) for t, k in enumerate(kinds)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    want = {}
    for tid, k in enumerate(kinds):
        n = {blocking: 25, awaiting: 10, cancelling: 30}[k]
        want.update({(tid, rnd, i): 1 for rnd in range(40) for i in range(n)})
    # A waiter may see its future done before the settling thread has run
    # the future's callbacks: wait for the last ones.
    with called:
        assert called.wait_for(lambda: sum(calls.values()) >= len(want), WAIT)
    assert calls == want


def test_shutdown_while_many_threads_issue_call_async_and_await(run_python):
    proc = run_python(
        """
        import asyncio, concurrent.futures, threading, time
        import pymport_py as node
        from pymport_py import EnvironmentClosed

        errors, outcomes = [], {"ok": 0, "closed": 0}
        lock = threading.Lock()

        def tally(kind):
            with lock:
                outcomes[kind] += 1

        for rnd in range(6):
            w = node.Worker()
            add = w.eval("(a, b) => a + b")
            later = w.eval("(x) => new Promise((r) => setTimeout(() => r(x), 1))")
            ready = w.eval("(x) => Promise.resolve(x)")
            never = w.eval("() => new Promise(() => {})")
            callbacks, made = [], [0]
            busy = [0] * 4

            def blocking(tid):
                while True:
                    try:
                        futs = [add.call_async(tid, i) for i in range(20)] + [later.call_async(tid), never.call_async()]
                    except EnvironmentClosed:
                        return
                    for f in futs:
                        f.add_done_callback(callbacks.append)
                    with lock:
                        made[0] += len(futs)
                    busy[tid] += 1
                    for i, f in enumerate(futs[:-1]):
                        try:
                            if f.result(60) != tid + (i if i < 20 else 0):
                                errors.append(("value", tid, i))
                            tally("ok")
                        except EnvironmentClosed:
                            tally("closed")
                    if not w.running:
                        try:
                            futs[-1].result(60)
                            errors.append("a never-settling call settled")
                        except EnvironmentClosed:
                            return

            def awaiting(tid):
                async def main():
                    while True:
                        try:
                            coros = [add.call_async(tid, 1), later(tid), ready(tid + 2)]
                        except EnvironmentClosed:
                            return
                        busy[tid] += 1
                        try:
                            got = await asyncio.wait_for(asyncio.gather(*coros), 60)
                            if got != [tid + 1, tid, tid + 2]:
                                errors.append(("await", tid, got))
                            tally("ok")
                        except EnvironmentClosed:
                            tally("closed")
                asyncio.run(main())

            def run(target, tid):
                try:
                    target(tid)
                except BaseException as e:
                    errors.append(f"{type(e).__name__}: {e}")

            threads = [threading.Thread(target=run, args=(k, t))
                       for t, k in enumerate([blocking, blocking, awaiting, awaiting])]
            for t in threads:
                t.start()
            end = time.monotonic() + 60
            while not all(busy) and not errors and time.monotonic() < end:
                time.sleep(0.001)
            if not all(busy):
                errors.append(f"round {rnd}: no calls for 60 s: {busy}")
            w.close()
            for t in threads:
                t.join(60)
            if any(t.is_alive() for t in threads):
                errors.append("a thread hung")
                break
            # Every future failed or settled, and ran its callback once.
            end = time.monotonic() + 60
            while len(callbacks) < made[0] and time.monotonic() < end:
                time.sleep(0.01)
            if len(callbacks) != made[0] or len(set(map(id, callbacks))) != made[0]:
                errors.append(f"round {rnd}: {len(callbacks)} callbacks for {made[0]} futures")
        print("errors", errors)
        print("ok", outcomes["ok"] > 0, "closed", outcomes["closed"] > 0)
        print("main", node.eval("40 + 2"))
        """,
        timeout=180,
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout == "errors []\nok True closed True\nmain 42\n", proc.report
