"""Lifetime of proxies in both directions (DESIGN.md §8): nothing leaks, nothing
is freed while the other side still uses it, shutdown() releases everything."""

import gc
import os
import sys

import pymport_py

MB = 1 << 20
PAGE = os.sysconf("SC_PAGE_SIZE")
N = 100_000


def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE


def gc_object_count():
    gc.collect()
    return len(gc.get_objects())


def test_sync_calls_keep_rss_and_objects_flat():
    f = pymport_py.eval("(x) => x + 1")
    total = 0
    for i in range(20_000):  # warm-up
        total += f(i)
    objects_before = gc_object_count()
    rss_before = rss()
    total = 0
    for i in range(N):
        total += f(i)
    assert total == sum(range(1, N + 1))
    assert rss() - rss_before < 20 * MB
    assert gc_object_count() - objects_before < 1000


def test_returned_objects_are_released():
    make = pymport_py.eval("(i) => ({i, pad: new Array(32).fill(i)})")
    for i in range(20_000):  # warm-up: grows V8's young generation to its working size
        make(i).i
    objects_before = gc_object_count()
    rss_before = rss()
    checksum = 0
    for i in range(N):
        checksum += make(i).i
    assert checksum == sum(range(N))
    assert rss() - rss_before < 20 * MB
    assert gc_object_count() - objects_before < 1000


def test_js_to_python_callbacks_do_not_leak_references():
    def cb(x):
        return x

    run = pymport_py.eval("(f, n) => { let s = 0; for (let i = 0; i < n; i++) s += f(i); return s; }")
    assert run(cb, 1000) == sum(range(1000))  # warm-up, and cb now has its JS function
    refs_before = sys.getrefcount(cb)
    objects_before = gc_object_count()
    rss_before = rss()
    assert run(cb, N) == sum(range(N))
    assert sys.getrefcount(cb) == refs_before
    assert rss() - rss_before < 20 * MB
    assert gc_object_count() - objects_before < 1000


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


def test_errors_do_not_leak():
    fail = pymport_py.eval("(i) => { throw new TypeError('fail ' + i); }")

    def loop(n):
        for i in range(n):
            try:
                fail(i)
            except pymport_py.JSTypeError:
                pass

    loop(2000)  # warm-up
    objects_before = gc_object_count()
    rss_before = rss()
    loop(20_000)
    assert rss() - rss_before < 20 * MB
    assert gc_object_count() - objects_before < 1000


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
print(until(lambda: pymport_py.eval("wr.deref() === undefined")))
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
