"""Threads and the GIL (DESIGN.md §3): JavaScript runs without the GIL, callbacks
from JavaScript take it, calls into one environment from many Python threads are
serialised on its Node lock, callbacks re-enter JavaScript to any depth, and start
and shutdown are safe while other threads call in."""

import ctypes
import threading

import pytest

import pymport_py as node

JOIN_TIMEOUT = 30
WAIT = 60  # seconds: ends a wait that would otherwise hang; a passing test never reaches it

# (flag, started, capMs): calls started(), then spins, calling nothing (so taking
# no GIL), until flag[0] (a bytearray shared with Python) is no longer 0.
# Returns "flag", or "cap" when capMs ran out first.
SPIN_UNTIL_FLAG = """(flag, started, capMs) => {
    started();
    const end = Date.now() + capMs;
    while (Atomics.load(flag, 0) === 0) {
        if (Date.now() > end) return 'cap';
    }
    return 'flag';
}"""


def _gil_held():
    # PyDLL keeps the GIL for the call: 1 when the calling thread holds it.
    return ctypes.pythonapi.PyGILState_Check() == 1


def _join_all(threads):
    for t in threads:
        t.join(JOIN_TIMEOUT)
    stuck = [t.name for t in threads if t.is_alive()]
    assert not stuck, f"threads still running (deadlock?): {stuck}"


# ---- JavaScript runs without the GIL ----


def test_long_js_call_lets_another_python_thread_run():
    # The JS busy loop ends only when another Python thread writes to memory it
    # shares with JS (a bytearray is a Uint8Array over the same bytes); that
    # thread needs the GIL for the write, so the loop ends only if the JS call
    # runs without it.
    flag = bytearray(1)
    in_js = threading.Event()

    def release():
        if in_js.wait(WAIT):
            flag[0] = 1

    busy = node.eval(SPIN_UNTIL_FLAG)
    other = threading.Thread(target=release, name="releaser")
    other.start()
    try:
        assert busy(flag, in_js.set, WAIT * 1000) == "flag", "no other Python thread ran while JS ran"
    finally:
        in_js.set()
        other.join(JOIN_TIMEOUT)
    assert not other.is_alive()


def test_long_js_call_on_another_thread_lets_main_thread_run_python():
    # The JS call runs on a helper thread and spins until the main thread,
    # running Python (with the GIL), writes the shared flag.
    flag = bytearray(1)
    in_js = threading.Event()
    busy = node.eval(SPIN_UNTIL_FLAG)
    result = []
    t = threading.Thread(target=lambda: result.append(busy(flag, in_js.set, WAIT * 1000)))
    t.start()
    try:
        assert in_js.wait(WAIT)
        # Python work that needs the GIL, while the JS spins.
        assert sorted({i: str(i) for i in range(1000)}.items())[-1] == (999, "999")
    finally:
        flag[0] = 1  # what ends the JS loop (also when the test failed above)
        t.join(JOIN_TIMEOUT)
    assert not t.is_alive()
    assert result == ["flag"], "the main thread made no progress while JavaScript ran"


# ---- callbacks from JavaScript take the GIL ----


def test_callback_from_a_sync_call_runs_on_the_calling_thread_with_the_gil():
    seen = []

    def cb(x):
        seen.append((threading.get_ident(), _gil_held(), x))
        return x * 2

    call_each = node.eval("(f, n) => { const r = []; for (let i = 0; i < n; i++) r.push(f(i)); return r }")
    main = threading.get_ident()
    assert call_each(cb, 100).to_py() == [i * 2 for i in range(100)]
    assert seen == [(main, True, i) for i in range(100)]

    other = []
    t = threading.Thread(target=lambda: other.append((threading.get_ident(), call_each(cb, 3).to_py())))
    t.start()
    _join_all([t])
    ident, values = other[0]
    assert values == [0, 2, 4]
    assert [s[0] for s in seen[100:]] == [ident] * 3
    assert all(s[1] for s in seen[100:])


