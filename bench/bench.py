#!/usr/bin/env python3
"""pymport_py benchmarks: one run, one table, every figure measured in this run.

    python3 bench/bench.py            # everything (about a minute)
    python3 bench/bench.py --quick    # fewer repeats, shorter loops

Per-call figures are the best of several repeats of a timed loop (like timeit), each next to a
pure-Python baseline run the same way in the same process, with the ratio. Process figures (cold
start, RSS) come from fresh subprocesses, median of several runs. Peers (JSPyBridge `javascript`,
`pythonmonkey`, `mini_racer`) are measured only when importable, each in its own subprocess (so
their engines never share a process with libnode); this script never installs them, see
bench/install-peers.sh.
"""

import gc
import importlib.util
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import threading
import types

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
perf_counter = time.perf_counter

QUICK = "--quick" in sys.argv
REPEATS = 3 if QUICK else 7          # repeats of each timed loop; the best is kept
MIN_LOOP_S = 0.05 if QUICK else 0.2   # a timed loop grows until one repeat takes at least this
PROC_RUNS = 3 if QUICK else 5         # subprocess runs for cold start (median)
CALLBACK_N = 20_000 if QUICK else 100_000
MB10 = 10_000_000                     # "10 MB"
BYTES_REPEATS = 5 if QUICK else 15    # 10 MB copies are ms-long: more repeats are cheap
NODE = "/usr/bin/node" if os.path.exists("/usr/bin/node") else shutil.which("node")


# ---------------------------------------------------------------------------------------------
# timing helpers

def _loop(fn, n):
    """Time n calls fn(i); the loop itself is the same for the measured case and its baseline."""
    t0 = perf_counter()
    for i in range(n):
        fn(i)
    return perf_counter() - t0


def per_call_us(fn, repeats=REPEATS, min_s=MIN_LOOP_S):
    """Best-of-`repeats` microseconds per fn(i), with n grown like timeit.autorange."""
    fn(0)  # warm up (first call may compile / create proxies)
    n = 1000
    while True:
        t = _loop(fn, n)
        if t >= min_s or n >= 10_000_000:
            break
        n = max(n * 2, int(n * min_s / max(t, 1e-9) * 1.1))
    best = t / n
    for _ in range(repeats - 1):
        best = min(best, _loop(fn, n) / n)
    return best * 1e6


def best_of(fn, repeats=REPEATS, inner=1):
    """Best-of-`repeats` seconds for one fn() (averaged over `inner` calls per repeat)."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        t0 = perf_counter()
        for _ in range(inner):
            fn()
        best = min(best, (perf_counter() - t0) / inner)
    return best


def run_proc(argv, cwd=None, timeout=60, env=None):
    """Run argv in its own session; return (seconds, returncode, stdout, stderr).

    Output goes to temp files, not pipes, and the whole process group is killed afterwards, so a
    helper process left behind by the child (JSPyBridge's node) can neither stall us nor linger.
    Raises subprocess.TimeoutExpired after killing the group."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = perf_counter()
        p = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                             start_new_session=True, env=env)
        try:
            rc = p.wait(timeout)
            dt = perf_counter() - t0
        finally:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            p.wait()
        out.seek(0)
        err.seek(0)
        return dt, rc, out.read().decode(errors="replace"), err.read().decode(errors="replace")


def run_timed(argv, cwd=None, timeout=60, env=None):
    dt, rc, _, err = run_proc(argv, cwd, timeout, env)
    if rc != 0:
        raise RuntimeError(f"{argv!r} exited {rc}: {err[-500:]}")
    return dt


def cold_start_ms(argv, cwd=None, runs=PROC_RUNS, timeout=60, env=None):
    run_timed(argv, cwd, timeout, env)  # warm the page cache; not counted
    return statistics.median(run_timed(argv, cwd, timeout, env) for _ in range(runs)) * 1e3


