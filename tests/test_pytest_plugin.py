"""The pytest plugin (pymport_py/pytest_plugin.py, docs/pytest-plugin.md).

Each test runs pytest in a subprocess (pytester.runpytest_subprocess) on a small
project in a temporary directory, so that the embedded Node of the inner runs is
not this process's."""

import importlib.metadata
import json
import os
import re
import textwrap
import tomllib

import pytest

pytest_plugins = ["pytester"]

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLUGIN = "pymport_py.pytest_plugin"


def _entry_point_installed():
    return any(ep.name == "pymport_py" and ep.value == PLUGIN
               for ep in importlib.metadata.entry_points(group="pytest11"))


# The inner runs rely on the pytest11 entry point; before the package is
# installed again with it, they name the plugin explicitly.
# test_plugin_is_active_through_the_entry_point checks the entry point itself.
_PLUGIN_ARGS = () if _entry_point_installed() else ("-p", PLUGIN)


@pytest.fixture
def project(pytester):
    """pytester, with an ini file that turns warnings into errors (as our own
    suite does): the plugin must not warn."""
    pytester.makeini("""
        [pytest]
        filterwarnings =
            error
    """)
    return pytester


def run(pytester, *args):
    return pytester.runpytest_subprocess(*_PLUGIN_ARGS, *args, timeout=120)


def write(pytester, relpath, text):
    path = pytester.path / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_fixtures(project):
    # The tests live in sub/ and pytest runs from the project directory: files
    # resolve from the test file's directory, not from the working directory.
    write(project, "sub/lib.js", """\
        exports.add = (a, b) => a + b;
        globalThis.libLoads = (globalThis.libLoads || 0) + 1;
    """)
    write(project, "node_modules/greet/index.js", """\
        exports.hello = (name) => `hello ${name}`;
    """)
    write(project, "sub/test_fixtures.py", """\
        import os
        import sys

        import pytest
        import pymport_py

        HERE = os.path.dirname(os.path.abspath(__file__))
        workers = []

        def test_plugin_loaded_without_starting_node(request):
            plugin = sys.modules["pymport_py.pytest_plugin"]
            assert request.config.pluginmanager.is_registered(plugin)
            assert not pymport_py.running()

        def test_node(node):
            assert node is pymport_py
            assert node.running()
            assert node.eval("6 * 7") == 42

        def test_js_require_relative(js_require):
            assert os.getcwd() != HERE
            assert js_require.directory == HERE
            assert js_require("./lib.js").add(2, 3) == 5
            assert js_require.resolve("./lib.js") == os.path.join(HERE, "lib.js")

        def test_js_require_builtins_and_packages(js_require):
            assert js_require("path").basename("a/b.txt") == "b.txt"
            assert js_require("node:os").EOL == "\\n"
            assert js_require.resolve("fs") == "fs"
            # node_modules of a parent directory, as Node looks them up
            assert js_require("greet").hello("js") == "hello js"

        def test_js_require_uses_the_main_environment(node, js_require):
            js_require("./lib.js")
            assert node.eval("libLoads") == 1   # loaded once per session

        def test_js_require_missing(js_require):
            with pytest.raises(pymport_py.JSError) as info:
                js_require("./missing.js")
            assert info.value.value.code == "MODULE_NOT_FOUND"
            assert os.path.join(HERE, "test_fixtures.py") in info.value.message

        def test_node_worker(node, node_worker):
            assert isinstance(node_worker, pymport_py.Worker)
            assert node_worker.running
            assert node_worker.require("./lib.js").add(1, 1) == 2
            assert node_worker.require("greet").hello("worker") == "hello worker"
            node_worker.eval("globalThis.leak = 'first'")
            assert node.eval("typeof leak") == "undefined"
            workers.append(node_worker)

        def test_node_worker_is_fresh(node_worker):
            assert node_worker is not workers[0]
            assert not workers[0].running
            assert node_worker.eval("typeof leak") == "undefined"
            workers.append(node_worker)

        def test_node_worker_was_closed():
            assert not workers[1].running
    """)
    result = run(project, "-p", "no:randomly")
    result.assert_outcomes(passed=9)


