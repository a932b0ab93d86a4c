#!/usr/bin/env python3
"""Reference-count leak check: sys.gettotalrefcount() over repeated operations.

    python3 bench/refcounts.py [--scale F] [--only WORD]...

Needs a debug build of CPython (sys.gettotalrefcount), for example python3.14-dbg in the
sid chroot: ``scripts/test-platform sid --debug-python scripts/refcount-check``.

Each category is one kind of operation (a call, a conversion, a callback, an exception, a
Worker...). After a warm-up, both runtimes are collected (Python's gc, JS's gc() and a
pause for the Node-API finalizers that release the Python objects JS held) and CPython's
internal caches emptied, until the total reference count stays put; then the operation
runs N times, and the growth is read the same way; then the same with 2N. A category fails
when both runs grew by more than max(FLOOR references, LIMIT per 100k operations) and the
2N run grew by at least 1.5 times the N run: a real leak grows with the number of
operations, a cache that fills once does not. Two controls leak on purpose (a missing
Py_DECREF, Python objects that JS keeps); the run fails if the check does not see them.

Output: one line per category, then "refcounts: K categories, worst delta X per 100k ops
(category)", where a category's delta is the 2N run's growth scaled to 100k operations
(sys.getallocatedblocks() is shown beside it for information). Exits 1 on a leak.
"""

import argparse
import asyncio
import faulthandler
import gc
import os
import sys
import threading
import time

import pymport_py as node

LIMIT_PER_100K = 100   # references per 100k operations
FLOOR = 10             # references, absolute: below this a run's growth is noise
LIGHT = 20_000         # N of cheap operations (tens of microseconds each)
MEDIUM = 4_000         # N of operations that cross threads (call_async, coroutines)
HEAVY = 200            # N of environment starts (Worker, shutdown/start)

# CPython's own caches keep references that come and go with what ran last (the type
# attribute cache holds the names it looked up): emptied before every reading.
clear_internal_caches = getattr(sys, "_clear_internal_caches", None) or sys._clear_type_cache

START_ARGV = ["--expose-gc"]  # gc() in JS, so that settle() can collect both runtimes
STUCK_S = 120          # a category that runs longer has hung (the slowest takes about 20 s)

CATEGORIES = []


def category(name, n=LIGHT, ops_per_call=1, control=False):
    """Registers a category. The decorated function sets it up and returns op(i), which
    does ops_per_call operations; it may return (op, envs) to name the environments to
    collect (default: the main one). A control leaks on purpose: the run fails if the
    check does not see it."""
    def register(make):
        CATEGORIES.append((name, n, ops_per_call, control, make))
        return make
    return register


def settle(envs):
    """Collects Python and JS garbage (JS finalizers release the Python objects JS held)
    until the total reference count has stayed the same for three readings. Returns it."""
    previous, same = None, 0
    for _ in range(50):
        gc.collect()
        for env in envs():
            env.eval("gc()")
        # Node-API finalizers run from the event loop after a collection: let the loop
        # threads run.
        time.sleep(0.005)
        gc.collect()
        clear_internal_caches()
        total = sys.gettotalrefcount()
        same = same + 1 if total == previous else 0
        if same == 2:
            break
        previous = total
    return total


def main_env():
    return [node]


# --- calls and attributes --------------------------------------------------------------

@category("sync call (Math.max)")
def _():
    mx = node.globalThis.Math.max
    return lambda i: mx(i, 2)


@category("method call (Math.max through Math)")
def _():
    math = node.globalThis.Math
    return lambda i: math.max(i, 1, 2)


@category("call with keyword arguments")
def _():
    f = node.eval("(a, opts) => a + opts.b")
    return lambda i: f(i, b=2)


@category("attribute get/set/del, item, in")
def _():
    o = node.eval("({x: 0, arr: [1, 2, 3]})")

    def op(i):
        o.x = i
        assert o.x == i
        o["y"] = "v"
        del o.y
        assert "x" in o
        assert o.arr[1] == 2
    return op


