#!/usr/bin/env python3
"""pymport_py benchmarks: one run, one table, every figure measured in this run.

    python3 bench/bench.py            # everything (about a minute and a half)
    python3 bench/bench.py --quick    # fewer repeats, shorter loops (about 30 s)

Per-call figures are the best of several repeats of a timed loop (like timeit), each next to a
pure-Python baseline run the same way in the same process, with the ratio. Process figures (cold
start, RSS) come from fresh subprocesses, median of several runs. The peers (PythonMonkey
`pythonmonkey`, mini-racer `py_mini_racer`, JSPyBridge `javascript`) are measured on the same
figures when importable, each in its own subprocess (so their engines never share a process with
libnode), and compared as peer / pymport_py; this script never installs them, see
bench/install-peers.sh. The last table puts the figures of issue 13 side by side.
"""

import gc
import importlib.machinery
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
RSS_RUNS = 1 if QUICK else 3          # subprocess runs for RSS (median; it varies little)
CALLBACK_N = 20_000 if QUICK else 100_000
MB10 = 10_000_000                     # "10 MB"
BYTES_REPEATS = 5 if QUICK else 15    # 10 MB copies are ms-long: more repeats are cheap
NODE = "/usr/bin/node" if os.path.exists("/usr/bin/node") else shutil.which("node")
COLD_START_GOAL = 1.3                 # issue 13: within 1.3x of `python -c pass` + `node -e 0`
SPEEDUP_GOAL = 0.9                    # issue 13: N workers on N cores give >= 0.9 N


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


# Sums the resident pages (/proc/<pid>/statm) of this process and of all its descendants
# (JSPyBridge's node child); prints "<processes> <bytes>".
RSS_TREE = r"""
import os as _os
def _children(pid):
    out = []
    for d in _os.listdir('/proc'):
        if d.isdigit():
            try:
                with open('/proc/%s/stat' % d) as f:
                    if int(f.read().rsplit(')', 1)[1].split()[1]) == pid:
                        out.append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return out
_todo, _n, _total = [_os.getpid()], 0, 0
while _todo:
    _pid = _todo.pop()
    try:
        with open('/proc/%d/statm' % _pid) as f:
            _total += int(f.read().split()[1]) * _os.sysconf('SC_PAGE_SIZE')
    except OSError:
        continue
    _n += 1
    _todo += _children(_pid)
print(_n, _total, flush=True)
"""


def rss_mib(argv, cwd=None, runs=RSS_RUNS, env=None):
    """Median RSS in MiB of a fresh process that ends with RSS_TREE (or prints node's rss), and
    how many processes it counted."""
    vals, procs = [], 1
    for _ in range(runs):
        _, rc, out, err = run_proc(argv, cwd, timeout=60, env=env)
        if rc != 0:
            raise RuntimeError(f"{argv!r} exited {rc}: {err[-500:]}")
        fields = out.strip().splitlines()[-1].split()
        procs = int(fields[0]) if len(fields) == 2 else 1
        vals.append(int(fields[-1]))
    return statistics.median(vals) / 2**20, procs


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


def fmt_mib(v):
    return f"{v:.1f} MiB"


def fmt_ratio(a, b):
    if b <= 0:
        return "-"
    r = a / b
    return f"{r:.2f}x" if r < 10 else f"{r:.0f}x"


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
# platform

def platform_lines(n):
    """The header's description of where this ran: Debian release, Python, Node, CPUs."""
    release = "unknown OS"
    try:
        with open("/etc/os-release") as f:
            fields = dict(l.rstrip("\n").split("=", 1) for l in f if "=" in l)
        release = fields.get("PRETTY_NAME", "").strip('"') or release
    except OSError:
        pass
    try:
        with open("/etc/debian_version") as f:
            release += f" (debian_version {f.read().strip()})"
    except OSError:
        pass
    node_ver = "none"
    if NODE:
        node_ver = subprocess.run([NODE, "--version"], capture_output=True, text=True).stdout.strip()
        node_ver = f"{NODE} {node_ver}"
    return [
        f"platform: {release}, {platform.machine()}, {os.cpu_count()} CPUs",
        f"python {platform.python_version()} ({sys.executable}); "
        f"pymport_py from {os.path.dirname(os.path.abspath(n.__file__))}",
        f"embedded Node {n.eval('process.version')} (V8 {n.eval('process.versions.v8')}, "
        f"startup snapshot {'yes' if n._pymport._startup_snapshot() else 'no'}); "
        f"system node: {node_ver}",
    ]


