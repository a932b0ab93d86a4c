"""The pytest plugin (pymport_py/pytest_plugin.py, docs/pytest-plugin.md).

Each test runs pytest in a subprocess (pytester.runpytest_subprocess) on a small
project in a temporary directory, so that the embedded Node of the inner runs is
not this process's."""

import importlib.metadata
import os
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
    assert sorted((project.path / "interact.txt").read_text().splitlines()) == [
        "test_eval_throws __init__.py True",
        "test_js_throws test_js_error.py True",
        "test_rejection _base.py True",
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
    result.stdout.fnmatch_lines(["*pymport_py/__init__.py:*: JSTypeError"])


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


def test_comparing_a_jsobject_with_a_dict_or_list_hints_at_to_py(project):
    write(project, "test_compare.py", """\
        def test_dict(node):
            assert node.eval("({a: 1})") == {"a": 1}

        def test_list(node):
            assert [1, 2] == node.eval("[1, 2]")

        def test_copies_compare_by_value(node):
            assert node.eval("({a: [1, 2]})").to_py() == {"a": [1, 2]}
    """)
    result = run(project)
    result.assert_outcomes(failed=2, passed=1)
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
