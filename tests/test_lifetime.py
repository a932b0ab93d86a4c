"""Lifetime of proxies in both directions (DESIGN.md §8): nothing leaks, nothing
is freed while the other side still uses it, shutdown() releases everything."""

import gc
import os
import sys
import textwrap
import tracemalloc

import pymport_py

MB = 1 << 20
N = 100_000


# RSS checks run in a fresh interpreter: a clean baseline, and under
# AddressSanitizer (scripts/test-sanitized) the allocator's quarantine, which
# keeps freed memory resident, can be switched off for it.
LEAK_PRELUDE = """
import gc, os, sys, pymport_py
PAGE = os.sysconf("SC_PAGE_SIZE")

def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE

def objects():
    gc.collect()
    return len(gc.get_objects())

def measure(loop, warmup, n):
    loop(warmup)
    objects_before, rss_before = objects(), rss()
    loop(n)
    print("growth", (rss() - rss_before) / 2**20, objects() - objects_before)
"""


def run_leak_check(run_python, body):
    """Runs `body` after LEAK_PRELUDE in a fresh interpreter. Returns (RSS
    growth in MB, growth of gc-tracked objects, the CompletedProcess)."""
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"), "quarantine_size_mb=0"]))
    proc = run_python(LEAK_PRELUDE + textwrap.dedent(body), env=env)
    assert proc.returncode == 0, proc.report
    lines = [line for line in proc.stdout.splitlines() if line.startswith("growth ")]
    assert len(lines) == 1, proc.report
    _, mb, objs = lines[0].split()
    return float(mb), int(objs), proc


def test_sync_calls_keep_rss_and_objects_flat(run_python):
    mb, objs, proc = run_leak_check(
        run_python,
        """
        f = pymport_py.eval("(x) => x + 1")

        def loop(n):
            total = 0
            for i in range(n):
                total += f(i)
            assert total == n * (n + 1) // 2

        measure(loop, 20_000, 100_000)
        """,
    )
    assert mb < 20, proc.report
    assert objs < 1000, proc.report


def test_returned_objects_are_released(run_python):
    # each object is ~0.3 KB of JS heap: 100k leaked ones would be ~40 MB
    mb, objs, proc = run_leak_check(
        run_python,
        """
        make = pymport_py.eval("(i) => ({i, pad: new Array(32).fill(i)})")

        def loop(n):
            checksum = 0
            for i in range(n):
                checksum += make(i).i
            assert checksum == n * (n - 1) // 2

        measure(loop, 20_000, 100_000)
        """,
    )
    assert mb < 20, proc.report
    assert objs < 1000, proc.report


def test_js_to_python_callbacks_do_not_leak(run_python):
    mb, objs, proc = run_leak_check(
        run_python,
        """
        def cb(x):
            return x

        run = pymport_py.eval("(f, n) => { let s = 0; for (let i = 0; i < n; i++) s += f(i); return s; }")
        run(cb, 10)  # cb now has its JS function
        refs_before = sys.getrefcount(cb)

        def loop(n):
            assert run(cb, n) == n * (n - 1) // 2

        measure(loop, 20_000, 100_000)
        assert sys.getrefcount(cb) == refs_before, (sys.getrefcount(cb), refs_before)
        """,
    )
    assert mb < 20, proc.report
    assert objs < 1000, proc.report


def test_errors_do_not_leak(run_python):
    mb, objs, proc = run_leak_check(
        run_python,
        """
        fail = pymport_py.eval("(i) => { throw new TypeError('fail ' + i); }")

        def loop(n):
            for i in range(n):
                try:
                    fail(i)
                except pymport_py.JSTypeError:
                    pass

        measure(loop, 2_000, 20_000)
        """,
    )
    assert mb < 20, proc.report
    assert objs < 1000, proc.report