def test_console_output_is_captured(project):
    write(project, "test_console.py", """\
        def test_fails(node, node_worker):
            node.eval("console.log('main says hi'); console.error('main complains')")
            node_worker.eval("console.log('worker says hi'); console.error('worker complains')")
            assert False

        def test_passes(node):
            node.eval("console.log('quiet when passing')")

        def test_capsys(node, capsys):
            node.eval("console.log('for capsys'); console.error('error for capsys')")
            assert capsys.readouterr() == ("for capsys\\n", "error for capsys\\n")

        def test_capfd(node_worker, capfd):
            node_worker.eval("console.log('for capfd')")
            assert capfd.readouterr().out == "for capfd\\n"
    """)
    result = run(project)
    result.assert_outcomes(failed=1, passed=3)
    result.stdout.fnmatch_lines([
        "*- Captured stdout call -*",
        "main says hi",
        "worker says hi",
        "*- Captured stderr call -*",
        "main complains",
        "worker complains",
    ])
    result.stdout.no_fnmatch_line("*quiet when passing*")
    result.stdout.no_fnmatch_line("*for capsys*")

    # -s: no capture, the output goes to the process's stdout and stderr
    result = run(project, "-s", "-k", "fails or passes")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["*main says hi*", "*worker says hi*", "*quiet when passing*"])
    result.stdout.no_fnmatch_line("*Captured stdout call*")
    result.stderr.fnmatch_lines(["*main complains*", "*worker complains*"])


JS_LIB = """\
    function inner(x) {
      throw new TypeError(`bad value: ${x}`);
    }
    exports.outer = function outer(x) { return inner(x); };
"""

JS_TESTS = """\
    def test_js_throws(js_require):
        js_require("./lib.js").outer(42)

    def test_eval_throws(node):
        node.eval("null.x")

    def test_rejection(node):
        node.eval("(async () => { await null; throw new RangeError('async boom') })()").result()
"""


def test_js_exception_shows_the_javascript_stack(project):
    write(project, "lib.js", JS_LIB)
    write(project, "test_js_error.py", JS_TESTS)
    write(project, "conftest.py", """\
        import traceback

        def pytest_exception_interact(node, call, report):
            # after the report: the traceback and the JS stack are whole again
            e = call.excinfo.value
            last = traceback.extract_tb(e.__traceback__)[-1].filename
            with open("interact.txt", "a") as f:
                whole = e.__notes__[0] == "JavaScript stack:\\n" + e.stack
                print(node.name, os.path.basename(last), whole, file=f)

        import os
    """)
    result = run(project)
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines([
        "*_ test_js_throws _*",
        '>       js_require("./lib.js").outer(42)',
        "E       pymport_py.JSTypeError: TypeError: bad value: 42",
        "E       JavaScript stack:",
        "E       TypeError: bad value: 42",
        "E           at inner (*/lib.js:2:*)",
        "E           at *outer (*/lib.js:4:*)",
        "",
        "test_js_error.py:2: JSTypeError",
        "*_ test_eval_throws _*",
        '>       node.eval("null.x")',
        "E       pymport_py.JSTypeError: TypeError: Cannot read properties of null (reading 'x')",
        "E       JavaScript stack:",
        "E       TypeError: Cannot read properties of null (reading 'x')",
        "E           at pymport_py.eval:1:6",
        "",
        "test_js_error.py:5: JSTypeError",
        "*_ test_rejection _*",
        ">       node.eval(*).result()",
        "E       pymport_py.JSRangeError: RangeError: async boom",
        "E       JavaScript stack:",
        "E       RangeError: async boom",
        "E           at pymport_py.eval:1:*",
        "",
        "test_js_error.py:8: JSRangeError",
    ])
    # pymport_py's Python layer, concurrent.futures and Node's internals are cut
    for internal in ("*pymport_py/__init__.py:*", "*pytest_plugin.py:*", "*concurrent/futures*",
                     "*node:vm*", "*node:internal*", "*pymport_py/js/*"):
        result.stdout.no_fnmatch_line(internal)
    # the innermost Python frame is the test's own: pymport_py raises from C
    assert sorted((project.path / "interact.txt").read_text().splitlines()) == [
        "test_eval_throws test_js_error.py True",
        "test_js_throws test_js_error.py True",
        "test_rejection test_js_error.py True",
    ]

    result = run(project, "--tb=short")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines([
        "test_js_error.py:2: in test_js_throws",
        '    js_require("./lib.js").outer(42)',
        "E   pymport_py.JSTypeError: TypeError: bad value: 42",
        "E   JavaScript stack:",
        "E   TypeError: bad value: 42",
        "E       at inner (*/lib.js:2:*)",
    ])
    result.stdout.no_fnmatch_line("*pymport_py/__init__.py:*")

    result = run(project, "--tb=line")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(["*/test_js_error.py:2: pymport_py.JSTypeError: TypeError: bad value: 42"])

    # --fulltrace keeps everything
    result = run(project, "--fulltrace", "-k", "eval_throws")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*_pytest/runner.py:*", "test_js_error.py:5: JSTypeError"])


