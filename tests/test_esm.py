"""`import ... from 'pymport'` in ES modules, wherever they load: modules
imported from Python, import() in eval'd code or in CommonJS modules, and
Node worker_threads whose entry is an ES module."""
import os

import pytest

import pymport_py

WORKER = """(entry, options) => new Promise((resolve, reject) => {
  const { Worker } = require('worker_threads');
  const w = new Worker(entry, options);
  w.on('message', resolve);
  w.on('error', reject);
})"""




def start_worker(env, entry, options=None):
    return env.eval(WORKER)(entry, options or {}).result(30)


def test_worker_thread_with_an_mjs_entry(env, js_dir):
    out = start_worker(env, os.path.join(js_dir, "esm-worker", "entry.mjs"))
    assert out.to_py() == [120, "h"]


def test_worker_thread_entry_in_a_module_package(env, js_dir):
    assert start_worker(env, os.path.join(js_dir, "esm-worker", "entry.js")) == "module 32"


def test_worker_thread_entry_as_file_url(env, js_dir):
    url = env.eval("(p) => new URL(require('url').pathToFileURL(p))")(
        os.path.join(js_dir, "esm-worker", "entry.mjs"))
    assert start_worker(env, url).to_py() == [120, "h"]


def test_worker_thread_entry_as_data_url(env):
    source = ("import { parentPort } from 'worker_threads';"
              "import { pyval } from 'pymport';"
              "parentPort.postMessage(pyval('sum(range(5))').toJS());")
    url = env.eval("(s) => new URL('data:text/javascript,' + encodeURIComponent(s))")(source)
    assert start_worker(env, url) == 10


def test_eval_worker_thread_that_imports_pymport(env):
    source = """
        import('pymport').then(({ pyval }) =>
            require('worker_threads').parentPort.postMessage(pyval('"evaluated"').toJS()));
    """
    assert start_worker(env, source, {"eval": True}) == "evaluated"


def test_commonjs_worker_thread_that_imports_pymport(env, js_dir):
    source = f"""
        require({os.path.join(js_dir, 'dynamic-api.js')!r})().then((r) =>
            require('worker_threads').parentPort.postMessage(r));
    """
    assert start_worker(env, source, {"eval": True}).to_py() == ["dyndyn", "function"]


def test_commonjs_module_that_imports_pymport_first_thing(run_python, js_dir):
    # A fresh process: nothing imported an ES module from Python before.
    proc = run_python(f"""
        import pymport_py
        f = pymport_py.require({os.path.join(js_dir, 'dynamic-api.js')!r})
        print(f().result(30).to_py())
    """)
    assert proc.returncode == 0, proc.report
    assert proc.stdout.strip() == "['dyndyn', 'function']"


def test_eval_import_first_thing(run_python):
    proc = run_python("""
        import pymport_py
        print(pymport_py.eval("import('pymport').then((m) => m.pyval('1 + 1'))").result(30))
    """)
    assert proc.returncode == 0, proc.report
    assert proc.stdout.strip() == "2"


def test_es_module_imported_in_a_python_worker(js_dir):
    with pymport_py.Worker(cwd=os.path.dirname(js_dir)) as w:
        ns = w.import_module("./js/uses-pymport.mjs")
        assert ns.answer == 42 and ns.sqrt == 7 and ns.sameApi is True


def test_programs_without_es_modules_do_not_start_the_hooks(run_python, js_dir):
    # The hooks take a thread and ~50 ms: nothing registers them before an ES
    # module can load (a method named import(), or pyimport(), is not one).
    proc = run_python(f"""
        import pymport_py
        hooked = "globalThis[Symbol.for('pymport_py.esmHooks')] === true"
        print(pymport_py.eval(hooked))
        pymport_py.require({os.path.join(js_dir, 'some-local-module.js')!r})
        pymport_py.eval("require('pymport').pymport('math'); ({{ import() {{ return 1 }} }}).import()")
        print(pymport_py.eval(hooked))
        pymport_py.require({os.path.join(js_dir, 'dynamic-api.js')!r})
        print(pymport_py.eval(hooked))
    """)
    assert proc.returncode == 0, proc.report
    assert proc.stdout.split() == ["False", "False", "True"]
