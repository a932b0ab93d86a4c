"""JSObject: the Python view of a JavaScript object (DESIGN.md §4, decisions-draft.md)."""

import os

import pytest

import pymport_py
from pymport_py import JSObject


def js(source):
    return pymport_py.eval(source)


# --------------------------------------------------------------------------
# attributes


def test_attribute_get_set_del():
    o = js("({a: 1})")
    assert o.a == 1
    o.b = "two"
    assert js("(o) => o.b")(o) == "two"
    o.a = [1, 2]
    assert js("(o) => Array.isArray(o.a) && o.a.length === 2")(o) is True
    del o.a
    assert js("(o) => 'a' in o")(o) is False


def test_missing_attribute_raises_attribute_error():
    o = js("({a: 1})")
    with pytest.raises(AttributeError):
        o.nope
    assert not hasattr(o, "nope")
    assert getattr(o, "nope", "default") == "default"


def test_existing_undefined_attribute_is_none():
    o = js("({u: undefined})")
    assert o.u is None
    assert hasattr(o, "u")


def test_inherited_attribute():
    o = js("Object.create({inherited: 5})")
    assert o.inherited == 5


def test_del_missing_attribute_is_not_an_error():
    o = js("({})")
    del o.nothing_here
    assert js("(o) => Object.keys(o).length")(o) == 0


def test_getter_and_setter_run():
    o = js("({ _v: 1, get v() { return this._v * 10 }, set v(x) { this._v = x } })")
    assert o.v == 10
    o.v = 4
    assert o._v == 4
    assert o.v == 40


def test_python_level_names_win_over_js_properties():
    o = js("({to_py: 1, new: 2, call_async: 3})")
    assert callable(o.to_py)
    assert o.to_py() == {"to_py": 1, "new": 2, "call_async": 3}
    assert o["to_py"] == 1
    assert o["new"] == 2


def test_assign_python_callable_then_call_from_js():
    o = js("({})")
    o.triple = lambda x: x * 3
    assert js("(o) => o.triple(4)")(o) == 12


def test_global_this_attributes():
    g = pymport_py.globalThis
    g.proxyTestGlobal = [1, 2]
    assert js("Array.isArray(proxyTestGlobal) && proxyTestGlobal[1] === 2") is True
    assert g.Math.max(1, 7, 3) == 7
    del g.proxyTestGlobal
    assert js("typeof proxyTestGlobal") == "undefined"


# --------------------------------------------------------------------------
# items


def test_items_with_str_keys():
    o = js("({a: 1, 'with space': 2, u: undefined})")
    assert o["a"] == 1
    assert o["with space"] == 2
    assert o["u"] is None
    with pytest.raises(KeyError):
        o["missing"]
    o["new key"] = 3
    assert js("(o) => o['new key']")(o) == 3
    del o["new key"]
    assert "new key" not in o


def test_items_with_int_index_on_array():
    arr = js("[10, 20, 30]")
    assert arr[0] == 10
    assert arr[2] == 30
    with pytest.raises(IndexError):
        arr[3]
    arr[1] = 99
    assert js("(a) => a.join(',')")(arr) == "10,99,30"
    del arr[0]
    assert js("(a) => 0 in a")(arr) is False
    assert arr["length"] == 3


def test_int_key_on_plain_object():
    o = js("({0: 'zero'})")
    assert o[0] == "zero"
    with pytest.raises(KeyError):
        js("({})")[0]


def test_symbol_key():
    o = js("({[Symbol.for('pymport.test')]: 5})")
    key = js("Symbol.for('pymport.test')")
    assert o[key] == 5
    o[key] = 6
    assert js("(o) => o[Symbol.for('pymport.test')]")(o) == 6


# --------------------------------------------------------------------------
# in / dir


def test_in_operator():
    o = js("({a: 1, u: undefined})")
    assert "a" in o
    assert "u" in o
    assert "toString" in o  # inherited
    assert "zzz" not in o


def test_dir_lists_js_and_python_names():
    o = js(
        """new (class DirProbe extends (class Base { baseMethod() {} }) {
            constructor() { super(); this.own = 1; }
            method() {}
        })()"""
    )
    names = dir(o)
    for name in ("own", "method", "baseMethod", "to_py", "new"):
        assert name in names, name
    assert "hasOwnProperty" not in names  # Object.prototype is left out


# --------------------------------------------------------------------------
# calls


def test_method_call_binds_this():
    counter = js(
        """new (class Counter {
            constructor() { this.n = 0; }
            inc(by = 1) { this.n += by; return this.n; }
        })()"""
    )
    assert counter.inc() == 1
    assert counter.inc(5) == 6
    assert counter.n == 6