@category("constructor new()")
def _():
    Map = node.globalThis.Map
    return lambda i: Map.new([[i, "a"]]).get(i)


@category("protocols (iter, len, str, bool, ==, hash)")
def _():
    a = node.eval("[1, 2, 3]")

    def op(i):
        assert list(a) == [1, 2, 3]
        assert len(a) == 3
        str(a)
        assert a
        assert a == a
        hash(a)
    return op


@category("repr (util.inspect)")
def _():
    a = node.eval("({a: [1, 2, 3], b: 'x'})")
    return lambda i: repr(a)


@category("deadline() around a call")
def _():
    f = node.eval("(x) => x + 1")

    def op(i):
        with node.deadline(60):
            f(i)
    return op


# --- Python -> JS ----------------------------------------------------------------------

SINK = "(...xs) => xs.length"


@category("to JS: small ints")
def _():
    sink = node.eval(SINK)
    return lambda i: sink(i, -i, 2**53)


@category("to JS: big ints (BigInt)")
def _():
    sink = node.eval(SINK)
    return lambda i: sink(2**70 + i, -(2**64) - i)


@category("to JS: floats")
def _():
    sink = node.eval(SINK)
    return lambda i: sink(i + 0.5, 1e300, float("nan"))


@category("to JS: str (ASCII, non-ASCII, lone surrogate)")
def _():
    sink = node.eval(SINK)
    return lambda i: sink("abc%d" % i, "h\xe9llo \u2603 \U0001f40d %d" % i, "\ud800x%d" % i)


@category("to JS: bytes, bytearray, memoryview")
def _():
    sink = node.eval(SINK)
    data = bytearray(64)
    return lambda i: sink(b"xy%d" % i, bytearray(b"ab"), memoryview(data))


@category("to JS: list, tuple")
def _():
    sink = node.eval(SINK)
    return lambda i: sink([i, "a", 1.5, None, True], (i, 2))


@category("to JS: dict, set")
def _():
    sink = node.eval(SINK)
    return lambda i: sink({"a": i, "b": "x", "c": None}, {1, 2, i})


@category("to JS: nested containers")
def _():
    sink = node.eval(SINK)
    return lambda i: sink({"a": [1, {"b": [i, "x\u2603", None, 2**70]}], "c": {"d": b"xy", "e": (1.5,)}})


@category("to_js()")
def _():
    return lambda i: node.to_js({"a": [i, "s", {"b": 2**70}], "c": b"x"})


@category("to JS: Python objects by reference")
def _():
    sink = node.eval("(o) => o.get('v').toJS()")
    length = node.eval("(o) => o.length")

    class Valued:
        def __init__(self, v):
            self.v = v
    kept = Valued(1)

    def op(i):
        sink(kept)
        sink(Valued(i))
        assert length(node.ref([i])) == 1
    return op


# --- JS -> Python ----------------------------------------------------------------------

@category("from JS: numbers, strings, BigInt")
def _():
    num = node.eval("(i) => i * 1.5")
    text = node.eval("(i) => 'h\\u00e9llo \\u2603 \\u{1f40d} ' + i")
    big = node.eval("(i) => BigInt(i) ** 5n + 2n ** 70n")

    def op(i):
        num(i)
        text(i)
        big(i)
    return op


@category("from JS: to_py() of arrays")
def _():
    make = node.eval("(i) => [i, 'a', 1.5, null, true, [i, [i]]]")
    return lambda i: make(i).to_py()


@category("from JS: to_py() of objects, Map, Set, Date")
def _():
    make = node.eval("(i) => ({a: i, b: {c: 'x'}, m: new Map([[1, 'a']]), s: new Set([i]), d: new Date(0)})")
    return lambda i: make(i).to_py()


