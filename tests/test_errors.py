"""Exception mapping both ways (DESIGN.md §4, §6; decisions-draft.md)."""

import asyncio
import concurrent.futures
import multiprocessing
import os
import pickle
import traceback

import pytest

import pymport_py
from pymport_py import JSError, JSObject


@pytest.fixture(autouse=True)
def environment_still_works():
    yield
    assert pymport_py.eval("1 + 1") == 2


def js(source):
    return pymport_py.eval(source)


# --------------------------------------------------------------------------
# JS -> Python


@pytest.mark.parametrize(
    "kind, cls, builtin",
    [
        ("Error", pymport_py.JSError, Exception),
        ("TypeError", pymport_py.JSTypeError, TypeError),
        ("RangeError", pymport_py.JSRangeError, ValueError),
        ("SyntaxError", pymport_py.JSSyntaxError, SyntaxError),
        ("ReferenceError", pymport_py.JSReferenceError, NameError),
    ],
)
def test_thrown_error_kind_maps_to_class(kind, cls, builtin):
    assert issubclass(cls, JSError)
    assert issubclass(cls, builtin)
    with pytest.raises(cls) as info:
        js(f"(function thrower() {{ throw new {kind}('msg here'); }})()")
    e = info.value
    assert isinstance(e, builtin)
    assert e.name == kind
    assert e.message == "msg here"
    assert str(e) == f"{kind}: msg here"
    assert isinstance(e.stack, str)
    assert "msg here" in e.stack
    assert "thrower" in e.stack
    assert isinstance(e.value, JSObject)
    assert js(f"(v) => v instanceof {kind}")(e.value) is True


def test_js_stack_is_attached_as_note():
    with pytest.raises(JSError) as info:
        js("(function noteThrower() { throw new Error('with a note'); })()")
    notes = getattr(info.value, "__notes__", [])
    assert any("noteThrower" in note for note in notes), notes


@pytest.mark.parametrize("kind", ["EvalError", "URIError"])
def test_other_error_kinds_are_jserror(kind):
    with pytest.raises(JSError) as info:
        js(f"throw new {kind}('other kind')")
    assert info.value.name == kind
    assert info.value.message == "other kind"


def test_error_subclass_keeps_its_name():
    with pytest.raises(JSError) as info:
        js(
            "{ class AppError extends Error {"
            " constructor(m) { super(m); this.name = 'AppError'; this.code = 17; } }"
            " throw new AppError('custom'); }"
        )
    assert info.value.name == "AppError"
    assert info.value.message == "custom"
    assert info.value.value.code == 17


def test_syntax_error_from_eval():
    with pytest.raises(pymport_py.JSSyntaxError) as info:
        js("1 +")
    assert isinstance(info.value, SyntaxError)
    assert info.value.name == "SyntaxError"


def test_reference_error_from_eval():
    with pytest.raises(pymport_py.JSReferenceError) as info:
        js("nosuchvar")
    assert isinstance(info.value, NameError)
    assert "nosuchvar" in info.value.message


def test_engine_type_error():
    with pytest.raises(pymport_py.JSTypeError) as info:
        js("null.x")
    assert isinstance(info.value, TypeError)


def test_uri_error_from_builtin():
    with pytest.raises(JSError) as info:
        js("decodeURIComponent('%')")
    assert info.value.name == "URIError"


def test_error_raised_from_function_call():
    f = js("(x) => { if (x < 0) throw new RangeError('negative: ' + x); return x; }")
    assert f(1) == 1
    with pytest.raises(pymport_py.JSRangeError) as info:
        f(-3)
    assert info.value.message == "negative: -3"


@pytest.mark.parametrize(
    "source, expected",
    [("throw 42", 42), ("throw 'a string'", "a string"), ("throw null", None), ("throw undefined", None), ("throw 1.5", 1.5)],
)
def test_thrown_non_error_primitive(source, expected):
    with pytest.raises(JSError) as info:
        js(source)
    e = info.value
    assert type(e) is JSError
    assert e.value == expected
    assert e.name is None


def test_thrown_plain_object():
    with pytest.raises(JSError) as info:
        js("throw {code: 7}")
    e = info.value
    assert isinstance(e.value, JSObject)
    assert e.value.code == 7
    assert e.name is None