def test_method_call_on_object_literal_binds_this():
    o = js("({x: 41, get1() { return this.x + 1 }})")
    assert o.get1() == 42


def test_bare_function_gets_undefined_this():
    f = js("(function () { 'use strict'; return this === undefined; })")
    assert f() is True


def test_keyword_arguments_become_trailing_options_object():
    fs = pymport_py.require("fs")
    text = fs.readFileSync(__file__, encoding="utf8")
    assert isinstance(text, str)
    assert "test_keyword_arguments_become_trailing_options_object" in text
    f = js("(a, opts) => [a, opts.x, opts.y].join('-')")
    assert f(1, x=2, y="z") == "1-2-z"
    assert js("(o) => Object.keys(o).join(',')")(k=1, j=2) == "k,j"


def test_readfilesync_without_encoding_is_a_buffer():
    fs = pymport_py.require("fs")
    data = fs.readFileSync(__file__)
    assert isinstance(data, JSObject)
    with open(__file__, "rb") as fh:
        assert data.to_py() == fh.read()


def test_new_method_and_module_new():
    g = pymport_py.globalThis
    assert g.Date.new(0).getTime() == 0
    m = pymport_py.new(g.Map, [[1, 2], ["k", "v"]])
    assert m.get(1) == 2
    assert m.get("k") == "v"
    assert g.Array.new(3).length == 3
    point = js("(class P { constructor(x, y) { this.x = x; this.y = y } })")
    p = pymport_py.new(point, 1, 2)
    assert (p.x, p.y) == (1, 2)
    assert js("(p, P) => p instanceof P")(p, point) is True


def test_new_with_keyword_arguments():
    cls = js("(class { constructor(opts) { this.opts = opts } })")
    assert cls.new(a=1).opts.a == 1


def test_new_on_non_constructor_raises_type_error():
    with pytest.raises(TypeError):
        js("() => 1").new()


def test_calling_non_function_raises_type_error():
    with pytest.raises(TypeError):
        js("({})")()


# What puppeteer's page.evaluate does (withSourcePuppeteerURLIfNone): a helper
# takes, through Error.prepareStackTrace's call sites, the frame above the
# function that called it, i.e. that function's caller.
CALLER_SITE = """
function callerSite() {
  const original = Error.prepareStackTrace;
  Error.prepareStackTrace = (_, stack) => stack[2];
  const site = new Error().stack;
  Error.prepareStackTrace = original;
  return site;
}
"""


def test_a_js_function_called_from_python_has_a_caller_frame():
    evaluate = js(CALLER_SITE + """
      (function evaluate() {
        const site = callerSite();
        return [site.toString(), site.getFileName(), site.getLineNumber()];
      })""")
    text, filename, line = evaluate().to_py()
    assert filename == "[python]"
    assert text.startswith("[python]:") and line >= 1
    # methods (this bound), constructions and call_async enter the same way
    page = js(CALLER_SITE + "({ evaluate() { return [this === page, callerSite().getFileName()]; } })")
    js("(p) => { globalThis.page = p }")(page)
    assert page.evaluate().to_py() == [True, "[python]"]
    Made = js(CALLER_SITE + "(class Made { constructor() { this.caller = callerSite().getFileName(); } })")
    assert Made.new().caller == "[python]"
    assert js(CALLER_SITE + "() => callerSite().toString()").call_async().result(30).startswith("[python]:")


def test_error_capture_stack_trace_above_the_called_function_finds_the_caller():
    # Error.captureStackTrace(obj, fn) keeps the frames below fn: its caller's.
    capture = js("""(function capture() {
      const holder = {};
      Error.prepareStackTrace = (_, stack) => stack.map((s) => s.getFileName());
      Error.captureStackTrace(holder, capture);
      const files = holder.stack;
      delete Error.prepareStackTrace;
      return files;
    })""")
    assert capture().to_py() == ["[python]"]


# --------------------------------------------------------------------------
# iteration


def test_iterate_array():
    assert list(js("[1, 'a', null]")) == [1, "a", None]


def test_iterate_map_gives_entries():
    m = js("new Map([['a', 1], ['b', 2]])")
    entries = list(m)
    assert all(isinstance(e, JSObject) for e in entries)
    assert [e.to_py() for e in entries] == [["a", 1], ["b", 2]]
    assert list(m.keys()) == ["a", "b"]
    assert [tuple(e) for e in m.entries()] == [("a", 1), ("b", 2)]


def test_iterate_set():
    assert list(js("new Set([3, 1, 3, 2])")) == [3, 1, 2]


def test_iterate_generator():
    assert list(js("(function* () { yield 1; yield 'two'; })()")) == [1, "two"]
    squares = js("(function* (n) { for (let i = 0; i < n; i++) yield i * i; })")
    assert list(squares(4)) == [0, 1, 4, 9]