@category("from JS: typed arrays, Buffer, memoryview")
def _():
    make = node.eval("(i) => [new Uint8Array([i & 255, 2]), new Float64Array([i, 0.5]), Buffer.from('ab')]")
    buf = node.eval("Buffer.from('abcdef')")

    def op(i):
        make(i).to_py()
        with memoryview(buf) as m:
            bytes(m)
    return op


@category("from JS: new objects and the same object (identity)")
def _():
    fresh = node.eval("(i) => ({i})")
    same = node.eval("(() => { const o = {}; return () => o; })()")
    kept = same()

    def op(i):
        assert fresh(i).i == i
        assert same() is kept
    return op


@category("iteration of JS iterators, dir()")
def _():
    m = node.eval("new Map([['a', 1], ['b', [2]]])")
    gen = node.eval("(function* (n) { for (let i = 0; i < n; i++) yield {i}; })")
    o = node.eval("({a: 1, b: 2})")

    def op(i):
        assert len(list(m.entries())) == 2
        assert len(list(gen(3))) == 3
        if i % 10 == 0:
            dir(o)
    return op


@category("require() and import_module() of loaded modules")
def _():
    node.import_module("node:path")

    def op(i):
        node.require("path").basename("a/b")
        node.import_module("node:path").sep
    return op


@category("console.log to sys.stdout")
def _():
    class Discard:
        def write(self, text):
            return len(text)

        def flush(self):
            pass
    log = node.eval("(i) => { console.log('line', i, {a: [i]}); process.stdout.write('x\\n'); }")
    saved, sys.stdout = sys.stdout, Discard()

    def op(i):
        log(i)

    def cleanup():
        sys.stdout = saved
    op.cleanup = cleanup
    return op


# --- callbacks -------------------------------------------------------------------------

@category("callback: JS calls one Python function", ops_per_call=100)
def _():
    run = node.eval("(f, n) => { let s = 0; for (let i = 0; i < n; i++) s += f(i); return s; }")

    def cb(x):
        return x
    return lambda i: run(cb, 100)


@category("callback: a new lambda each call")
def _():
    call = node.eval("(f, i) => f(i, 'x')")
    return lambda i: call(lambda x, s: x + 1, i)


@category("callback: containers both ways")
def _():
    call = node.eval("(f, i) => f([i, 'a'], {k: i}).length")
    return lambda i: call(lambda lst, d: [lst, d, "x"], i)


@category("JS pymport API: pyval, call, toJS", ops_per_call=100)
def _():
    loop = node.eval("""(n) => {
        const { pyval } = require('pymport');
        const f = pyval('lambda x: [x, str(x), {"k": x}]');
        let s = 0;
        for (let i = 0; i < n; i++) s += f.call(i).toJS()[0];
        return s;
    }""")
    return lambda i: loop(100)


@category("JS PyObject API: get, item, has, iteration, with, map, statics", ops_per_call=100)
def _():
    loop = node.eval("""(n) => {
        const { pyval, pymport, PyObject } = require('pymport');
        const d = pyval('{"a": 1, "b": [2, 3]}');
        const cm = pyval('__import__("contextlib").nullcontext("in")');
        const math = pymport('math');
        let s = 0;
        for (let i = 0; i < n; i++) {
            s += d.item('b').length + (d.has('keys') ? 1 : 0) + [...d].length;
            s += d.map((k) => k).length + cm.with((v) => v.toJS().length);
            s += math.get('sqrt').call(i).toJS() >= 0 ? 1 : 0;
            s += PyObject.list([i, 'x']).length + PyObject.dict({k: i}).length;
            s += PyObject.int(2n ** 70n).type.length + String(d).length;
        }
        return s;
    }""")
    return lambda i: loop(100)


@category("JS proxify() of Python objects", ops_per_call=100)
def _():
    loop = node.eval("""(n) => {
        const { pymport, proxify } = require('pymport');
        const ns = proxify(pymport('types')).SimpleNamespace({a: 1});
        let s = 0;
        for (let i = 0; i < n; i++) {
            ns.b = [i];
            s += +ns.a + ns.b.__len__() + ('b' in ns ? 1 : 0);
            delete ns.b;
        }
        return s;
    }""")
    return lambda i: loop(100)


