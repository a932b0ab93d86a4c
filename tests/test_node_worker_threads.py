"""Node's own worker_threads inside pymport_py's environments reach Python."""
import builtins
import contextlib
import gc
import threading
import time
import weakref

import pymport_py

WAIT = 60  # seconds: ends a wait that would otherwise hang; a passing test never reaches it

WORKER = """(source) => new Promise((resolve, reject) => {
  const { Worker } = require('worker_threads');
  const w = new Worker(source, { eval: true });
  w.on('message', resolve);
  w.on('error', reject);
})"""


def run_in_worker(env, source):
    return env.eval(WORKER)(source).result(2 * WAIT)


@contextlib.contextmanager
def in_builtins(**objects):
    """Makes objects reachable from a worker_thread, as
    pyval('__import__("builtins").NAME'), for the with block."""
    for name, obj in objects.items():
        setattr(builtins, name, obj)
    try:
        yield
    finally:
        for name in objects:
            delattr(builtins, name)


def test_require_pymport_in_the_main_environment():
    assert pymport_py.eval("require('pymport').pyval('2 ** 10')") == 1024
    assert pymport_py.eval("require('pymport').version.pymport.major") == int(pymport_py.__version__.split(".")[0])


def test_worker_thread_evaluates_python():
    out = run_in_worker(pymport_py, """
        const { parentPort } = require('worker_threads');
        const { pyval } = require('pymport');
        parentPort.postMessage([pyval('6 * 7').toJS(), pyval('[1, "two", None]').toJS()]);
    """)
    assert out.to_py() == [42, [1, "two", None]]


def test_python_code_runs_on_the_worker_thread():
    out = run_in_worker(pymport_py, """
        const { parentPort, threadId } = require('worker_threads');
        const { pyval } = require('pymport');
        const name = pyval('__import__("threading").current_thread().name').toJS();
        const main = pyval('__import__("threading").main_thread().name').toJS();
        parentPort.postMessage([threadId, name !== main]);
    """)
    thread_id, elsewhere = out.to_py()
    assert thread_id >= 1 and elsewhere is True


def test_python_errors_reach_the_worker_as_js_errors():
    out = run_in_worker(pymport_py, """
        const { parentPort } = require('worker_threads');
        const { pyval } = require('pymport');
        try { pyval('1 / 0') } catch (e) { parentPort.postMessage([e.pythonValue.type, e.message]) }
    """)
    assert out.to_py() == ["ZeroDivisionError", "Python exception: division by zero"]


def test_nested_worker_threads_and_workers_of_a_python_worker():
    source = """
        const { Worker, parentPort } = require('worker_threads');
        const inner = new Worker(`
            require('worker_threads').parentPort.postMessage(require('pymport').pyval('"inner " + str(3 * 3)').toJS())
        `, { eval: true });
        inner.on('message', (m) => parentPort.postMessage(m));
    """
    assert run_in_worker(pymport_py, source) == "inner 9"
    with pymport_py.Worker() as w:
        assert run_in_worker(w, source) == "inner 9"


def test_many_worker_threads_at_once():
    results = pymport_py.eval("""() => Promise.all(Array.from({ length: 4 }, (_, i) => new Promise((resolve, reject) => {
        const { Worker } = require('worker_threads');
        const w = new Worker(`
            const { parentPort, workerData } = require('worker_threads');
            const { pyval } = require('pymport');
            let s = 0;
            for (let k = 0; k < 200; k++) s += pyval(String(workerData) + ' + ' + k);
            parentPort.postMessage(s);
        `, { eval: true, workerData: i });
        w.on('message', resolve);
        w.on('error', reject);
    })))""")().result(60)
    assert results.to_py() == [200 * i + sum(range(200)) for i in range(4)]