# ---------------------------------------------------------------------------------------------
# peers (each measured in a subprocess: `bench.py --peer MODULE`)

# Where bench/install-peers.sh installs the peers (`pip install --target`), one directory per
# CPython version, outside the checkout; bench.py puts it first on the peers' PYTHONPATH. Peers
# installed in this interpreter's own site-packages are found too.
PEER_ROOT = os.environ.get("PYMPORT_BENCH_PEERS") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "pymport_py", "bench-peers")
PEER_TARGET = os.path.join(PEER_ROOT, "cp%d%d" % sys.version_info[:2])

# name shown: (module, distribution, start: import + evaluate 1+1)
PEERS = {
    "PythonMonkey": (
        "pythonmonkey", "pythonmonkey",
        "import pythonmonkey as pm; pm.eval('1+1')"),
    "mini-racer": (
        "py_mini_racer", "mini-racer",
        # close() explicitly: without it mini-racer 0.14 sometimes hangs at interpreter exit
        "from py_mini_racer import MiniRacer; c = MiniRacer(); c.eval('1+1'); c.close()"),
    "JSPyBridge": (
        "javascript", "javascript",
        "from javascript import eval_js; eval_js('return 1+1')"),
}

# The JS->Python callback loop; the second form for the peers whose Python functions return a
# Promise in JS (JSPyBridge, mini-racer).
LOOP_JS = "(f, n) => { let s = 0; for (let i = 0; i < n; i++) s += f(i); return s }"
AWAIT_LOOP_JS = "async (f, n) => { let s = 0; for (let i = 0; i < n; i++) s += await f(i); return s }"


def peer_env():
    """The environment of a peer's subprocess: the peers' directory first on PYTHONPATH."""
    env = dict(os.environ)
    if os.path.isdir(PEER_TARGET):
        env["PYTHONPATH"] = os.pathsep.join(p for p in (PEER_TARGET, env.get("PYTHONPATH")) if p)
    return env


def peer_missing(module, dist):
    """None when the peer is importable, else why not (install-peers.sh's note, if it left one)."""
    if importlib.machinery.PathFinder.find_spec(module, [PEER_TARGET] + sys.path) is not None:
        return None
    try:
        with open(os.path.join(PEER_TARGET, f".failed-{dist}")) as f:
            return "not installed: " + " ".join(f.read().split())
    except OSError:
        return "not installed (see bench/install-peers.sh)"


def timed_loops(run, n, repeats):
    """[(result, seconds)] of `repeats` calls run(n), after one warm-up call run(1)."""
    run(1)
    out = []
    for _ in range(repeats):
        gc.collect()
        t0 = perf_counter()
        s = run(n)
        out.append((s, perf_counter() - t0))
    return out


def mini_racer_callbacks(py_mini_racer, n, repeats):
    """mini-racer calls Python only as an async function, run on the asyncio loop its context
    was made on (its wrap_py_function): a context made inside asyncio.run for this."""
    import asyncio

    async def main():
        with py_mini_racer.mini_racer() as ctx:
            async def py_f(x):
                return x + 1
            async with ctx.wrap_py_function(py_f) as js_f:
                jsloop = ctx.eval(AWAIT_LOOP_JS)
                await jsloop(js_f, 1)  # warm up
                out = []
                for _ in range(repeats):
                    t0 = perf_counter()
                    s = await jsloop(js_f, n)
                    out.append((s, perf_counter() - t0))
                return out
    return asyncio.run(main())