@category("JS callAsync (Python on a thread)", n=MEDIUM, ops_per_call=10)
def _():
    run = node.eval("""async (n) => {
        const { pyval } = require('pymport');
        const f = pyval('lambda x: [x]');
        let s = 0;
        for (let i = 0; i < n; i++) s += (await f.callAsync(i)).toJS()[0];
        return s;
    }""")
    return lambda i: run(10).result(timeout=30)


# --- exceptions ------------------------------------------------------------------------

@category("exceptions: JS throw caught in Python")
def _():
    fail = node.eval("(i) => { throw new TypeError('fail ' + i); }")
    throw42 = node.eval("() => { throw 42; }")

    def op(i):
        try:
            fail(i)
        except node.JSTypeError as e:
            e.message, e.stack, e.__notes__
        try:
            throw42()
        except node.JSError as e:
            e.value
    return op


@category("exceptions: Python raise caught in JS")
def _():
    catch = node.eval("(f, i) => { try { f(i); } catch (e) { return e.pythonType + e.message; } }")

    def raiser(x):
        raise ValueError(x)
    return lambda i: catch(raiser, i)


@category("exceptions: Python raise through JS back to Python")
def _():
    through = node.eval("(f, i) => f(i)")

    def raiser(x):
        raise KeyError(x)

    def op(i):
        try:
            through(raiser, i)
        except KeyError:
            pass
    return op


# Not run for now: on Node 24 under python3.14-dbg, thousands of back-to-back expiring
# deadlines here end in a call that is never stopped (a hang, not a leak; the standalone
# loop and tests/test_interrupts.py's stress do not show it). Register it again
# (@category("deadline() expiring (TimeoutError)", n=MEDIUM // 4)) once that is fixed.
def _deadline_expiring():
    spin = node.eval("() => { while (true) {} }")

    def op(i):
        try:
            with node.deadline(0.001):
                spin()
        except TimeoutError:
            pass
    return op


@category("exceptions: eval SyntaxError")
def _():
    def op(i):
        try:
            node.eval("(")
        except node.JSSyntaxError:
            pass
    return op


# --- Promises and async ----------------------------------------------------------------

@category("Promise result(): resolved, rejected")
def _():
    ok = node.eval("(i) => Promise.resolve(i)")
    bad = node.eval("(i) => Promise.reject(new RangeError('no ' + i))")

    def op(i):
        assert ok(i).result(timeout=30) == i
        try:
            bad(i).result(timeout=30)
        except node.JSRangeError:
            pass
    return op


@category("Promise result(): settled by the loop thread", n=MEDIUM)
def _():
    later = node.eval("(i) => new Promise((r) => setImmediate(() => r(i)))")
    return lambda i: later(i).result(timeout=30)


@category("await Promise in asyncio", n=MEDIUM, ops_per_call=100)
def _():
    make = node.eval("(i) => Promise.resolve(i)")

    async def many():
        for j in range(100):
            assert await make(j) == j
    return lambda i: asyncio.run(many())


@category("call_async(): value, Promise, rejection", n=MEDIUM)
def _():
    plus = node.eval("(x) => x + 1")
    later = node.eval("(x) => Promise.resolve(x)")
    bad = node.eval("(x) => { throw new Error('x' + x); }")

    def op(i):
        assert plus.call_async(i).result(timeout=30) == i + 1
        assert later.call_async(i).result(timeout=30) == i
        try:
            bad.call_async(i).result(timeout=30)
        except node.JSError:
            pass
    return op


@category("coroutine function to JS Promise", n=MEDIUM)
def _():
    use = node.eval("async (f, i) => (await f(i)) + 1")

    async def py(x):
        return x
    return lambda i: use(py, i).result(timeout=30)