def test_a_run_that_never_touches_js_loads_no_libnode(project):
    # The plugin costs nothing where no test uses JavaScript: libnode is not loaded,
    # neither while the tests run nor when the session ends (docs/pytest-plugin.md).
    write(project, "conftest.py", """\
        import json, os, sys

        def state():
            with open("/proc/self/maps") as f:
                mapped = any("libnode" in line for line in f)
            return {"libnode": mapped, "extension": "pymport_py._pymport" in sys.modules}

        def pytest_unconfigure(config):
            with open(os.path.join(str(config.rootpath), "end.json"), "w") as f:
                json.dump(state(), f)
    """)
    write(project, "test_plain.py", """\
        import sys
        from conftest import state

        def test_plugin_is_there(request):
            assert request.config.pluginmanager.has_plugin("pymport_py.jstests")
            assert "pymport_py.pytest_plugin" in sys.modules

        def test_no_libnode():
            assert state() == {"libnode": False, "extension": False}

        def test_failure_report():
            assert [1] == {"a": 1}   # pytest_assertrepr_compare of the plugin runs
    """)
    result = run(project, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    with open(project.path / "end.json") as f:
        assert json.load(f) == {"libnode": False, "extension": False}


def test_plugin_is_active_through_the_entry_point(project):
    with open(os.path.join(REPO_ROOT, "pyproject.toml"), "rb") as f:
        declared = tomllib.load(f)["project"]["entry-points"]["pytest11"]
    assert declared == {"pymport_py": PLUGIN}
    assert _entry_point_installed(), (
        "the pytest11 entry point is not installed: "
        "python3 -m pip install --no-build-isolation -e . again")
    write(project, "test_ep.py", """\
        def test_node(node):
            assert node.eval("1 + 1") == 2
    """)
    project.runpytest_subprocess(timeout=120).assert_outcomes(passed=1)
    project.runpytest_subprocess("-p", "no:pymport_py", timeout=120).assert_outcomes(errors=1)


def test_explicit_plugin_option_with_the_entry_point(project, monkeypatch):
    # `-p pymport_py.pytest_plugin` or `pytest_plugins = [...]` load the module
    # under another name than its entry point; the plugin blocks the other name
    # (pluggy would refuse to register the module twice). A distribution of our
    # own provides the entry point, whether or not the installed package has it yet.
    site = project.mkdir("site")
    dist = site / "pymport_py_entry_point-0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: pymport_py_entry_point\nVersion: 0\n")
    (dist / "entry_points.txt").write_text(f"[pytest11]\npymport_py = {PLUGIN}\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        p for p in (str(site), os.environ.get("PYTHONPATH")) if p))
    write(project, "test_p.py", """\
        def test_node(node_worker):
            assert node_worker.eval("1 + 1") == 2
    """)
    for args in ((), ("-p", PLUGIN), ("-p", "pymport_py")):
        project.runpytest_subprocess(*args, timeout=120).assert_outcomes(passed=1)
    # pytest_plugins in a conftest, after the entry point loaded the plugin
    project.makeconftest(f"pytest_plugins = [{PLUGIN!r}]")
    project.runpytest_subprocess(timeout=120).assert_outcomes(passed=1)


# JavaScript test files as pytest items ---------------------------------------

NPM_DIR = os.path.join(REPO_ROOT, "tests", "js")

NODE_TEST_FILE = """\
    const test = require('node:test');
    const { describe, it, before, beforeEach } = require('node:test');
    const assert = require('node:assert');

    let setUp = 0;
    before(() => { setUp += 1; });

    describe('arithmetic', () => {
      let count = 0;
      beforeEach(() => { count += 1; });

      it('adds', () => {
        console.log('adding in adds');
        assert.strictEqual(1 + 1, 2);
      });

      it('multiplies', async () => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        assert.deepStrictEqual({ product: 2 * 3 }, { product: 6 });
      });

      it('compares objects', () => {
        console.log('comparing in compares objects');
        assert.deepStrictEqual({ sum: 1 + 1, list: [1, 2] }, { sum: 3, list: [1, 2] });
      });

      it('counts with a done callback', (t, done) => {
        setImmediate(() => done(count === 4 && setUp === 1 ? undefined : new Error(`count ${count}`)));
      });

      it.skip('is skipped', () => { throw new Error('ran'); });
    });

    test('top level', () => {
      assert.ok(setUp === 1);
    });
"""

ESM_TEST_FILE = """\
    import test, { describe, it } from 'node:test';
    import assert from 'node:assert/strict';

    describe('strings', async () => {
      await null;  // an async suite body: its tests are still collected
      it('upper-cases', () => assert.equal('a'.toUpperCase(), 'A'));
    });

    test('default export is test', () => assert.equal(typeof test, 'function'));
"""

MOCHA_FILE = """\
    const assert = require('assert');

    describe('mocha suite', function () {
      this.timeout(5000);

      before(function () { this.greeting = 'hi'; });

      it('sees the before hook\\'s context', function () {
        assert.equal(this.greeting, 'hi');
      });

      it('calls done', function (done) {
        setTimeout(done, 1);
      });

      it('times out', function (done) {
        this.timeout(50);  // done is never called
      });

      context('nested', function () {
        it('is pending');
        it('skips itself', function () { this.skip(); });
        it('fails', async function () {
          await null;
          assert.strictEqual(this.greeting, 'bye');
        });
      });
    });
"""

JS_IDS = [
    "tests/math.test.js::arithmetic::adds",
    "tests/math.test.js::arithmetic::multiplies",
    "tests/math.test.js::arithmetic::compares objects",
    "tests/math.test.js::arithmetic::counts with a done callback",
    "tests/math.test.js::arithmetic::is skipped",
    "tests/math.test.js::top level",
    "tests/mocha.test.js::mocha suite::sees the before hook's context",
    "tests/mocha.test.js::mocha suite::calls done",
    "tests/mocha.test.js::mocha suite::times out",
    "tests/mocha.test.js::mocha suite::nested::is pending",
    "tests/mocha.test.js::mocha suite::nested::skips itself",
    "tests/mocha.test.js::mocha suite::nested::fails",
    "tests/strings.test.mjs::strings::upper-cases",
    "tests/strings.test.mjs::default export is test",
]


@pytest.fixture
def js_project(pytester):
    """A project whose ini turns on the collection of JavaScript test files."""
    pytester.makeini("""
        [pytest]
        pymport_js_tests = true
        filterwarnings =
            error
    """)
    write(pytester, "tests/math.test.js", NODE_TEST_FILE)
    write(pytester, "tests/strings.test.mjs", ESM_TEST_FILE)
    write(pytester, "tests/mocha.test.js", MOCHA_FILE)
    return pytester


def _collected(result):
    return [line for line in result.outlines if "::" in line]


def _mocha_outcomes(path):
    """The full titles and states of the tests of the mocha file `path`, as
    mocha itself (the npm package from tests/js) reports them."""
    import pymport_py

    with pymport_py.Worker() as worker:
        run = worker.eval("""(mochaPath, file) => new Promise((resolve) => {
            const Mocha = require(mochaPath);
            const outcomes = [];
            function Collect(runner) {
              for (const state of ['pass', 'fail', 'pending']) {
                runner.on(state, (test) => outcomes.push([test.titlePath(), state]));
              }
            }
            const mocha = new Mocha({ reporter: Collect });
            mocha.addFile(file);
            mocha.run(() => resolve(JSON.stringify(outcomes)));
        })""")
        mocha = os.path.join(NPM_DIR, "node_modules", "mocha")
        assert os.path.isdir(mocha), "mocha is not installed in tests/js: run scripts/install-deps"
        return json.loads(run(mocha, str(path)).result(60))


def test_js_files_are_collected_with_their_names(js_project):
    result = run(js_project, "--collect-only", "-q")
    assert _collected(result) == JS_IDS
    # Not turned on: nothing is collected from the JavaScript files.
    js_project.makeini("[pytest]\n")
    result = run(js_project, "--collect-only", "-q")
    assert _collected(result) == []


def _outcomes(result):
    """{node id: PASSED, FAILED ...} from a -v run's lines."""
    found = (re.match(r"^(tests/\S.*?) (PASSED|FAILED|SKIPPED|ERROR|XFAIL|XPASS)\b", line)
             for line in result.outlines)
    return {m[1]: m[2] for m in found if m}


def _line(text, needle):
    """The line number (1-based) of `needle` in the dedented `text`."""
    lines = textwrap.dedent(text).splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


def test_js_files_run_as_items(js_project):
    result = run(js_project, "-v", "-rs")
    result.assert_outcomes(passed=8, failed=3, skipped=3)
    expected = dict(zip(JS_IDS, [
        "PASSED", "PASSED", "FAILED", "PASSED", "SKIPPED", "PASSED",
        "PASSED", "PASSED", "FAILED", "SKIPPED", "SKIPPED", "FAILED",
        "PASSED", "PASSED"]))
    assert _outcomes(result) == expected
    # the assertion's diff, actual and expected, and the JavaScript stack at the test's line
    result.stdout.fnmatch_lines([
        "*_ arithmetic > compares objects _*",
        "AssertionError [ERR_ASSERTION]: Expected values to be strictly deep-equal:",
        "+ actual - expected",
        "",
        "  {",
        "    list: [",
        "*",
        "+   sum: 2",
        "-   sum: 3",
        "  }",
        f"    at *(*/tests/math.test.js:{_line(NODE_TEST_FILE, '{ sum: 1 + 1')}:*)",
        "",
        "actual: { sum: 2, list: [ 1, 2 ] }",
        "expected: { sum: 3, list: [ 1, 2 ] }",
        "operator: deepStrictEqual",
        "*- Captured stdout call -*",
        "comparing in compares objects",
    ])
    result.stdout.fnmatch_lines([
        "*_ mocha suite > times out _*",
        "Error: Timeout of 50ms exceeded. For async tests and hooks, ensure \"done()\" is called*",
        "*_ mocha suite > nested > fails _*",
        "AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:",
        "",
        "'hi' !== 'bye'",
        "",
        f"    at *(*/tests/mocha.test.js:{_line(MOCHA_FILE, 'strictEqual(this.greeting')}:*)",
    ])
    # console output is captured per test: a passing test's is not shown
    result.stdout.no_fnmatch_line("*adding in adds*")
    # Node's and the runner's own frames are left out
    result.stdout.no_fnmatch_line("*(node:*")
    result.stdout.no_fnmatch_line("*pymport_py/js/*")
    # skips are reported at the JavaScript test's line
    result.stdout.fnmatch_lines([
        "SKIPPED [[]1[]] tests/math.test.js*: skipped",
        "SKIPPED [[]1[]] tests/mocha.test.js*: pending: no function",
        f"SKIPPED [[]1[]] tests/mocha.test.js:{_line(MOCHA_FILE, 'skips itself')}: "
        "skipped with this.skip()",
    ])

    # mocha itself (the npm package) gives the same names and outcomes
    states = {"PASSED": "pass", "FAILED": "fail", "SKIPPED": "pending"}
    ours = sorted([nodeid.split("::")[1:], states[state]] for nodeid, state in expected.items()
                  if nodeid.startswith("tests/mocha.test.js::"))
    assert ours == sorted(_mocha_outcomes(js_project.path / "tests" / "mocha.test.js"))


def test_js_selection_stop_and_last_failed(js_project):
    # -k: a JavaScript test by its name or its suite's
    result = run(js_project, "-v", "-k", "multiplies")
    result.assert_outcomes(passed=1, deselected=13)
    assert _outcomes(result) == {"tests/math.test.js::arithmetic::multiplies": "PASSED"}
    result = run(js_project, "-v", "-k", "nested and not pending")
    assert list(_outcomes(result)) == [
        "tests/mocha.test.js::mocha suite::nested::skips itself",
        "tests/mocha.test.js::mocha suite::nested::fails"]
    # a node id on the command line
    result = run(js_project, "-v", "tests/math.test.js::arithmetic::adds")
    assert _outcomes(result) == {"tests/math.test.js::arithmetic::adds": "PASSED"}

    # -x: the run stops at the first failure
    result = run(js_project, "-v", "-x")
    result.assert_outcomes(passed=2, failed=1)
    assert list(_outcomes(result))[-1] == "tests/math.test.js::arithmetic::compares objects"
    result.stdout.fnmatch_lines(["*stopping after 1 failures*"])

    # --lf: only the failed JavaScript tests run again
    run(js_project).assert_outcomes(passed=8, failed=3, skipped=3)
    result = run(js_project, "-v", "--lf")
    result.assert_outcomes(failed=3)
    assert _outcomes(result) == {
        "tests/math.test.js::arithmetic::compares objects": "FAILED",
        "tests/mocha.test.js::mocha suite::times out": "FAILED",
        "tests/mocha.test.js::mocha suite::nested::fails": "FAILED",
    }
    # once fixed, --lf runs it and passes; the next --lf runs what still fails
    write(js_project, "tests/math.test.js",
          NODE_TEST_FILE.replace("{ sum: 3, list: [1, 2] }", "{ sum: 2, list: [1, 2] }"))
    result = run(js_project, "-v", "--lf", "tests/math.test.js")
    assert _outcomes(result) == {"tests/math.test.js::arithmetic::compares objects": "PASSED"}
    result = run(js_project, "-v", "--lf")
    assert set(_outcomes(result)) == {"tests/mocha.test.js::mocha suite::times out",
                                      "tests/mocha.test.js::mocha suite::nested::fails"}


ISOLATION_FILES = {
    "tests/a.test.js": """\
        const { test } = require('node:test');
        test('sets a global', () => { globalThis.leftBehind = 'by a.test.js'; });
    """,
    "tests/b.test.js": """\
        const { test } = require('node:test');
        const assert = require('node:assert');
        test('sees no global of another file', () => {
          assert.strictEqual(globalThis.leftBehind, undefined);
        });
    """,
    "tests/test_after.py": """\
        def test_main_environment(node):
            # Python's tests use the main environment
            with open("where.txt", "w") as f:
                f.write(node.eval("String(globalThis.leftBehind)"))
    """,
}


def test_js_isolation(js_project):
    for relpath, text in ISOLATION_FILES.items():
        write(js_project, relpath, text)
    args = ("-v", "tests/a.test.js", "tests/b.test.js", "tests/test_after.py")
    # Without isolation the files share the main environment, as mocha's files share a process.
    result = run(js_project, *args)
    assert _outcomes(result) == {
        "tests/a.test.js::sets a global": "PASSED",
        "tests/b.test.js::sees no global of another file": "FAILED",
        "tests/test_after.py::test_main_environment": "PASSED",
    }
    result.stdout.fnmatch_lines(["actual: 'by a.test.js'"])
    assert (js_project.path / "where.txt").read_text() == "by a.test.js"

    # With the ini option, each file has a Worker of its own.
    js_project.makeini("""
        [pytest]
        pymport_js_tests = true
        pymport_js_isolate = true
        filterwarnings =
            error
    """)
    result = run(js_project, *args)
    result.assert_outcomes(passed=3)
    assert (js_project.path / "where.txt").read_text() == "undefined"

    # With the marker, for the files whose items carry it.
    js_project.makeini("""
        [pytest]
        pymport_js_tests = true
        filterwarnings =
            error
    """)
    write(js_project, "conftest.py", """\
        import pytest

        def pytest_collection_modifyitems(items):
            for item in items:
                if item.path.name == "a.test.js":
                    item.add_marker(pytest.mark.pymport_isolate)
    """)
    result = run(js_project, *args)
    result.assert_outcomes(passed=3)
    assert (js_project.path / "where.txt").read_text() == "undefined"


def test_js_files_spread_over_xdist_processes(js_project):
    for name in ("one", "two"):
        write(js_project, f"tests/{name}.test.js", f"""\
            const {{ test }} = require('node:test');
            const fs = require('node:fs');
            test('{name}', () => {{
              fs.writeFileSync('{name}.pid', String(process.pid));
            }});
        """)
    result = run(js_project, "-n", "2", "-v", "tests/one.test.js", "tests/two.test.js")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*gw* PASSED tests/one.test.js::one*"], consecutive=False)
    pids = {(js_project.path / f"{name}.pid").read_text() for name in ("one", "two")}
    assert len(pids) == 2 and str(os.getpid()) not in pids


def test_js_file_that_fails_to_load(js_project):
    write(js_project, "tests/broken.test.js", """\
        const { test } = require('node:test');
        test('never collected', () => {});
        require('./missing-helper.js');
    """)
    result = run(js_project, "tests/broken.test.js")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        "*ERROR collecting tests/broken.test.js*",
        "broken.test.js failed to load:",
        "Error: Cannot find module './missing-helper.js'",
    ])