def _own_frames(stack):
    """The lines of a JS stack that are pymport_py's own frames."""
    js_dir = os.path.join(os.path.dirname(pymport_py.__file__), "js")
    return [line for line in stack.splitlines()
            if line.lstrip().startswith("at ") and
            (js_dir in line or "[python]" in line or "[pymport_py]" in line or "node:vm" in line)]


@pytest.mark.parametrize("action", ["eval", "call", "method", "require", "nested"])
def test_the_js_stack_of_a_jserror_has_no_pymport_py_frames(action):
    thrower = js("({ thrower() { throw new Error('boom') } })")
    calls_back = js("(f) => f()")
    actions = {
        "eval": lambda: js("(function evalFrame() { throw new Error('boom') })()"),
        "call": lambda: js("(function thrower() { throw new Error('boom') })")(),
        "method": lambda: thrower.thrower(),
        "require": lambda: pymport_py.require("this-module-does-not-exist-anywhere"),
        "nested": lambda: calls_back(lambda: js("(function inner() { null.x })()")),
    }
    with pytest.raises(JSError) as info:
        actions[action]()
    stack = info.value.stack
    assert _own_frames(stack) == [], stack
    assert stack.splitlines()[0] == str(info.value).splitlines()[0]
    if action != "require":
        assert "    at " in stack  # the user's frames stay
    assert _own_frames(info.value.__notes__[0]) == []


def _pymport_py_frames(tb):
    """The frames of a Python traceback that are pymport_py's own Python layer."""
    package = os.path.dirname(os.path.abspath(pymport_py.__file__))
    return [f"{f.filename}:{f.lineno} {f.name}" for f in traceback.extract_tb(tb)
            if os.path.abspath(f.filename).startswith(package + os.sep)]


def _raise_from_worker():
    with pymport_py.Worker() as w:
        w.eval("throw new Error('from a worker')")


def _await(make):
    async def main():
        await make()
    asyncio.run(main())


PYTHON_ENTRY_POINTS = {
    "eval": lambda: pymport_py.eval("throw new Error('boom')"),
    "require": lambda: pymport_py.require("./no-such-file-here"),
    "import_module": lambda: pymport_py.import_module("./no-such-file-here.mjs"),
    "new": lambda: pymport_py.new(js("(class { constructor() { throw new Error('boom') } })")),
    "Worker.eval": _raise_from_worker,
    "Promise.result": lambda: js("async () => { throw new Error('boom') }")().result(10),
    "Promise pending.result": lambda: js(
        "() => new Promise((_, reject) => setTimeout(() => reject(new Error('boom')), 5))")().result(10),
    "await settled": lambda: _await(js("async () => { throw new Error('boom') }")),
    "await pending": lambda: _await(js(
        "() => new Promise((_, reject) => setTimeout(() => reject(new Error('boom')), 5))")),
    "call_async.result": lambda: js("() => { throw new Error('boom') }").call_async().result(10),
}


@pytest.mark.parametrize("entry", PYTHON_ENTRY_POINTS)
def test_python_tracebacks_have_no_pymport_py_frames(entry):
    # What the terminal, pytest and Jupyter show of an error raised through
    # pymport_py's functions: the caller's frames only.
    with pytest.raises(JSError) as info:
        PYTHON_ENTRY_POINTS[entry]()
    assert _pymport_py_frames(info.value.__traceback__) == []


FAILING_CELL = """
import asyncio
import pymport_py as node
def failing(how):
    if how == "require":
        node.require("./no-such-module-here")
    elif how == "eval":
        node.eval("null.x")
    elif how == "result":
        node.eval("(async () => { throw new RangeError('in a promise') })()").result(10)
    else:
        async def main():
            await node.eval("(async () => { throw new RangeError('awaited') })()")
        asyncio.run(main())
failing(HOW)
"""


