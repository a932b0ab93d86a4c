"""Ctrl-C, deadlines and the heap limit stop JavaScript with Python exceptions."""
import _thread
import contextlib
import math
import threading

import pytest

import pymport_py

WAIT = 60  # seconds: ends a wait that would otherwise hang; a passing test never reaches it


@pytest.fixture(autouse=True)
def _ctrl_c_raises():
    """Ctrl-C raises KeyboardInterrupt during these tests, even in a run that
    started with SIGINT ignored (a background job, nohup), where
    _thread.interrupt_main() would do nothing."""
    import signal

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _ctrl_c_once_js_spins(flag):
    """Another thread calls _thread.interrupt_main() as soon as JavaScript has
    set flag[0] (a bytearray shared with JS) to say it spins: the interrupt
    always finds the JS call running."""
    done = threading.Event()

    def interrupter():
        while not done.is_set():
            if flag[0]:
                _thread.interrupt_main()
                return
            done.wait(0.001)

    t = threading.Thread(target=interrupter)
    t.start()
    try:
        yield
    finally:
        done.set()
        t.join(WAIT)


def test_interrupt_main_stops_a_long_js_call():
    pymport_py.eval("1")
    flag = bytearray(1)
    spin = pymport_py.eval("(flag) => { Atomics.store(flag, 0, 1); while (true) {} }")
    with _ctrl_c_once_js_spins(flag), pymport_py.deadline(WAIT):  # a TimeoutError, not a hang, if lost
        with pytest.raises(KeyboardInterrupt):
            spin(flag)
    # the environment stays usable, and state from before is still there
    pymport_py.eval("globalThis.afterInterrupt = 41")
    assert pymport_py.eval("afterInterrupt + 1") == 42


def test_interrupt_reaches_js_below_python_callbacks():
    hits = []

    def middle(spin):
        hits.append("in python")
        spin()

    flag = bytearray(1)
    f = pymport_py.eval("(py, flag) => py(() => { Atomics.store(flag, 0, 1); while (true) {} })")
    with _ctrl_c_once_js_spins(flag), pymport_py.deadline(WAIT):
        with pytest.raises(KeyboardInterrupt):
            f(middle, flag)
    assert hits == ["in python"]
    assert pymport_py.eval("2 * 21") == 42


def test_deadline_raises_timeout_error_and_environment_survives():
    with pytest.raises(TimeoutError):
        with pymport_py.deadline(0.2):
            pymport_py.eval("while (true) {}")
    assert pymport_py.eval("'still here'") == "still here"


def test_deadline_does_not_affect_calls_that_finish():
    with pymport_py.deadline(10):
        assert pymport_py.eval("[1, 2, 3].length") == 3
    # and it is gone after the block
    assert pymport_py._get_deadline() is None


def test_nested_deadlines_keep_the_earliest():
    with pymport_py.deadline(0.2):
        with pymport_py.deadline(60):
            with pytest.raises(TimeoutError):
                pymport_py.eval("while (true) {}")


def test_deadline_in_another_thread_only_stops_that_thread():
    outcome = {}

    def worker():
        try:
            with pymport_py.deadline(0.2):
                pymport_py.eval("while (true) {}")
        except TimeoutError:
            outcome["thread"] = "TimeoutError"

    t = threading.Thread(target=worker)
    t.start()
    t.join(30)
    assert outcome == {"thread": "TimeoutError"}
    assert pymport_py.eval("1 + 1") == 2


def test_deadline_in_a_worker():
    with pymport_py.Worker() as w:
        with pytest.raises(TimeoutError):
            with pymport_py.deadline(0.2):
                w.eval("for (;;) {}")
        assert w.eval("3") == 3


