"""Stopping Node: interpreter exit, process.exit, shutdown from another thread,
repeated restarts (DESIGN.md §3). Each test runs a fresh interpreter."""



def test_exit_with_pending_timers_keeps_exit_code(run_python):
    proc = run_python(
        """
        import sys, pymport_py
        pymport_py.eval("setInterval(() => {}, 1000); setTimeout(() => {}, 100000)")
        sys.exit(7)
        """
    )
    assert proc.returncode == 7, proc.report
    assert proc.stderr == "", proc.report


def test_exit_normally_with_live_proxies_and_callbacks(run_python):
    proc = run_python(
        """
        import pymport_py
        obj = pymport_py.eval("({a: 1})")
        fs = pymport_py.require("fs")
        cb = lambda: 1
        pymport_py.eval("(f) => { globalThis.cb = f; setInterval(f, 5); }")(cb)
        mv = memoryview(pymport_py.eval("Buffer.alloc(8)"))
        print("done")
        """
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout == "done\n", proc.report
    assert proc.stderr == "", proc.report


def test_output_just_before_exit_is_not_lost(run_python):
    proc = run_python(
        """
        import sys, pymport_py
        print("py first")
        pymport_py.eval("console.log('js second'); process.stdout.write('no newline')")
        pymport_py.eval("console.error('to stderr')")
        sys.exit(0)
        """
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout == "py first\njs second\nno newline", proc.report
    assert proc.stderr == "to stderr\n", proc.report


def test_output_from_timer_before_exit_is_not_lost(run_python):
    proc = run_python(
        """
        import threading, pymport_py
        done = threading.Event()
        pymport_py.eval("(cb) => setTimeout(() => { console.log('from timer'); cb(); }, 10)")(done.set)
        assert done.wait(30)
        """
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout == "from timer\n", proc.report


def test_atexit_handlers_registered_later_can_still_use_js(run_python):
    proc = run_python(
        """
        import atexit, pymport_py
        pymport_py.eval("0")
        atexit.register(lambda: print(pymport_py.eval("'atexit ' + (40 + 2)")))
        """
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout == "atexit 42\n", proc.report


def test_exit_listeners_run_when_python_exits_as_when_node_exits(run_python):
    # Packages clean up in process.on('exit') (puppeteer closes its browser there).
    proc = run_python(
        """
        import pymport_py
        pymport_py.eval("process.exitCode = 3; process.on('exit', (code) => console.log('main exit', code))")
        w = pymport_py.Worker()
        w.eval("process.on('exit', (code) => console.log('worker exit', code))")
        print("end of script")
        """
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout.splitlines() == ["end of script", "main exit 3", "worker exit 0"], proc.report


def test_exit_listeners_run_at_shutdown_and_close_once_each(run_python):
    proc = run_python(
        """
        import pymport_py
        with pymport_py.Worker() as w:
            w.eval("process.on('exit', () => console.log('worker exit'))")
        pymport_py.eval("process.on('exit', () => console.log('main exit'))")
        pymport_py.shutdown()
        print("after shutdown")
        try:
            pymport_py.eval("process.on('exit', () => console.log('exit after process.exit')); process.exit(0)")
        except SystemExit:
            print("process.exit")
        pymport_py.shutdown()  # 'exit' was emitted by process.exit already
        """
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout.splitlines() == [
        "worker exit", "main exit", "after shutdown", "exit after process.exit", "process.exit",
    ], proc.report


def test_exit_listener_that_throws_or_hangs_does_not_stop_the_shutdown(run_python):
    proc = run_python(
        """
        import sys, pymport_py
        sys.unraisablehook = lambda u: print("reported:", u.exc_value)
        pymport_py.eval("process.on('exit', () => { throw new Error('in an exit listener') })")
        pymport_py.shutdown()
        print("running:", pymport_py.running())
        w = pymport_py.Worker()
        w.eval("process.on('exit', () => { for (;;) {} })")
        w.close()  # after 10 s, stopped anyway
        print("closed:", not w.running)
        """, timeout=120,
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout.splitlines() == [
        "reported: Error: in an exit listener", "running: False", "closed: True"], proc.report


def test_uncaught_process_exit_sets_exit_code(run_python):
    proc = run_python(
        """
        import pymport_py
        print("before")
        pymport_py.eval("console.log('js before'); process.exit(5)")
        print("not reached")
        """
    )
    assert proc.returncode == 5, proc.report
    assert proc.stdout == "before\njs before\n", proc.report


def test_process_exit_is_a_catchable_system_exit(run_python):
    proc = run_python(
        """
        import pymport_py
        try:
            pymport_py.eval("process.exit(6)")
        except SystemExit as e:
            print("caught", type(e).__name__, e.code)
        print(pymport_py.eval("1 + 1"))
        """
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout == "caught ProcessExit 6\n2\n", proc.report


def test_shutdown_from_another_thread_while_main_thread_is_in_a_js_callback(run_python):
    proc = run_python(
        """
        import threading, pymport_py
        entered = threading.Event()
        release = threading.Event()
        stopped = threading.Event()

        def callback():
            entered.set()
            release.wait(30)
            return 1

        def stopper():
            assert entered.wait(30)
            t = threading.Thread(target=lambda: (pymport_py.shutdown(), stopped.set()))
            t.start()
            release.set()
            t.join(30)

        f = pymport_py.eval("(cb) => cb() + 1")
        s = threading.Thread(target=stopper)
        s.start()
        try:
            outcome = f(callback)
        except pymport_py.EnvironmentClosed as e:
            outcome = "closed"
        s.join(30)
        print(outcome in (2, "closed"), outcome)
        print(stopped.is_set(), pymport_py.running())
        print(pymport_py.eval("'new env'"))
        """
    )
    assert proc.returncode == 0, proc.report
    lines = proc.stdout.splitlines()
    assert len(lines) == 3, proc.report
    assert lines[0].startswith("True "), proc.report
    assert lines[1:] == ["True False", "new env"], proc.report


def test_shutdown_from_another_thread_while_main_thread_waits_for_a_timer(run_python):
    proc = run_python(
        """
        import threading, pymport_py
        fired = threading.Event()
        pymport_py.eval("(cb) => { setTimeout(cb, 100000); }")(fired.set)
        t = threading.Thread(target=pymport_py.shutdown)
        t.start()
        t.join(30)
        print(t.is_alive(), pymport_py.running(), fired.is_set())
        """
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout == "False False False\n", proc.report


def test_restart_three_times(run_python):
    proc = run_python(
        """
        import pymport_py
        for i in range(3):
            pymport_py.start()
            assert pymport_py.running()
            assert pymport_py.eval("typeof restartMarker") == "undefined"
            pymport_py.eval(f"globalThis.restartMarker = {i}; setTimeout(() => {{}}, 100000)")
            assert pymport_py.require("path").basename("/a/b") == "b"
            assert pymport_py.eval("restartMarker") == i
            pymport_py.shutdown()
            assert not pymport_py.running()
            print("cycle", i)
        """
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout.splitlines() == ["cycle 0", "cycle 1", "cycle 2"], proc.report


def test_lazy_restarts_after_shutdown(run_python):
    proc = run_python(
        """
        import pymport_py
        values = []
        for i in range(3):
            values.append(pymport_py.eval(f"{i} * 10"))
            pymport_py.shutdown()
        print(values)
        """
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout == "[0, 10, 20]\n", proc.report


def test_old_timers_do_not_fire_after_restart(run_python):
    # A timer due before the new environment's timer, pending at shutdown: it
    # must never fire. Firing before shutdown() stopped the loop is allowed (a
    # busy machine can take longer than its delay to get there) but does not
    # test anything: then the test tries again with a longer delay.
    proc = run_python(
        """
        import threading, pymport_py
        restarted = False
        fired_old = []
        later = "(cb, ms) => { setTimeout(cb, ms); }"
        for ms in (50, 200, 800, 3200):
            fired_old.clear()
            pymport_py.eval(later)(lambda: fired_old.append("after" if restarted else "before"), ms)
            pymport_py.shutdown()
            if not fired_old:
                break       # it was pending when the environment stopped
        restarted = True
        done = threading.Event()
        pymport_py.eval(later)(done.set, 4 * ms)
        assert done.wait(60)
        print(fired_old)
        """
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout == "[]\n", proc.report


def test_shutdown_after_a_result_that_timed_out_fails_its_future(run_python):
    # result(timeout) polls the future in slices; no slice may leave the future's lock
    # held (Python 3.12+ keeps it when Python code runs with an exception set), or the
    # teardown, which fails the pending future, waits for that lock forever.
    proc = run_python(
        """
        import pymport_py
        never = pymport_py.eval("new Promise(() => {})")
        for timeout in (0, 0.01, 0.12):
            try:
                never.result(timeout=timeout)
            except TimeoutError as e:
                print(e)
        future = pymport_py.eval("() => new Promise(() => {})").call_async()
        pymport_py.shutdown()
        print(type(future.exception(timeout=5)).__name__)
        """, timeout=30)
    assert proc.returncode == 0, proc.report
    assert proc.stdout.splitlines() == ["the JavaScript Promise did not settle in time"] * 3 + [
        "EnvironmentClosed"], proc.report


# Dropping or closing a Worker on a thread that cannot wait for its loop thread
# (one inside a call from its JavaScript, its loop thread, a Node worker_thread
# of it): the stop happens, the join is left for later, and nothing crashes.

def test_last_reference_to_a_worker_dropped_inside_a_call_from_its_js(run_python):
    proc = run_python(
        """
        import gc, pymport_py
        holder = [pymport_py.Worker()]
        call = holder[0].eval("(f) => f()")
        try:
            call(lambda: holder.clear())
        except pymport_py.EnvironmentClosed as e:
            print("closed:", e)
        del call
        gc.collect()
        print(pymport_py.eval("1 + 1"))
        """,
        timeout=60,
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout == "closed: the Node environment is shut down\n2\n", proc.report
    assert proc.stderr == "", proc.report


def test_last_reference_to_a_worker_dropped_in_a_timer_on_its_loop_thread(run_python):
    proc = run_python(
        """
        import threading, pymport_py
        holder = [pymport_py.Worker()]
        dropped = threading.Event()
        def drop():
            holder.clear()
            dropped.set()
        holder[0].eval("(f) => { setTimeout(f, 0); }")(drop)
        assert dropped.wait(30)
        w = pymport_py.Worker()           # joins the stopped one
        print(w.eval("6 * 7"))
        w.close()
        """,
        timeout=60,
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout == "42\n", proc.report
    assert proc.stderr == "", proc.report


def test_js_holding_the_last_reference_to_its_worker_when_process_exit_stops_it(run_python):
    proc = run_python(
        """
        import gc, threading, weakref, pymport_py
        w = pymport_py.Worker()
        gone = threading.Event()
        watch = weakref.ref(w, lambda ref: gone.set())
        w.eval("(o) => { globalThis.keep = o; setTimeout(() => process.exit(3), 20); }")(w)
        del w
        gc.collect()
        print(gone.wait(60))    # the stop let go of the Worker that JS held
        print(pymport_py.eval("1 + 1"))
        """,
        timeout=90,
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout == "True\n2\n", proc.report
    assert proc.stderr == "", proc.report


WORKER_THREAD_CALLS = """
import sys, pymport_py
def run_on_a_worker_thread(env, python_expression):
    sys.modules["__main__"].env = env
    return env.eval('''(expr) => new Promise((resolve, reject) => {
      const { Worker } = require('worker_threads');
      const t = new Worker(`
        const { parentPort, workerData } = require('worker_threads');
        parentPort.postMessage('started');
        parentPort.postMessage(require('pymport').pyval(workerData).toJS());
      `, { eval: true, workerData: expr });
      t.on('message', (m) => { if (m !== 'started') resolve(m); else globalThis.started = true; });
      t.on('error', reject);
    })''')(python_expression)
"""


def test_close_called_on_a_worker_thread_of_that_worker(run_python):
    proc = run_python(
        WORKER_THREAD_CALLS
        + """
w = pymport_py.Worker()
result = run_on_a_worker_thread(w, '__import__("__main__").env.close() or "closed"')
try:
    print(result.result(30))
except pymport_py.EnvironmentClosed:
    print("closed before the message")
print(w.running, pymport_py.eval("1 + 1"))
""",
        timeout=60,
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout == "closed before the message\nFalse 2\n", proc.report


def test_shutdown_while_a_worker_thread_waits_for_the_environments_lock(run_python):
    proc = run_python(
        WORKER_THREAD_CALLS
        + """
import threading, time
pymport_py.set_lock_wait_limit(None)
w = pymport_py.Worker()
entered, release, calling = threading.Event(), threading.Event(), threading.Event()
def hold():
    entered.set()
    release.wait()
def use_w():
    entered.wait()
    calling.set()
    try:
        return w.eval("'ran'")
    except pymport_py.EnvironmentClosed as e:
        return "EnvironmentClosed"
sys.modules["__main__"].use_w = use_w
run_on_a_worker_thread(w, '__import__("__main__").use_w()')
w.eval("(h) => { setTimeout(h, 0); }")(hold)   # the loop thread holds w's lock in hold()
assert entered.wait(30)
assert calling.wait(30)
time.sleep(0.5)         # the worker_thread most likely waits for the lock by now (the outcome is the same if not)
closer = threading.Thread(target=w.close)
closer.start()
for _ in range(3000):   # close() marks w stopped at once, then waits for the loop thread
    if not w.running:
        break
    time.sleep(0.01)
release.set()                                   # the loop thread goes on to tear w down
closer.join(30)
print(closer.is_alive(), w.running, pymport_py.eval("1 + 1"))
""",
        timeout=60,
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout == "False False 2\n", proc.report