@pytest.mark.parametrize("how", ["require", "eval", "result", "await"])
@pytest.mark.parametrize("where", ["terminal", "IPython"])
def test_printed_tracebacks_show_no_pymport_py_frames(run_python, where, how):
    cell = FAILING_CELL.replace("HOW", repr(how))
    if where == "terminal":
        proc = run_python(cell)
        printed = proc.stderr
    else:  # as a notebook's or IPython's cell runs
        proc = run_python(f"""
            from IPython import start_ipython
            start_ipython(argv=["--quick", "--colors=NoColor", "--no-banner", "-c", {cell!r}])
        """)
        printed = proc.stdout + proc.stderr
    assert "JSError" in printed or "JS" in printed, proc.report
    assert "in failing" in printed or "failing(" in printed, proc.report
    package = os.path.dirname(os.path.abspath(pymport_py.__file__))
    assert package not in printed.replace(os.path.join(package, "js"), "<js>"), proc.report
    assert "concurrent/futures" not in printed, proc.report


def test_the_forwarding_functions_keep_their_signature_and_doc():
    import inspect
    assert inspect.signature(pymport_py.require).parameters["paths"].kind is \
        inspect.Parameter.KEYWORD_ONLY
    assert pymport_py.require.__name__ == "require"
    assert "CommonJS" in pymport_py.require.__doc__
    assert pymport_py.Worker.eval.__qualname__ == "Worker.eval"
    with pymport_py.Worker() as w:
        assert w.eval("6 * 7") == 42
        assert w.new(w.eval("Date"), 0).getTime() == 0
    with pytest.raises(TypeError, match="base or paths"):
        pymport_py.require("x", base=".", paths=["."])


def test_the_js_error_object_keeps_its_whole_stack():
    with pytest.raises(JSError) as info:
        js("(function thrower() { throw new Error('boom') })")()
    assert "at thrower" in info.value.stack
    assert "[python]" in info.value.value.stack


def test_require_missing_module():
    with pytest.raises(JSError) as info:
        pymport_py.require("this-module-does-not-exist-anywhere")
    assert info.value.value.code == "MODULE_NOT_FOUND"


def test_require_module_that_throws(monkeypatch, repo_root):
    monkeypatch.chdir(repo_root)
    for attempt in (1, 2):  # a module that fails is not cached
        with pytest.raises(pymport_py.JSTypeError) as info:
            pymport_py.require("./tests/js/throws.js")
        assert info.value.message == "throws.js refuses to load"
        assert "refuseToLoad" in info.value.stack


def test_import_module_missing():
    with pytest.raises(JSError):
        pymport_py.import_module("./no/such/module.mjs")


# --------------------------------------------------------------------------
# Python -> JS -> Python


CATCH = """(f, ...args) => {
    try { f(...args); return null; }
    catch (e) {
        return {
            isError: e instanceof Error,
            message: e.message,
            pythonType: e.pythonType,
            pythonValue: e.pythonValue,
            trace: e.pythonTrace,
        };
    }
}"""


def failing_callback():
    raise ValueError("bad value from python")


def test_python_exception_reaches_js_as_error():
    info = js(CATCH)(failing_callback)
    assert info is not None
    assert info.isError is True
    assert info.pythonType == "ValueError"
    assert info.message == "ValueError: bad value from python"
    assert isinstance(info.trace, str)
    assert "failing_callback" in info.trace
    assert "bad value from python" in info.trace


def test_python_exception_value_is_the_original_object():
    original = KeyError("k")

    def cb():
        raise original

    info = js(CATCH)(cb)
    assert info.pythonType == "KeyError"
    assert info.pythonValue is original


def test_custom_python_exception_type_name():
    class MyAppError(Exception):
        pass

    def cb():
        raise MyAppError("mine")

    info = js(CATCH)(cb)
    assert info.pythonType == "MyAppError"
    assert info.message == "MyAppError: mine"


def test_python_exception_propagates_back_as_same_object():
    original = ValueError("the original")

    def cb():
        raise original

    with pytest.raises(ValueError) as info:
        js("(f) => f()")(cb)
    assert info.value is original


def test_python_exception_rethrown_by_js_is_same_object():
    original = LookupError("rethrown")

    def cb():
        raise original

    with pytest.raises(LookupError) as info:
        js("(f) => { try { f(); } catch (e) { throw e; } }")(cb)
    assert info.value is original


def test_python_exception_through_nested_calls():
    original = ZeroDivisionError("deep")

    def inner():
        raise original

    def outer(g):
        return g(inner)

    # Python -> JS -> Python (outer) -> JS -> Python (inner) raises
    with pytest.raises(ZeroDivisionError) as info:
        js("(outer) => outer((f) => f() + 1)")(outer)
    assert info.value is original