@category("Python awaitables as JS Promises", n=MEDIUM)
def _():
    use = node.eval("async (a) => (await a) + 1")
    import concurrent.futures

    def op(i):
        done = concurrent.futures.Future()
        done.set_result(i)
        assert use(done).result(timeout=30) == i + 1
    return op


# --- environments ----------------------------------------------------------------------

@category("Worker: calls and conversions")
def _():
    w = node.Worker(START_ARGV)
    mx = w.globalThis.Math.max
    make = w.eval("(i) => [i, 'x', {a: i}]")

    def op(i):
        mx(i, 2)
        make(i).to_py()
    op.cleanup = w.close
    return op, lambda: [w]


class Thing:
    """A Python object that JS holds by reference (a PyObject proxy)."""


@category("Worker create/close", n=HEAVY)
def _():
    def op(i):
        with node.Worker() as w:
            assert w.eval("1 + 1") == 2
            # What the worker still holds when it closes is released by its teardown.
            w.eval("(f, o) => { globalThis.kept = [f, o]; }")(lambda: i, Thing())
            proxy = w.eval("({a: 1})")
        del proxy  # a JSObject of a closed environment
    return op


@category("shutdown()/start()", n=HEAVY)
def _():
    def op(i):
        node.eval("(f, o) => { globalThis.kept = [f, o]; }")(lambda: i, Thing())
        proxy = node.eval("({a: 1})")
        pending = node.eval("() => new Promise(() => {})").call_async()
        node.shutdown()
        assert isinstance(pending.exception(timeout=30), node.EnvironmentClosed)
        del proxy, pending
        node.start(START_ARGV)
        assert node.eval("1 + 1") == 2
    return op


