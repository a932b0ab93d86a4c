"""pymport's JS API inside the embedded Node: the JS test files in tests/js/api,
each exporting named test functions, run here one by one."""
import json
import os
import subprocess
import sys

import pytest

import pymport_py

API_DIR = os.path.join(os.path.dirname(__file__), "js", "api")


def _cases():
    names = pymport_py.eval("(file) => Object.keys(require(file))")
    for name in sorted(os.listdir(API_DIR)):
        if name.endswith(".test.js"):
            path = os.path.join(API_DIR, name)
            for test in names(path):
                yield pytest.param(path, test, id=f"{name}::{test}")


@pytest.mark.parametrize("path, test", list(_cases()))
def test_js(path, test):
    run = pymport_py.eval("(file, name) => require(file)[name]()")
    result = run(path, test)
    if isinstance(result, pymport_py.JSObject):  # an async test: its Promise
        result.result(30)


def _released_once_js_drops(run_python, hold_source):
    """Runs `hold_source`, a JS function (o, c) that keeps what it makes of `o` (a
    callable Python object) and `c` (a list holding `o` and itself) in globalThis.kept
    and returns a check of its own; then drops them in JS. Returns (the check, whether
    JS held `o`, whether `o`'s refcount came back to where it was)."""
    proc = run_python(
        f"""
        import sys, pymport_py
        pymport_py.start(["--expose-gc"])
        class Payload:
            def __call__(self):
                return 1
        obj = Payload()
        cycle = [obj]
        cycle.append(cycle)
        base = sys.getrefcount(obj)
        hold = pymport_py.eval({hold_source!r})
        check = hold(pymport_py.ref(obj), pymport_py.ref(cycle))
        held = sys.getrefcount(obj)
        pymport_py.eval("delete globalThis.kept; gc(); gc()")
        # finalizers run on later turns of the loop: collect, and wait for a turn
        for _ in range(50):
            if sys.getrefcount(obj) == base:
                break
            pymport_py.eval("gc()")
            pymport_py.eval("new Promise((r) => setImmediate(r))").result(timeout=30)
        print(check, held > base, sys.getrefcount(obj) == base)
        """
    )
    assert proc.returncode == 0, proc.report
    return proc.stdout.split()


def test_pyobjects_collected_by_js_release_their_python_objects(run_python):
    assert _released_once_js_drops(run_python, """(o) => {
        globalThis.kept = [];
        for (let i = 0; i < 100; i++) kept.push(require('pymport').PyObject.fromJS(o));
        return true;
    }""") == ["True", "True", "True"]


def test_proxies_collected_by_js_release_their_python_objects(run_python):
    """A proxy keeps its Python object alive; the proxies' identity map and
    the wrappers of callbacks do not keep it once JS drops the proxies."""
    assert _released_once_js_drops(run_python, """(o) => {
        const { PyObject, proxify, pyval } = require('pymport');
        const proxified = require('pymport/proxified');
        const call = proxify(pyval('lambda f, x: f(x)'));
        globalThis.kept = [];
        for (let i = 0; i < 100; i++) {
            const p = proxify(PyObject.fromJS(o));
            kept.push(p, proxified.PyObject.fromJS(o), call((v) => v, p));
        }
        return true;
    }""") == ["True", "True", "True"]


def test_functions_from_tojs_release_their_python_objects(run_python):
    """The function that toJS() makes of a callable (and the structures it
    converts, circular ones too) keep the callable alive only while JS holds
    them."""
    assert _released_once_js_drops(run_python, """(o, c) => {
        const { PyObject } = require('pymport');
        globalThis.kept = [];
        for (let i = 0; i < 100; i++) kept.push(PyObject.fromJS(o).toJS(), PyObject.fromJS(c).toJS());
        return kept[0] === kept[2] && kept[1][0] === kept[0] && kept[1][1] === kept[1];
    }""") == ["True", "True", "True"]