def test_timer_callback_runs_on_the_loop_thread_with_the_gil_while_python_threads_run():
    stop = threading.Event()
    counter = [0]

    def spin():
        while not stop.is_set():
            counter[0] += 1

    spinners = [threading.Thread(target=spin) for _ in range(2)]
    for t in spinners:
        t.start()
    fired = threading.Event()
    seen = {}

    def cb(value):
        seen["thread"] = threading.current_thread()
        seen["gil"] = _gil_held()
        # Some Python work that needs the GIL.
        seen["value"] = sorted({i: str(i) for i in range(value)}.items())[-1]
        fired.set()

    try:
        node.globalThis.setTimeout(cb, 10, 1000)
        assert fired.wait(WAIT)
    finally:
        stop.set()
        _join_all(spinners)
    assert seen["gil"] is True
    assert seen["value"] == (999, "999")
    assert seen["thread"] is not threading.main_thread()
    assert seen["thread"] not in spinners


# ---- many threads, one environment ----


def test_many_threads_calling_one_environment_are_serialised_and_correct():
    n_threads, n_calls = 8, 500
    fn = node.eval(
        """(() => {
             let inside = false;
             globalThis.__threadCalls = 0;
             return (tid, i, cb) => {
               if (inside) throw new Error('two threads ran JavaScript at once');
               inside = true;
               try {
                 globalThis.__threadCalls++;
                 // The callback takes the GIL: other Python threads run and try
                 // to enter JavaScript meanwhile.
                 return cb(tid * 100000 + i) + 1;
               } finally {
                 inside = false;
               }
             };
           })()"""
    )
    barrier = threading.Barrier(n_threads, timeout=10)
    errors = []
    done = [0] * n_threads

    def identity(x):
        return x

    def worker(tid):
        try:
            barrier.wait()
            for i in range(n_calls):
                r = fn(tid, i, identity)
                if r != tid * 100000 + i + 1:
                    errors.append((tid, i, r))
                    return
                done[tid] += 1
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append((tid, repr(e)))

    threads = [threading.Thread(target=worker, args=(t,), name=f"caller-{t}") for t in range(n_threads)]
    for t in threads:
        t.start()
    _join_all(threads)
    assert errors == []
    assert done == [n_calls] * n_threads
    assert node.eval("globalThis.__threadCalls") == n_threads * n_calls


def test_many_threads_mixing_calls_attributes_and_evals():
    obj = node.eval("({ items: [], push(x) { this.items.push(x); return this.items.length } })")
    n_threads, n_calls = 6, 200
    barrier = threading.Barrier(n_threads, timeout=10)
    errors = []

    def worker(tid):
        try:
            barrier.wait()
            for i in range(n_calls):
                obj.push(f"{tid}:{i}")
                assert node.eval(f"{tid} + {i}") == tid + i
                obj[f"k{tid}"] = i
                assert obj[f"k{tid}"] == i
        except BaseException as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
    for t in threads:
        t.start()
    _join_all(threads)
    assert errors == []
    items = obj["items"].to_py()
    assert len(items) == n_threads * n_calls
    assert sorted(items) == sorted(f"{t}:{i}" for t in range(n_threads) for i in range(n_calls))
    # Each thread's own pushes stayed in order.
    for t in range(n_threads):
        mine = [int(s.split(":")[1]) for s in items if s.startswith(f"{t}:")]
        assert mine == list(range(n_calls))


# ---- re-entrance ----


def _countdown_via_js():
    call = node.eval("(f, n) => f(n)")
    threads_seen = set()

    def countdown(n):
        threads_seen.add(threading.get_ident())
        return 0 if n == 0 else call(countdown, n - 1) + 1

    return call, countdown, threads_seen


def test_callback_calls_js_again_to_depth_50():
    call, countdown, threads_seen = _countdown_via_js()
    assert call(countdown, 50) == 50
    assert threads_seen == {threading.get_ident()}


def test_nested_callbacks_see_js_state_of_the_outer_call():
    # Each level of Python calls JS that calls Python: the JS stack of the
    # outer calls is live (same thread, re-entered), so a JS-side depth
    # counter reaches the full depth.
    step = node.eval(
        """(() => {
             let depth = 0, maxDepth = 0;
             const step = (f, n) => {
               depth++; maxDepth = Math.max(maxDepth, depth);
               try { return f(n) } finally { depth-- }
             };
             step.max = () => maxDepth;
             step.depth = () => depth;
             return step;
           })()"""
    )

    def down(n):
        return n if n == 0 else step(down, n - 1)

    assert step(down, 50) == 0
    assert step.max() == 51
    assert step.depth() == 0


