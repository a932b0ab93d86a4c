"""Value conversion both ways: every row of DESIGN.md §5, plus to_js / to_py."""

import array
import gc
import math
from datetime import datetime, timezone

import pytest

import pymport_py
from pymport_py import JSObject


@pytest.fixture
def ident():
    return pymport_py.eval("(x) => x")


@pytest.fixture
def typeof_():
    return pymport_py.eval("(x) => x === null ? 'null' : typeof x")


@pytest.fixture
def js():
    """Build a JS function from source: js("(a) => a + 1")."""
    return pymport_py.eval


def json_of(value):
    return pymport_py.eval("(x) => JSON.stringify(x)")(value)


class Point:
    def __init__(self, x=0, y=0):
        self.x = x
        self.y = y


# --------------------------------------------------------------------------
# undefined / null / None


def test_js_undefined_and_null_become_none():
    assert pymport_py.eval("undefined") is None
    assert pymport_py.eval("null") is None
    assert pymport_py.eval("({u: undefined, n: null})").to_py() == {"u": None, "n": None}


def test_none_argument_is_undefined(typeof_):
    assert typeof_(None) == "undefined"


def test_none_argument_triggers_default_parameter(js):
    assert js("(a = 5) => a")(None) == 5
    assert js("(a, b = 'dflt') => [a, b].join('|')")(1, None) == "1|dflt"


def test_none_assigned_is_undefined(js):
    g = pymport_py.globalThis
    g.assignedNone = None
    assert js("'assignedNone' in globalThis && globalThis.assignedNone === undefined") is True


def test_none_inside_containers_is_null(js):
    assert js("(a) => a.length === 2 && a[0] === null && a[1] === null")([None, None]) is True
    assert js("(t) => t[1] === null")((1, None)) is True
    assert js("(o) => 'k' in o && o.k === null")({"k": None}) is True
    assert json_of({"k": [None, {"z": None}]}) == '{"k":[null,{"z":null}]}'


def test_pymport_null_is_js_null(typeof_, js):
    assert typeof_(pymport_py.null) == "null"
    assert js("(x) => x === null")(pymport_py.null) is True
    assert js("(a = 5) => a")(pymport_py.null) is None  # null does not trigger defaults
    assert json_of([pymport_py.null]) == "[null]"


def test_pymport_null_singleton():
    assert pymport_py.null is pymport_py.null
    assert repr(pymport_py.null) == "null"
    assert not pymport_py.null


# --------------------------------------------------------------------------
# booleans and numbers


def test_bool_both_ways(ident, typeof_):
    assert ident(True) is True
    assert ident(False) is False
    assert typeof_(True) == "boolean"
    assert pymport_py.eval("1 < 2") is True
    assert pymport_py.eval("1 > 2") is False


@pytest.mark.parametrize(
    "value, js_type",
    [
        (0, "number"),
        (1, "number"),
        (-1, "number"),
        (2**31, "number"),
        (2**32 + 1, "number"),
        (2**53 - 1, "number"),
        (2**53, "number"),
        (-(2**53), "number"),
        (2**53 + 1, "bigint"),
        (-(2**53) - 1, "bigint"),
        (2**64, "bigint"),
        (-(2**64) - 12345, "bigint"),
    ],
)
def test_int_to_number_or_bigint_at_2_53_boundary(value, js_type, ident, typeof_):
    assert typeof_(value) == js_type
    back = ident(value)
    assert back == value
    assert type(back) is int


def test_int_values_are_exact_in_js(js):
    assert js("(x) => x === 9007199254740992")(2**53) is True
    assert js("(x) => x === -9007199254740992")(-(2**53)) is True
    assert js("(x) => x === 9007199254740993n")(2**53 + 1) is True
    assert js("(x) => x === -9007199254740993n")(-(2**53) - 1) is True
    assert js("(x) => x === 18446744073709551616n")(2**64) is True


@pytest.mark.parametrize("value", [2**63 - 1, 2**63, 2**64 - 1, 2**200 + 7, 10**40])
@pytest.mark.parametrize("sign", [1, -1])
def test_large_ints_round_trip_exactly(value, sign, ident):
    back = ident(sign * value)
    assert back == sign * value
    assert type(back) is int