def test_arguments_are_not_leaked():
    # values that JS gets as copies keep no Python reference behind
    f = pymport_py.eval("(x) => typeof x")
    big = 10**30
    text = "some text " * 100
    assert f(big) == "bigint"
    assert f(text) == "string"
    refs_before = (sys.getrefcount(big), sys.getrefcount(text))
    for _ in range(N // 4):
        f(big)
        f(text)
    assert (sys.getrefcount(big), sys.getrefcount(text)) == refs_before


def traced_growth(fn):
    """Bytes of Python-heap memory still allocated after fn() (tracemalloc:
    exact, and unaffected by a sanitizer's allocator quarantine)."""
    tracemalloc.start()
    try:
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        fn()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def test_string_round_trips_do_not_leak():
    # 1 KB per call each way: a leaked string per call would be ~50 MB
    echo = pymport_py.eval("(s) => s.slice(0)")
    text = "x" * 1024
    for _ in range(5000):  # warm-up
        echo(text)

    def loop():
        for _ in range(N // 2):
            assert len(echo(text)) == 1024

    assert traced_growth(loop) < 1 * MB


def test_string_arguments_of_callbacks_do_not_leak():
    received = [0]

    def cb(s):
        received[0] += len(s)

    run = pymport_py.eval("(f, n) => { const s = 'y'.repeat(1024); for (let i = 0; i < n; i++) f(s + i); }")
    run(cb, 5000)  # warm-up
    received[0] = 0
    assert traced_growth(lambda: run(cb, N // 2)) < 1 * MB
    assert received[0] >= 1024 * (N // 2)


def test_returning_a_held_python_object_does_not_leak_references():
    class Held:
        pass

    held = Held()
    pymport_py.eval("(x) => { globalThis.heldForLeakTest = x; }")(held)
    get = pymport_py.eval("() => globalThis.heldForLeakTest")
    assert get() is held
    refs_before = sys.getrefcount(held)
    for _ in range(N // 2):
        get()
    assert sys.getrefcount(held) == refs_before
    pymport_py.eval("delete globalThis.heldForLeakTest")


def test_shutdown_releases_every_python_object_js_held():
    class Held:
        pass

    def callback():
        return 1

    obj = Held()
    lst = [1, 2]
    buf = bytearray(16)
    objs = [callback, obj, lst, buf]
    gc.collect()
    base = [sys.getrefcount(o) for o in objs]
    store = pymport_py.eval("(...xs) => { globalThis.heldByJs = xs; }")
    store(callback, obj, pymport_py.ref(lst), buf)
    del store
    gc.collect()
    held = [sys.getrefcount(o) for o in objs]
    assert all(h > b for h, b in zip(held, base)), (base, held)
    pymport_py.shutdown()
    gc.collect()
    assert [sys.getrefcount(o) for o in objs] == base
    buf.extend(b"resizable again")  # no buffer export left


def test_proxies_of_a_closed_environment_can_be_dropped():
    objs = [pymport_py.eval("({a: 1})"), pymport_py.eval("() => 1"), pymport_py.eval("Buffer.alloc(4)")]
    pymport_py.shutdown()
    del objs
    gc.collect()
    assert pymport_py.eval("'still fine'") == "still fine"


GC_HELPERS = """
import gc, sys, threading, pymport_py
pymport_py.start(argv=["--expose-gc"])

def js_gc_round():
    # full JS GC, then let the loop run finalizers queued by it (setImmediate)
    done = threading.Event()
    pymport_py.eval("(done) => { gc(); setImmediate(() => setImmediate(done)); }")(done.set)
    assert done.wait(10)
    gc.collect()

def until(predicate, rounds=10):
    for _ in range(rounds):
        if predicate():
            return True
        js_gc_round()
    return predicate()
"""


def test_python_objects_released_after_js_garbage_collection(run_python):
    proc = run_python(
        GC_HELPERS
        + """
freed = []
class Tracked:
    def __init__(self, i):
        self.i = i
    def __del__(self):
        freed.append(self.i)

touch = pymport_py.eval("(o) => typeof o")
keep = pymport_py.eval("(o) => { globalThis.kept = o; }")
for i in range(1000):
    assert touch(Tracked(i)) == "object"
keep(Tracked(-1))
print(until(lambda: len(freed) >= 1000), len(freed), -1 in freed)
pymport_py.eval("delete globalThis.kept")
print(until(lambda: -1 in freed))
"""
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout.splitlines() == ["True 1000 False", "True"], proc.report


def test_python_callback_released_after_js_drops_it(run_python):
    proc = run_python(
        GC_HELPERS
        + """
def callback():
    return 1

base = sys.getrefcount(callback)
pymport_py.eval("(f) => { globalThis.storedCallback = f; }")(callback)
print(sys.getrefcount(callback) > base)
pymport_py.eval("delete globalThis.storedCallback")
print(until(lambda: sys.getrefcount(callback) == base))
"""
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout.splitlines() == ["True", "True"], proc.report


def test_js_object_released_when_proxy_dies(run_python):
    proc = run_python(
        GC_HELPERS
        + """
o = pymport_py.eval("globalThis.wr = new WeakRef({payload: 1}); wr.deref()")
js_gc_round()
print(pymport_py.eval("wr.deref() !== undefined"), o.payload)
del o
# Asked on the loop thread: a deref() keeps its target until the end of the
# turn, as in node, so one from a call of this thread would keep it for gc().
gone = pymport_py.eval("() => wr.deref() === undefined")
print(until(lambda: gone.call_async().result(10)))
"""
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout.splitlines() == ["True 1", "True"], proc.report


def test_memoryview_keeps_js_memory_alive(run_python):
    proc = run_python(
        GC_HELPERS
        + """
size = 1 << 20
mv = memoryview(pymport_py.eval(f"new Uint8Array({size}).fill(9)"))
gc.collect()
js_gc_round()
js_gc_round()
pymport_py.eval(f"globalThis.junk = Array.from({{length: 32}}, () => new Uint8Array({size}).fill(1))")
print(mv.tobytes() == bytes([9]) * size)
mv[0] = 3
print(mv[0])
"""
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout.splitlines() == ["True", "3"], proc.report


def test_bytearray_released_after_js_drops_its_view(run_python):
    proc = run_python(
        GC_HELPERS
        + """
buf = bytearray(b"abc")
base = sys.getrefcount(buf)
pymport_py.eval("(u) => { globalThis.view = u; }")(buf)
try:
    buf.extend(b"x")
    print("resized while shared")
except BufferError:
    print("locked")
pymport_py.eval("delete globalThis.view")
print(until(lambda: sys.getrefcount(buf) == base))
buf.extend(b"d")
print(bytes(buf))
"""
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout.splitlines() == ["locked", "True", "b'abcd'"], proc.report


def test_weakref_callback_converting_the_same_js_value_gets_a_live_object(run_python):
    proc = run_python(
        """
        import gc, weakref, pymport_py
        obj = pymport_py.eval("globalThis.shared = {a: 1}; shared")
        again = []
        ref = weakref.ref(obj, lambda r: again.append(pymport_py.eval("shared")))
        del obj
        gc.collect()
        junk = [pymport_py.eval("({b: 2})") for _ in range(100)]   # reuse freed memory
        assert ref() is None and len(again) == 1
        print(again[0].a, again[0] is pymport_py.eval("shared"))
        """
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout == "1 True\n", proc.report


# A memoryview of JS memory keeps that memory alive, whatever JS does with the
# buffer afterwards (the reads below are use-after-free without that).
def test_memoryview_outlives_a_transfer_and_gc_of_its_array_buffer(run_python):
    proc = run_python(
        """
        import pymport_py
        pymport_py.start(["--expose-gc"])
        ab = pymport_py.eval("globalThis.ab = new Uint8Array(1 << 20).fill(7).buffer; ab")
        view = memoryview(ab)
        u32 = memoryview(pymport_py.eval("new Uint32Array(ab, 4, 8)"))
        pymport_py.eval("structuredClone(ab, {transfer: [ab]}); delete globalThis.ab")
        del ab
        pymport_py.eval("for (let i = 0; i < 20; i++) { gc(); new ArrayBuffer(1 << 20); }")
        view[0] = 9
        print(view[0], view[len(view) - 1], u32[0], len(view), pymport_py.eval("1 + 1"))
        """
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout == f"9 7 {0x07070707} 1048576 2\n", proc.report


def test_memoryview_outlives_shutdown_and_worker_close(run_python):
    proc = run_python(
        """
        import pymport_py
        main = memoryview(pymport_py.eval("Buffer.alloc(4096, 1)"))
        w = pymport_py.Worker()
        other = memoryview(w.eval("new Float64Array(512).fill(2.5)"))
        pymport_py.shutdown()
        w.close()
        main[0] = 5
        print(main[0], main[4095], other[511], pymport_py.eval("3"))
        """
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout == "5 1 2.5 3\n", proc.report


def test_eval_keeps_the_js_heap_flat(run_python):
    # Each eval used to keep about 1 KiB of JS heap (V8's compilation cache
    # could never reuse a script compiled for dynamic import(): one entry per
    # eval, same source or not): 20,000 evals, about 20 MiB. Like node's
    # vm.runInThisContext, distinct sources still fill that cache
    # (docs/javascript.md); the same sources again do not.
    proc = run_python(
        """
        import pymport_py
        pymport_py.start(["--expose-gc"])
        gc = pymport_py.eval("gc")
        def heap():
            gc(); gc()
            return pymport_py.eval("process.memoryUsage().heapUsed")
        def evals(n):
            for i in range(n):
                pymport_py.eval(f"{i % 100} + 1")
                pymport_py.eval("(async () => import('os'))")
        evals(500)
        before = heap()
        evals(20000)
        print((heap() - before) / 2**20)
        # import() in eval'd code still works
        print(pymport_py.eval("import('os').then((os) => typeof os.cpus)").result(30))
        """,
        timeout=300,
    )
    assert proc.returncode == 0, proc.report
    growth, kind = proc.stdout.split()
    assert float(growth) < 2.0, proc.report
    assert kind == "function", proc.report
