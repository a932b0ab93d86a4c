"""pymport_py.Worker (DESIGN.md §3, §4): further environments on their own
threads, JavaScript running in parallel across them, ownership of JSObjects,
closing, and no silent deadlock between environments."""

import asyncio
import os
import threading

import pytest

import pymport_py as node

JOIN_TIMEOUT = 30


@pytest.fixture
def worker():
    w = node.Worker()
    yield w
    w.close()


def _run_threads(*targets):
    """Runs each callable on its own thread; returns [('ok', value) | ('err', exc)]."""
    out = [None] * len(targets)

    def run(i, f):
        try:
            out[i] = ("ok", f())
        except BaseException as e:  # noqa: BLE001 - returned to the test
            out[i] = ("err", e)

    threads = [threading.Thread(target=run, args=(i, f)) for i, f in enumerate(targets)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "threads still running (deadlock?)"
    return out


# ---- the API ----


def test_worker_eval_globalthis_and_running(worker):
    assert worker.running is True
    assert worker.eval("1 + 1") == 2
    assert worker.globalThis.Math.max(1, 7, 3) == 7
    worker.eval("let workerOnly = 5; function workerFn() { return workerOnly * 2 }")
    assert worker.globalThis.workerFn() == 10
    assert worker.eval("workerOnly") == 5
    assert "pymport_py" in repr(worker) and "running" in repr(worker)


def test_worker_globals_are_separate_from_the_main_environment(worker):
    node.eval("globalThis.__whereAmI = 'main'")
    worker.eval("globalThis.__whereAmI = 'worker'")
    assert node.eval("globalThis.__whereAmI") == "main"
    assert worker.eval("globalThis.__whereAmI") == "worker"
    other = node.Worker()
    try:
        assert other.eval("typeof globalThis.__whereAmI") == "undefined"
    finally:
        other.close()


def test_worker_require_and_import_module(worker, js_dir):
    assert worker.require("path").basename("a/b/c.txt") == "c.txt"
    local = worker.require(os.path.join(js_dir, "some-local-module.js"))
    assert local.greet("Ada") == "Hello, Ada!"
    esm = worker.import_module(os.path.join(js_dir, "esm-module.mjs"))
    assert esm.default(21) == 42
    assert esm.name == "esm-module"
    assert esm.asyncDouble(4).result(10) == 8


def test_worker_with_cwd_resolves_from_it(js_dir):
    with node.Worker(cwd=js_dir) as w:
        assert w.require("./some-local-module.js").greet("Bob") == "Hello, Bob!"
        assert w.import_module("./esm-module.mjs").default(5) == 10


def test_worker_to_js_makes_values_of_that_worker(worker):
    arr = worker.to_js([3, 1, 2])
    assert worker.eval("(a) => Array.isArray(a) && a.length")(arr) == 3
    assert arr.sort().to_py() == [1, 2, 3]
    with pytest.raises(ValueError):
        node.eval("(a) => a")(arr)


def test_worker_callbacks_and_promises(worker):
    calls = []
    assert worker.eval("(f) => f(20) + 1")(lambda x: calls.append(x) or x * 2) == 41
    assert calls == [20]
    assert worker.eval("new Promise(r => setTimeout(() => r('timer'), 10))").result(10) == "timer"
    fired = threading.Event()
    worker.globalThis.setTimeout(fired.set, 5)
    assert fired.wait(10)


def test_worker_call_async_and_await(worker):
    add = worker.eval("async (a, b) => { await null; return a + b }")
    assert add.call_async(1, 2).result(10) == 3

    async def main():
        return await add.call_async(20, 22), await add(1, 1)

    assert asyncio.run(main()) == (42, 2)


def test_worker_as_context_manager_closes():
    with node.Worker() as w:
        obj = w.eval("({ x: 1 })")
        assert w.running is True
    assert w.running is False
    assert "closed" in repr(w)
    with pytest.raises(node.EnvironmentClosed):
        obj.x
    with pytest.raises(node.EnvironmentClosed):
        w.eval("1")


def test_close_is_idempotent_and_does_not_touch_other_environments():
    w1, w2 = node.Worker(), node.Worker()
    f2 = w2.eval("(x) => x + 1")
    w1.close()
    w1.close()
    assert w1.running is False
    assert w2.running is True
    assert f2(1) == 2
    assert node.eval("2 + 2") == 4
    w2.close()


def test_jsobject_after_close_raises_environment_closed():
    w = node.Worker()
    fn = w.eval("(x) => x * 2")
    obj = w.eval("({ a: 1, b: [1, 2] })")
    w.close()
    for use in (
        lambda: fn(2),
        lambda: fn.call_async(2),
        lambda: obj.a,
        lambda: obj["b"],
        lambda: obj.to_py(),
        lambda: w.globalThis,
        lambda: w.require("path"),
        lambda: w.to_js([1]),
    ):
        with pytest.raises(node.EnvironmentClosed):
            use()
    assert isinstance(repr(obj), str)  # repr still works on a closed environment's object


# ---- JSObjects belong to one environment ----


def test_jsobject_passed_to_another_environment_raises_value_error(worker):
    main_obj = node.eval("({ a: 1 })")
    worker_obj = worker.eval("({ b: 2 })")
    identity_w = worker.eval("(x) => x")
    identity_m = node.eval("(x) => x")
    with pytest.raises(ValueError):
        identity_w(main_obj)
    with pytest.raises(ValueError):
        identity_m(worker_obj)
    with pytest.raises(ValueError):
        worker.globalThis.stolen = main_obj
    with pytest.raises(ValueError):
        worker.to_js([main_obj])
    with pytest.raises(ValueError):
        identity_w.call_async(main_obj).result(10)
    other = node.Worker()
    try:
        with pytest.raises(ValueError):
            other.eval("(x) => x")(worker_obj)
    finally:
        other.close()
    # Still usable where they belong.
    assert identity_w(worker_obj) == worker_obj
    assert identity_m(main_obj) == main_obj


# ---- parallelism ----


def test_two_workers_run_js_at_the_same_time_barrier():
    # Each thread's JS calls back into Python, which waits for the other
    # thread at a barrier while its JS is still on the stack: this only
    # completes if both environments run JavaScript at the same time.
    barrier = threading.Barrier(2, timeout=10)
    with node.Worker() as wa, node.Worker() as wb:
        fa = wa.eval("(meet) => { const before = 'a'; return before + meet() }")
        fb = wb.eval("(meet) => { const before = 'b'; return before + meet() }")
        out = _run_threads(lambda: fa(lambda: str(barrier.wait())), lambda: fb(lambda: str(barrier.wait())))
    assert [kind for kind, _ in out] == ["ok", "ok"], out
    assert sorted(v for _, v in out) in (["a0", "b1"], ["a1", "b0"])


def test_two_workers_busy_loops_run_at_the_same_time():
    # A rendezvous in memory both environments share with Python (a bytearray
    # is a Uint8Array over the same bytes in each): each JS sets its own byte,
    # then spins, calling nothing, until it sees the other's. Both see each
    # other only if both busy loops ran at the same time; one environment
    # waiting for the other to finish would spin until the cap.
    flags = bytearray(2)
    src = """(flags, me, other, capMs) => {
               Atomics.store(flags, me, 1);
               const end = Date.now() + capMs;
               while (Atomics.load(flags, other) === 0) {
                 if (Date.now() > end) return 'cap';
               }
               return 'met';
             }"""
    cap_ms = JOIN_TIMEOUT * 1000 // 2  # ends before _run_threads gives up on the threads
    with node.Worker() as wa, node.Worker() as wb:
        fa, fb = wa.eval(src), wb.eval(src)
        out = _run_threads(lambda: fa(flags, 0, 1, cap_ms), lambda: fb(flags, 1, 0, cap_ms))
    assert out == [("ok", "met"), ("ok", "met")], out


def test_worker_and_main_environment_run_js_at_the_same_time():
    barrier = threading.Barrier(2, timeout=10)
    with node.Worker() as w:
        fw = w.eval("(meet) => meet()")
        fm = node.eval("(meet) => meet()")
        out = _run_threads(lambda: fw(barrier.wait), lambda: fm(barrier.wait))
    assert [kind for kind, _ in out] == ["ok", "ok"], out


def test_many_threads_share_one_worker():
    with node.Worker() as w:
        fn = w.eval("globalThis.__n = 0; (a, cb) => { globalThis.__n++; return cb(a) + 1 }")
        barrier = threading.Barrier(6, timeout=10)

        def run(tid):
            barrier.wait()
            return [fn(tid * 1000 + i, lambda x: x * 2) for i in range(200)]

        out = _run_threads(*(lambda t=t: run(t) for t in range(6)))
        assert [kind for kind, _ in out] == ["ok"] * 6, out
        for t, (_, values) in enumerate(out):
            assert values == [(t * 1000 + i) * 2 + 1 for i in range(200)]
        assert w.eval("globalThis.__n") == 1200


# ---- close with pending work ----


def test_close_fails_pending_call_async_futures():
    w = node.Worker()
    started = threading.Event()
    never = w.eval("(started) => { started(); return new Promise(() => {}) }")
    fut = never.call_async(started.set)
    assert started.wait(10)
    assert not fut.done()
    w.close()
    exc = fut.exception(10)
    assert isinstance(exc, node.EnvironmentClosed), repr(exc)


def test_close_fails_queued_call_async_futures_that_never_ran():
    w = node.Worker()
    one = w.eval("() => 1")
    entered = threading.Event()
    release = threading.Event()

    def hold():
        entered.set()
        release.wait(30)
        return "held"

    hold_fn = w.eval("(f) => f()")
    holder_out = []
    holder = threading.Thread(target=lambda: holder_out.append(_outcome(lambda: hold_fn(hold))))
    holder.start()
    assert entered.wait(10)
    fut = one.call_async()  # queued: the holder has the worker's Node lock
    closer = threading.Thread(target=w.close)
    closer.start()
    for _ in range(1000):  # close() marks the worker stopped at once, then waits
        if not w.running:
            break
        threading.Event().wait(0.01)
    assert not w.running
    release.set()
    holder.join(JOIN_TIMEOUT)
    closer.join(JOIN_TIMEOUT)
    assert not holder.is_alive() and not closer.is_alive()
    exc = fut.exception(10)
    assert isinstance(exc, node.EnvironmentClosed), repr(exc)
    kind, value = holder_out[0]
    assert (kind, value) == ("ok", "held") or isinstance(value, node.EnvironmentClosed), holder_out


def _outcome(f):
    try:
        return ("ok", f())
    except BaseException as e:  # noqa: BLE001
        return ("err", e)


def test_close_fails_a_pending_result_wait_in_another_thread():
    w = node.Worker()
    never = w.eval("new Promise(() => {})")
    waiting = threading.Event()
    out = []

    def wait():
        waiting.set()
        out.append(_outcome(lambda: never.result(30)))

    t = threading.Thread(target=wait)
    t.start()
    assert waiting.wait(10)
    w.close()
    t.join(JOIN_TIMEOUT)
    assert not t.is_alive()
    kind, exc = out[0]
    assert kind == "err" and isinstance(exc, node.EnvironmentClosed), out


def test_close_fails_a_pending_await():
    w = node.Worker()
    never = w.eval("new Promise(() => {})")

    async def main():
        task = asyncio.ensure_future(never)
        await asyncio.sleep(0.05)
        await asyncio.get_running_loop().run_in_executor(None, w.close)
        try:
            await asyncio.wait_for(task, 10)
        except node.EnvironmentClosed as e:
            return e
        return None

    assert isinstance(asyncio.run(main()), node.EnvironmentClosed)


# ---- no silent deadlock between environments ----


def _cross_call_once(wa, wb):
    barrier = threading.Barrier(2, timeout=10)
    call_a = wa.eval("(f) => f()")
    call_b = wb.eval("(f) => f()")
    in_a = wa.eval("() => 'ran in A'")
    in_b = wb.eval("() => 'ran in B'")

    def from_a():  # JS in A -> Python -> JS in B
        barrier.wait()
        return in_b()

    def from_b():  # JS in B -> Python -> JS in A
        barrier.wait()
        return in_a()

    return _run_threads(lambda: call_a(from_a), lambda: call_b(from_b))


def test_cross_environment_calls_never_deadlock_silently():
    with node.Worker() as wa, node.Worker() as wb:
        for _ in range(25):
            out = _cross_call_once(wa, wb)
            kinds = sorted(kind for kind, _ in out)
            assert kinds == ["err", "ok"], out
            (err,) = [v for k, v in out if k == "err"]
            (ok,) = [v for k, v in out if k == "ok"]
            assert isinstance(err, RuntimeError), repr(err)
            assert "deadlock" in str(err)
            assert ok in ("ran in A", "ran in B")
        # Both environments keep working.
        assert wa.eval("1 + 1") == 2 and wb.eval("2 + 2") == 4


def test_cross_environment_deadlock_with_the_main_environment():
    with node.Worker() as w:
        out = _cross_call_once(node, w)
    kinds = sorted(kind for kind, _ in out)
    assert kinds == ["err", "ok"], out
    (err,) = [v for k, v in out if k == "err"]
    assert isinstance(err, RuntimeError) and "deadlock" in str(err), repr(err)


def test_nested_calls_across_environments_without_a_cycle_work():
    # A -> Python -> B -> Python -> main: a chain, not a cycle.
    with node.Worker() as wa, node.Worker() as wb:
        in_main = node.eval("(x) => x + '>main'")
        in_b = wb.eval("(f, x) => f(x + '>B')")
        in_a = wa.eval("(f, x) => f(x + '>A')")
        def via_b(x):
            return in_b(lambda y: in_main(y), x)

        assert in_a(via_b, "start") == "start>A>B>main"
        out = _run_threads(*(lambda i=i: in_a(via_b, str(i)) for i in range(4)))
        assert out == [("ok", f"{i}>A>B>main") for i in range(4)]


# ---- closing while threads call in (stress, in a subprocess) ----


def test_workers_closed_while_threads_call_them(run_python):
    proc = run_python(
        """
        import threading, time
        import pymport_py as node
        from pymport_py import EnvironmentClosed

        errors = []
        ok = closed = 0
        lock = threading.Lock()

        for round in range(6):
            w = node.Worker()
            fn = w.eval("(a, b, cb) => cb ? cb(a) + b : a + b")
            stop = threading.Event()
            calls = [0] * 4     # this round's successful calls, per caller

            def caller(tid):
                global ok, closed
                k = 0
                while not stop.is_set():
                    k += 1
                    try:
                        kind = k % 4
                        if kind == 0:
                            r, want = fn(tid, k), tid + k
                        elif kind == 1:
                            r, want = fn(tid, k, lambda a: a * 2), tid * 2 + k
                        elif kind == 2:
                            r, want = fn.call_async(tid, k).result(30), tid + k
                        else:
                            r, want = w.eval(f"{tid} * {k}"), tid * k
                        if r != want:
                            errors.append((tid, k, r, want))
                            return
                        with lock:
                            ok += 1
                        calls[tid] += 1
                    except EnvironmentClosed:
                        with lock:
                            closed += 1
                        if not w.running:
                            # Closed: every later call fails the same way.
                            try:
                                fn(1, 2)
                                errors.append("call after close succeeded")
                            except EnvironmentClosed:
                                pass
                            return
                    except BaseException as e:
                        errors.append(f"{type(e).__name__}: {e}")
                        return

            threads = [threading.Thread(target=caller, args=(t,)) for t in range(4)]
            for t in threads:
                t.start()
            # Every caller is calling the worker when it closes ...
            end = time.monotonic() + 60
            while not all(calls) and not errors and time.monotonic() < end:
                time.sleep(0.001)
            if not all(calls):
                errors.append(f"round {round}: no calls for 60 s: {calls}")
            w.close()
            # ... and each one ends on its own: its next call fails with
            # EnvironmentClosed (stop only ends a caller that never saw it).
            for t in threads:
                t.join(60)
            stop.set()
            if any(t.is_alive() for t in threads):
                errors.append("a thread hung")
                break
        print("errors", errors)
        print("ok", ok > 0, "closed", closed > 0)
        print("main", node.eval("40 + 2"))
        """,
        timeout=120,
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout == "errors []\nok True closed True\nmain 42\n", proc.report


def test_many_workers_created_and_closed_from_threads(run_python):
    proc = run_python(
        """
        import threading
        import pymport_py as node

        errors = []
        def churn(tid):
            try:
                for i in range(5):
                    with node.Worker() as w:
                        assert w.eval(f"{tid} * 100 + {i}") == tid * 100 + i
            except BaseException as e:
                errors.append(repr(e))

        threads = [threading.Thread(target=churn, args=(t,)) for t in range(4)]
        for t in threads: t.start()
        for t in threads: t.join(60)
        print("alive", sum(t.is_alive() for t in threads), "errors", errors)
        """,
        timeout=120,
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout == "alive 0 errors []\n", proc.report


def test_open_workers_at_interpreter_exit(run_python):
    proc = run_python(
        """
        import pymport_py as node
        w = node.Worker()
        w.eval("setInterval(() => {}, 1000)")
        f = w.eval("(x) => x")
        print(f("bye"))
        """,
        timeout=60,
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout == "bye\n", proc.report


def test_concurrent_close_calls_join_the_loop_thread_once(run_python):
    # Each close() read loop_thread_started before letting go of the GIL and cleared it after
    # taking it back: two at once both joined the same thread (undefined: a crash or a hang).
    proc = run_python(
        """
        import threading
        import pymport_py
        rounds, closers = 30, 6
        for _ in range(rounds):
            w = pymport_py.Worker()
            w.eval("setInterval(() => {}, 1000); 1")
            barrier = threading.Barrier(closers)
            errors = []
            def close():
                barrier.wait()
                try:
                    w.close()
                except BaseException as e:
                    errors.append(e)
            threads = [threading.Thread(target=close) for _ in range(closers)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert not errors and not w.running, errors
        print("closed", rounds, "workers,", closers, "threads each")
        """, timeout=120)
    assert proc.returncode == 0, proc.report
    assert proc.stdout == "closed 30 workers, 6 threads each\n", proc.report


def test_a_worker_whose_stack_size_is_too_small_fails_without_breaking_later_ones(run_python):
    proc = run_python(
        """
        import pymport_py
        try:
            pymport_py.Worker(["--stack-size=10"])
        except RuntimeError as e:
            print("RangeError" in str(e))
        w = pymport_py.Worker()
        print(w.eval("1 + 1"), pymport_py.eval("2 + 2"))
        w.close()
        """
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout == "True\n2 4\n", proc.report