@pytest.mark.parametrize("value", [1.5, -0.25, 0.1, 1e-7, 5e-324, 1.7976931348623157e308, 1e300])
def test_float_round_trip(value, ident, typeof_):
    assert typeof_(value) == "number"
    back = ident(value)
    assert back == value
    assert type(back) is float


def test_small_float_is_not_truncated(js):
    assert js("(x) => x === 1e-7")(1e-7) is True
    assert js("(x) => x.toString()")(1e-7) == "1e-7"


def test_nan_and_infinity(ident, js):
    assert math.isnan(ident(float("nan")))
    assert ident(float("inf")) == float("inf")
    assert ident(float("-inf")) == float("-inf")
    assert js("(x) => Number.isNaN(x)")(float("nan")) is True
    assert js("(x) => x === Infinity")(float("inf")) is True
    assert math.isnan(pymport_py.eval("NaN"))
    assert pymport_py.eval("-Infinity") == float("-inf")


def test_js_integral_numbers_become_int():
    for src, expected in [("3", 3), ("-7", -7), ("2.0", 2), ("2**53", 2**53), ("-(2**53)", -(2**53))]:
        value = pymport_py.eval(src)
        assert value == expected
        assert type(value) is int, src


def test_js_non_integral_or_unsafe_numbers_become_float():
    for src, expected in [("3.5", 3.5), ("1e-7", 1e-7), ("2**53 + 2", float(2**53 + 2)), ("1e21", 1e21)]:
        value = pymport_py.eval(src)
        assert value == expected
        assert type(value) is float, src


def test_integral_python_float_comes_back_as_int(ident):
    # float -> number; an integral, safe number -> int
    back = ident(2.0)
    assert back == 2
    assert type(back) is int


def test_large_python_float_stays_number(ident, typeof_):
    assert typeof_(float(2**60)) == "number"
    back = ident(float(2**60))
    assert back == float(2**60)
    assert type(back) is float


def test_bigint_becomes_int():
    for src, expected in [("123n", 123), ("-5n", -5), ("0n", 0), ("2n ** 100n", 2**100), ("-(2n ** 100n)", -(2**100))]:
        value = pymport_py.eval(src)
        assert value == expected
        assert type(value) is int, src


# --------------------------------------------------------------------------
# strings


@pytest.mark.parametrize(
    "value",
    ["", "hello", "héllo wörld", "日本語", "\U0001d11e\U0001f600", "a\x00b", "tab\tnew\nline", "x" * 100_000],
)
def test_str_round_trip(value, ident, typeof_):
    assert typeof_(value) == "string"
    back = ident(value)
    assert back == value
    assert type(back) is str


def test_non_bmp_is_two_utf16_code_units_in_js(js):
    assert js("(s) => s.length")("\U0001f600") == 2
    assert js("(s) => s.codePointAt(0)")("\U0001f600") == 0x1F600
    assert pymport_py.eval("'\\u{1F600}'") == "\U0001f600"


@pytest.mark.parametrize("value", ["\ud800", "\udfff", "a\ud800b", "\udc00\ud800", "x\U0001f600\ud83dy"])
def test_lone_surrogates_round_trip(value, ident):
    assert ident(value) == value


def test_lone_surrogate_is_one_code_unit_in_js(js):
    assert js("(s) => s.length === 1 && s.charCodeAt(0) === 0xD800")("\ud800") is True
    assert pymport_py.eval("'\\uDC00'") == "\udc00"
    assert pymport_py.eval("'a\\uD800b'") == "a\ud800b"


# --------------------------------------------------------------------------
# bytes and buffers


def test_bytes_become_buffer(js):
    assert js("(b) => Buffer.isBuffer(b)")(b"abc") is True
    assert js("(b) => Array.from(b).join(',')")(b"\x00\x01\xff") == "0,1,255"
    assert js("(b) => b.length")(b"") == 0


def test_bytes_are_copied(js):
    data = b"abc"
    assert js("(b) => { b[0] = 120; return b.toString() }")(data) == "xbc"
    assert data == b"abc"


