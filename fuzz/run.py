#!/usr/bin/env python3
"""Fuzzes pymport_py's conversions (issue 10, "Standing checks").

Generates nested Python values (ints of every size, floats with NaN and infinities, str with
lone surrogates, bytes and buffers, lists, dicts, sets, cycles, objects whose dunder methods
raise) and sends them through JavaScript and back; generates JavaScript values (literals,
typed arrays, Maps, Sets, Dates, getters, Symbol keys, Proxies with throwing traps,
iterables) and converts them to Python, with to_py() and the JSObject protocols; throws
both ways. Each outcome is checked against docs/conversions.md and docs/errors.md: a crash,
a hang, an exception of the wrong type or a wrong value is a failure.

    scripts/fuzz [--seconds 60] [--seed N] [--case I] [--cases N] [--known all|NAME,...]
                 [--engine atheris] [--replay FILE]

Every case has its own generator, seeded from the run's seed and the case's number, so
`--seed N --case I` runs case I of that run alone, and `--seed N --cases I+1` runs the run
up to it. With --engine atheris, libFuzzer's mutated inputs drive the same generators
instead (coverage of the Python code only: the C extension is not instrumented), and a
failing input is saved for --replay. The fuzzer runs in a child process; a crash or a hang
there is reported with the case that was running.
"""
from __future__ import annotations

import argparse
import faulthandler
import gc
import hashlib
import importlib
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import warnings

# Known defects. The fuzzer does not generate what triggers them unless --known names them
# (they crash the process or fail every run); each entry says what that is.
KNOWN_DEFECTS = {
    "proto-key": "a dict key '__proto__' sets the copy's prototype instead of a property",
    "date-precision": "to_py() of a Date whose milliseconds * 1000 is not exact as a double is off "
                      "by microseconds",
    "proxy-kind": "to_py() of a Proxy treats it as a plain object whatever its target (an Array "
                  "gives a dict)",
    "pyobject-length": "PyObject.length is undefined when __len__ raises, instead of throwing",
    "pyobject-has": "PyObject.has() is false when __getattr__ raises anything, where hasattr() raises "
                    "all but AttributeError",
    "iter-typeerror": "a TypeError raised by the __iter__ of a list, tuple or set subclass being copied "
                      "is replaced by an empty TypeError",
    "awaitable-in-cycle": "copying a cyclic container that holds an awaitable leaves a coroutine never "
                          "awaited (RuntimeWarning) and ~1000 Promises to settle",
    "attr-callable": "o.k, where o.k holds the function made from a Python callable, gives a new "
                     "bound JSObject instead of the callable (o['k'] gives the callable)",
    "nullish-through-python": "a thrown null or undefined that passes through a Python callback comes "
                              "back to JavaScript as a new Error, not itself",
}

HERE = os.path.dirname(os.path.abspath(__file__))
CASE_TIMEOUT = 20.0  # seconds one case may take before it counts as a hang


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="scripts/fuzz", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="known defects:\n" + "\n".join(
                                    f"  {k}: {v}" for k, v in KNOWN_DEFECTS.items()))
    p.add_argument("--seconds", type=float, default=60.0, help="time budget (default 60)")
    p.add_argument("--seed", type=int, default=None, help="the run's seed (default: random)")
    p.add_argument("--case", type=int, default=None, help="run only this case of the run")
    p.add_argument("--cases", type=int, default=None,
                   help="run cases 0 to N-1 (or from --case), whatever the time")
    p.add_argument("--known", default="",
                   help="also generate what triggers these known defects ('all' or a comma list)")
    p.add_argument("--verbose", "-v", action="store_true", help="print every case")
    p.add_argument("--max-failures", type=int, default=20, help="failures to print in full")
    p.add_argument("--slow", type=float, default=None, metavar="SECONDS",
                   help="print the cases that take longer than this")
    p.add_argument("--case-timeout", type=float, default=CASE_TIMEOUT,
                   help=f"seconds a case may run before it counts as a hang (default {CASE_TIMEOUT:.0f})")
    p.add_argument("--engine", choices=["seeded", "atheris"], default="seeded",
                   help="seeded: random.Random per case (default); atheris: libFuzzer's mutated "
                        "inputs through the same generators (needs `pip install atheris`)")
    p.add_argument("--replay", metavar="FILE", help="run the atheris input saved in FILE")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--state", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    names = set(KNOWN_DEFECTS) if args.known == "all" else {n for n in args.known.split(",") if n}
    unknown = names - set(KNOWN_DEFECTS)
    if unknown:
        p.error(f"no known defect {', '.join(sorted(unknown))}; known: {', '.join(KNOWN_DEFECTS)}")
    args.known_set = names
    if args.replay:
        args.engine = "atheris"
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(2 ** 32)
    return args


def reproduce(args: argparse.Namespace, i: int, data: bytes | None = None) -> str:
    known = f" --known {args.known}" if args.known else ""
    if data is not None:
        name = f"fuzz-case-{hashlib.sha1(data).hexdigest()[:12]}"
        with open(name, "wb") as f:
            f.write(data)
        return f"scripts/fuzz --replay {name}{known}"
    return f"scripts/fuzz --seed {args.seed} --case {i}{known}"