def test_iteration_is_lazy():
    it = iter(js("(function* () { let i = 0; while (true) yield i++; })()"))
    assert [next(it) for _ in range(5)] == [0, 1, 2, 3, 4]


def test_iterate_custom_iterable():
    o = js(
        """({ *[Symbol.iterator]() { yield 'x'; yield 'y'; } })"""
    )
    assert list(o) == ["x", "y"]
    assert "".join(o) == "xy"


def test_non_iterable_raises_type_error():
    with pytest.raises(TypeError):
        iter(js("({a: 1})"))
    with pytest.raises(TypeError):
        for _ in js("new Date(0)"):
            pass


# --------------------------------------------------------------------------
# len / bool


def test_len_from_length_or_size():
    assert len(js("[1, 2, 3]")) == 3
    assert len(js("new Map([[1, 2], [3, 4]])")) == 2
    assert len(js("new Set([1])")) == 1
    assert len(js("new String('abcd')")) == 4
    assert len(js("Buffer.alloc(7)")) == 7


def test_len_without_length_raises_type_error():
    with pytest.raises(TypeError):
        len(js("({a: 1})"))


def test_bool():
    assert bool(js("[]")) is False
    assert bool(js("[0]")) is True
    assert bool(js("new Map()")) is False
    assert bool(js("new Set([1])")) is True
    assert bool(js("({})")) is True
    assert bool(js("({a: 0})")) is True


# --------------------------------------------------------------------------
# repr / str


def test_repr_uses_util_inspect():
    assert repr(js("({a: 1})")) == "{ a: 1 }"
    assert repr(js("[1, 'x']")) == "[ 1, 'x' ]"
    assert repr(js("new Map([['a', 1]])")) == "Map(1) { 'a' => 1 }"
    assert repr(js("Buffer.from('abc')")) == "<Buffer 61 62 63>"


def test_str_uses_string_conversion():
    assert str(js("[1, 2]")) == "1,2"
    assert str(js("({})")) == "[object Object]"
    assert str(js("({ toString() { return 'custom' } })")) == "custom"
    assert str(js("new Error('bad')")) == "Error: bad"


# --------------------------------------------------------------------------
# identity, equality, hash


def test_same_js_object_same_proxy():
    g = pymport_py.globalThis
    assert g.Math is g.Math
    assert js("Math") is g.Math
    o = js("globalThis.sameProxy = {}; sameProxy")
    assert js("sameProxy") is o


def test_equality_is_js_identity():
    a = js("({})")
    b = js("({})")
    assert a != b
    assert not (a == b)
    assert a == a
    assert js("globalThis.eqProbe = {}; eqProbe") == js("eqProbe")
    assert (a == 1) is False
    assert (a != "x") is True


@pytest.mark.parametrize("container", [[1, 2], (1, 2), {"a": 1}, {1, 2}, frozenset({1})])
def test_comparing_with_a_python_container_warns_and_names_to_py(container):
    value = js("(v) => v")(container)  # a copy of it in JS, unequal all the same
    with pytest.warns(pymport_py.JSComparisonWarning, match=r"compare obj\.to_py\(\) with it"):
        assert (value == container) is False
    with pytest.warns(pymport_py.JSComparisonWarning, match=type(container).__name__):
        assert (container != value) is True
    assert value.to_py() == container or value.to_py() == list(container)


def test_container_comparisons_can_be_silenced_and_membership_still_works():
    import warnings
    arr = js("[1]")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pymport_py.JSComparisonWarning)
        assert arr not in [[1], {"a": 1}]
    assert arr in [arr]  # found by identity before any comparison
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert (arr == 1) is False  # not a container: no warning


def test_hash_is_stable_per_js_object():
    o = js("globalThis.hashProbe = {}; hashProbe")
    h = hash(o)
    assert hash(o) == h
    assert hash(js("hashProbe")) == h
    d = {o: "value"}
    assert d[js("hashProbe")] == "value"
    del o, d
    # a new proxy for the same JS object hashes the same
    assert hash(js("hashProbe")) == h


# --------------------------------------------------------------------------
# buffer protocol


def test_buffer_protocol_node_buffer():
    b = js("Buffer.from('abc')")  # a slice of Node's pool: non-zero byteOffset
    mv = memoryview(b)
    assert (mv.format, mv.itemsize, len(mv), mv.readonly) == ("B", 1, 3, False)
    assert bytes(mv) == b"abc"
    assert bytes(b) == b"abc"
    mv[0] = ord("x")
    assert js("(b) => b.toString()")(b) == "xbc"
    js("(b) => { b[2] = 122; }")(b)
    assert bytes(mv) == b"xbz"