def test_bytearray_is_shared_both_ways(js):
    ba = bytearray(b"abcd")
    assert js("(u) => u instanceof Uint8Array && u.length === 4")(ba) is True
    js("(u) => { u[0] = 65; }")(ba)
    assert ba == bytearray(b"Abcd")
    js("(u) => { globalThis.sharedBytes = u; }")(ba)
    ba[1] = ord("B")
    assert pymport_py.eval("String.fromCharCode(...sharedBytes)") == "ABcd"
    pymport_py.eval("sharedBytes[3] = 68")
    assert ba == bytearray(b"ABcD")
    pymport_py.eval("delete globalThis.sharedBytes")


def test_memoryview_is_shared(js):
    backing = bytearray(8)
    mv = memoryview(backing)
    js("(u) => { u.fill(7); u[7] = 9; }")(mv)
    assert backing == bytearray([7] * 7 + [9])


def test_memoryview_slice_is_shared(js):
    backing = bytearray(8)
    js("(u) => { u.fill(1); return u.length }")(memoryview(backing)[2:5])
    assert backing == bytearray([0, 0, 1, 1, 1, 0, 0, 0])


def test_bytearray_kept_alive_while_js_holds_it(js):
    class TrackedBytes(bytearray):
        freed = []

        def __del__(self):
            TrackedBytes.freed.append(True)

    size = 1 << 20
    ba = TrackedBytes(b"\x07" * size)
    js("(u) => { globalThis.keptBytes = u; }")(ba)
    # while JS uses the memory, Python must not reallocate it
    with pytest.raises(BufferError):
        ba.extend(b"more")
    del ba
    gc.collect()
    assert TrackedBytes.freed == []
    junk = [bytearray(b"\x01" * size) for _ in range(4)]  # would reuse freed memory
    assert pymport_py.eval(f"keptBytes.length === {size} && keptBytes.every((v) => v === 7)") is True
    del junk
    pymport_py.eval("delete globalThis.keptBytes")


@pytest.mark.parametrize(
    "fmt, ctor, values",
    [
        ("b", "Int8Array", [-128, 0, 127]),
        ("B", "Uint8Array", [0, 1, 255]),
        ("h", "Int16Array", [-32768, 1, 32767]),
        ("H", "Uint16Array", [0, 1, 65535]),
        ("i", "Int32Array", [-(2**31), 1, 2**31 - 1]),
        ("I", "Uint32Array", [0, 1, 2**32 - 1]),
        ("q", "BigInt64Array", [-(2**63), 1, 2**63 - 1]),
        ("Q", "BigUint64Array", [0, 1, 2**64 - 1]),
        ("f", "Float32Array", [1.5, -2.0, 0.25]),
        ("d", "Float64Array", [1.5, -2.0, 1e-7]),
    ],
)
def test_typed_memoryview_becomes_matching_typed_array(fmt, ctor, values, js):
    arr = array.array(fmt, values)
    check = js(f"(a) => a instanceof {ctor} && a.length === {len(values)}")
    assert check(memoryview(arr)) is True
    assert check(arr) is True
    literals = ", ".join(f"{v}n" if fmt in "qQ" else repr(v) for v in values)
    assert js(f"(a) => [{literals}].every((v, i) => a[i] === v)")(arr) is True


def test_typed_array_writes_are_shared(js):
    arr = array.array("d", [0.0, 0.0, 0.0])
    js("(a) => { a[1] = 2.5; }")(memoryview(arr))
    assert arr.tolist() == [0.0, 2.5, 0.0]
    arr16 = array.array("h", [0, 0])
    js("(a) => { a[0] = -3; }")(arr16)
    assert arr16.tolist() == [-3, 0]


# --------------------------------------------------------------------------
# containers


def test_list_and_tuple_become_arrays(js):
    is_array = js("(a) => Array.isArray(a)")
    assert is_array([1, 2]) is True
    assert is_array((1, 2)) is True
    assert is_array([]) is True
    assert json_of([1, "a", [2.5, True], ()]) == '[1,"a",[2.5,true],[]]'