def test_reentrant_callbacks_from_several_threads_at_once():
    call = node.eval("(f, n, tag) => f(n, tag)")
    n_threads, depth = 4, 50
    barrier = threading.Barrier(n_threads, timeout=10)
    results = {}
    errors = []

    def down(n, tag):
        if n == 0:
            return tag
        return call(down, n - 1, tag) + "."

    def worker(tid):
        try:
            barrier.wait()
            for _ in range(5):
                results[tid] = call(down, depth, f"t{tid}")
        except BaseException as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
    for t in threads:
        t.start()
    _join_all(threads)
    assert errors == []
    assert results == {t: f"t{t}" + "." * depth for t in range(n_threads)}


def test_timer_callback_on_the_loop_thread_reenters_js_directly():
    # The timer sets state, calls Python, which calls JS that changes that
    # state, and the timer reads it right after: the nested call ran
    # synchronously inside the timer, on the loop thread.
    node.eval("globalThis.__reenterState = 0; globalThis.__reenterLog = []")
    bump = node.eval("() => { globalThis.__reenterState += 1; return globalThis.__reenterState }")
    done = threading.Event()
    seen = {}

    def cb():
        seen["thread"] = threading.current_thread()
        seen["bump"] = bump()
        seen["eval"] = node.eval("globalThis.__reenterState * 10")
        return "from python"

    node.eval(
        """(cb, done) => setTimeout(() => {
             globalThis.__reenterState = 1;
             const r = cb();
             globalThis.__reenterLog.push(r, globalThis.__reenterState);
             done();
           }, 10)"""
    )(cb, done.set)
    assert done.wait(WAIT)
    assert seen["thread"] is not threading.main_thread()
    assert seen["bump"] == 2
    assert seen["eval"] == 20
    assert node.eval("globalThis.__reenterLog").to_py() == ["from python", 2]


def test_timer_callback_reenters_js_to_depth_50():
    call, countdown, threads_seen = _countdown_via_js()
    done = threading.Event()
    out = []
    node.globalThis.setTimeout(lambda: (out.append(call(countdown, 50)), done.set()), 1)
    assert done.wait(WAIT)
    assert out == [50]
    assert threading.get_ident() not in threads_seen and len(threads_seen) == 1


# ---- start and shutdown while threads call in ----


STRESS_MAIN = """
import sys, threading, time
import pymport_py as node
from pymport_py import EnvironmentClosed, ProcessExit

N_THREADS = 4
stop = threading.Event()
errors = []
ok = [0] * N_THREADS
closed = [0] * N_THREADS
lock = threading.Lock()

def check(tid, k, value, expected):
    if value != expected:
        errors.append(f"thread {tid} call {k}: {value!r} != {expected!r}")

def caller(tid):
    fn = None
    k = 0
    while not stop.is_set():
        k += 1
        try:
            kind = k % 5
            if fn is None:
                fn = node.eval("(a, b, cb) => cb ? cb(a) + b : a + b")
            if kind == 0:
                check(tid, k, node.eval(f"{tid} * 1000 + {k}"), tid * 1000 + k)
            elif kind == 1:
                check(tid, k, fn(tid, k), tid + k)
            elif kind == 2:
                check(tid, k, fn(tid, k, lambda a: a * 3), tid * 3 + k)
            elif kind == 3:
                check(tid, k, fn.call_async(tid, k).result(30), tid + k)
            else:
                check(tid, k, node.eval(f"Promise.resolve({k})").result(30), k)
            ok[tid] += 1
        except (EnvironmentClosed, ProcessExit):
            closed[tid] += 1
            fn = None
        except BaseException as e:
            errors.append(f"thread {tid} call {k}: {type(e).__name__}: {e}")
            return

def calls_succeed():
    # Waits until the callers made N_THREADS more successful calls (with the
    # environment as it now is), so that each stop meets calls in flight.
    target = sum(ok) + N_THREADS
    end = time.monotonic() + 60
    while sum(ok) < target and not errors:
        if time.monotonic() > end:
            errors.append(f"no successful calls for 60 s (ok {ok}, closed {closed})")
            break
        time.sleep(0.001)

threads = [threading.Thread(target=caller, args=(t,)) for t in range(N_THREADS)]
for t in threads:
    t.start()
restarts = 0
for i in range(RESTARTS):
    calls_succeed()
    STOP_IT
    time.sleep(0.02)            # lets callers meet the stopped environment (or restart it)
    try:
        node.start()
    except RuntimeError as e:   # a caller restarted it first (lazily)
        if "already running" not in str(e):
            errors.append(f"start: {e!r}")
    restarts += 1
calls_succeed()
stop.set()
for t in threads:
    t.join(60)
alive = [t for t in threads if t.is_alive()]
print("restarts", restarts)
print("alive", len(alive))
print("errors", errors)
print("ok", sum(ok) > 0)
print("final", node.eval("6 * 7"))
sys.stdout.flush()
"""