def test_terminating_a_worker_inside_a_python_call_does_not_crash():
    # The worker thread's Python call returns only once terminate() has been
    # called: the termination always meets it inside the call.
    entered, release = threading.Event(), threading.Event()

    def inside():
        entered.set()
        return release.wait(WAIT)

    with in_builtins(__pymport_inside__=inside):
        try:
            code = pymport_py.eval("""(untilInside, release) => new Promise((resolve, reject) => {
                const { Worker } = require('worker_threads');
                const w = new Worker(`
                    const { parentPort } = require('worker_threads');
                    const { pyval } = require('pymport');
                    parentPort.postMessage('started');
                    pyval('__import__("builtins").__pymport_inside__').call();
                    parentPort.postMessage('not reached');
                `, { eval: true });
                w.on('message', (m) => {
                    if (m !== 'started') return;
                    if (!untilInside()) return reject(new Error('the worker thread never called Python'));
                    const exited = w.terminate();  // the worker thread is inside inside()
                    release();
                    exited.then(resolve, reject);
                });
                w.on('error', reject);
            })""")(lambda: entered.wait(WAIT), release.set).result(2 * WAIT)
        finally:
            release.set()
    assert code == 1  # terminated
    assert pymport_py.eval("require('pymport').pyval('2 + 2')") == 4


def test_terminating_workers_that_call_python_in_a_loop():
    for _ in range(5):
        code = pymport_py.eval("""() => new Promise((resolve, reject) => {
            const { Worker } = require('worker_threads');
            const w = new Worker(`
                const { parentPort } = require('worker_threads');
                const { pyval } = require('pymport');
                for (let i = 0; ; i++) {
                    pyval('1');
                    if (i === 100) parentPort.postMessage('looping');
                }
            `, { eval: true });
            w.on('message', () => w.terminate().then(resolve, reject));  // it loops until then
            w.on('error', reject);
        })""")().result(2 * WAIT)
        assert code == 1  # terminated
    assert pymport_py.eval("1 + 1") == 2