STATM = ("import os; print(int(open('/proc/self/statm').read().split()[1])"
         " * os.sysconf('SC_PAGE_SIZE'))")


def rss_mib(argv, cwd=None, runs=3):
    vals = []
    for _ in range(runs):
        _, rc, out, err = run_proc(argv, cwd, timeout=60)
        if rc != 0:
            raise RuntimeError(f"{argv!r} exited {rc}: {err[-500:]}")
        vals.append(int(out.strip().splitlines()[-1]))
    return statistics.median(vals) / 2**20


# ---------------------------------------------------------------------------------------------
# table

ROWS = []


def section(title):
    ROWS.append(("#", title))


def row(case, value, baseline="", ratio=""):
    ROWS.append((case, value, baseline, ratio))
    # print as we go too, so a slow or stuck step is visible
    print(f"  .. {case}: {value}", file=sys.stderr, flush=True)


def fmt_us(v):
    return f"{v:.3f} µs" if v < 10 else f"{v:.1f} µs"


def fmt_ms(v):
    if v < 0.01:
        return f"{v:.6f} ms"  # e.g. zero-copy views: keep the digits, unit stays ms
    return f"{v:.3f} ms" if v < 10 else f"{v:.1f} ms"


def fmt_ratio(a, b):
    return f"{a / b:.1f}x" if b > 0 else "-"


def print_table():
    w = [max(len(r[i]) for r in ROWS if r[0] != "#") for i in range(4)]
    w[0] = max(w[0], 44)
    head = ("case", "value", "baseline", "ratio")
    w = [max(w[i], len(head[i])) for i in range(4)]
    line = lambda r: f"{r[0]:<{w[0]}}  {r[1]:>{w[1]}}  {r[2]:>{w[2]}}  {r[3]:>{w[3]}}"
    print(line(head))
    print("-" * (sum(w) + 6))
    for r in ROWS:
        if r[0] == "#":
            print(f"[{r[1]}]")
        else:
            print(line(r))


# ---------------------------------------------------------------------------------------------
# peers (each measured in a subprocess: `bench.py --peer NAME`)

PEERS = {
    # name shown: (module to look for, cold-start snippet)
    "javascript (JSPyBridge)": (
        "javascript",
        "from javascript import eval_js; eval_js('return 1')"),
    "pythonmonkey": (
        "pythonmonkey",
        "import pythonmonkey as pm; pm.eval('1')"),
    "mini_racer": (
        "py_mini_racer",
        # close() explicitly: without it mini-racer 0.14 sometimes hangs at interpreter exit
        "from py_mini_racer import MiniRacer; c = MiniRacer(); c.eval('1'); c.close()"),
}


def peer_child(module):
    """Runs in a subprocess: set up `x => x + 1` in the peer, time calls, print JSON, _exit."""
    cleanup = lambda: None
    if module == "javascript":
        from javascript import eval_js
        f = eval_js("return x => x + 1")
    elif module == "pythonmonkey":
        import pythonmonkey as pm
        f = pm.eval("x => x + 1")
    elif module == "py_mini_racer":
        from py_mini_racer import MiniRacer
        ctx = MiniRacer()
        f = ctx.eval("x => x + 1")
        cleanup = ctx.close
    else:
        raise SystemExit(f"unknown peer {module}")
    assert int(f(1)) == 2
    rss = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    us = per_call_us(f, repeats=3 if QUICK else 5, min_s=0.1 if QUICK else 0.25)
    print(json.dumps({"us": us, "rss": rss}), flush=True)
    del f
    cleanup()
    sys.stdout.flush()
    if module == "py_mini_racer":
        os._exit(0)  # mini-racer 0.14 can hang at interpreter exit
    # others exit normally (JSPyBridge stops its node process at exit; the parent kills the
    # process group afterwards anyway)
    sys.exit(0)


