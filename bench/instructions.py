#!/usr/bin/env python3
"""Instructions per call of pymport_py's hot paths, counted by callgrind.

    python3 bench/instructions.py                 # every case
    python3 bench/instructions.py callback        # one case (sync, attr, callback, call_async, await)
    python3 bench/instructions.py --toggle sync=jsp_call   # another C entry point for a case

Instruction counts repeat whatever the load, so they show changes too small for the timings of
bench.py. Each case runs twice under `valgrind --tool=callgrind --toggle-collect=FUNC`, with the
real interpreter (sys.executable, not a shim script): 2,000 warm-up operations, then N = 10,000,
and the same with N = 110,000. Only what runs inside FUNC, the C function that Python or JS
enters for the operation, is counted (with everything it calls, on the calling thread), so the
process's start and exit cancel out: (total at 110,000 - total at 10,000) / 100,000 is one
operation. call_async and await count N = 2,000 and 12,000, and call_async counts inside the
three functions where its work happens, on both threads (the caller's call_async and result(),
the loop thread's run of the queued tasks). Needs valgrind (scripts/install-deps installs it);
about a minute per case here.
"""

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
WARMUP = 2_000
N_LOW, N_HIGH = 10_000, 110_000

# case: (what one operation is, the C function it enters: csrc/jsproxy.c, csrc/pyproxy.c)
CASES = {
    "sync": ("sync call f(i) of `x => x + 1`", "jsp_vectorcall"),     # JSObject's vectorcall
    "attr": ("attribute get o.x of `({x: 1})`", "jsp_getattro"),      # JSObject's tp_getattro
    "callback": ("JS->Python callback: one f(i) of a JS loop", "pyp_call"),  # a Python function's JS proxy
    # Both threads: the caller's call_async and result(), the loop thread's run of the tasks.
    "call_async": ("call_async f.call_async(i) in batches of 500, then result() of each",
                   "as_call_async,tq_on_wake,as_future_result"),
    "await": ("await of a resolved Promise, `await ready()` (the await; not the call making it)",
              "jsp_await"),
}
# Cases that cost more per operation run fewer (low, high).
COUNTS = {"call_async": (2_000, 12_000), "await": (2_000, 12_000)}
LOOP_JS = "(f, n) => { let s = 0; for (let i = 0; i < n; i++) s += f(i); return s }"


def import_pymport():
    """The checkout's pymport_py when its extension is built in place, else the installed one."""
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    if glob.glob(os.path.join(REPO, "pymport_py", "_pymport" + suffix)):
        sys.path.insert(0, REPO)
    import pymport_py
    return pymport_py


def child(case, n):
    """Runs under callgrind: WARMUP operations, then n."""
    node = import_pymport()
    if case == "sync":
        f = node.eval("x => x + 1")
        for i in range(WARMUP):
            f(i)
        for i in range(n):
            f(i)
    elif case == "attr":
        o = node.eval("({x: 1})")
        for _ in range(WARMUP):
            o.x
        for _ in range(n):
            o.x
    elif case == "callback":
        jsloop = node.eval(LOOP_JS)
        py_f = lambda x: x + 1
        assert jsloop(py_f, WARMUP) == WARMUP * (WARMUP + 1) // 2
        assert jsloop(py_f, n) == n * (n + 1) // 2
    elif case == "call_async":
        f = node.eval("x => x + 1")
        for k in (WARMUP, n):
            for start in range(0, k, 500):
                futures = [f.call_async(i) for i in range(start, min(start + 500, k))]
                assert [fu.result() for fu in futures] == list(range(start + 1, min(start + 500, k) + 1))
    elif case == "await":
        import asyncio
        ready = node.eval("() => Promise.resolve(1)")

        async def awaits(k):
            for _ in range(k):
                assert await ready() == 1
        asyncio.run(awaits(WARMUP))
        asyncio.run(awaits(n))
    else:
        raise SystemExit(f"unknown case {case}")
    print(node.__file__, flush=True)


def collected(case, func, n, tmp):
    """Instructions callgrind counted inside func in one run of the child with n operations."""
    out = os.path.join(tmp, f"callgrind.{case}.{n}.out")
    toggles = [f"--toggle-collect={f}" for f in func.split(",")]
    argv = ["valgrind", "--tool=callgrind", *toggles,
            f"--callgrind-out-file={out}", sys.executable, os.path.abspath(__file__),
            "--child", case, str(n)]
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=1800)
    if p.returncode != 0:
        raise RuntimeError(f"{case}, N={n}: exited {p.returncode}: {p.stderr.strip()[-400:]}")
    with open(out) as f:
        text = f.read()
    m = re.search(r"^(?:summary|totals):\s*(\d+)", text, re.M)
    if not m:
        raise RuntimeError(f"{case}, N={n}: no totals in callgrind's output")
    return int(m.group(1)), p.stdout.strip().splitlines()[-1:]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cases", nargs="*", metavar="case",
                    help=f"some of {', '.join(CASES)} (default: all)")
    ap.add_argument("--toggle", action="append", default=[], metavar="CASE=FUNC",
                    help="count inside FUNC for CASE instead (the C entry point was renamed); "
                         "FUNC,FUNC... counts inside any of them")
    args = ap.parse_args()
    for case in args.cases:
        if case not in CASES:
            ap.error(f"unknown case {case!r}: one of {', '.join(CASES)}")
    funcs = {case: func for case, (_, func) in CASES.items()}
    for t in args.toggle:
        case, _, func = t.partition("=")
        if case not in CASES or not func:
            ap.error(f"--toggle {t}: expected CASE=FUNC, CASE one of {', '.join(CASES)}")
        funcs[case] = func
    if not shutil.which("valgrind"):
        print("instructions: valgrind is not installed (scripts/install-deps installs it)",
              file=sys.stderr)
        return 2
    version = subprocess.run(["valgrind", "--version"], capture_output=True, text=True).stdout.strip()
    print(f"instructions per operation, callgrind ({version}), python {sys.version.split()[0]}, "
          f"(total at N={N_HIGH:,} - total at N={N_LOW:,}) / {N_HIGH - N_LOW:,}")
    rc = 0
    with tempfile.TemporaryDirectory(prefix="pymport-callgrind-") as tmp:
        for case in args.cases or list(CASES):
            what, func = CASES[case][0], funcs[case]
            try:
                n_low, n_high = COUNTS.get(case, (N_LOW, N_HIGH))
                low, _ = collected(case, func, n_low, tmp)
                high, where = collected(case, func, n_high, tmp)
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                print(f"{what}: failed: {e}")
                rc = 1
                continue
            if high == 0:
                print(f"{what}: nothing counted inside {func} (renamed or inlined? see --toggle)")
                rc = 1
                continue
            per_op = (high - low) / (n_high - n_low)
            ns = f"N = {n_low:,} and {n_high:,}; " if case in COUNTS else ""
            print(f"{what}: {per_op:,.0f} instructions ({ns}inside {func}; "
                  f"{low:,} and {high:,} in all; pymport_py from {os.path.dirname(where[0]) if where else '?'})")
    return rc


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]))
        sys.exit(0)
    sys.exit(main())