def test_heap_limit_raises_memory_error_and_process_survives(run_python):
    proc = run_python(
        """
        import pymport_py
        pymport_py.start(max_heap_mb=64)
        try:
            pymport_py.eval("const a = []; while (true) a.push(new Array(100000).fill(1.5))")
        except MemoryError as e:
            print("MemoryError")
        print(pymport_py.eval("'alive ' + (6 * 7)"))
        """
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout.split() == ["MemoryError", "alive", "42"]


def test_heap_limit_in_a_worker(run_python):
    proc = run_python(
        """
        import pymport_py
        with pymport_py.Worker(max_heap_mb=64) as w:
            try:
                w.eval("const a = []; for (;;) a.push(new Array(100000).fill(0.5))")
            except MemoryError:
                print("MemoryError")
            print(w.eval("1 + 1"))
        print(pymport_py.eval("2 + 2"))
        """
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout.split() == ["MemoryError", "2", "4"]


def test_max_heap_mb_must_be_positive():
    with pytest.raises(ValueError):
        pymport_py.Worker(max_heap_mb=0)


def test_heap_limit_in_a_timer_stops_the_environment_not_the_process(run_python):
    proc = run_python(
        """
        import sys, threading, pymport_py
        seen = threading.Event()
        reports = []
        def hook(u):
            reports.append((type(u.exc_value).__name__, u.err_msg))
            seen.set()
        sys.unraisablehook = hook
        pymport_py.start(max_heap_mb=64)
        pymport_py.eval("setTimeout(() => { const a = []; for (;;) a.push(new Array(100000).fill(1.5)) }, 1)")
        print(seen.wait(30), reports)
        print(pymport_py.eval("'a new environment ' + (40 + 2)"))
        """
    )
    assert proc.returncode == 0, proc.report
    lines = proc.stdout.splitlines()
    assert lines[0] == "True [('MemoryError', 'Exception ignored in JavaScript (heap limit)')]"
    assert lines[1] == "a new environment 42"


def test_heap_limit_in_call_async_fails_only_the_future(run_python):
    proc = run_python(
        """
        import sys, pymport_py
        reports = []
        sys.unraisablehook = lambda u: reports.append(u)
        pymport_py.start(max_heap_mb=64)
        bomb = pymport_py.eval("() => { const a = []; for (;;) a.push(new Array(100000).fill(1.5)) }")
        print(type(bomb.call_async().exception(30)).__name__, len(reports))
        print(pymport_py.eval("'same environment'"), pymport_py.running())
        """
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout.splitlines() == ["MemoryError 0", "same environment True"]


def test_ctrl_c_just_before_a_call_starts_stops_it():
    # The signal arrives while the main thread is between Python and the JS
    # call (no bytecode runs in between here: every step is a C function), so
    # no Python code sees it first and no JS call is running yet to be stopped.
    import ctypes
    import functools
    import operator

    env = pymport_py._env()
    trip = functools.partial(ctypes.pythonapi.PyErr_SetInterruptEx, 2)  # SIGINT
    spin = functools.partial(env.eval, "while (true) {}")
    with pymport_py.deadline(10):  # a TimeoutError, not a hang, if it is lost
        with pytest.raises(KeyboardInterrupt):
            list(map(operator.call, [trip, spin]))
    assert pymport_py.eval("6 * 7") == 42


@pytest.mark.parametrize("seconds", [math.inf, 1e10, 1e300])
def test_a_deadline_too_far_to_count_in_nanoseconds_never_fires(seconds):
    # Past int64 nanoseconds (about 292 years) the deadline overflowed and fired at once.
    with pymport_py.deadline(seconds):
        assert pymport_py.eval("(() => { let s = 0; for (let i = 0; i < 1e5; i++) s += i; return s })()") == 4999950000
        with pymport_py.deadline(0.2):  # a nearer one inside still works
            with pytest.raises(TimeoutError):
                pymport_py.eval("while (true) {}")
        assert pymport_py.eval("1 + 1") == 2
    assert pymport_py._get_deadline() is None


def test_a_deadline_of_nan_or_not_a_number_is_refused():
    with pytest.raises(ValueError, match="nan"):
        with pymport_py.deadline(math.nan):
            pass
    with pytest.raises(TypeError):
        with pymport_py.deadline("1"):
            pass
    assert pymport_py._get_deadline() is None
    assert pymport_py.eval("1 + 1") == 2


def test_result_with_a_nan_timeout_is_refused_and_inf_waits(run_python):
    # A subprocess: result(timeout=nan) used to wait forever.
    proc = run_python(
        """
        import math, pymport_py
        never = pymport_py.eval("new Promise(() => {})")
        try:
            never.result(timeout=math.nan)
        except ValueError as e:
            print(e)
        later = pymport_py.eval("new Promise((r) => setTimeout(() => r(7), 50))")
        print(later.result(timeout=math.inf))
        """, timeout=30)
    assert proc.returncode == 0, proc.report
    assert proc.stdout.splitlines() == [
        "timeout must be a number of seconds or None, not nan", "7"], proc.report


@pytest.mark.parametrize("bad, error", [(0.5, TypeError), ("64", TypeError), (-1, ValueError),
                                        (2 ** 40, ValueError)])
def test_max_heap_mb_must_be_a_whole_positive_number(bad, error):
    # 0.5 used to become --max-old-space-size=0: no limit at all.
    with pytest.raises(error, match="max_heap_mb"):
        pymport_py.Worker(max_heap_mb=bad)
    with pytest.raises(error, match="max_heap_mb"):
        pymport_py.start(max_heap_mb=bad)
    assert pymport_py.eval("1 + 1") == 2


def test_lock_wait_limit_takes_inf_and_refuses_nan():
    try:
        pymport_py.set_lock_wait_limit(math.inf)  # overflowed into a negative limit before
        assert pymport_py.eval("1 + 1") == 2
        with pytest.raises(ValueError, match="nan"):
            pymport_py.set_lock_wait_limit(math.nan)
    finally:
        pymport_py.set_lock_wait_limit(10)


def test_many_short_deadlines_each_stop_their_call_while_another_thread_calls(run_python):
    # The watcher once took the deadline of a call that had just ended for
    # the next call's and marked it delivered: that next call then ran
    # forever. A stress of back-to-back deadlines, with another thread
    # starting and ending calls meanwhile.
    proc = run_python(
        """
        import threading, pymport_py as node
        spin = node.eval("() => { while (true) {} }")
        run = node.eval('''async (n) => {
            const f = require('pymport').pyval('lambda x: [x]');
            let s = 0;
            for (let i = 0; i < n; i++) s += (await f.callAsync(i)).toJS()[0];
            return s;
        }''')
        stop = threading.Event()
        def other():
            while not stop.is_set():
                run(3).result(60)
        t = threading.Thread(target=other)
        t.start()
        stopped = 0
        for i in range(3000):
            try:
                with node.deadline(0.001):
                    spin()
            except TimeoutError:
                stopped += 1
        stop.set()
        t.join(60)
        print(stopped, t.is_alive())
        """,
        timeout=240,
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout == "3000 False\n", proc.report
