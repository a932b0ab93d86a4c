"""Tasks that tests/test_dask.py runs on the processes of a Dask cluster.

The workers import this module (tests/js on their PYTHONPATH), as a cluster's workers
import a project's installed module. It lives next to tests/js/package.json, so
``base=__file__`` resolves the npm packages of tests/js/node_modules in each worker,
wherever the worker's copy of the module is. Each worker process runs these in its own
embedded Node, started by the first task that uses it; what a task returns is plain
Python data (JavaScript strings arrive as str), never a JSObject.
"""
from __future__ import annotations

import os
import threading
import time
from typing import Any

import pymport_py as node


def transpile(source: str) -> str:
    """TypeScript to CommonJS JavaScript with typescript's transpileModule (synchronous)."""
    ts = node.require("typescript", base=__file__)
    out = ts.transpileModule(source, {"compilerOptions": {"module": ts.ModuleKind.CommonJS}})
    return str(out.outputText)


def pretty(source: str) -> str:
    """JavaScript formatted by prettier, whose format() returns a Promise: a
    JSSyntaxError with prettier's stack for code that does not parse."""
    prettier = node.require("prettier", base=__file__)
    return str(prettier.format(source, {"parser": "babel"}).result(60))


def unconverted() -> Any:
    """Returns a JSObject, which cannot leave the worker."""
    return node.eval("({ a: [1, 2] })")


def converted() -> Any:
    """The same value made plain Python data with to_py()."""
    return node.eval("({ a: [1, 2] })").to_py()


def meet(name: str, other: str, timeout: float = 60) -> dict[str, Any]:
    """Marks `name` in this process's JavaScript global state, then waits until a task
    on another thread of the same process marked `other`: both threads use one Node.
    Returns where it ran and whether `other` came (False if the cap ended the wait)."""
    node.eval("globalThis.marks ??= new Set()")
    marks = node.globalThis.marks
    marks.add(name)
    deadline = time.monotonic() + timeout
    while not (met := marks.has(other)) and time.monotonic() < deadline:
        time.sleep(0.01)
    return {"pid": os.getpid(), "node_pid": node.eval("process.pid"),
            "thread": threading.get_ident(), "met": met}