def test_comparing_a_jsobject_with_a_dict_or_list_hints_at_to_py(project):
    write(project, "test_compare.py", """\
        def test_dict(node):
            assert node.eval("({a: 1})") == {"a": 1}

        def test_list(node):
            assert [1, 2] == node.eval("[1, 2]")

        def test_copies_compare_by_value(node):
            assert node.eval("({a: [1, 2]})").to_py() == {"a": [1, 2]}
    """)
    # Under `filterwarnings = error` the comparison's JSComparisonWarning is the failure.
    result = run(project)
    result.assert_outcomes(failed=2, passed=1)
    result.stdout.fnmatch_lines([
        "*_ test_dict _*",
        "E       pymport_py.JSComparisonWarning: a JSObject is never equal to a dict: == compares "
        "JavaScript identity; compare obj.to_py() with it instead",
    ])
    # With warnings shown rather than raised, the assertion's report says the same.
    result = run(project, "-W", "default::pymport_py.JSComparisonWarning")
    result.assert_outcomes(failed=2, passed=1, warnings=2)
    result.stdout.fnmatch_lines([
        "*_ test_dict _*",
        "E       AssertionError: assert { a: 1 } == {'a': 1}",
        "E         a JSObject is compared by identity, so it never equals a Python dict: "
        "compare its Python copy, obj.to_py(), instead",
        "*_ test_list _*",
        "E       assert [1, 2] == [ 1, 2 ]",
        "E         a JSObject is compared by identity, so it never equals a Python list: "
        "compare its Python copy, obj.to_py(), instead",
    ])