def test_buffer_protocol_uint8array():
    u = js("new Uint8Array([1, 2, 3, 4])")
    mv = memoryview(u)
    assert (mv.format, mv.itemsize, len(mv)) == ("B", 1, 4)
    mv[3] = 40
    assert js("(u) => u[3]")(u) == 40


def test_buffer_protocol_float64array():
    f = js("new Float64Array([1.5, 2.5, -1])")
    mv = memoryview(f)
    assert (mv.format, mv.itemsize, len(mv), mv.nbytes) == ("d", 8, 3, 24)
    assert mv.tolist() == [1.5, 2.5, -1.0]
    mv[1] = 1e-7
    assert js("(f) => f[1] === 1e-7")(f) is True
    js("(f) => { f[2] = 0.5; }")(f)
    assert mv[2] == 0.5


def test_buffer_protocol_int16array_with_offset():
    i16 = js("globalThis.i16buf = new ArrayBuffer(16); new Int16Array(i16buf, 4, 3)")
    mv = memoryview(i16)
    assert (mv.format, mv.itemsize, len(mv)) == ("h", 2, 3)
    mv[0] = -2
    assert js("new Int16Array(i16buf)[2]") == -2
    js("new Int16Array(i16buf)[4] = 300")
    assert mv[2] == 300


def test_buffer_protocol_arraybuffer():
    ab = js("new ArrayBuffer(8)")
    mv = memoryview(ab)
    assert (mv.format, mv.itemsize, len(mv)) == ("B", 1, 8)
    mv[1] = 5
    assert js("(ab) => new Uint8Array(ab)[1]")(ab) == 5
    js("(ab) => { new Uint8Array(ab)[7] = 9; }")(ab)
    assert mv[7] == 9


def test_buffer_protocol_other_typed_arrays():
    cases = {
        "Int8Array": ("b", 1),
        "Uint16Array": ("H", 2),
        "Int32Array": ("i", 4),
        "Uint32Array": ("I", 4),
        "Float32Array": ("f", 4),
        "BigInt64Array": ("q", 8),
        "BigUint64Array": ("Q", 8),
    }
    for ctor, (fmt, size) in cases.items():
        mv = memoryview(js(f"new {ctor}(2)"))
        assert (mv.format, mv.itemsize, len(mv)) == (fmt, size, 2), ctor


def test_buffer_protocol_dataview():
    dv = js("globalThis.dvbuf = new ArrayBuffer(4); new DataView(dvbuf, 1, 2)")
    mv = memoryview(dv)
    assert (mv.format, mv.itemsize, len(mv)) == ("B", 1, 2)
    mv[0] = 7
    assert js("new Uint8Array(dvbuf)[1]") == 7


def test_buffer_protocol_not_for_plain_objects():
    with pytest.raises((TypeError, BufferError)):
        memoryview(js("({})"))


# --------------------------------------------------------------------------
# README examples


def test_readme_path_basename():
    path = pymport_py.require("path")
    assert path.basename("/tmp/some/file.txt") == "file.txt"
    assert path.join("/usr", "lib") == os.path.join("/usr", "lib")


def test_readme_map_with_python_lambda():
    arr = js("[1, 2, 3]")
    doubled = arr.map(lambda x, *_: x * 2)
    assert isinstance(doubled, JSObject)
    assert doubled.to_py() == [2, 4, 6]
    assert list(doubled) == [2, 4, 6]


def test_readme_globalthis_math():
    assert pymport_py.globalThis.Math.max(1, 2) == 2


def test_readme_promise_result():
    assert js("new Promise((r) => setTimeout(() => r(42), 10))").result(10) == 42


def test_python_functions_have_a_js_length():
    # Libraries dispatch on fn.length (an Express error handler has four).
    length = pymport_py.eval("(f) => f.length")

    class Handler:
        def method(self, req, res, nxt=None):
            pass

    assert length(lambda err, req, res, nxt: None) == 4
    assert length(lambda a, b=1, *rest, **kw: None) == 1
    assert length(Handler().method) == 2  # self is bound
    assert length(print) == 0  # builtins: unknown, as for JS natives with rest args
    assert pymport_py.eval("(f) => f(1, 2)")(lambda a, b: a + b) == 3


@pytest.mark.parametrize("length", [-1, -5])
def test_a_negative_length_is_a_clear_value_error_and_the_object_is_truthy(length):
    # -1 used to come back as SystemError ("error return without exception set").
    o = pymport_py.eval(f"({{length: {length}}})")
    with pytest.raises(ValueError, match=rf"length is negative \({length}\)"):
        len(o)
    assert bool(o) is True  # as a JS object, and as objects without a valid length
    assert bool(pymport_py.eval("({length: 0})")) is False