def bench_peers(pym_call_us, pym_cold_ms, pym_rss):
    section("peers: same sync call f(i) of `x => x + 1`, cold start, RSS; ratio = peer / pymport_py")
    for name, (module, snippet) in PEERS.items():
        if importlib.util.find_spec(module) is None:
            row(f"{name}: sync call", "not installed")
            continue
        argv = [sys.executable, os.path.abspath(__file__), "--peer", module]
        if QUICK:
            argv.append("--quick")
        try:
            _, rc, out, err = run_proc(argv, timeout=60)
            res = json.loads(out.strip().splitlines()[-1]) if rc == 0 else None
            why = "" if rc == 0 else "failed: " + "".join(err.strip().splitlines()[-1:])[-60:]
        except subprocess.TimeoutExpired:
            res, why = None, "timed out (>60 s)"
        except (ValueError, IndexError):
            res, why = None, "failed: no result printed"
        if res is None:
            row(f"{name}: sync call", why)
            continue
        row(f"{name}: sync call", fmt_us(res["us"]), fmt_us(pym_call_us),
            fmt_ratio(res["us"], pym_call_us))
        try:
            ms = cold_start_ms([sys.executable, "-c", snippet], timeout=20)
            row(f"{name}: cold start (median of {PROC_RUNS})", fmt_ms(ms), fmt_ms(pym_cold_ms),
                fmt_ratio(ms, pym_cold_ms))
        except subprocess.TimeoutExpired:
            row(f"{name}: cold start", "hung at exit (>20 s)")
        except RuntimeError as e:
            row(f"{name}: cold start", f"failed: {str(e)[-60:]}")
        rss = res["rss"] / 2**20
        note = " (Python process; excl. its node)" if module == "javascript" else ""
        row(f"{name}: RSS after start{note}", f"{rss:.1f} MiB", f"{pym_rss:.1f} MiB",
            fmt_ratio(rss, pym_rss))


# ---------------------------------------------------------------------------------------------
# main

def bench_async(n):
    """call_async throughput, await latency from asyncio, parallel speedup over workers."""
    import asyncio
    import concurrent.futures

    section("call_async: f.call_async(i) for a batch, then wait all   baseline: sync f(i)")
    f = n.eval("x => x + 1")
    batch = 2000 if QUICK else 20000

    def async_batch():
        futures = [f.call_async(i) for i in range(batch)]
        return [fu.result() for fu in futures]

    assert async_batch()[:3] == [1, 2, 3]
    t = best_of(async_batch, 3 if QUICK else 5) / batch * 1e6
    base = best_of(lambda: [f(i) for i in range(batch)], 3 if QUICK else 5) / batch * 1e6
    row(f"call_async throughput, batches of {batch} (per call)", fmt_us(t), fmt_us(base),
        fmt_ratio(t, base))

    section("await latency from asyncio: `await resolved_promise_fn()`   baseline: await asyncio.sleep(0)")
    ready = n.eval("() => Promise.resolve(1)")
    k = 300 if QUICK else 2000

    async def awaits():
        t0 = perf_counter()
        for _ in range(k):
            await ready()
        return (perf_counter() - t0) / k * 1e6

    async def sleeps():
        t0 = perf_counter()
        for _ in range(k):
            await asyncio.sleep(0)
        return (perf_counter() - t0) / k * 1e6

    lat = min(asyncio.run(awaits()) for _ in range(3))
    base = min(asyncio.run(sleeps()) for _ in range(3))
    row("await of a resolved JS Promise", fmt_us(lat), fmt_us(base),
        fmt_ratio(lat, base))

    cores = os.cpu_count() or 1
    section(f"parallel speedup: N = {cores} workers (cores), each a CPU-bound JS loop from its own thread")
    busy = "globalThis.busy = (n) => { let s = 0; for (let i = 0; i < n; i++) s = (s + i * i) % 1000003; return s }"
    iters = 30_000_000 if QUICK else 120_000_000
    workers = [n.Worker() for _ in range(cores)]
    try:
        for w in workers:
            w.eval(busy)
            w.eval("busy(1000)")
        t0 = perf_counter()
        for w in workers:
            w.eval(f"busy({iters})")
        serial = perf_counter() - t0
        with concurrent.futures.ThreadPoolExecutor(cores) as ex:
            t0 = perf_counter()
            list(ex.map(lambda w: w.eval(f"busy({iters})"), workers))
            parallel = perf_counter() - t0
    finally:
        for w in workers:
            w.close()
    row(f"{cores} calls one after another (one thread)", fmt_ms(serial * 1e3))
    row(f"{cores} calls from {cores} threads, one worker each", fmt_ms(parallel * 1e3),
        fmt_ms(serial * 1e3), fmt_ratio(parallel, serial))
    row("speedup (serial / parallel)", f"{serial / parallel:.2f}x", f"{cores}x ideal")