def test_calls_from_threads_while_main_environment_is_shut_down_and_restarted(run_python):
    code = STRESS_MAIN.replace("RESTARTS", "12").replace("STOP_IT", "node.shutdown()")
    proc = run_python(code, timeout=120)
    assert proc.returncode == 0, proc.report
    assert proc.stdout == "restarts 12\nalive 0\nerrors []\nok True\nfinal 42\n", proc.report


def test_calls_from_threads_while_js_stops_the_main_environment_with_process_exit(run_python):
    # process.exit from one thread stops the environment under the others.
    code = STRESS_MAIN.replace("RESTARTS", "12").replace(
        "STOP_IT",
        "try:\n        node.eval('process.exit(3)')\n    except (ProcessExit, EnvironmentClosed):\n        pass",
    )
    proc = run_python(code, timeout=120)
    assert proc.returncode == 0, proc.report
    assert proc.stdout == "restarts 12\nalive 0\nerrors []\nok True\nfinal 42\n", proc.report


def test_concurrent_start_calls_start_one_environment(run_python):
    proc = run_python(
        """
        import threading
        import pymport_py as node

        for round in range(5):
            node.shutdown()
            barrier = threading.Barrier(6, timeout=10)
            outcomes = []
            def starter():
                barrier.wait()
                try:
                    node.start()
                    outcomes.append("started")
                except RuntimeError as e:
                    outcomes.append("already" if "already running" in str(e) else repr(e))
            def user():
                barrier.wait()
                outcomes.append(node.eval("1 + 1"))
            threads = [threading.Thread(target=starter) for _ in range(4)]
            threads += [threading.Thread(target=user) for _ in range(2)]
            for t in threads: t.start()
            for t in threads: t.join(30)
            assert not any(t.is_alive() for t in threads)
            starts = outcomes.count("started")
            assert outcomes.count(2) == 2, outcomes
            assert starts <= 1 and starts + outcomes.count("already") == 4, outcomes
            node.eval("globalThis.marker = 1")
            assert node.eval("globalThis.marker") == 1
        print("ok")
        """,
        timeout=120,
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout == "ok\n", proc.report


# ---- os.fork ----


def test_fork_child_gets_environment_closed_mentioning_spawn(run_python):
    proc = run_python(
        """
        import os
        import pymport_py as node

        math = node.globalThis.Math
        assert node.eval("20 + 1") == 21
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            out = []
            for label, use in [
                ("eval", lambda: node.eval("1 + 1")),
                ("proxy", lambda: math.max(1, 2)),
                ("require", lambda: node.require("path")),
            ]:
                try:
                    use()
                    out.append(f"{label}: no error")
                except node.EnvironmentClosed as e:
                    out.append(f"{label}: EnvironmentClosed: {e}")
                except BaseException as e:
                    out.append(f"{label}: {type(e).__name__}: {e}")
            os.write(w, "\\n".join(out).encode())
            os.close(w)
            os._exit(0)
        os.close(w)
        chunks = []
        while True:
            b = os.read(r, 65536)
            if not b:
                break
            chunks.append(b)
        _, status = os.waitpid(pid, 0)
        print(b"".join(chunks).decode())
        print("child status", os.waitstatus_to_exitcode(status))
        print("parent", node.eval("20 + 22"), math.max(1, 5))
        """
    )
    assert proc.returncode == 0, proc.report
    lines = proc.stdout.splitlines()
    assert len(lines) == 5, proc.report
    for label, line in zip(["eval", "proxy", "require"], lines[:3]):
        assert line.startswith(f"{label}: EnvironmentClosed: "), proc.report
        assert "spawn" in line, proc.report
    assert lines[3:] == ["child status 0", "parent 42 5"], proc.report


def test_fork_child_exits_normally_after_node_used_its_thread_pool(run_python):
    # fs.readFile runs on libuv's thread pool, whose threads the child lacks.
    proc = run_python(
        """
        import os, sys
        import pymport_py as node

        assert node.eval("require('fs').promises.readFile('README.md', 'utf8')").result(30)
        pid = os.fork()
        if pid == 0:
            print("child ran", flush=True)
            sys.exit(7)
        _, status = os.waitpid(pid, 0)
        print("child", os.waitstatus_to_exitcode(status))
        print("parent", node.eval("1 + 1"))
        """,
        timeout=60,
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout == "child ran\nchild 7\nparent 2\n", proc.report


def test_fork_child_that_exits_normally_does_not_hang_or_crash(run_python):
    proc = run_python(
        """
        import os, sys
        import pymport_py as node

        node.eval("setInterval(() => {}, 1000)")
        pid = os.fork()
        if pid == 0:
            try:
                node.eval("1")
            except node.EnvironmentClosed:
                pass
            sys.exit(9)     # normal interpreter exit: atexit handlers run
        _, status = os.waitpid(pid, 0)
        print("child", os.waitstatus_to_exitcode(status))
        print("parent", node.eval("1 + 1"))
        """,
        timeout=60,
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout == "child 9\nparent 2\n", proc.report


def test_fork_child_can_drop_the_proxies_it_inherited(run_python):
    # A child's proxies used to release their JS references through the parent's isolate,
    # which has none of its threads in the child: a crash at `del` or at exit.
    proc = run_python(
        """
        import gc, os, sys
        import pymport_py as node

        objs = [node.eval("({n: %d})" % i) for i in range(200)]
        fns = [node.eval("() => 1") for _ in range(50)]
        pid = os.fork()
        if pid == 0:
            del objs[:100]
            gc.collect()
            print("child dropped", flush=True)
            sys.exit(5)     # the rest go at exit
        _, status = os.waitpid(pid, 0)
        print("child", os.waitstatus_to_exitcode(status))
        del objs, fns
        gc.collect()
        print("parent", node.eval("1 + 1"))
        """,
        timeout=60,
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout == "child dropped\nchild 5\nparent 2\n", proc.report


SPAWN_SCRIPT = """
import multiprocessing as mp
import os
import pymport_py as node


def work(x):
    return node.eval(f"{x} * 2"), node.eval("process.pid"), os.getpid()


if __name__ == "__main__":
    assert node.eval("1") == 1                      # Node runs in the parent first
    with mp.get_context("spawn").Pool(2) as pool:
        results = pool.map(work, range(6))
    parent = os.getpid()
    print([r[0] for r in results])
    print(all(node_pid == py_pid != parent for _, node_pid, py_pid in results))
    print(node.eval("'parent ok'"))
"""


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_multiprocessing_pool_with_spawn_or_forkserver_uses_node_in_every_child(start_method, tmp_path, repo_root):
    import os
    import subprocess
    import sys

    script = tmp_path / "pool.py"
    script.write_text(SPAWN_SCRIPT.replace('"spawn"', repr(start_method)))
    env = dict(os.environ)
    env["PYTHONPATH"] = repo_root + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=repo_root, env=env, capture_output=True,
        text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    report = f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert proc.returncode == 0, report
    assert proc.stdout == "[0, 2, 4, 6, 8, 10]\nTrue\nparent ok\n", report


def test_callback_joining_a_thread_that_calls_the_same_environment_fails_clearly():
    # The case pymport deadlocks on: JS waits in a Python call that joins a
    # Python thread calling JS. The joined thread's call gives up with a clear
    # RuntimeError instead of waiting forever; JS then goes on.
    node.set_lock_wait_limit(0.3)
    try:
        outcome = []

        def callback():
            def other():
                try:
                    outcome.append(node.eval("'ran'"))
                except RuntimeError as e:
                    outcome.append(str(e))
            t = threading.Thread(target=other)
            t.start()
            t.join(30)
            return "joined"

        assert node.eval("(f) => f()")(callback) == "joined"
        assert len(outcome) == 1 and "inside a Python function called from JavaScript" in outcome[0]
    finally:
        node.set_lock_wait_limit(10)
    assert node.eval("1 + 1") == 2


def test_a_long_callback_with_the_limit_off_lets_others_wait():
    node.set_lock_wait_limit(None)
    try:
        results = []
        release = threading.Event()

        def callback():
            t = threading.Thread(target=lambda: results.append(node.eval("'after'")))
            t.start()
            release.wait(0.5)  # the other thread waits for the Node lock meanwhile
            return t

        t = node.eval("(f) => f()")(callback)
        t.join(30)
        assert results == ["after"]
    finally:
        node.set_lock_wait_limit(10)


def test_set_lock_wait_limit_rejects_nonsense():
    with pytest.raises(ValueError):
        node.set_lock_wait_limit(0)
    with pytest.raises(TypeError):
        node.set_lock_wait_limit("soon")


def test_deep_js_recursion_on_a_thread_with_a_small_stack_raises_range_error(run_python):
    proc = run_python(
        """
        import threading, pymport_py
        pymport_py.eval("1")
        out = []
        def deep():
            try:
                pymport_py.eval("function f(n) { return n === 0 ? 0 : 1 + f(n - 1); } f(1e6)")
            except pymport_py.JSRangeError as e:
                out.append(str(e).splitlines()[0])
            # the thread's JS still works afterwards, with Python called from JS
            out.append(pymport_py.eval("(f) => f(20)")(lambda n: n + 1))
        for size in (256 * 1024, 512 * 1024):
            threading.stack_size(size)
            t = threading.Thread(target=deep)
            t.start()
            t.join()
        print(out)
        """
    )
    assert proc.returncode == 0, proc.report
    line = "RangeError: Maximum call stack size exceeded"
    assert proc.stdout == f"{[line, 21, line, 21]}\n", proc.report


# ---- parked locks (docs/threading.md#parked-locks) ----
# A thread keeps its V8 lock of an environment parked between calls; the park
# goes when the thread ends, when the thread closes the environment, or with
# the environment's teardown. These run in a subprocess: a mistake there is a
# crash or a hang of the whole interpreter.

PARKS_CHECK = """
import threading, time, pymport_py as node
env = node._env()
def wait_for(pred, what):
    end = time.monotonic() + 30
    while not pred():
        if time.monotonic() > end:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.01)
"""


def run_parks_check(run_python, code, timeout):
    """Runs a PARKS_CHECK script, which prints "ok" at its end."""
    proc = run_python(code, timeout=timeout)
    assert proc.returncode == 0, proc.report
    assert "ok" in proc.stdout, proc.report


def test_threads_that_end_take_their_parked_locks_with_them(run_python):
    # The thread that makes a Worker parks its lock; each thread here ends
    # with its Worker still open, and its park goes on its way out.
    code = PARKS_CHECK + """
if env._parked_locks() == 0 and node.eval("1") == 1 and env._parked_locks() == 0:
    print("parks off")
    raise SystemExit(0)
during, workers = [], []
def worker():
    w = node.Worker()
    for i in range(200):
        assert w.eval(f"{i} + 1") == i + 1
    during.append(w._env._parked_locks())
    workers.append(w)
for round in range(10):
    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads: t.start()
    for t in threads: t.join()
for w in workers:
    wait_for(lambda: w._env._parked_locks() == 0, "the park of an ended thread to go")
    assert w.eval("2") == 2  # other threads take full locks
    w.close()
print("during", set(during), "main", env._parked_locks())
"""
    proc = run_python(code, timeout=180)
    assert proc.returncode == 0, proc.report
    if "parks off" in proc.stdout:
        pytest.skip("this V8 takes a full Locker for every call: no parks (docs/threading.md)")
    assert "during {1} main 1" in proc.stdout, proc.report


def test_thread_ending_while_js_holds_the_lock_leaves_its_park_to_the_teardown(run_python):
    # The Worker's loop thread runs a 400 ms timer callback when the thread
    # that made it ends: the park cannot be destroyed then (the thread would
    # wait), and is freed by the teardown instead. Calls go on afterwards;
    # close, shutdown and a new start (whose environments may reuse the freed
    # memory) work.
    code = PARKS_CHECK + """
made = []
def worker():
    w = node.Worker()
    assert w.eval("21 * 2") == 42
    w.eval("setTimeout(() => { const end = Date.now() + 400; while (Date.now() < end); }, 0)")
    made.append(w)
t = threading.Thread(target=worker); t.start(); t.join()
w = made[0]
time.sleep(0.5)
assert w.eval("2 * 2") == 4
w.close()
f = node.eval("x => x * 2")
assert f(2) == 4
node.shutdown()
node.start()
g = node.eval("x => x - 1")
results = []
def again():
    results.append(g(10))
ts = [threading.Thread(target=again) for _ in range(4)]
for t in ts: t.start()
for t in ts: t.join()
assert results == [9] * 4, results
print("ok")
"""
    run_parks_check(run_python, code, timeout=120)


def test_workers_closed_and_left_open_by_many_threads(run_python):
    # Each thread uses more environments than it keeps parks for (8), closes
    # some (its park goes first) and leaves others to the interpreter's exit
    # (the teardown forgets the parks of threads still alive or gone).
    code = PARKS_CHECK + """
errors = []
kept = []
def worker(k):
    try:
        ws = [node.Worker() for _ in range(10)]
        for round in range(30):
            for i, w in enumerate(ws):
                assert w.eval(f"{i} + {round}") == i + round
        for w in ws[:6]:
            w.close()
        kept.extend(ws[6:])
    except Exception as e:
        errors.append(repr(e))
threads = [threading.Thread(target=worker, args=(k,)) for k in range(3)]
for t in threads: t.start()
for t in threads: t.join()
assert not errors, errors
assert all(w.eval("1") == 1 for w in kept)
# the main thread calls the kept ones too, then closes half of them
for w in kept[::2]:
    w.close()
print("ok", len(kept))
"""
    proc = run_python(code, timeout=240)
    assert proc.returncode == 0, proc.report
    assert "ok 12" in proc.stdout, proc.report


def test_parked_lock_survives_contention_and_reentrant_callbacks(run_python):
    # Threads hand the lock to each other at every call (their parks are
    # archived and restored by V8), with JS calling back into Python, which
    # calls JS again, and the loop thread's timers running between.
    code = PARKS_CHECK + """
node.eval("globalThis.ticks = 0; setInterval(() => ticks++, 1)")
nest = node.eval("(cb, n) => cb(n) + 1")
counter = node.eval("({ n: 0 })")
bump = node.eval("(c) => ++c.n")
def cb(n):
    return bump(counter) and n * 2
def worker():
    for i in range(300):
        assert nest(cb, i) == i * 2 + 1
# the main thread (which parks) calls along with seven threads that do not
threads = [threading.Thread(target=worker) for _ in range(7)]
for t in threads: t.start()
worker()
for t in threads: t.join()
assert counter.n == 8 * 300, counter.n
wait_for(lambda: node.eval("ticks") > 0, "timers to run")
print("ok", counter.n)
"""
    proc = run_python(code, timeout=180)
    assert proc.returncode == 0, proc.report
    assert "ok 2400" in proc.stdout, proc.report


# A thread's first park keeps its isolate entered as the thread's current one
# (docs/threading.md#parked-locks). When that environment goes away under the
# thread (process.exit, a close from another thread or from inside another
# environment's JS), the thread must go on using Node: its next entry into
# another isolate would otherwise read the disposed one.

def test_thread_goes_on_after_the_environment_it_keeps_entered_stops_under_it(run_python):
    code = PARKS_CHECK + """
import gc
# process.exit from a timer: the loop thread tears the environment down while
# the main thread keeps its isolate entered, between two calls.
for round in range(5):
    f = node.eval("x => x + 1")
    assert f(round) == round + 1
    node.eval("setTimeout(() => process.exit(0), 5); undefined")
    wait_for(lambda: not node.running(), "process.exit to stop the environment")
    w = node.Worker()  # another isolate, entered from a thread that kept a dead one
    assert w.eval("6 * 7") == 42
    w.close()
    assert node.eval("2 + 2") == 4  # a new default environment
# a thread keeps a Worker entered; the main thread closes that Worker
gate, done, out = threading.Event(), threading.Event(), []
holder = []
def keeper():
    w = node.Worker()
    assert w.eval("1 + 1") == 2
    kept = node.eval("({ a: 1 })")
    holder.append(w)
    gate.wait()
    del kept; gc.collect()  # its release enters the default environment's isolate first
    out.append(node.eval("'default ' + (40 + 2)"))  # into the default environment
    w2 = node.Worker()
    out.append(w2.eval("'new ' + 7"))
    w2.close()
    done.set()
t = threading.Thread(target=keeper); t.start()
wait_for(lambda: holder, "the thread's Worker")
holder[0].close()
gate.set(); t.join()
assert out == ["default 42", "new 7"], out
print("ok")
"""
    run_parks_check(run_python, code, timeout=180)


def test_closing_the_entered_environment_from_inside_another_ones_js(run_python):
    # The thread is inside JS of the default environment (a callback) when it
    # closes the Worker that its park keeps entered: the park cannot go then,
    # and the teardown moves the thread off the isolate; the callback's caller
    # and the thread's next calls go on.
    code = PARKS_CHECK + """
out = []
def keeper():
    w = node.Worker()
    assert w.eval("3") == 3
    def inside():
        assert w.eval("4") == 4  # the entered isolate, from inside another one
        w.close()
        return "closed"
    out.append(node.eval("(cb) => cb() + '!'")(inside))
    out.append(node.eval("'after'"))
    w2 = node.Worker()
    out.append(w2.eval("5 * 5"))
    w2.close()
    out.append(node.eval("'again'"))
t = threading.Thread(target=keeper); t.start(); t.join()
assert out == ["closed!", "after", 25, "again"], out
print("ok")
"""
    run_parks_check(run_python, code, timeout=120)


def test_environment_closed_while_its_parked_thread_enters_others(run_python):
    # Each round a thread makes a Worker (its park keeps it entered), then
    # calls the default environment as fast as it can while the main thread
    # closes the Worker: the close's teardown races the thread's entries into
    # the other isolate.
    code = PARKS_CHECK + """
f = node.eval("x => x + 1")
errors = []
for round in range(20):
    made, stop = [], threading.Event()
    def hammer():
        try:
            w = node.Worker()
            assert w.eval("1") == 1
            made.append(w)
            i = 0
            while not stop.is_set():
                assert f(i) == i + 1
                i += 1
            assert f(-1) == 0
        except Exception as e:
            errors.append(repr(e))
    t = threading.Thread(target=hammer); t.start()
    wait_for(lambda: made or errors, "the Worker")
    time.sleep(0.002 * (round % 5))
    if made:
        made[0].close()
    stop.set(); t.join()
assert not errors, errors
print("ok")
"""
    run_parks_check(run_python, code, timeout=240)


def test_environment_closed_while_its_parked_thread_is_inside_another(run_python):
    # The Worker's loop thread holds its lock (a 300 ms timer) when the thread
    # whose park keeps the Worker's isolate entered calls the default
    # environment: the entry cannot be popped then, and stays while the thread
    # is inside; from there the thread closes the Worker, whose teardown must
    # neither wait for the thread nor free the isolate it goes back to.
    code = PARKS_CHECK + """
out = []
busy = "setTimeout(() => { const end = Date.now() + 300; while (Date.now() < end); }, 0); 0"
def keeper():
    # the Worker stays open: inside the other environment, then back
    w = node.Worker()
    assert w.eval(busy) == 0
    time.sleep(0.05)
    out.append(node.eval("(cb) => cb() + 1")(lambda: w.eval("20") + 1))
    out.append(w.eval("'same'"))
    # closed from inside the other environment
    w.eval(busy); time.sleep(0.05)
    def inside():
        w.close()
        return 10
    out.append(node.eval("(cb) => cb() * 2")(inside))
    out.append(node.eval("'after'"))
    w2 = node.Worker()
    out.append(w2.eval("'new'"))
    w2.close()
    out.append(node.eval("'again'"))
t = threading.Thread(target=keeper); t.start(); t.join()
assert out == [22, "same", 20, "after", "new", "again"], out
print("ok")
"""
    run_parks_check(run_python, code, timeout=120)