def test_js_error_caught_in_python_callback():
    thrower = js("() => { throw new TypeError('from js') }")
    caught = []

    def cb():
        try:
            thrower()
        except pymport_py.JSTypeError as e:
            caught.append(e.message)
            return "handled"

    assert js("(f) => f()")(cb) == "handled"
    assert caught == ["from js"]


def test_js_error_passing_through_python_callback_reaches_js():
    thrower = js("() => { throw new RangeError('passes through') }")

    def cb():
        thrower()

    result = js(
        "(f) => { try { f(); return 'no error'; } catch (e) { return e instanceof Error ? e.message : String(e); } }"
    )(cb)
    assert "passes through" in result


# --------------------------------------------------------------------------
# hostile objects


def test_throwing_getter():
    o = js("({ get bad() { throw new RangeError('getter says no') }, fine: 1 })")
    with pytest.raises(pymport_py.JSRangeError) as info:
        o.bad
    assert info.value.message == "getter says no"
    with pytest.raises(pymport_py.JSRangeError):
        o["bad"]
    assert o.fine == 1


def test_throwing_setter():
    o = js("({ set bad(v) { throw new Error('setter says no') } })")
    with pytest.raises(JSError) as info:
        o.bad = 1
    assert info.value.message == "setter says no"


def test_throwing_to_string_and_length():
    o = js("({ toString() { throw new Error('no string') }, get length() { throw new Error('no length') } })")
    with pytest.raises(JSError):
        str(o)
    with pytest.raises(JSError):
        len(o)


def test_iterator_that_throws_midway():
    gen = js("(function* () { yield 1; throw new RangeError('stop here'); })()")
    it = iter(gen)
    assert next(it) == 1
    with pytest.raises(pymport_py.JSRangeError):
        next(it)


@pytest.mark.parametrize(
    "trap, action",
    [
        ("get", lambda p: p.x),
        ("has", lambda p: "x" in p),
        ("set", lambda p: setattr(p, "x", 1)),
        ("deleteProperty", lambda p: delattr(p, "x")),
        ("ownKeys", lambda p: dir(p)),
        ("apply", lambda p: p()),
        ("construct", lambda p: p.new()),
    ],
)
def test_proxy_trap_that_throws(trap, action):
    p = js(
        f"new Proxy(function () {{}}, {{ {trap}() {{ throw new Error('trap {trap}'); }} }})"
    )
    with pytest.raises(JSError) as info:
        action(p)
    assert info.value.message == f"trap {trap}"


def test_repr_of_proxy_does_not_run_traps():
    p = js("new Proxy({a: 1}, { get() { throw new Error('trap') }, ownKeys() { throw new Error('trap') } })")
    assert isinstance(repr(p), str)


def test_revoked_proxy():
    r = js("Proxy.revocable({a: 1}, {})")
    p = r.proxy
    assert p.a == 1
    r.revoke()
    with pytest.raises(pymport_py.JSTypeError):
        p.a
    with pytest.raises(pymport_py.JSTypeError):
        "a" in p
    with pytest.raises(pymport_py.JSTypeError):
        p.b = 2
    with pytest.raises(pymport_py.JSTypeError):
        str(p)
    assert isinstance(repr(p), str)
    # it still passes back to JS as itself
    assert js("(x) => typeof x")(p) == "object"


def test_stack_overflow_in_js_is_range_error():
    with pytest.raises(pymport_py.JSRangeError) as info:
        js("(function recurse(n) { return recurse(n + 1) + 1; })(0)")
    assert "call stack" in info.value.message