def test_list_is_copied(js):
    lst = [1, 2]
    assert js("(a) => { a.push(3); return a.length }")(lst) == 3
    assert lst == [1, 2]


def test_dict_becomes_plain_object_copy(js):
    d = {"a": 1, "nested": {"b": [1, 2]}}
    assert js("(o) => Object.getPrototypeOf(o) === Object.prototype")(d) is True
    assert json_of(d) == '{"a":1,"nested":{"b":[1,2]}}'
    js("(o) => { o.a = 99; o.extra = 1; }")(d)
    assert d == {"a": 1, "nested": {"b": [1, 2]}}


def test_dict_key_order_is_kept(js):
    assert js("(o) => Object.keys(o).join(',')")({"z": 1, "a": 2, "m": 3}) == "z,a,m"


def test_set_becomes_js_set(js):
    assert js("(s) => s instanceof Set && s.size === 3 && s.has(2) && s.has('x')")({1, 2, "x"}) is True
    assert js("(s) => s.size")(set()) == 0


def test_js_containers_come_back_as_references():
    arr = pymport_py.eval("[1, 2]")
    assert isinstance(arr, JSObject)
    obj = pymport_py.eval("({a: 1})")
    assert isinstance(obj, JSObject)


# --------------------------------------------------------------------------
# JSObject, callables, references


def test_jsobject_passes_back_as_its_js_value(ident, js):
    o = pymport_py.eval("globalThis.someObj = {a: 1}; someObj")
    assert ident(o) is o
    assert js("(x) => x === globalThis.someObj")(o) is True
    assert js("(a, b) => a === b")(o, o) is True
    assert js("(arr) => arr[0] === globalThis.someObj")([o]) is True


def test_python_function_becomes_js_function(typeof_, js):
    def mul(a, b):
        return a * b

    assert typeof_(mul) == "function"
    assert js("(f) => f(6, 7)")(mul) == 42
    assert js("(f) => f() === undefined")(lambda: None) is True


def test_python_function_ignores_this(js):
    calls = []

    def record(*args):
        calls.append(args)
        return len(args)

    assert js("(f) => f.call({a: 1}, 5)")(record) == 1
    assert js("(f) => ({m: f}).m('x', 'y')")(record) == 2
    assert calls == [(5,), ("x", "y")]


def test_python_callable_arguments_are_converted(js):
    got = []
    js("(f) => f(1, 2.5, 'a', true, null, undefined, 2n ** 70n)")(lambda *a: got.append(a))
    assert got == [(1, 2.5, "a", True, None, None, 2**70)]


def test_same_callable_gives_same_js_function(js):
    def f():
        pass

    assert js("(a, b) => a === b")(f, f) is True
    js("(a) => { globalThis.storedFn = a; }")(f)
    assert js("(a) => a === globalThis.storedFn")(f) is True
    pymport_py.eval("delete globalThis.storedFn")


def test_js_function_proxy_of_python_callable_returns_original(ident):
    def f():
        pass

    assert ident(f) is f


def test_builtins_classes_and_callable_objects_become_functions(typeof_, js):
    class Adder:
        def __call__(self, a, b):
            return a + b

    assert typeof_(len) == "function"
    assert typeof_(Point) == "function"
    assert typeof_(Adder()) == "function"
    assert js("(f) => f(2, 3)")(Adder()) == 5
    assert js("(f) => f([3, 1, 2])")(sorted).to_py() == [1, 2, 3]
    p = js("(C) => C(3, 4)")(Point)
    assert isinstance(p, Point)
    assert (p.x, p.y) == (3, 4)


def test_python_object_goes_by_reference(ident, typeof_, js):
    p = Point(1, 2)
    assert typeof_(p) == "object"
    assert ident(p) is p
    js("(x) => { globalThis.heldPoint = x; }")(p)
    assert pymport_py.eval("heldPoint") is p
    assert pymport_py.globalThis.heldPoint is p
    assert js("(x) => x === globalThis.heldPoint")(p) is True
    pymport_py.eval("delete globalThis.heldPoint")