def _median(values):
    values = sorted(values)
    return values[len(values) // 2]


def bench_turns(n, f, call_us):
    """What run-to-completion (docs/threading.md#turns) costs: sync calls while the loop
    thread has events pending, and how late a timer's callback reaches Python."""
    section("turns: sync call f(i) while a 1 ms setInterval runs   baseline: sync call, idle loop")
    timer = n.eval("setInterval(() => {}, 1)")
    busy_us = per_call_us(f)
    n.eval("clearInterval")(timer)
    row(f"sync call f(i), 1 ms interval running (best of {REPEATS})", fmt_us(busy_us),
        fmt_us(call_us), fmt_ratio(busy_us, call_us))

    section("turns: setImmediate -> Python callback, from the call that queues it   "
            "baseline: the same JS round trip inside one JS call")
    fired = threading.Event()
    later = n.eval("(cb) => { setImmediate(cb); }")
    samples = []
    for _ in range(200 if not QUICK else 30):
        fired.clear()
        t0 = perf_counter()
        later(fired.set)
        fired.wait(10)
        samples.append((perf_counter() - t0) * 1e6)
    js_round = n.eval("""() => new Promise((resolve) => {
      const t0 = process.hrtime.bigint();
      setImmediate(() => resolve(Number(process.hrtime.bigint() - t0) / 1e3));
    })""")
    base = _median([js_round().result(10) for _ in range(50)])
    waiting = _median(samples)
    row("Python waits (Event.wait), median", fmt_us(waiting), fmt_us(base), fmt_ratio(waiting, base))

    late = n.eval("(cb) => { setTimeout(cb, 1); }")
    samples = []
    for _ in range(50 if not QUICK else 10):
        got = []
        t0 = perf_counter()
        late(lambda: got.append(perf_counter()))
        limit = t0 + 10
        while not got and perf_counter() < limit:
            sum(range(1000))  # pure Python: the timer gets in at a switch interval
        if got:
            samples.append((got[0] - t0) * 1e6 - 1000)
    computing = _median(samples)
    row("setTimeout(1) callback reaches Python late by, Python computing, median", fmt_us(computing),
        f"{sys.getswitchinterval() * 1e6:.0f} µs (switch interval)")


def import_pymport():
    try:
        import pymport_py
    except ImportError:
        sys.path.insert(0, REPO)
        import pymport_py
    return pymport_py


def main():
    t_start = perf_counter()
    load_before = os.getloadavg()[0]
    n = import_pymport()

    # --- per-call -----------------------------------------------------------------------------
    section("sync call: f = eval('x => x + 1'); f(i)   baseline: Python lambda x: x + 1")
    f = n.eval("x => x + 1")
    assert f(1) == 2
    py_f = lambda x: x + 1
    call_us = per_call_us(f)
    base_us = per_call_us(py_f)
    row(f"sync call f(i) (best of {REPEATS})", fmt_us(call_us), fmt_us(base_us),
        fmt_ratio(call_us, base_us))

    section("attribute get: o = eval('({x: 1})'); o.x   baseline: SimpleNamespace(x=1).x")
    o = n.eval("({x: 1})")
    assert o.x == 1
    po = types.SimpleNamespace(x=1)
    get_us = per_call_us(lambda i: o.x)
    base_get_us = per_call_us(lambda i: po.x)
    row(f"attribute get o.x (best of {REPEATS})", fmt_us(get_us), fmt_us(base_get_us),
        fmt_ratio(get_us, base_get_us))

    section(f"JS->Python callback: JS loop calls a Python function N={CALLBACK_N} times, / N"
            "   baseline: same loop in Python")
    jsloop = n.eval("(f, n) => { let s = 0; for (let i = 0; i < n; i++) s += f(i); return s }")

    def pyloop(f, n):
        s = 0
        for i in range(n):
            s += f(i)
        return s

    expect = CALLBACK_N * (CALLBACK_N + 1) // 2
    assert jsloop(py_f, CALLBACK_N) == expect
    cb_us = best_of(lambda: jsloop(py_f, CALLBACK_N)) / CALLBACK_N * 1e6
    base_cb_us = best_of(lambda: pyloop(py_f, CALLBACK_N)) / CALLBACK_N * 1e6
    row(f"JS->Python callback (best of {REPEATS})", fmt_us(cb_us), fmt_us(base_cb_us),
        fmt_ratio(cb_us, base_cb_us))

    bench_turns(n, f, call_us)

    # --- bytes ----------------------------------------------------------------------------------
    section(f"10 MB bytes (10,000,000 B), best of {BYTES_REPEATS}"
            "   baseline: plain Python copy / view")
    data = os.urandom(1 << 20) * 10
    data = data[:MB10]
    base_copy = best_of(lambda: bytearray(data), BYTES_REPEATS) * 1e3
    b = n.to_js(data)
    assert len(memoryview(b)) == MB10
    del b
    t = best_of(lambda: n.to_js(data), BYTES_REPEATS) * 1e3
    row("Python bytes -> JS Buffer, to_js(b) (copy)", fmt_ms(t), fmt_ms(base_copy),
        fmt_ratio(t, base_copy))
    jslen = n.eval("b => b.length")
    assert jslen(data) == MB10
    t = best_of(lambda: jslen(data), BYTES_REPEATS) * 1e3
    row("Python bytes as JS call argument (copy)", fmt_ms(t), fmt_ms(base_copy),
        fmt_ratio(t, base_copy))

    buf = n.eval(f"Buffer.alloc({MB10}, 7)")
    pyba = bytearray(b"\x07" * MB10)
    mv = memoryview(buf)
    assert mv.nbytes == MB10 and mv[0] == 7 and mv[-1] == 7
    mv.release()
    t = best_of(lambda: memoryview(buf), BYTES_REPEATS, inner=1000) * 1e3
    base = best_of(lambda: memoryview(pyba), BYTES_REPEATS, inner=1000) * 1e3
    row("JS Buffer -> Python, memoryview(buf) (zero-copy)", fmt_ms(t), fmt_ms(base),
        fmt_ratio(t, base))
    t = best_of(lambda: bytes(memoryview(buf)), BYTES_REPEATS) * 1e3
    base = best_of(lambda: bytes(memoryview(pyba)), BYTES_REPEATS) * 1e3
    row("JS Buffer -> Python, bytes(memoryview(buf)) (copy)", fmt_ms(t), fmt_ms(base),
        fmt_ratio(t, base))
    assert buf.to_py() == bytes(pyba)
    t = best_of(lambda: buf.to_py(), BYTES_REPEATS) * 1e3
    row("JS Buffer -> Python, buf.to_py() (copy)", fmt_ms(t), fmt_ms(base), fmt_ratio(t, base))
    buf = pyba = data = None  # drop the 10 MB buffers before the process section
    gc.collect()

    # --- async and workers ---------------------------------------------------------------------
    bench_async(n)

    # --- processes ------------------------------------------------------------------------------
    section(f"cold start of a whole process, wall time, median of {PROC_RUNS} (+1 warm-up)")
    py = sys.executable
    pym_argv = [py, "-c", "import pymport_py; pymport_py.eval('1')"]
    cold_pym = cold_start_ms(pym_argv, cwd=REPO)
    cold_imp = cold_start_ms([py, "-c", "import pymport_py"], cwd=REPO)
    cold_py = cold_start_ms([py, "-c", "pass"])
    row("python -c \"import pymport_py; pymport_py.eval('1')\"", fmt_ms(cold_pym))
    if n._pymport._startup_snapshot():
        # Node 24+: environments start from Node's startup snapshot; the same without it.
        cold_nosnap = cold_start_ms(pym_argv, cwd=REPO, env=dict(os.environ, PYMPORT_NO_SNAPSHOT="1"))
        row("  the same without the startup snapshot (PYMPORT_NO_SNAPSHOT=1)", fmt_ms(cold_nosnap),
            fmt_ms(cold_pym), fmt_ratio(cold_nosnap, cold_pym))
    row("python -c \"import pymport_py\" (no eval; start is lazy)", fmt_ms(cold_imp))
    row("python -c pass", fmt_ms(cold_py))
    if NODE:
        cold_node = cold_start_ms([NODE, "-e", "0"])
        node_ver = subprocess.run([NODE, "--version"], capture_output=True, text=True).stdout.strip()
        row(f"node -e 0 ({NODE}, {node_ver})", fmt_ms(cold_node))
    row("pymport_py start vs python -c pass", fmt_ms(cold_pym), fmt_ms(cold_py),
        fmt_ratio(cold_pym, cold_py))
    row("pymport_py start - python -c pass (added cost)", fmt_ms(cold_pym - cold_py))
    if NODE:
        row("pymport_py start vs node -e 0", fmt_ms(cold_pym), fmt_ms(cold_node),
            fmt_ratio(cold_pym, cold_node))

    section("RSS after start (/proc/self/statm resident pages, in a fresh process, median of 3)")
    rss_pym = rss_mib([py, "-c", "import pymport_py; pymport_py.eval('1'); " + STATM], cwd=REPO)
    rss_py = rss_mib([py, "-c", STATM])
    row("python + pymport_py.eval('1')", f"{rss_pym:.1f} MiB", f"{rss_py:.1f} MiB",
        fmt_ratio(rss_pym, rss_py))
    row("python + pymport_py: added RSS", f"{rss_pym - rss_py:.1f} MiB")
    row("bare python", f"{rss_py:.1f} MiB")
    if NODE:
        rss_node = rss_mib([NODE, "-e", "console.log(process.memoryUsage().rss)"])
        row("node -e (process.memoryUsage().rss)", f"{rss_node:.1f} MiB")

    # --- peers ----------------------------------------------------------------------------------
    bench_peers(call_us, cold_pym, rss_pym)

    # --- output ---------------------------------------------------------------------------------
    print()
    print(f"pymport_py benchmarks  ({'quick' if QUICK else 'full'} run)")
    print(f"python {platform.python_version()} ({sys.executable}), {platform.machine()}, "
          f"{os.cpu_count()} CPUs, 1-min load avg {load_before:.2f} at start, "
          f"{os.getloadavg()[0]:.2f} at end (other load makes figures noisy)")
    js_ver = n.eval("process.versions.node")
    print(f"embedded Node {js_ver} (V8 {n.eval('process.versions.v8')})")
    print("ratio = value / baseline (lower is better for pymport_py). Per-call figures include the")
    print("Python `for i in range(n): fn(i)` loop overhead in both value and baseline.")
    print()
    print_table()
    print()
    print(f"total bench time: {perf_counter() - t_start:.1f} s")
    return 0


if __name__ == "__main__":
    if "--peer" in sys.argv:
        peer_child(sys.argv[sys.argv.index("--peer") + 1])
    sys.exit(main())
