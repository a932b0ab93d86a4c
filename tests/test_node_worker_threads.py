"""Node's own worker_threads inside pymport_py's environments reach Python."""
import time

import pymport_py

WORKER = """(source) => new Promise((resolve, reject) => {
  const { Worker } = require('worker_threads');
  const w = new Worker(source, { eval: true });
  w.on('message', resolve);
  w.on('error', reject);
})"""


def run_in_worker(env, source):
    return env.eval(WORKER)(source).result(30)


def test_require_pymport_in_the_main_environment():
    assert pymport_py.eval("require('pymport').pyval('2 ** 10')") == 1024
    assert pymport_py.eval("typeof require('pymport').version") == "string"


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
        try { pyval('1 / 0') } catch (e) { parentPort.postMessage([e.pythonType, e.message]) }
    """)
    assert out.to_py() == ["ZeroDivisionError", "ZeroDivisionError: division by zero"]


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
    code = pymport_py.eval("""() => new Promise((resolve, reject) => {
        const { Worker } = require('worker_threads');
        const w = new Worker(`
            const { parentPort } = require('worker_threads');
            const { pyval } = require('pymport');
            parentPort.postMessage('started');
            pyval('__import__("time").sleep(0.3) or 1');
            parentPort.postMessage('not reached');
        `, { eval: true });
        w.on('message', (m) => { if (m === 'started') setTimeout(() => w.terminate().then(resolve, reject), 50) });
        w.on('error', reject);
    })""")().result(30)
    assert code == 1  # terminated
    assert pymport_py.eval("require('pymport').pyval('2 + 2')") == 4


def test_terminating_workers_that_call_python_in_a_loop():
    for _ in range(5):
        code = pymport_py.eval("""() => new Promise((resolve) => {
            const { Worker } = require('worker_threads');
            const w = new Worker(`const { pyval } = require('pymport'); for (;;) pyval('1')`, { eval: true });
            setTimeout(() => w.terminate().then(resolve), 30);
        })""")().result(30)
        assert code in (0, 1)  # Node's exit code of a terminated worker (0 if it had not started)
    assert pymport_py.eval("1 + 1") == 2


def test_python_threads_and_worker_threads_share_python_concurrently():
    # Node worker_threads calling Python while Python threads call JS in the
    # main environment (which also calls back into Python): serialised by the
    # GIL and the Node locks, no deadlock, every result right.
    import threading

    stop = threading.Event()
    errors = []
    counts = [0] * 3

    def py_caller(i):
        f = pymport_py.eval("(cb, x) => cb(x) + 1")
        k = 0
        while not stop.is_set():
            k += 1
            if f(lambda x: x * 2, k) != 2 * k + 1:
                errors.append((i, k))
                return
            counts[i] += 1

    threads = [threading.Thread(target=py_caller, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    try:
        total = pymport_py.eval("""() => Promise.all(Array.from({ length: 3 }, (_, i) => new Promise((resolve, reject) => {
            const { Worker } = require('worker_threads');
            const w = new Worker(`
                const { parentPort, workerData } = require('worker_threads');
                const { pyval } = require('pymport');
                const f = pyval('lambda a, b: a * b');
                let s = 0;
                for (let k = 0; k < 300; k++) s += f.call(workerData + 1, k).toJS();
                parentPort.postMessage(s);
            `, { eval: true, workerData: i });
            w.on('message', resolve);
            w.on('error', reject);
        })))""")().result(60).to_py()
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert total == [(i + 1) * sum(range(300)) for i in range(3)]
    assert errors == [] and all(c > 0 for c in counts)
    assert not any(t.is_alive() for t in threads)


def test_call_async_in_a_worker_thread_resolves_while_its_loop_runs():
    out = run_in_worker(pymport_py, """
        const { parentPort } = require('worker_threads');
        const { pymport } = require('pymport');
        const time = pymport('time');
        let ticks = 0;
        const timer = setInterval(() => ticks++, 5);
        time.get('sleep').callAsync(0.2).then(async (r) => {
            clearInterval(timer);
            const sum = await pymport('builtins').get('sum').callAsync([1, 2, 3]);
            parentPort.postMessage([r.toJS(), sum.toJS(), ticks > 5]);
        });
    """)
    assert out.to_py() == [None, 6, True]


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
        pyval('lambda: 1 / 0').callAsync().catch((e) => parentPort.postMessage([e.pythonType, e.message]));
    """)
    assert out.to_py() == ["ZeroDivisionError", "ZeroDivisionError: division by zero"]


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
    started = time.monotonic()
    code = pymport_py.eval("""() => new Promise((resolve, reject) => {
        const { Worker } = require('worker_threads');
        const w = new Worker(`
            const { parentPort } = require('worker_threads');
            const { pyval } = require('pymport');
            const f = pyval('lambda: __import__("time").sleep(0.5) or 1');
            for (let i = 0; i < 8; i++) f.callAsync();
            parentPort.postMessage('started');
        `, { eval: true });
        w.on('message', () => setTimeout(() => w.terminate().then(resolve, reject), 20));
        w.on('error', reject);
    })""")().result(30)
    assert code == 1
    time.sleep(1.2)  # the Python calls finish after the worker is gone
    assert pymport_py.eval("require('pymport').pyval('3 * 3')") == 9
    assert time.monotonic() - started < 30


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
    import gc
    import random
    import threading

    kept = []
    lock = threading.Lock()
    stop = threading.Event()

    def keep(obj):
        assert isinstance(obj, pymport_py.JSObject)
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
                    // functions arrive in Python as JSObjects of this environment
                    for (let i = 0; i < 200; i++) { keep.call(() => [i, String(i)]); n++; }
                    if (n < 2000) setImmediate(tick); else parentPort.postMessage(n);
                };
                tick();
            `, { eval: true });
            w.on('message', resolve);
            w.on('error', reject);
        })))""")
        import builtins
        builtins.__pymport_keep__ = keep
        try:
            assert sums(keep).result(60).to_py() == [2000, 2000, 2000]
        finally:
            del builtins.__pymport_keep__
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