def test_stack_overflow_in_js_from_python_thread(run_python):
    proc = run_python(
        """
        import threading, pymport_py
        out = []
        def work():
            try:
                pymport_py.eval("(function recurse(n) { return recurse(n + 1) + 1; })(0)")
            except pymport_py.JSRangeError as e:
                out.append(e.message)
        t = threading.Thread(target=work)
        t.start(); t.join()
        print(out)
        print(pymport_py.eval("1 + 1"))
        """
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout.splitlines() == ["['Maximum call stack size exceeded']", "2"], proc.report


def test_mixed_recursion_python_js_does_not_crash(run_python):
    proc = run_python(
        """
        import pymport_py
        bounce = pymport_py.eval("(n, py) => py(n + 1)")
        def py(n):
            return bounce(n, py)
        try:
            py(0)
        except (RecursionError, pymport_py.JSRangeError) as e:
            print("limited", type(e).__name__)
        print(pymport_py.eval("1 + 1"))
        """
    )
    assert proc.returncode == 0, proc.report
    lines = proc.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith("limited ") and lines[1] == "2", proc.report


def test_exception_of_a_call_is_not_seen_by_microtasks_that_call_python():
    # The call's exception stays its own while the microtasks it queued run
    # (and call Python) at the end of the turn.
    calls = []
    f = js("(py) => { Promise.resolve().then(() => py('microtask')); throw new RangeError('mine') }")
    with pytest.raises(pymport_py.JSRangeError) as info:
        f(calls.append)
    assert info.value.message == "mine"
    js("() => new Promise((resolve) => setImmediate(resolve))")().result(30)
    assert calls == ["microtask"]
    assert js("() => 42")() == 42


def test_result_inside_a_callback_refuses_and_the_error_reaches_the_caller():
    g = js("(f) => f()")
    with pytest.raises(RuntimeError, match="inside a call from JavaScript"):
        g(lambda: js("() => new Promise(() => {})")().result())


def test_a_call_with_more_than_8_arguments_one_of_which_fails_to_convert(run_python):
    # The argument array (allocated past 8) was freed twice: by the conversion and the caller.
    proc = run_python(
        """
        import pymport_py
        with pymport_py.Worker() as w:
            foreign = w.eval("({})")
            f = pymport_py.eval("(...a) => a.length")
            for i in range(2000):
                for call in (f, f.call_async):
                    try:
                        call(*range(8 + i % 5), foreign)
                    except ValueError as e:
                        message = str(e)
            print(message)
            print(sum(f(*range(n)) for n in range(40)), f.call_async(*range(30)).result(5))
        """, timeout=60)
    assert proc.returncode == 0, proc.report
    assert proc.stdout.splitlines() == [
        "this JavaScript object belongs to another Node environment; copy it into this one with "
        "adopt() (pymport_py.adopt(obj) for the main environment, worker.adopt(obj) for a Worker) "
        "or to_py()", "780 30"], proc.report


def test_a_python_exception_with_a_lone_surrogate_crosses_whole_and_comes_back_itself():
    # Its message went through PyUnicode_AsUTF8, which refuses lone surrogates: JS got
    # "a Python exception (it could not be converted)".
    err = ValueError("bad \udcff byte")

    def boom():
        raise err

    caught = pymport_py.eval("(f) => { try { f() } catch (e) { return [e.message, e.pythonValue] } }")(boom)
    assert caught[0] == "ValueError: bad \udcff byte"
    assert caught[1] is err
    with pytest.raises(ValueError) as info:
        pymport_py.eval("(f) => f()")(boom)
    assert info.value is err


def test_an_iterator_whose_next_returns_a_non_object_raises_type_error():
    it = pymport_py.eval("({[Symbol.iterator]() { return {next() { return 5 }} }})")
    with pytest.raises(pymport_py.JSTypeError, match="Iterator result 5 is not an object"):
        list(it)


def test_a_str_longer_than_any_js_string_raises_value_error():
    too_long = "x" * (1 << 29)
    with pytest.raises(ValueError, match="longer than the longest JavaScript string"):
        pymport_py.eval("(s) => s.length")(too_long)
    assert pymport_py.eval("(s) => s.length")("still works") == 11


@pytest.mark.parametrize("iterator", ["5", "require('pymport').pyval('[1]')"])
def test_an_iterator_method_returning_a_non_object_raises_type_error(iterator):
    # Iterating these crashed: the returned value was used as a JS iterator.
    obj = pymport_py.eval(f"({{[Symbol.iterator]() {{ return {iterator} }}}})")
    with pytest.raises(TypeError, match="Result of the Symbol.iterator method is not an object"):
        list(obj)


# --------------------------------------------------------------------------
# Pickling (process pools send a task's exception to the caller)


def _raised(source):
    with pytest.raises(JSError) as info:
        js(source)
    return info.value


@pytest.mark.parametrize(
    "kind, cls",
    [
        ("Error", pymport_py.JSError),
        ("TypeError", pymport_py.JSTypeError),
        ("RangeError", pymport_py.JSRangeError),
        ("SyntaxError", pymport_py.JSSyntaxError),
        ("ReferenceError", pymport_py.JSReferenceError),
    ],
)
def test_each_js_error_class_survives_a_pickle_round_trip(kind, cls):
    e = _raised(f"(function pickledThrower() {{ const e = new {kind}('to pickle'); e.code = 'E_PICKLE';"
                f" throw e }})()")
    copy = pickle.loads(pickle.dumps(e))
    assert type(copy) is cls
    assert isinstance(copy, JSError)
    assert str(copy) == str(e) == f"{kind}: to pickle"
    assert (copy.name, copy.message, copy.code) == (kind, "to pickle", "E_PICKLE")
    assert copy.stack == e.stack and "pickledThrower" in copy.stack
    assert copy.__notes__ == e.__notes__
    assert isinstance(e.value, JSObject), "pickling must not change the original"


def test_a_pickled_error_keeps_the_plain_data_of_its_value():
    e = _raised("require('fs').readFileSync('/no/such/dir/file')")
    copy = pickle.loads(pickle.dumps(e))
    assert copy.code == "ENOENT"
    assert (copy.value.errno, copy.value.syscall, copy.value.path) == (
        e.value.errno, "open", "/no/such/dir/file")
    assert copy.value.stack == e.value.stack  # the JS object's own, whole stack
    assert not isinstance(copy.value, JSObject)


def test_a_pickled_error_keeps_its_cause_as_text():
    e = _raised("""(() => {
      const inner = new RangeError('the inner one');
      throw new Error('outer', { cause: inner });
    })()""")
    assert "RangeError: the inner one" in pickle.loads(pickle.dumps(e)).value.cause
    e = _raised("throw new Error('outer', { cause: { why: 'because' } })")
    assert "because" in pickle.loads(pickle.dumps(e)).value.cause


def test_a_thrown_non_error_and_a_python_made_jserror_pickle():
    copy = pickle.loads(pickle.dumps(_raised("throw 'just a string'")))
    assert (copy.name, copy.message, copy.value, str(copy)) == (
        None, "just a string", "just a string", "just a string")
    copy = pickle.loads(pickle.dumps(JSError("made in Python")))
    assert (str(copy), copy.name, copy.stack, copy.value) == ("made in Python", None, None, None)


def test_an_error_of_a_closed_environment_still_pickles():
    with pymport_py.Worker() as worker:
        with pytest.raises(pymport_py.JSTypeError) as info:
            worker.eval("null.x")
    copy = pickle.loads(pickle.dumps(info.value))
    assert copy.message == info.value.message
    assert copy.value is None


def test_unpickling_needs_no_running_node(run_python):
    e = _raised("(function farAway() { throw new TypeError('sent') })()")
    proc = run_python(f"""
        import pickle
        import pymport_py
        e = pickle.loads(bytes.fromhex({pickle.dumps(e).hex()!r}))
        print(type(e).__name__, isinstance(e, pymport_py.JSError), isinstance(e, TypeError))
        print(e.message, "farAway" in e.stack)
        print(pymport_py.running())
    """)
    assert proc.returncode == 0, proc.report
    assert proc.stdout.splitlines() == ["JSTypeError True True", "sent True", "False"], proc.report


def test_a_js_error_in_a_process_pool_task_reaches_the_parent():
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        future = pool.submit(pymport_py.eval, """(function inTheChild() {
            const e = new RangeError(`from process ${process.pid}`);
            e.code = 'ERR_CHILD';
            throw e;
        })()""")
        error = future.exception(timeout=60)
        child_pid = pool.submit(pymport_py.eval, "process.pid").result(timeout=60)
    assert type(error) is pymport_py.JSRangeError
    assert error.name == "RangeError"
    assert error.message == f"from process {child_pid}"
    assert error.code == "ERR_CHILD"
    assert "inTheChild" in error.stack
    assert child_pid != os.getpid()


def test_a_js_object_refuses_to_pickle_and_names_to_py():
    with pytest.raises(TypeError, match=r"cannot pickle a JSObject.*\.to_py\(\)"):
        pickle.dumps(js("({ a: 1 })"))
    assert pickle.loads(pickle.dumps(js("({ a: 1 })").to_py())) == {"a": 1}