def test_ref_passes_containers_by_reference(ident, js):
    lst = [1, 2]
    back = ident(pymport_py.ref(lst))
    assert back is lst
    assert js("(x) => Array.isArray(x)")(pymport_py.ref(lst)) is False
    d = {"a": 1}
    assert ident(pymport_py.ref(d)) is d
    js("(x) => { globalThis.heldRef = x; }")(pymport_py.ref(lst))
    lst.append(3)
    assert pymport_py.eval("heldRef") is lst
    pymport_py.eval("delete globalThis.heldRef")


def test_objects_inside_copied_containers_keep_identity(ident):
    p = Point()
    f = lambda: 1  # noqa: E731
    back = ident([p, {"f": f}])
    assert back[0] is p
    assert back[1]["f"] is f


# --------------------------------------------------------------------------
# to_js


def test_to_js_deep_conversion():
    o = pymport_py.to_js({"a": [1, {"b": None}], "s": {1}, "t": (True, 2.5)})
    assert isinstance(o, JSObject)
    assert pymport_py.eval("(o) => o.s instanceof Set && o.s.has(1)")(o) is True
    assert pymport_py.eval("(o) => JSON.stringify({a: o.a, t: o.t})")(o) == '{"a":[1,{"b":null}],"t":[true,2.5]}'
    assert o.a[1].to_py() == {"b": None}


def test_to_js_returns_same_object_when_passed_back(ident):
    o = pymport_py.to_js([1, 2, 3])
    assert isinstance(o, JSObject)
    assert ident(o) is o
    assert len(o) == 3


def test_to_js_primitives_come_back_as_python_values():
    assert pymport_py.to_js(5) == 5
    assert pymport_py.to_js("s") == "s"
    assert pymport_py.to_js(1.5) == 1.5
    assert pymport_py.to_js(True) is True
    assert pymport_py.to_js(2**60) == 2**60


def test_to_js_bytes_is_a_buffer():
    b = pymport_py.to_js(b"xyz")
    assert isinstance(b, JSObject)
    assert pymport_py.eval("(b) => Buffer.isBuffer(b)")(b) is True
    assert b.to_py() == b"xyz"


# --------------------------------------------------------------------------
# JSObject.to_py


def test_to_py_array_and_object():
    v = pymport_py.eval("[1, 'a', [2, [3]], {x: 1.5, y: [true]}]").to_py()
    assert v == [1, "a", [2, [3]], {"x": 1.5, "y": [True]}]
    assert type(v) is list
    assert type(v[2]) is list
    assert type(v[3]) is dict


def test_to_py_null_prototype_object_is_dict():
    v = pymport_py.eval("Object.assign(Object.create(null), {a: 1})").to_py()
    assert v == {"a": 1}


def test_to_py_map_and_set():
    m = pymport_py.eval("new Map([['a', 1], [2, 'b']])").to_py()
    assert m == {"a": 1, 2: "b"}
    assert type(m) is dict
    s = pymport_py.eval("new Set([1, 'x', 2])").to_py()
    assert s == {1, "x", 2}
    assert type(s) is set


def test_to_py_date_is_aware_utc_datetime():
    d = pymport_py.eval("new Date(Date.UTC(2020, 0, 2, 3, 4, 5, 678))").to_py()
    assert isinstance(d, datetime)
    assert d.utcoffset().total_seconds() == 0
    assert d == datetime(2020, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)
    epoch = pymport_py.eval("new Date(0)").to_py()
    assert epoch == datetime(1970, 1, 1, tzinfo=timezone.utc)


def test_to_py_buffer_and_uint8array_are_bytes():
    b = pymport_py.eval("Buffer.from([1, 2, 3])").to_py()
    assert b == b"\x01\x02\x03"
    assert type(b) is bytes
    u = pymport_py.eval("new Uint8Array([4, 5])").to_py()
    assert u == b"\x04\x05"
    assert type(u) is bytes


def test_to_py_float64array_is_memoryview_copy():
    arr = pymport_py.eval("globalThis.f64 = new Float64Array([1.5, -2, 1e-7]); f64")
    mv = arr.to_py()
    assert isinstance(mv, memoryview)
    assert mv.format == "d"
    assert mv.itemsize == 8
    assert mv.tolist() == [1.5, -2.0, 1e-7]
    pymport_py.eval("f64[0] = 99")
    assert mv.tolist() == [1.5, -2.0, 1e-7]  # a copy