class BytesRandom(random.Random):
    """A random.Random whose draws are the bytes of a libFuzzer input (zeros once they run
    out), so that atheris's mutations steer the same generators."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0
        super().__init__(0)

    def getrandbits(self, k: int) -> int:
        n = (k + 7) // 8
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return int.from_bytes(chunk.ljust(n, b"\0"), "little") >> (8 * n - k) if k else 0

    def random(self) -> float:
        return self.getrandbits(53) / 2 ** 53

    def getstate(self):  # noqa: ANN201 - as random.Random's
        return self.pos

    def setstate(self, state) -> None:  # noqa: ANN001
        self.pos = state


# ---- the child: runs the cases ----

class State:
    """The case running now, in a file the parent reads if the child dies."""

    def __init__(self, path: str | None):
        self.fd = os.open(path, os.O_WRONLY) if path else None

    def write(self, text: str) -> None:
        if self.fd is not None:
            data = text.encode("utf-8", "backslashreplace")
            os.pwrite(self.fd, data, 0)
            os.ftruncate(self.fd, len(data))


class Runner:
    """Runs cases one by one, reports failures, counts."""

    def __init__(self, args: argparse.Namespace):
        sys.path.insert(0, HERE)
        import pymport_py

        import cases
        import pyside
        from oracle import Mismatch, describe_exc
        self.cases, self.pyside, self.Mismatch, self.describe_exc = cases, pyside, Mismatch, describe_exc
        faulthandler.enable()  # a crash prints every thread's stack
        sys.stdout.reconfigure(errors="backslashreplace")  # lone surrogates in descriptions
        self.args = args
        self.state = State(args.state)
        self.unraisable: list = []
        sys.unraisablehook = self.unraisable.append
        warnings.simplefilter("error")  # as in the test suite: a warning is a failure
        self.ctx = cases.Context(args.known_set)
        print(f"fuzzing pymport_py {pymport_py.__version__} from "
              f"{os.path.dirname(pymport_py.__file__)}, Node {pymport_py.eval('process.version')}, "
              + (f"atheris (libFuzzer seed {args.seed})" if args.engine == "atheris" else f"seed {args.seed}")
              + (f", known defects exercised: {args.known}" if args.known else ""), flush=True)
        self.tolerated: list[BaseException] = []  # hook exceptions an unhandled rejection may report
        self.failures = 0
        self.ran = 0
        self.started = time.monotonic()

    def run(self, i: int, r: random.Random, data: bytes | None = None) -> None:
        """Runs case i, drawn from r (from `data` under atheris)."""
        self.state.write(f"case {i}: generating\n")
        started = time.monotonic()
        problem, case = None, None
        try:
            case = self.cases.make(r, self.ctx)
            self.state.write(f"case {i}: {case.kind}\n{case.text}\n")
            if self.args.verbose:
                print(f"case {i}: {case.kind}: {case.text}", flush=True)
            self.tolerated.extend(case.hook_exceptions)
            case.run()
        except self.Mismatch as e:
            problem = str(e)
        except BaseException as e:  # noqa: B902 - every exception is a finding
            problem = f"unexpected exception {self.describe_exc(e)}\n" + \
                "".join(traceback.format_exception(e)[-6:])
        took = time.monotonic() - started
        if self.args.slow and took > self.args.slow:
            print(f"slow case {i} ({case.kind if case else '?'}): {took:.1f} s", flush=True)
        self.pyside.forget_jsobjects()
        for u in self.unraisable:
            if not any(u.exc_value is t for t in self.tolerated):
                problem = (problem + "\n" if problem else "") + \
                    f"unraisable exception: {u.err_msg}: {self.describe_exc(u.exc_value)}"
        self.unraisable.clear()
        if len(self.tolerated) > 5000:
            del self.tolerated[:2500]
        self.ran += 1
        if self.ran % 500 == 0:
            gc.collect()
        if problem:
            self.failures += 1
            if self.failures <= self.args.max_failures:
                text = (case.text if case else "").replace("\n", "\n  ")
                print(f"FAIL case {i} ({case.kind if case else '?'}): {problem}\n  {text}"
                      f"\n  reproduce: {reproduce(self.args, i, data)}", flush=True)

    def finish(self) -> int:
        elapsed = time.monotonic() - self.started
        try:
            self.ctx.close()
        except BaseException as e:  # noqa: B902
            self.failures += 1
            print(f"FAIL closing the worker: {self.describe_exc(e)}")
        gc.collect()
        for u in self.unraisable:
            if not any(u.exc_value is t for t in self.tolerated):
                self.failures += 1
                print(f"FAIL at exit: unraisable exception: {u.err_msg}: {self.describe_exc(u.exc_value)}")
        n, k = self.ran, self.failures
        source = f"replay of {self.args.replay}" if self.args.replay else f"seed {self.args.seed}"
        summary = (f"fuzz: {n} case{'s' if n != 1 else ''} in {elapsed:.0f} s ({source}), "
                   f"{k} failure{'s' if k != 1 else ''}")
        self.state.write(f"done\n{summary}\n")
        print(summary, flush=True)
        return 1 if k else 0


def work(args: argparse.Namespace) -> int:
    if args.engine == "atheris":
        return work_atheris(args)
    runner = Runner(args)
    first = args.case if args.case is not None else 0
    last = first + (args.cases if args.cases is not None else (1 if args.case is not None else 2 ** 62))
    timed = args.cases is None and args.case is None
    deadline = runner.started + args.seconds if timed else float("inf")
    i = first
    while i < last and time.monotonic() < deadline:
        runner.run(i, random.Random(f"{args.seed}/{i}"))
        i += 1
    return runner.finish()


def work_atheris(args: argparse.Namespace) -> int:
    """libFuzzer mutates the bytes the generators draw from, guided by the coverage of the
    Python code (the generators and models, and pymport_py's Python layer; the C extension
    is not instrumented). Stops itself when the time is up."""
    import atheris
    sys.path.insert(0, HERE)
    with atheris.instrument_imports(include=["pymport_py", "cases", "pyside", "jsside", "oracle"]):
        importlib.import_module("cases")  # first imported here, to be instrumented
    runner = Runner(args)
    if args.replay:
        with open(args.replay, "rb") as f:
            data = f.read()
        runner.run(0, BytesRandom(data), data)
        return runner.finish()
    counter = iter(range(2 ** 62))
    deadline = []

    def one(data: bytes) -> None:
        if not deadline:
            runner.started = time.monotonic()
            deadline.append(runner.started + args.seconds)
        if time.monotonic() >= deadline[0]:
            sys.stdout.flush()
            os._exit(runner.finish())
        runner.run(next(counter), BytesRandom(data), data)

    atheris.Setup([sys.argv[0], f"-seed={args.seed}", "-max_len=4096", "-len_control=0",
                   "-verbosity=0", f"-timeout={int(args.case_timeout) + 5}", "-rss_limit_mb=0"], one)
    atheris.Fuzz()
    return runner.finish()


# ---- the parent: runs the child, reports a crash or a hang ----

def supervise(args: argparse.Namespace) -> int:
    fd, path = tempfile.mkstemp(prefix="pymport-fuzz-")
    os.close(fd)
    env = dict(os.environ)
    env.setdefault("PYTHONHASHSEED", "0")  # set iteration order, the same at every run
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--state", path,
           "--seed", str(args.seed), "--seconds", str(args.seconds), "--known", args.known,
           "--max-failures", str(args.max_failures), "--case-timeout", str(args.case_timeout)]
    cmd += ["--slow", str(args.slow)] if args.slow else []
    cmd += ["--engine", args.engine] + (["--replay", args.replay] if args.replay else [])
    cmd += ["--case", str(args.case)] if args.case is not None else []
    cmd += ["--cases", str(args.cases)] if args.cases is not None else []
    cmd += ["--verbose"] if args.verbose else []
    started = time.monotonic()
    limit = (args.seconds if args.cases is None and args.case is None else 24 * 3600) + 120
    child = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL)
    hung = None
    current, since = "", time.monotonic()
    try:
        while child.poll() is None:
            time.sleep(0.2)
            with open(path, encoding="utf-8", errors="replace") as f:
                head = f.readline()
            now = time.monotonic()
            if head != current:
                current, since = head, now
            elif head.startswith("case ") and now - since > args.case_timeout:
                hung = f"hang (case still running after {args.case_timeout:.0f} s)"
            elif now - started > limit:
                hung = f"hang (the run still going after {limit:.0f} s)"
            if hung:
                child.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
                break
        rc = child.wait()
    except KeyboardInterrupt:
        child.send_signal(signal.SIGINT)
        rc = child.wait()
    with open(path, encoding="utf-8", errors="replace") as f:
        last = f.read()
    os.unlink(path)
    if last.startswith("done\n"):
        return rc
    elapsed = time.monotonic() - started
    head, _, text = last.partition("\n")
    i = int(head.split()[1].rstrip(":")) if head.startswith("case ") else None
    if hung:
        what = hung
    elif rc < 0:
        what = f"crash ({signal.Signals(-rc).name})"
    else:
        what = f"crash (exit {rc})"
    print(f"\nFAIL case {i}: {what}\n  {head}\n  {text.rstrip().replace(chr(10), chr(10) + '  ')}")
    if args.engine == "atheris":
        print("  reproduce: scripts/fuzz --replay <the crash- or timeout- file libFuzzer names above>")
    elif i is not None:
        print(f"  reproduce: {reproduce(args, i)}")
    first = args.case or 0
    ran = i - first if i is not None else "?"
    print(f"fuzz: {ran} cases in {elapsed:.0f} s (seed {args.seed}), {what} in case {i}")
    return 2


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    return work(args) if args.worker else supervise(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