def peer_child(module):
    """Runs in a subprocess: the peer's sync call, attribute get and JS->Python callback; prints
    one JSON line, then exits."""
    import importlib.metadata
    res = {}
    cleanup = lambda: None
    py_f = lambda x: x + 1
    slow_n, slow_repeats = (50, 2) if QUICK else (200, 3)  # peers with ~0.5 ms callbacks
    if module == "pythonmonkey":
        import pythonmonkey as pm
        res["version"] = importlib.metadata.version("pythonmonkey")
        f = pm.eval("x => x + 1")
        o = pm.eval("({x: 1})")
        get = lambda i: o.x
        res["get_form"] = "o.x"
        jsloop = pm.eval(LOOP_JS)
        callbacks = lambda: timed_loops(lambda k: jsloop(py_f, k), CALLBACK_N, 3)
        res["cb_n"] = CALLBACK_N
    elif module == "javascript":
        from javascript import eval_js
        res["version"] = importlib.metadata.version("javascript")
        f = eval_js("return x => x + 1")
        o = eval_js("return {x: 1}")
        get = lambda i: o.x
        res["get_form"] = "o.x"
        # A Python function reaches JS as one that returns a Promise: the loop awaits each call.
        jsloop = eval_js(f"return {AWAIT_LOOP_JS}")
        callbacks = lambda: timed_loops(lambda k: jsloop(py_f, k), slow_n, slow_repeats)
        res["cb_n"], res["cb_form"] = slow_n, "await f(i)"
    elif module == "py_mini_racer":
        import py_mini_racer
        from py_mini_racer import MiniRacer
        res["version"] = importlib.metadata.version("mini-racer")
        ctx = MiniRacer()
        cleanup = ctx.close
        f = ctx.eval("x => x + 1")
        o = ctx.eval("({x: 1})")
        get = lambda i: o["x"]  # its objects are mappings, without attribute access
        res["get_form"] = "o['x']"
        if hasattr(MiniRacer, "wrap_py_function"):  # 0.12 and later
            callbacks = lambda: mini_racer_callbacks(py_mini_racer, slow_n, slow_repeats)
            res["cb_n"], res["cb_form"] = slow_n, "await f(i), an async def"
        else:
            callbacks = None
    else:
        raise SystemExit(f"unknown peer {module}")
    assert int(f(1)) == 2 and int(get(0)) == 1
    repeats, min_s = (3, 0.1) if QUICK else (5, 0.25)
    res["call_us"] = per_call_us(f, repeats=repeats, min_s=min_s)
    res["get_us"] = per_call_us(get, repeats=repeats, min_s=min_s)
    if callbacks is not None:
        runs = callbacks()
        n = res["cb_n"]
        assert all(int(s) == n * (n - 1) // 2 + n for s, _ in runs), runs
        res["cb_us"] = min(dt for _, dt in runs) / n * 1e6
    print(json.dumps(res), flush=True)
    cleanup()
    sys.stdout.flush()
    if module == "py_mini_racer":
        os._exit(0)  # mini-racer 0.14 can hang at interpreter exit
    # JSPyBridge stops its node process at exit; the parent kills the process group anyway
    sys.exit(0)


def bench_peers(pym):
    """Every figure of issue 13's table for each peer, next to pymport_py's of this run."""
    results = {}
    for name, (module, dist, snippet) in PEERS.items():
        r = results[name] = {}
        missing = peer_missing(module, dist)
        if missing:
            r["missing"] = missing
            continue
        env = peer_env()
        argv = [sys.executable, os.path.abspath(__file__), "--peer", module]
        if QUICK:
            argv.append("--quick")
        try:
            _, rc, out, err = run_proc(argv, timeout=120, env=env)
            if rc == 0:
                r.update(json.loads(out.strip().splitlines()[-1]))
            else:
                r["failed"] = "failed: " + "".join(err.strip().splitlines()[-1:])[-80:]
        except subprocess.TimeoutExpired:
            r["failed"] = "timed out (>120 s)"
        except (ValueError, IndexError):
            r["failed"] = "failed: no result printed"
        if "failed" in r:
            continue
        try:
            r["cold_ms"] = cold_start_ms([sys.executable, "-c", snippet], timeout=30, env=env)
        except subprocess.TimeoutExpired:
            r["cold_failed"] = "hung at exit (>30 s)"
        except RuntimeError as e:
            r["cold_failed"] = f"failed: {str(e)[-60:]}"
        try:
            r["rss_mib"], r["rss_procs"] = rss_mib([sys.executable, "-c", snippet + "\n" + RSS_TREE],
                                                   env=env)
        except (RuntimeError, subprocess.TimeoutExpired, ValueError, IndexError) as e:
            r["rss_failed"] = f"failed: {str(e)[-60:]}"

    def not_measured(r):
        return r.get("missing") or r.get("failed")

    def versioned(name, r):
        return f"{name} {r['version']}" if "version" in r else name

    section("peers: sync call f(i) of `x => x + 1`, each bridge's own function object"
            "   ratio = peer / pymport_py")
    for name, r in results.items():
        if not_measured(r):
            row(f"{name}: sync call", not_measured(r))
        else:
            row(f"{versioned(name, r)}: sync call", fmt_us(r["call_us"]), fmt_us(pym["call_us"]),
                fmt_ratio(r["call_us"], pym["call_us"]))

    section("peers: attribute get of `({x: 1})` made by each bridge's eval   ratio = peer / pymport_py")
    for name, r in results.items():
        if not_measured(r):
            row(f"{name}: attribute get", not_measured(r))
        else:
            row(f"{name}: attribute get {r['get_form']}", fmt_us(r["get_us"]), fmt_us(pym["get_us"]),
                fmt_ratio(r["get_us"], pym["get_us"]))

    section("peers: JS->Python callback, a JS loop calling a Python function N times, / N"
            "   ratio = peer / pymport_py")
    for name, r in results.items():
        if not_measured(r):
            row(f"{name}: callback", not_measured(r))
        elif "cb_us" not in r:
            row(f"{name}: callback", f"not supported by {name} {r['version']}")
        else:
            form = f", {r['cb_form']}" if "cb_form" in r else ""
            row(f"{name}: callback (N={r['cb_n']}{form})", fmt_us(r["cb_us"]), fmt_us(pym["cb_us"]),
                fmt_ratio(r["cb_us"], pym["cb_us"]))

    section(f"peers: cold start of a whole process (import + evaluate 1+1), median of {PROC_RUNS}"
            "   ratio = peer / pymport_py")
    for name, r in results.items():
        if not_measured(r) or "cold_failed" in r:
            row(f"{name}: cold start", not_measured(r) or r["cold_failed"])
        else:
            row(f"{name}: cold start", fmt_ms(r["cold_ms"]), fmt_ms(pym["cold_ms"]),
                fmt_ratio(r["cold_ms"], pym["cold_ms"]))

    section(f"peers: RSS after start (import + evaluate 1+1), median of {RSS_RUNS}   ratio = peer / pymport_py")
    for name, r in results.items():
        if not_measured(r) or "rss_failed" in r:
            row(f"{name}: RSS after start", not_measured(r) or r["rss_failed"])
        else:
            procs = r["rss_procs"]
            what = " (Python + its node: both processes)" if procs == 2 else (
                f" ({procs} processes, summed)" if procs > 1 else "")
            row(f"{name}: RSS after start{what}", fmt_mib(r["rss_mib"]), fmt_mib(pym["rss_mib"]),
                fmt_ratio(r["rss_mib"], pym["rss_mib"]))
    return results


def print_summary(pym, results):
    """Issue 13's table: each figure of pymport_py and of each peer, with peer / pymport_py."""
    figures = [
        ("sync call `x => x + 1`", "call_us", fmt_us, None),
        ("attribute get", "get_us", fmt_us, None),
        ("JS->Python callback", "cb_us", fmt_us, None),
        ("whole-process cold start", "cold_ms", fmt_ms, "cold_failed"),
        ("RSS after start", "rss_mib", fmt_mib, "rss_failed"),
    ]
    names = list(results)
    table = [["figure", "pymport_py"] + names]
    for label, key, fmt, failed in figures:
        cells = [label, fmt(pym[key])]
        for name in names:
            r = results[name]
            if r.get("missing"):
                cells.append("not installed")
            elif r.get("failed") or (failed and failed in r):
                cells.append("failed")
            elif key not in r:
                cells.append("not supported")
            else:
                extra = ", 2 processes" if key == "rss_mib" and r.get("rss_procs") == 2 else ""
                cells.append(f"{fmt(r[key])} ({fmt_ratio(r[key], pym[key])}{extra})")
        table.append(cells)
    w = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    print("issue 13's table: value (peer / pymport_py; above 1x: pymport_py is faster or smaller)")
    for i, r in enumerate(table):
        print("  ".join(c.ljust(w[j]) if j == 0 else c.rjust(w[j]) for j, c in enumerate(r)))
        if i == 0:
            print("-" * (sum(w) + 2 * (len(w) - 1)))
    for name in names:
        if results[name].get("missing"):
            print(f"{name}: {results[name]['missing']}")


# ---------------------------------------------------------------------------------------------
# main

def bench_async(n):
    """Issue 13's goal 5: call_async throughput, await of a resolved Promise, parallel speedup."""
    import asyncio
    import concurrent.futures

    section("goal 5: call_async throughput, f.call_async(i) for a batch, then wait all"
            "   baseline: sync f(i)")
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

    section("goal 5: await of a resolved Promise from asyncio, `await resolved_promise_fn()`"
            "   baseline: await asyncio.sleep(0)")
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
    row("await of a resolved JS Promise", fmt_us(lat), fmt_us(base), fmt_ratio(lat, base))

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    section(f"goal 5: parallel speedup, N = {cores} Workers on {cores} cores, each a CPU-bound JS loop"
            f" from its own thread (goal >= {SPEEDUP_GOAL} N)")
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
    speedup = serial / parallel
    row(f"{cores} calls one after another (one thread)", fmt_ms(serial * 1e3))
    row(f"{cores} calls from {cores} threads, one worker each", fmt_ms(parallel * 1e3),
        fmt_ms(serial * 1e3), fmt_ratio(parallel, serial))
    row("speedup (serial / parallel); ratio: as a fraction of N", f"{speedup:.2f}x",
        f"{cores}x ideal", f"{speedup / cores:.2f} N")


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


def built_in_place():
    """Whether this checkout has its extension built in place (then it is the one measured)."""
    import glob
    import sysconfig
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    return bool(glob.glob(os.path.join(REPO, "pymport_py", "_pymport" + suffix)))


# The directory the cold-start and RSS processes start in: `python -c` imports from there first.
# The checkout when its extension is built in place (the same pymport_py as in this process),
# else bench/, where no pymport_py is, so that the installed one is used as here.
PYM_CWD = REPO if built_in_place() else HERE


def import_pymport():
    if PYM_CWD == REPO:
        sys.path.insert(0, REPO)
    import pymport_py
    return pymport_py


def main():
    t_start = perf_counter()
    load_before = os.getloadavg()
    n = import_pymport()
    header = platform_lines(n)
    for line in header:
        print(f"  .. {line}", file=sys.stderr, flush=True)
    pym = {}

    # --- per-call -----------------------------------------------------------------------------
    section("sync call: f = eval('x => x + 1'); f(i)   baseline: Python lambda x: x + 1")
    f = n.eval("x => x + 1")
    assert f(1) == 2
    py_f = lambda x: x + 1
    call_us = pym["call_us"] = per_call_us(f)
    base_us = per_call_us(py_f)
    row(f"sync call f(i) (best of {REPEATS})", fmt_us(call_us), fmt_us(base_us),
        fmt_ratio(call_us, base_us))

    section("attribute get: o = eval('({x: 1})'); o.x   baseline: SimpleNamespace(x=1).x")
    o = n.eval("({x: 1})")
    assert o.x == 1
    po = types.SimpleNamespace(x=1)
    get_us = pym["get_us"] = per_call_us(lambda i: o.x)
    base_get_us = per_call_us(lambda i: po.x)
    row(f"attribute get o.x (best of {REPEATS})", fmt_us(get_us), fmt_us(base_get_us),
        fmt_ratio(get_us, base_get_us))

    section(f"JS->Python callback: JS loop calls a Python function N={CALLBACK_N} times, / N"
            "   baseline: same loop in Python")
    jsloop = n.eval(LOOP_JS)

    def pyloop(f, n):
        s = 0
        for i in range(n):
            s += f(i)
        return s

    expect = CALLBACK_N * (CALLBACK_N + 1) // 2
    assert jsloop(py_f, CALLBACK_N) == expect
    cb_us = pym["cb_us"] = best_of(lambda: jsloop(py_f, CALLBACK_N)) / CALLBACK_N * 1e6
    base_cb_us = best_of(lambda: pyloop(py_f, CALLBACK_N)) / CALLBACK_N * 1e6
    row(f"JS->Python callback (best of {REPEATS})", fmt_us(cb_us), fmt_us(base_cb_us),
        fmt_ratio(cb_us, base_cb_us))

    bench_turns(n, f, call_us)

    # --- bytes ----------------------------------------------------------------------------------
    section(f"goal 5: 10 MB bytes (10,000,000 B), best of {BYTES_REPEATS}"
            "   baseline: a plain copy at memcpy speed (bytearray(b)) / a view")
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
    start_code = "import pymport_py as n; n.eval('1+1')"
    pym_argv = [py, "-c", start_code]
    cold_pym = pym["cold_ms"] = cold_start_ms(pym_argv, cwd=PYM_CWD)
    cold_imp = cold_start_ms([py, "-c", "import pymport_py"], cwd=PYM_CWD)
    cold_py = cold_start_ms([py, "-c", "pass"])
    row(f'python -c "{start_code}"', fmt_ms(cold_pym))
    if n._pymport._startup_snapshot():
        # Node 24+: environments start from Node's startup snapshot; the same without it.
        cold_nosnap = cold_start_ms(pym_argv, cwd=PYM_CWD, env=dict(os.environ, PYMPORT_NO_SNAPSHOT="1"))
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
        row(f"goal 2: pymport_py start vs (python -c pass + node -e 0), target <= {COLD_START_GOAL}x",
            fmt_ms(cold_pym), fmt_ms(cold_py + cold_node), fmt_ratio(cold_pym, cold_py + cold_node))
    else:
        row(f"goal 2: pymport_py start vs (python -c pass + node -e 0), target <= {COLD_START_GOAL}x",
            "no node to compare with")

    section(f"RSS after start (resident pages from /proc/<pid>/statm, fresh process, median of {RSS_RUNS})")
    rss_pym, _ = rss_mib([py, "-c", start_code + "\n" + RSS_TREE], cwd=PYM_CWD)
    pym["rss_mib"] = rss_pym
    rss_py, _ = rss_mib([py, "-c", RSS_TREE])
    row(f'python -c "{start_code}"', fmt_mib(rss_pym), fmt_mib(rss_py), fmt_ratio(rss_pym, rss_py))
    row("python + pymport_py: added RSS", fmt_mib(rss_pym - rss_py))
    row("bare python", fmt_mib(rss_py))
    if NODE:
        rss_node, _ = rss_mib([NODE, "-e", "console.log(process.memoryUsage().rss)"])
        row("node -e (process.memoryUsage().rss)", fmt_mib(rss_node))

    # --- peers ----------------------------------------------------------------------------------
    results = bench_peers(pym)

    # --- output ---------------------------------------------------------------------------------
    load_after = os.getloadavg()
    print()
    print(f"pymport_py benchmarks  ({'quick' if QUICK else 'full'} run)")
    for line in header:
        print(line)
    print("load average (1, 5, 15 min): %.2f %.2f %.2f at start, %.2f %.2f %.2f at end"
          " (other load makes figures noisy)" % (load_before + load_after))
    print("ratio = value / baseline (lower is better for pymport_py); for peers, baseline is")
    print("pymport_py's figure. Per-call figures include the Python `for i in range(n): fn(i)`")
    print("loop overhead in both value and baseline.")
    print()
    print_table()
    print()
    print_summary(pym, results)
    print()
    print(f"total bench time: {perf_counter() - t_start:.1f} s")
    return 0


if __name__ == "__main__":
    if "--peer-target" in sys.argv:  # for bench/install-peers.sh
        print(PEER_TARGET)
        sys.exit(0)
    if "--peer" in sys.argv:
        peer_child(sys.argv[sys.argv.index("--peer") + 1])
    sys.exit(main())