def test_a_million_conversions_stay_flat(run_python):
    proc = run_python(
        """
        import sys
        import pymport_py
        pymport_py.start(["--expose-gc"])
        loop = pymport_py.eval('''(n) => {
            const { pyval, PyObject } = require('pymport');
            const f = pyval('lambda x: [x, str(x)]');
            let s = 0;
            for (let i = 0; i < n; i++) s += f.call(i).toJS()[0];
            return s;
        }''')
        def settle():
            # The JS collector decides when wrappers die: collect, and let the
            # finalizers (which drop the Python references) run. From Node 20 on
            # Node-API finalizers run from the event loop after the collection.
            for _ in range(5):
                pymport_py.eval("gc()")
                pymport_py.eval("new Promise((r) => setImmediate(r))").result(timeout=10)
        def rss():
            return int(open('/proc/self/statm').read().split()[1]) * 4096 // (1 << 20)
        loop(200000)  # warm-up: allocators reach their working size
        settle()
        before, blocks = rss(), sys.getallocatedblocks()
        for _ in range(4):
            assert loop(200000) == sum(range(200000))
            settle()
        grown, more_blocks = rss() - before, sys.getallocatedblocks() - blocks
        print("grew", grown, "MiB and", more_blocks, "Python blocks over 800000 more calls")
        print(grown < 20, more_blocks < 10000)
        """,
        timeout=120,
        # under scripts/test-sanitized, ASan's quarantine would keep freed memory resident
        env={**os.environ, "ASAN_OPTIONS": ":".join(
            filter(None, [os.environ.get("ASAN_OPTIONS"), "quarantine_size_mb=0"]))},
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout.splitlines()[-1] == "True True", proc.report


def test_esm_import_from_pymport(repo_root, monkeypatch):
    monkeypatch.chdir(repo_root)
    ns = pymport_py.import_module("./tests/js/uses-pymport.mjs")
    assert (ns.answer, ns.sqrt, ns.isPyObject, ns.sameApi) == (42, 7, True, True)
    assert ns.typed.to_py() == [1, 2]
    assert ns.proxified.to_py() == [2, True, True]


def test_esm_import_survives_restarts(run_python):
    proc = run_python(
        """
        import pymport_py
        for i in range(3):
            ns = pymport_py.import_module("./tests/js/uses-pymport.mjs")
            print(ns.answer, pymport_py.eval("import('pymport').then(m => m.pyval('2 + 3').toJS())").result(30))
            pymport_py.shutdown()
        """
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout.split() == ["42", "5"] * 3


MOCHA_INIT = """\
const { version } = require('pymport');
const { pymport } = require('pymport/proxified');
const v = version.pymport;
console.log(`pymport: ${v.major}.${v.minor}.${v.patch}${v.suffix ? `-${v.suffix}` : ''}`);
const lib = version.pythonLibrary;
console.log(`Python library: (${lib.builtin ? 'builtin' : 'system'}) ${lib.major}.${lib.minor}.${lib.micro}`);
pymport('sys').path.insert(1, __dirname);
exports.mochaHooks = { afterEach: global.gc };
"""

MOCHA_SPEC = """\
const assert = require('assert');
const { PyObject } = require('pymport');
const { pymport } = require('pymport/proxified');

describe('under the mocha CLI', () => {
  it('has the collector', () => assert.strictEqual(typeof global.gc, 'function'));
  it('reaches the modules next to the init file, proxified', () => {
    const helpers = pymport('mocha_helpers');
    assert.ok(helpers instanceof PyObject);
    assert.strictEqual(+helpers.double(21), 42);
  });
});
"""


def test_pymport_style_init_runs_under_the_mocha_cli(tmp_path, repo_root, npm_dir):
    """A mocha setup written for pymport (its .mocharc.json: expose-gc, a
    timeout and an init file that prints `version`'s fields and extends
    sys.path) runs under the real mocha command line in the embedded Node."""
    (tmp_path / ".mocharc.json").write_text(json.dumps({
        "spec": "*.test.js", "require": ["./_init.js"], "v8-expose-gc": True,
        "timeout": "30000", "reporter": "tap"}))
    (tmp_path / "_init.js").write_text(MOCHA_INIT)
    (tmp_path / "cli.test.js").write_text(MOCHA_SPEC)
    (tmp_path / "mocha_helpers.py").write_text("def double(x):\n    return 2 * x\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [repo_root, os.environ.get("PYTHONPATH")])))
    mocha = os.path.join(npm_dir, "node_modules", "mocha", "bin", "mocha.js")
    proc = subprocess.run([sys.executable, "-m", "pymport_py", mocha], cwd=tmp_path, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    report = f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0, report
    assert f"pymport: {pymport_py.__version__}" in lines, report
    assert "Python library: (system) {}.{}.{}".format(*sys.version_info[:3]) in lines, report
    assert "# pass 2" in lines and "# fail 0" in lines, report


def test_python_api_keeps_its_own_conversions():
    """toJS() and fromJS() follow pymport's rules in the JS API only: values
    that the Python API passes keep the rules of docs/conversions.md."""
    assert pymport_py.eval("(s) => s instanceof Set")({1, 2}) is True
    shared = bytearray(b"ab")
    pymport_py.eval("(b) => { b[0] = 65; }")(shared)  # a typed array over its memory
    assert shared == bytearray(b"Ab")
    assert pymport_py.eval("Buffer.from('hi')").to_py() == b"hi"
    with pytest.raises(RecursionError):
        pymport_py.eval("(() => { const a = []; a.push(a); return a; })()").to_py()


def test_js_function_is_called_with_pyobjects_from_any_python_thread():
    """A JS function given to Python through require('pymport') is a
    pymport.js_function: Python threads other than the caller's can call it
    (it takes the Node lock), its arguments arrive as PyObjects, and what it
    returns converts back deeply."""
    import threading

    fn = pymport_py.eval(
        "require('pymport').PyObject.func((x, opts) => ({ type: x.type, same: x.toJS() === 41, k: opts?.k?.toJS() }))"
    )
    assert type(fn).__name__ == "js_function" and type(fn).__module__ == "pymport"
    results = []

    def call():
        results.append(fn(41, k="v"))

    t = threading.Thread(target=call)
    t.start()
    t.join(60)
    assert not t.is_alive()
    assert results == [{"type": "int", "same": True, "k": "v"}]
    # back in JS, it is the JS function again
    assert pymport_py.eval("(f) => typeof f")(fn) == "function"