def test_to_py_int16array_format():
    mv = pymport_py.eval("new Int16Array([-1, 2])").to_py()
    assert isinstance(mv, memoryview)
    assert mv.format == "h"
    assert mv.tolist() == [-1, 2]


def test_to_py_nested():
    v = pymport_py.eval(
        """({
            list: [1, {d: new Date(0)}],
            m: new Map([['k', new Set([1])]]),
            buf: Buffer.from('hi'),
            u: undefined,
            n: null,
            big: 2n ** 64n,
            f: 0.5,
        })"""
    ).to_py()
    assert v == {
        "list": [1, {"d": datetime(1970, 1, 1, tzinfo=timezone.utc)}],
        "m": {"k": {1}},
        "buf": b"hi",
        "u": None,
        "n": None,
        "big": 2**64,
        "f": 0.5,
    }


def test_to_py_keeps_functions_and_class_instances_as_jsobjects():
    v = pymport_py.eval("({f: () => 1, inst: new (class A { constructor() { this.x = 1 } })()})").to_py()
    assert isinstance(v["f"], JSObject)
    assert v["f"]() == 1
    assert isinstance(v["inst"], JSObject)
    assert v["inst"].x == 1


def test_to_py_keeps_python_objects():
    p = Point()
    v = pymport_py.eval("(p) => [p, {p}]")(p).to_py()
    assert v[0] is p
    assert v[1]["p"] is p


def test_to_py_cycle_raises_recursion_error():
    cyclic = pymport_py.eval("(() => { const c = []; c.push(c); return c; })()")
    with pytest.raises(RecursionError):
        cyclic.to_py()


class _TrickyInt(int):
    """An int subclass whose own methods lie about the value."""

    def __abs__(self):
        return "not a number"

    def bit_length(self):
        return 1

    def __lt__(self, other):
        return False

    def to_bytes(self, *args, **kwargs):
        return b""


@pytest.mark.parametrize("value", [2 ** 70, -(2 ** 70), -(2 ** 200) + 1, 2 ** 53 + 1, 12])
def test_an_int_subclass_converts_by_its_int_value_not_its_methods(value):
    # cv_int_to_js used to read a BigInt through the subclass's own __abs__/bit_length.
    tricky = _TrickyInt(value)
    kind = "bigint" if abs(value) > 2 ** 53 else "number"
    assert pymport_py.eval("(x) => typeof x")(tricky) == kind
    assert pymport_py.eval("(x) => String(x)")(tricky) == str(value)
    assert pymport_py.eval("(x) => x")(tricky) == value


# Converting a callable runs Python code (its __name__ names the JS function):
# code that changes the container being converted.
MUTATING_NAME = """
import pymport_py
class Mutator:
    def __init__(self, action):
        self.action = action
    def __call__(self):
        return None
    @property
    def __name__(self):
        self.action()
        return "mutator"
"""


def test_a_list_cleared_while_it_converts_stops_at_its_end(run_python):
    proc = run_python(
        MUTATING_NAME
        + """
items = []
items.extend([Mutator(lambda: items.clear()), object(), "x" * 1000, [1, 2]])
print(pymport_py.eval("(a) => [a.length, typeof a[0], a[1]]")(items).to_py())
"""
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout == "[4, 'function', None]\n", proc.report


def test_a_dict_changed_while_it_converts_raises_runtime_error(run_python):
    proc = run_python(
        MUTATING_NAME
        + """
for change in ("d[1] = 2", "d.clear()", "d.pop('b')"):
    d = {}
    d.update(a=Mutator(lambda: exec(change, {"d": d})), b=object(), c="x" * 1000)
    try:
        pymport_py.eval("(o) => Object.keys(o)")(d)
    except RuntimeError as e:
        print(e)
"""
    )
    assert proc.returncode == 0, proc.report
    assert proc.stdout == "dictionary changed during its conversion to JavaScript\n" * 3, proc.report
