"""The main environment: start/stop, the event loop, microtasks, process.exit,
uncaught errors, stdio and module loading (DESIGN.md §3, §4)."""

import asyncio
import gc
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import pymport_py

WAIT = 10  # seconds: only a guard against hangs, never a performance limit


# --------------------------------------------------------------------------
# start / shutdown / running


def test_import_does_not_start_node_and_first_use_does(run_python):
    proc = run_python(
        """
        import pymport_py
        print(pymport_py.running())
        print(pymport_py.eval("6 * 7"))
        print(pymport_py.running())
        """
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout.splitlines() == ["False", "42", "True"], proc.report


def test_asyncio_is_imported_only_by_programs_that_use_it(run_python):
    # It costs a good part of a cold start; a program that never awaits never pays it.
    proc = run_python(
        """
        import sys, pymport_py
        pymport_py.eval("Promise.resolve(1)").result()
        pymport_py.eval("(f) => f()")(lambda: 1)
        print("asyncio" in sys.modules)
        import asyncio
        async def main():
            return await pymport_py.eval("Promise.resolve(2)")
        print(asyncio.run(main()))
        """
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout.splitlines() == ["False", "2"], proc.report


def test_lazy_start_after_shutdown():
    pymport_py.shutdown()
    assert pymport_py.running() is False
    assert pymport_py.require("path").basename("/x/y.txt") == "y.txt"
    assert pymport_py.running() is True


def test_start_explicitly():
    pymport_py.shutdown()
    assert pymport_py.start() is None
    assert pymport_py.running() is True
    assert pymport_py.eval("1 + 1") == 2


def test_start_twice_raises():
    pymport_py.shutdown()
    pymport_py.start()
    with pytest.raises(RuntimeError):
        pymport_py.start()
    # the failed second start leaves the first environment intact
    assert pymport_py.running() is True
    assert pymport_py.eval("2 + 3") == 5


def test_start_while_lazily_started_raises():
    pymport_py.eval("0")
    assert pymport_py.running()
    with pytest.raises(RuntimeError):
        pymport_py.start()


def test_shutdown_when_not_running_is_a_noop():
    pymport_py.shutdown()
    pymport_py.shutdown()
    assert pymport_py.running() is False


def test_shutdown_then_use_gives_a_new_environment():
    pymport_py.eval("globalThis.markerBeforeShutdown = 'old'")
    assert pymport_py.eval("markerBeforeShutdown") == "old"
    pymport_py.shutdown()
    assert pymport_py.running() is False
    assert pymport_py.eval("typeof markerBeforeShutdown") == "undefined"
    assert pymport_py.running() is True


def test_module_globalThis_follows_the_current_environment():
    pymport_py.eval("globalThis.markerForGlobalThis = 1")
    assert pymport_py.globalThis.markerForGlobalThis == 1
    pymport_py.shutdown()
    g = pymport_py.globalThis
    assert g.Math.max(1, 2) == 2
    assert "markerForGlobalThis" not in g


def test_objects_of_a_closed_environment_raise_environment_closed():
    assert issubclass(pymport_py.EnvironmentClosed, RuntimeError)
    obj = pymport_py.eval("({a: 1})")
    fn = pymport_py.eval("(x) => x")
    assert obj.a == 1
    pymport_py.shutdown()
    with pytest.raises(pymport_py.EnvironmentClosed):
        obj.a
    with pytest.raises(pymport_py.EnvironmentClosed):
        fn(1)
    # the module-level API works again (new environment)
    assert pymport_py.eval("'fresh'") == "fresh"
    # and old objects stay closed: they belong to the old environment
    with pytest.raises(pymport_py.EnvironmentClosed):
        obj.a


def test_start_with_node_argv(run_python):
    proc = run_python(
        """
        import pymport_py
        pymport_py.start(argv=["--expose-gc"])
        print(pymport_py.eval("typeof gc"))
        """
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout == "function\n", proc.report


def test_shutdown_from_another_thread():
    pymport_py.eval("globalThis.markerThreadShutdown = 1; setTimeout(() => {}, 100000)")
    errors = []

    def stop():
        try:
            pymport_py.shutdown()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    t = threading.Thread(target=stop)
    t.start()
    t.join(WAIT)
    assert not t.is_alive(), "shutdown() from another thread hangs"
    assert errors == []
    assert pymport_py.running() is False
    assert pymport_py.eval("typeof markerThreadShutdown") == "undefined"


# --------------------------------------------------------------------------
# event loop, timers, microtasks, threads


def test_timer_fires_while_python_waits():
    fired = []
    done = threading.Event()

    def on_timer(value):
        fired.append(value)
        done.set()

    pymport_py.eval("(cb) => { setTimeout(() => cb('tick'), 20) }")(on_timer)
    assert done.wait(WAIT), "setTimeout callback never ran"
    assert fired == ["tick"]


def test_interval_fires_repeatedly_and_stops_when_cleared():
    ticks = []
    third = threading.Event()
    later = threading.Event()

    def on_tick(n):
        ticks.append(n)
        if n == 3:
            third.set()

    pymport_py.eval(
        """(onTick, onLater) => {
            let n = 0;
            const id = setInterval(() => {
                n += 1;
                onTick(n);
                if (n === 3) {
                    clearInterval(id);
                    setTimeout(onLater, 60);
                }
            }, 5);
        }"""
    )(on_tick, later.set)
    assert third.wait(WAIT)
    assert later.wait(WAIT)
    assert ticks == [1, 2, 3]


def test_promise_settled_by_timer_runs_then_callbacks():
    got = []
    done = threading.Event()

    def on_value(v):
        got.append(v)
        done.set()

    pymport_py.eval(
        """(cb) => {
            new Promise((resolve) => setTimeout(() => resolve(21), 10))
                .then((v) => v * 2)
                .then(cb);
        }"""
    )(on_value)
    assert done.wait(WAIT)
    assert got == [42]


def _settle(env=pymport_py):
    """Blocks until the loop thread has taken a turn (ran what calls deferred)."""
    env.eval("new Promise((resolve) => setImmediate(resolve))").result(WAIT)


def test_microtasks_of_eval_run_when_the_turn_ends():
    # As under node: the synchronous code of the turn finishes first.
    with pymport_py.turn():
        pymport_py.eval("globalThis.mt = 0; Promise.resolve().then(() => { globalThis.mt = 1 }); undefined")
        assert pymport_py.eval("mt") == 0
    _settle()
    assert pymport_py.eval("mt") == 1


def test_microtasks_of_a_function_call_run_when_the_turn_ends():
    f = pymport_py.eval(
        "() => { globalThis.mt2 = 'pending'; Promise.resolve().then(() => { globalThis.mt2 = 'done' }); }"
    )
    with pymport_py.turn():
        f()
        assert pymport_py.globalThis.mt2 == "pending"
    _settle()
    assert pymport_py.globalThis.mt2 == "done"


def test_next_ticks_run_before_microtasks_when_the_turn_ends():
    log = pymport_py.eval("globalThis.log = []; log")
    pymport_py.eval("""() => {
      Promise.resolve().then(() => log.push('microtask'));
      process.nextTick(() => log.push('nextTick'));
      log.push('sync');
    }""")()
    _settle()
    assert log.to_py() == ["sync", "nextTick", "microtask"]


def test_async_function_chain_completes_when_the_turn_ends():
    pymport_py.eval(
        """(async () => {
            globalThis.asyncSteps = [];
            for (let i = 0; i < 3; i++) { await null; globalThis.asyncSteps.push(i); }
        })(); undefined"""
    )
    _settle()
    assert pymport_py.eval("asyncSteps.join(',')") == "0,1,2"


def test_an_event_emitted_on_next_tick_reaches_a_listener_of_the_next_statement():
    server = pymport_py.eval("new (require('events'))()")
    emit_soon = pymport_py.eval("(e) => { process.nextTick(() => e.emit('listening')); }")
    heard = threading.Event()
    emit_soon(server)
    server.on("listening", lambda: heard.set())
    assert heard.wait(WAIT)


def test_calls_from_another_python_thread():
    result = []

    def work():
        result.append(pymport_py.eval("40 + 2"))

    t = threading.Thread(target=work)
    t.start()
    t.join(WAIT)
    assert not t.is_alive()
    assert result == [42]


def test_concurrent_calls_from_many_threads_are_all_correct():
    f = pymport_py.eval("(x) => x + 1")
    n_threads, n_calls = 4, 500
    results = [None] * n_threads
    errors = []

    def work(k):
        try:
            results[k] = [f(k * n_calls + i) for i in range(n_calls)]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT * 3)
    assert not any(t.is_alive() for t in threads), "deadlock between Python threads calling JS"
    assert errors == []
    for k in range(n_threads):
        assert results[k] == [k * n_calls + i + 1 for i in range(n_calls)]


# --------------------------------------------------------------------------
# process.exit


def test_process_exit_raises_process_exit_with_code():
    assert issubclass(pymport_py.ProcessExit, SystemExit)
    pymport_py.eval("globalThis.markerBeforeExit = 1")
    with pytest.raises(pymport_py.ProcessExit) as info:
        pymport_py.eval("process.exit(3)")
    assert info.value.code == 3
    # the next call works, on a new environment
    assert pymport_py.eval("1 + 1") == 2
    assert pymport_py.eval("typeof markerBeforeExit") == "undefined"


def test_process_exit_uses_exit_code_property():
    with pytest.raises(pymport_py.ProcessExit) as info:
        pymport_py.eval("process.exitCode = 4; process.exit()")
    assert info.value.code == 4
    assert pymport_py.eval("'alive'") == "alive"


def test_process_exit_from_nested_function_call():
    def python_in_the_middle(exit_js):
        exit_js()
        return "not reached"

    f = pymport_py.eval("(py) => py(() => process.exit(9))")
    with pytest.raises(pymport_py.ProcessExit) as info:
        f(python_in_the_middle)
    assert info.value.code == 9
    assert pymport_py.eval("3 * 3") == 9


# --------------------------------------------------------------------------
# uncaught errors


def test_uncaught_error_in_timer_goes_to_unraisablehook(monkeypatch):
    seen = []
    reported = threading.Event()

    def hook(unraisable):
        seen.append(unraisable.exc_value)
        reported.set()

    monkeypatch.setattr(sys, "unraisablehook", hook)
    pymport_py.eval("globalThis.markerUncaught = 'kept'")
    pymport_py.eval("setTimeout(() => { throw new RangeError('boom in timer') }, 0); undefined")
    assert reported.wait(WAIT), "uncaught JS error was not reported to sys.unraisablehook"
    exc = seen[0]
    assert isinstance(exc, pymport_py.JSError)
    assert "boom in timer" in str(exc)
    # the environment keeps running: same globals, timers still work
    assert pymport_py.eval("markerUncaught") == "kept"
    again = threading.Event()
    pymport_py.eval("(cb) => setTimeout(cb, 0)")(again.set)
    assert again.wait(WAIT)


def test_uncaught_errors_are_reported_with_their_js_stack(run_python):
    # The default sys.unraisablehook prints the report's object: the thrown
    # JS error, shown as node shows an uncaught error (with its stack).
    proc = run_python("""
        import sys, threading
        import pymport_py
        reported = threading.Event()
        def hook(unraisable):
            sys.__unraisablehook__(unraisable)
            if "second" in str(unraisable.exc_value):
                reported.set()
        sys.unraisablehook = hook
        pymport_py.eval("function inTimer() { throw new Error('first') }; setTimeout(inTimer, 0)")
        pymport_py.eval("setTimeout(async function rejecting() { throw new TypeError('second') }, 5)")
        assert reported.wait(60)
        print("done")
    """)
    assert proc.returncode == 0, proc.report
    assert "Exception ignored in JavaScript (uncaught exception): Error: first" in proc.stderr, proc.report
    assert "at Timeout.inTimer" in proc.stderr, proc.report
    assert "Exception ignored in JavaScript (unhandled rejection): TypeError: second" in proc.stderr
    assert "at Timeout.rejecting" in proc.stderr, proc.report
    assert "pymport_py.JSTypeError: TypeError: second" in proc.stderr, proc.report


def test_unhandled_rejection_goes_to_unraisablehook(monkeypatch):
    seen = []
    reported = threading.Event()

    def hook(unraisable):
        seen.append(unraisable.exc_value)
        reported.set()

    monkeypatch.setattr(sys, "unraisablehook", hook)
    pymport_py.eval("globalThis.markerRejection = 'kept'")
    pymport_py.eval("Promise.reject(new Error('nobody waits for me')); undefined")
    assert reported.wait(WAIT), "unhandled rejection was not reported to sys.unraisablehook"
    assert any("nobody waits for me" in str(e) for e in seen)
    assert pymport_py.eval("markerRejection") == "kept"


NEVER_AWAITED = "a rejected JavaScript Promise that Python dropped without awaiting it"


@pytest.fixture
def reports(monkeypatch):
    """What reaches sys.unraisablehook, as (err_msg, exception) pairs."""
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: seen.append((u.err_msg, u.exc_value)))
    return seen


def _settle_loop():
    """Lets the loop thread run a few turns (timers of 0 ms, then a round trip)."""
    for _ in range(3):
        pymport_py.eval("new Promise((resolve) => setTimeout(resolve, 0))").result(WAIT)


def _wait_for(reports, text):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if any(text in str(e) for _, e in reports):
            return True
        _settle_loop()
    return False


def test_rejected_promise_dropped_unobserved_is_reported(reports):
    reject = pymport_py.eval("(x) => Promise.reject(new RangeError('never awaited ' + x))")
    p = reject(1)
    del p
    assert _wait_for(reports, "never awaited 1")
    msg, exc = next((m, e) for m, e in reports if "never awaited 1" in str(e))
    assert NEVER_AWAITED in msg
    assert isinstance(exc, pymport_py.JSRangeError)
    assert "at " in exc.stack  # its JS stack comes with it


def test_promise_dropped_before_it_rejects_is_reported_when_it_does(reports):
    later = pymport_py.eval(
        "(x) => new Promise((_, reject) => setTimeout(() => reject(new Error('late ' + x)), 20))")
    p = later(2)
    del p
    assert _wait_for(reports, "late 2")
    assert [m for m, e in reports if "late 2" in str(e)] == [
        f"Exception ignored in JavaScript ({NEVER_AWAITED})"]


def test_observed_or_fulfilled_promises_are_not_reported(reports):
    reject = pymport_py.eval("(x) => Promise.reject(new Error('observed ' + x))")
    awaited = reject("by result")
    with pytest.raises(pymport_py.JSError, match="observed by result"):
        awaited.result(WAIT)
    del awaited

    async def await_it():
        await reject("by await")

    with pytest.raises(pymport_py.JSError, match="observed by await"):
        asyncio.run(await_it())
    handed_back = reject("by JS")
    pymport_py.eval("(p) => { p.catch(() => {}); }")(handed_back)
    del handed_back
    fulfilled = pymport_py.eval("() => Promise.resolve(1)")()
    del fulfilled
    kept = reject("kept alive")  # still held: not reported
    gc.collect()
    _settle_loop()
    _settle_loop()
    assert [str(e) for _, e in reports] == []
    del kept
    assert _wait_for(reports, "observed kept alive")
    assert len(reports) == 1


# --------------------------------------------------------------------------
# stdio


def _fd_state():
    return [(fd, os.get_blocking(fd), os.get_inheritable(fd)) for fd in (0, 1, 2)]


def test_stdio_fds_stay_blocking_and_inheritable():
    pymport_py.shutdown()
    pymport_py.start()
    pymport_py.eval("console.log('x'); console.error('y'); process.stdout.write('z\\n')")
    assert _fd_state() == [(0, True, True), (1, True, True), (2, True, True)]


def test_stdio_pipes_stay_blocking_and_inheritable_in_fresh_process(run_python):
    proc = run_python(
        """
        import os, pymport_py
        pymport_py.start()
        pymport_py.eval(
            "console.log('out'); console.error('err');"
            "process.stdout.write('raw\\\\n'); process.stderr.write('rawerr\\\\n')"
        )
        print([(fd, os.get_blocking(fd), os.get_inheritable(fd)) for fd in (0, 1, 2)])
        """,
        stdin=subprocess.PIPE,
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout.splitlines() == [
        "out",
        "raw",
        "[(0, True, True), (1, True, True), (2, True, True)]",
    ], proc.report
    assert proc.stderr.splitlines() == ["err", "rawerr"], proc.report


def test_console_log_goes_to_sys_stdout(capsys):
    pymport_py.eval("console.log('hi')")
    out, err = capsys.readouterr()
    assert out == "hi\n"
    assert err == ""


def test_console_log_formats_like_node(capsys):
    pymport_py.eval("console.log('n=%d', 5, {a: 1}, [1, 'x'])")
    out, _ = capsys.readouterr()
    assert out == "n=5 { a: 1 } [ 1, 'x' ]\n"


def test_console_error_goes_to_sys_stderr(capsys):
    pymport_py.eval("console.error('oops')")
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "oops\n"


def test_process_stdout_write_goes_to_sys_stdout(capsys):
    pymport_py.eval("process.stdout.write('no newline')")
    out, _ = capsys.readouterr()
    assert out == "no newline"


def test_console_output_interleaves_with_print(capsys):
    print("py 1")
    pymport_py.eval("console.log('js 2')")
    print("py 3")
    out, _ = capsys.readouterr()
    assert out == "py 1\njs 2\npy 3\n"


def test_process_stdout_is_not_a_tty_when_python_output_is_captured(capsys):
    assert pymport_py.eval("[process.stdout.isTTY, process.stdout.columns]").to_py() == [False, None]
    assert pymport_py.eval("typeof process.stdout.getColorDepth()") == "number"


def test_process_stdout_is_a_tty_when_python_output_is_a_terminal(npm_dir):
    # Libraries colour and lay out output by process.stdout.isTTY and columns,
    # as chalk does: a terminal of Python's is a terminal for them too.
    import os
    import pty
    import select
    import sys

    code = ("import pymport_py as n\n"
            "print(n.eval('[process.stdout.isTTY, process.stdout.columns, process.stderr.isTTY]'))\n"
            "chalk = n.import_module('chalk').default\n"
            "print(repr(chalk.red('x')))\n")
    env = dict(os.environ, COLUMNS="101", LINES="33", TERM="xterm-256color")
    for name in ("FORCE_COLOR", "NO_COLOR", "CI", "TF_BUILD", "TEAMCITY_VERSION"):
        env.pop(name, None)  # chalk's own rules: CI without a known service means no colour
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(sys.executable, [sys.executable, "-c", code], env)
    out = b""
    while True:
        ready, _, _ = select.select([fd], [], [], 30)
        try:
            chunk = os.read(fd, 4096) if ready else b""
        except OSError:
            chunk = b""
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, out
    lines = out.decode().splitlines()
    assert lines[0] == "true,101,true"
    assert lines[1] == repr("\x1b[31mx\x1b[39m")


def test_console_log_from_timer_reaches_sys_stdout(capsys):
    done = threading.Event()
    pymport_py.eval("(cb) => setTimeout(() => { console.log('from timer'); cb(); }, 0)")(done.set)
    assert done.wait(WAIT)
    out, _ = capsys.readouterr()
    assert out == "from timer\n"


# --------------------------------------------------------------------------
# eval semantics


def test_eval_returns_last_expression_value():
    assert pymport_py.eval("1; 2; 3") == 3
    assert pymport_py.eval("this === globalThis") is True


def test_eval_top_level_declarations_persist():
    pymport_py.eval("var evalVarDecl = 1; let evalLetDecl = 2; const evalConstDecl = 3;")
    assert pymport_py.eval("evalVarDecl + evalLetDecl + evalConstDecl") == 6
    assert pymport_py.globalThis.evalVarDecl == 1


def test_require_is_available_inside_eval(monkeypatch, repo_root):
    monkeypatch.chdir(repo_root)
    assert pymport_py.eval("require('path').sep") == "/"
    assert pymport_py.eval("require('./tests/js/some-local-module.js').greet('eval')") == "Hello, eval!"


# --------------------------------------------------------------------------
# modules


def test_require_local_commonjs_module_relative_to_cwd(monkeypatch, js_dir, repo_root):
    monkeypatch.chdir(repo_root)
    m = pymport_py.require("./tests/js/some-local-module.js")
    assert m.greet("Ada") == "Hello, Ada!"
    assert m.filename == os.path.join(js_dir, "some-local-module.js")
    assert m.counter.increment() == m.counter.value
    g = m.Greeter.new("Hi")
    assert g.greet("Bob") == "Hi, Bob!"
    assert g.shout == "HI"
    assert m.Greeter.create("Yo").greet("Al") == "Yo, Al!"


def test_require_resolves_from_cwd_at_call_time_and_caches(monkeypatch, js_dir, repo_root):
    monkeypatch.chdir(repo_root)
    first = pymport_py.require("./tests/js/some-local-module.js")
    loads = pymport_py.eval("__someLocalModuleLoads")
    monkeypatch.chdir(js_dir)
    second = pymport_py.require("./some-local-module.js")
    assert second is first
    assert pymport_py.eval("__someLocalModuleLoads") == loads


def test_require_relative_fails_from_another_cwd(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(pymport_py.JSError) as info:
        pymport_py.require("./tests/js/some-local-module.js")
    assert info.value.value.code == "MODULE_NOT_FOUND"


def test_import_module_local_esm(monkeypatch, js_dir, repo_root):
    monkeypatch.chdir(repo_root)
    ns = pymport_py.import_module("./tests/js/esm-module.mjs")
    assert ns.default(21) == 42
    assert ns.name == "esm-module"
    assert ns.url == Path(js_dir, "esm-module.mjs").as_uri()
    assert ns.Point.new(3, 4).norm2() == 25
    # the async export returns a Promise; it settles when this thread's turn ends
    pymport_py.eval("(ns) => { ns.asyncDouble(21).then((v) => { globalThis.asyncDoubled = v }) }")(ns)
    _settle()
    assert pymport_py.eval("asyncDoubled") == 42


def test_import_module_same_namespace_twice(monkeypatch, repo_root):
    monkeypatch.chdir(repo_root)
    a = pymport_py.import_module("./tests/js/esm-module.mjs")
    b = pymport_py.import_module("./tests/js/esm-module.mjs")
    assert a is b


def test_import_module_builtin():
    path_ns = pymport_py.import_module("node:path")
    assert path_ns.basename("/a/b.txt") == "b.txt"
    assert path_ns.default.sep == "/"


def test_import_module_commonjs_file(run_python):
    # in a fresh process: a crash or hang here must not take the suite down
    proc = run_python(
        """
        import pymport_py
        ns = pymport_py.import_module("./tests/js/some-local-module.js")
        print(ns.default.greet("esm"))
        print(ns.default is pymport_py.require("./tests/js/some-local-module.js"))
        """,
        timeout=30,
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout.splitlines() == ["Hello, esm!", "True"], proc.report


def test_require_builtins():
    path = pymport_py.require("path")
    assert path.join("a", "b", "..", "c") == "a/c"
    fs = pymport_py.require("fs")
    assert fs.existsSync(__file__) is True
    assert "test_require_builtins" in fs.readFileSync(__file__, "utf8")
    assert pymport_py.require("node:path") is path


def test_console_output_reaches_a_stream_that_cannot_flush_once(run_python):
    # console.log flushes Python's stream; for a stream without flush() the fallback to the
    # raw fd wrote the text a second time.
    proc = run_python(
        """
        import sys, pymport_py
        class NoFlush:
            parts = []
            def write(self, text):
                self.parts.append(text)
                return len(text)
        real, sys.stdout = sys.stdout, NoFlush()
        pymport_py.eval("console.log('once')")
        sys.stdout = real
        print(NoFlush.parts, file=sys.stderr)
        """, timeout=60)
    assert proc.returncode == 0, proc.report
    assert proc.stdout == "", proc.report  # nothing on fd 1 behind the stream's back
    assert proc.stderr == "['once\\n']\n", proc.report
