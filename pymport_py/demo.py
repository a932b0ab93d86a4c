"""A short tour: Python driving the embedded Node (python -m pymport_py.demo)."""
from __future__ import annotations

import threading

import pymport_py as node


def main() -> None:
    # 1. require a Node builtin and call it.
    path = node.require("path")
    print("path.join ->", path.join("/usr", "lib", "node_modules"))
    os_ = node.require("os")
    print("Node", node.eval("process.version"), "on", os_.platform(), os_.arch())

    # 2. A Python callback called by JavaScript.
    words = node.to_js(["embedded", "node", "in", "python"])
    print("Array.map with a Python lambda ->", words.map(lambda w, *_: w.upper()).to_py())

    # 3. A Buffer shared zero-copy: JavaScript writes into Python's bytearray.
    data = bytearray(16)
    node.eval("(u8) => new TextEncoder().encodeInto('hello, python!', u8)")(data)
    print("JS wrote into a Python bytearray ->", bytes(data).rstrip(b"\0"))
    js_buffer = node.eval("Buffer.from('and back again')")
    view = memoryview(js_buffer)
    view[0] = ord("A")
    print("Python wrote into a JS Buffer ->", node.eval("(b) => b.toString()")(js_buffer))

    # 4. A timer firing on the loop thread while Python waits.
    fired = threading.Event()
    node.globalThis.setTimeout(lambda: fired.set(), 100)
    print("timer fired in the background:", fired.wait(5))

    # 5. A Promise waited for with the GIL released.
    print("Promise result ->", node.eval("new Promise(r => setTimeout(() => r(42), 50))").result(5))
    node.eval("console.log('console.log goes to Python sys.stdout')")


if __name__ == "__main__":
    main()