def test_python_threads_and_worker_threads_share_python_concurrently():
    # Node worker_threads calling Python while Python threads call JS in the
    # main environment (which also calls back into Python): serialised by the
    # GIL and the Node locks, no deadlock, every result right.
    stop = threading.Event()
    errors = []
    counts = [0] * 3
    called = [threading.Event() for _ in range(3)]

    def py_caller(i):
        f = pymport_py.eval("(cb, x) => cb(x) + 1")
        k = 0
        while not stop.is_set():
            k += 1
            if f(lambda x: x * 2, k) != 2 * k + 1:
                errors.append((i, k))
                return
            counts[i] += 1
            called[i].set()

    def callers_called():
        # Halfway through its calls, each worker_thread waits until every
        # Python thread has made a call: their calls overlap for certain.
        return all(e.wait(WAIT) for e in called)

    threads = [threading.Thread(target=py_caller, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    try:
        with in_builtins(__pymport_callers_called__=callers_called):
            total = pymport_py.eval("""() => Promise.all(Array.from({ length: 3 }, (_, i) => new Promise((resolve, reject) => {
                const { Worker } = require('worker_threads');
                const w = new Worker(`
                    const { parentPort, workerData } = require('worker_threads');
                    const { pyval } = require('pymport');
                    const f = pyval('lambda a, b: a * b');
                    const callersCalled = pyval('__import__("builtins").__pymport_callers_called__');
                    let s = 0, met;
                    for (let k = 0; k < 300; k++) {
                        if (k === 150) met = callersCalled.call().toJS();
                        s += f.call(workerData + 1, k).toJS();
                    }
                    parentPort.postMessage([s, met]);
                `, { eval: true, workerData: i });
                w.on('message', resolve);
                w.on('error', reject);
            })))""")().result(2 * WAIT).to_py()
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert total == [[(i + 1) * sum(range(300)), True] for i in range(3)]
    assert errors == [] and all(c > 0 for c in counts)
    assert not any(t.is_alive() for t in threads)


def test_call_async_in_a_worker_thread_resolves_while_its_loop_runs():
    out = run_in_worker(pymport_py, """
        const { parentPort } = require('worker_threads');
        const { pymport } = require('pymport');
        // The Python call waits (60 s at most) for an event that only the
        // worker's sixth timer tick sets: True only if its loop ran meanwhile.
        const event = pymport('threading').get('Event').call();
        let ticks = 0;
        const timer = setInterval(() => { if (++ticks === 6) event.get('set').call(); }, 5);
        event.get('wait').callAsync(60).then(async (r) => {
            clearInterval(timer);
            const sum = await pymport('builtins').get('sum').callAsync([1, 2, 3]);
            parentPort.postMessage([r.toJS(), sum.toJS()]);
        });
    """)
    assert out.to_py() == [True, 6]


def test_a_pending_call_async_keeps_the_worker_thread_alive():
    # Nothing else is scheduled: the worker stays until the Promise settles,
    # as it would for one of Node's own async operations.
    out = run_in_worker(pymport_py, """
        const { parentPort } = require('worker_threads');
        const { pyval } = require('pymport');
        pyval('lambda: __import__("time").sleep(0.2) or "slept"').callAsync()
            .then((r) => parentPort.postMessage(r.toJS()));
    """)
    assert out == "slept"


def test_call_async_errors_reject_in_a_worker_thread():
    out = run_in_worker(pymport_py, """
        const { parentPort } = require('worker_threads');
        const { pyval } = require('pymport');
        pyval('lambda: 1 / 0').callAsync().catch((e) => parentPort.postMessage([e.pythonValue.type, e.message]));
    """)
    assert out.to_py() == ["ZeroDivisionError", "Python exception: division by zero"]


def test_python_coroutines_are_promises_in_a_worker_thread():
    out = run_in_worker(pymport_py, """
        const { parentPort } = require('worker_threads');
        const { pyval } = require('pymport');
        (async () => {
            const a = await pyval('__import__("asyncio").sleep(0.05, "x")');
            const f = pyval('__import__("asyncio").sleep');
            const b = await f.call(0.01, 'y');
            parentPort.postMessage([a.toJS(), b.toJS()]);
        })();
    """)
    assert out.to_py() == ["x", "y"]


def test_terminating_a_worker_thread_with_call_async_pending():
    # The Python calls wait until the worker is gone, then run to their end,
    # and what they return is let go with the Promises nobody settles.
    gate = threading.Event()
    finished, released = [], []

    class Result:
        pass

    def slow():
        gate.wait(WAIT)
        result = Result()
        weakref.finalize(result, released.append, 1)
        finished.append(1)
        return result

    with in_builtins(__pymport_slow__=slow):
        try:
            code = pymport_py.eval("""() => new Promise((resolve, reject) => {
                const { Worker } = require('worker_threads');
                const w = new Worker(`
                    const { parentPort } = require('worker_threads');
                    const { pyval } = require('pymport');
                    const f = pyval('__import__("builtins").__pymport_slow__');
                    for (let i = 0; i < 8; i++) f.callAsync();
                    parentPort.postMessage('started');
                `, { eval: true });
                w.on('message', () => w.terminate().then(resolve, reject));
                w.on('error', reject);
            })""")().result(2 * WAIT)
        finally:
            gate.set()  # the Python calls finish after the worker is gone
        end = time.monotonic() + WAIT
        while len(released) < 8 and time.monotonic() < end:
            gc.collect()
            time.sleep(0.01)
    assert code == 1
    assert (len(finished), len(released)) == (8, 8)
    assert pymport_py.eval("require('pymport').pyval('3 * 3')") == 9


def test_many_worker_threads_with_call_async():
    results = pymport_py.eval("""() => Promise.all(Array.from({ length: 4 }, (_, i) => new Promise((resolve, reject) => {
        const { Worker } = require('worker_threads');
        const w = new Worker(`
            const { parentPort, workerData } = require('worker_threads');
            const { pyval } = require('pymport');
            const f = pyval('lambda a, b: a * b');
            Promise.all(Array.from({ length: 50 }, (_, k) => f.callAsync(workerData, k)))
                .then((rs) => parentPort.postMessage(rs.reduce((s, r) => s + r.toJS(), 0)));
        `, { eval: true, workerData: i });
        w.on('message', resolve);
        w.on('error', reject);
    })))""")().result(60)
    assert results.to_py() == [i * sum(range(50)) for i in range(4)]


def test_worker_thread_objects_released_from_other_threads():
    # JSObjects of a worker_thread's environment, dropped by other Python
    # threads while the worker runs and after it ended: their references are
    # queued to the worker's own thread (or dropped with its environment).
    import random

    kept = []
    lock = threading.Lock()
    stop = threading.Event()

    def keep(obj):
        # a JS function given through require('pymport') is a js_function,
        # which holds the JSObject of the function
        assert type(obj).__name__ == "js_function"
        with lock:
            kept.append(obj)
        return len(kept)

    def dropper():
        while not stop.is_set():
            with lock:
                del kept[: len(kept) // 2]
            if random.random() < 0.05:
                gc.collect()
            time.sleep(0.0005)

    droppers = [threading.Thread(target=dropper) for _ in range(2)]
    for t in droppers:
        t.start()
    try:
        sums = pymport_py.eval("""(keep) => Promise.all(Array.from({ length: 3 }, () => new Promise((resolve, reject) => {
            const { Worker } = require('worker_threads');
            const w = new Worker(`
                const { parentPort } = require('worker_threads');
                const { pyval } = require('pymport');
                const keep = pyval('__import__("builtins").__pymport_keep__');
                let n = 0;
                const tick = () => {
                    // functions arrive in Python holding JSObjects of this environment
                    for (let i = 0; i < 200; i++) { keep.call(() => [i, String(i)]); n++; }
                    if (n < 2000) setImmediate(tick); else parentPort.postMessage(n);
                };
                tick();
            `, { eval: true });
            w.on('message', resolve);
            w.on('error', reject);
        })))""")
        with in_builtins(__pymport_keep__=keep):
            assert sums(keep).result(60).to_py() == [2000, 2000, 2000]
    finally:
        stop.set()
        for t in droppers:
            t.join(30)
    with lock:
        kept.clear()  # the workers have ended: these are dropped with their environments
    gc.collect()
    assert pymport_py.eval("1 + 1") == 2


def test_deep_recursion_through_both_languages_in_a_worker_names_its_error():
    out = run_in_worker(pymport_py, """
        const { parentPort } = require('worker_threads');
        const { pyval } = require('pymport');
        const call = pyval('lambda f, n: f(n)');
        function f(n) { return call.call(f, n + 1); }
        try { f(0) } catch (e) { parentPort.postMessage(String(e)) }
    """)
    assert "RecursionError" in out or "RangeError" in out, out


# worker_threads is made to pass pymport_py on to its workers when user code first
# reaches it (preload.js), not at every start: by an ES module that imports it, or by
# process.getBuiltinModule, before any require(). Fresh processes, where nothing did yet.

WORKER_REPORT = ("const { parentPort } = require('worker_threads');"
                 "parentPort.postMessage([require('pymport').pyval('6 * 7').toJS(), process.execPath]);")


def test_a_worker_made_by_an_es_module_first_reaches_python(run_python, tmp_path):
    module = tmp_path / "start.mjs"
    module.write_text(f"""
        import {{ Worker }} from 'node:worker_threads';
        export const run = () => new Promise((resolve, reject) => {{
          const w = new Worker({WORKER_REPORT!r}, {{ eval: true }});
          w.on('message', resolve);
          w.on('error', reject);
        }});
    """)
    proc = run_python(f"""
        import json, pymport_py
        answer, exec_path = pymport_py.import_module({str(module)!r}).run().result(60).to_py()
        print(json.dumps([answer, exec_path == pymport_py.eval("process.execPath")]))
    """)
    assert proc.returncode == 0, proc.report
    assert proc.stdout == "[42, true]\n", proc.report


def test_a_worker_made_through_get_builtin_module_first_reaches_python(run_python):
    proc = run_python(f"""
        import json, pymport_py
        if pymport_py.eval("typeof process.getBuiltinModule") == "undefined":  # Node 18
            get = "require('worker_threads')"
        else:
            get = "process.getBuiltinModule('node:worker_threads')"
        start = pymport_py.eval(f'''(source) => new Promise((resolve, reject) => {{{{
          const w = new ({{get}}.Worker)(source, {{{{ eval: true }}}});
          w.on('message', resolve);
          w.on('error', reject);
        }}}})''')
        answer, exec_path = start({WORKER_REPORT!r}).result(60).to_py()
        print(json.dumps([answer, exec_path == pymport_py.eval("process.execPath")]))
    """)
    assert proc.returncode == 0, proc.report
    assert proc.stdout == "[42, true]\n", proc.report