@category("Worker stopped by process.exit()", n=HEAVY // 2)
def _():
    def op(i):
        w = node.Worker()
        try:
            w.eval("(f) => { globalThis.kept = f; process.exit(3); }")(lambda: i)
        except node.ProcessExit as e:
            assert e.code == 3
        w.close()
    return op


@category("JS worker_threads using pymport", n=HEAVY // 4)
def _():
    run = node.eval("""() => new Promise((resolve, reject) => {
        const { Worker } = require('worker_threads');
        const w = new Worker(`
            const { parentPort } = require('worker_threads');
            const { pyval } = require('pymport');
            parentPort.postMessage(pyval('sum(range(10))').toJS());
        `, { eval: true });
        w.on('message', resolve);
        w.on('error', reject);
    })""")
    return lambda i: run().result(timeout=60)


# --- controls: leaks made on purpose, to show that the check sees them ------------------

@category("control: one Py_INCREF too many per 100 ops", control=True)
def _():
    import ctypes
    incref = ctypes.pythonapi.Py_IncRef
    incref.argtypes = [ctypes.py_object]
    victim = Thing()
    mx = node.globalThis.Math.max

    def op(i):
        mx(i, 2)
        if i % 100 == 0:
            incref(victim)  # like a missing Py_DECREF in C
    return op


@category("control: JS keeps one Python object per 100 ops", control=True)
def _():
    keep = node.eval("(o) => { (globalThis.controlKept ??= []).push(o); }")
    sink = node.eval("(o) => 1")

    def op(i):
        # like a JS proxy whose finalizer never releases its Python object
        (keep if i % 100 == 0 else sink)(Thing())
    op.cleanup = lambda: node.eval("delete globalThis.controlKept")
    return op


def measure(name, n, ops_per_call, control, make):
    """Runs one category; returns (delta per 100k ops, failed, line)."""
    made = make()
    op, envs = made if isinstance(made, tuple) else (made, main_env)
    calls = max(1, n // ops_per_call)

    def run(count):
        for i in range(count):
            op(i)

    run(max(1, calls // 4))  # warm-up
    growth = []
    # The first, empty, run brings this function's own variables to their steady state.
    for count in (0, calls, 2 * calls):
        before = settle(envs)
        blocks = sys.getallocatedblocks()
        run(count)
        after = settle(envs)
        growth.append((after - before, sys.getallocatedblocks() - blocks, count * ops_per_call))
    cleanup = getattr(op, "cleanup", None)
    if cleanup is not None:
        cleanup()
    _, (a, _, ops_a), (b, blocks_b, ops_b) = growth
    failed = (a > max(FLOOR, LIMIT_PER_100K * ops_a / 1e5)
              and b > max(FLOOR, LIMIT_PER_100K * ops_b / 1e5)
              and b >= 1.5 * a)
    per_100k = b * 1e5 / ops_b
    line = (f"{name:<52} {ops_a:>6} ops {a:+6d} refs, {ops_b:>6} ops {b:+6d} refs: "
            f"{per_100k:+10.1f} refs/100k ops, blocks {blocks_b * 1e5 / ops_b:+10.1f}/100k"
            f"{('  leak seen (control)' if control else '  LEAK') if failed else ''}"
            f"{'  NOT SEEN (control)' if control and not failed else ''}")
    return per_100k, failed, line


class Watchdog:
    """Ends the run (exit 1, every thread's stack on stderr) when one category runs longer
    than STUCK_S: JS that never returns cannot be interrupted from Python, and a check
    that hangs would hang the CI run behind it."""

    def __init__(self):
        self.name, self.since = None, None
        threading.Thread(target=self.watch, name="refcounts-watchdog", daemon=True).start()

    def watch(self):
        while True:
            time.sleep(1)
            since = self.since
            if since is not None and time.monotonic() - since > STUCK_S:
                print(f"refcounts: HUNG in category {self.name!r} (over {STUCK_S} s)", flush=True)
                faulthandler.dump_traceback(all_threads=True)
                os._exit(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply every category's number of operations")
    parser.add_argument("--only", action="append", default=[],
                        help="run only the categories whose name contains this (repeatable)")
    args = parser.parse_args()
    if not hasattr(sys, "gettotalrefcount"):
        print("refcounts: needs a debug build of Python (sys.gettotalrefcount), such as "
              "python3.14-dbg: scripts/test-platform sid --debug-python scripts/refcount-check",
              file=sys.stderr)
        return 2

    node.start(START_ARGV)
    print(f"refcounts: Node {node.eval('process.version')}, Python {sys.version.split()[0]}, "
          f"limit {LIMIT_PER_100K} refs/100k ops (and {FLOOR} refs) in both runs, growing with N",
          flush=True)
    t0 = time.monotonic()
    for _ in range(3):
        settle(main_env)  # what settle() itself makes the first time
    watchdog = Watchdog()
    results, controls = [], []
    for name, n, ops_per_call, control, make in CATEGORIES:
        if args.only and not any(w.lower() in name.lower() for w in args.only):
            continue
        n = max(1, round(n * args.scale))
        started = time.monotonic()
        watchdog.name, watchdog.since = name, started
        per_100k, failed, line = measure(name, n, ops_per_call, control, make)
        watchdog.since = None
        print(f"{line}  ({time.monotonic() - started:.1f} s)", flush=True)
        (controls if control else results).append((per_100k, failed, name))
    node.shutdown()
    if not results and not controls:
        print("refcounts: no category matches", file=sys.stderr)
        return 2
    unseen = [name for _, failed, name in controls if not failed]
    print(f"refcounts: ran in {time.monotonic() - t0:.0f} s; controls: {len(controls) - len(unseen)} "
          f"of {len(controls)} deliberate leaks seen")
    leaks = [name for _, failed, name in results if failed]
    if results:
        worst, _, worst_name = max(results, key=lambda r: r[0])
        print(f"refcounts: {len(results)} categories, worst delta {worst:+.1f} per 100k ops "
              f"({worst_name})" + (f", LEAKS in {len(leaks)}: {'; '.join(leaks)}" if leaks else "")
              + (f", CONTROLS NOT SEEN: {'; '.join(unseen)}" if unseen else ""))
    return 1 if leaks or unseen else 0


if __name__ == "__main__":
    sys.exit(main())
