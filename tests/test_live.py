"""pymport_py.live(): a Python list or dict that JavaScript uses with plain JS syntax and no
copy (docs/conversions.md#live-containers)."""

import array
import builtins
import collections
import collections.abc
import gc
import json
import sys
import threading

import pytest

import pymport_py as node

WAIT = 60  # seconds: ends a wait that would otherwise hang; a passing test never reaches it
JOIN_TIMEOUT = 60

# Runs the JS statements `body` on `a` twice: on a plain Array copy of the data and on the
# live list, and returns both outcomes as JSON text: [value of the body, the array after it].
# The live list must behave as the Array does.
SIDE_BY_SIDE = """(live, data, body) => {
  const run = new Function('a', body);
  const outcome = (a) => {
    let value;
    try { value = run(a); } catch (e) { value = `${e.constructor.name}`; }
    return JSON.stringify([value === undefined ? '<undefined>' : value, a]);
  };
  return [outcome(JSON.parse(data)), outcome(live)];
}"""

LIST_CASES = [
    "return a.push(3)",
    "return a.push()",
    "return a.push(3, 4, 5)",
    "return a.length",
    "return [a[0], a[1], a[99], a[-1], a['01']]",
    "a[0] = 'x'; return a[0]",
    "a[a.length] = 'end'; return a.length",
    "a.length = 0; return a.length",
    "a.length = 1; return a",
    "const out = []; for (const x of a) out.push(x); return out",
    "return Array.isArray(a)",
    "return a.map((x, i, arr) => [x, i, arr === a])",
    "return [a.indexOf(2), a.indexOf('2'), a.indexOf(9), a.indexOf(1, 1), a.indexOf(2, -1)]",
    "return JSON.stringify(a)",
    "return [...a]",
    "return [delete a[0], a.length, a[0] ?? 'gone', JSON.stringify(a)]",
    "return Object.keys(a)",
    "return Object.getOwnPropertyNames(a)",
    "return Object.entries(a)",
    "return Object.getOwnPropertyDescriptor(a, 'length')",
    "return Object.getOwnPropertyDescriptor(a, '1')",
    "return Object.getOwnPropertyDescriptor(a, '7')",
    "return [a.pop(), a.pop(), a.pop(), a.pop(), a.pop()]",
    "return [a.shift(), a.length]",
    "return a.unshift('u', 'v')",
    "return a.splice(1, 1, 'p', 'q')",
    "return a.splice(-2)",
    "return a.splice()",
    "return a.splice(1)",
    "return a.splice(0, Infinity, 'all')",
    "return [a.slice(), a.slice(1), a.slice(-2, -1), a.slice(2, 1)]",
    "return [a.includes(2), a.includes(9), a.includes(1, 1)]",
    "return a.filter((x) => x > 1)",
    "let s = 0; a.forEach((x, i) => { s += x * (i + 1); }); return s",
    "return [a.some((x) => x > 2), a.some((x) => x > 9), a.every((x) => x > 0), a.every((x) => x > 1)]",
    "return [a.find((x) => x > 1), a.find((x) => x > 9), a.findIndex((x) => x > 1), a.findIndex((x) => x > 9)]",
    "return [a.reduce((s, x) => s + x), a.reduce((s, x) => s + x, 10)]",
    "a.length = 0; return a.reduce((s, x) => s + x)",
    "return [a.join('-'), String(a), `${a}`]",
    "return a.concat([9])",
    "return Array.from(a)",
    "return [a.at(-1), a.at(0)]",
    "a.reverse(); return a.sort()",
    "return a.fill(0, 1)",
    "return [...a.entries()]",
    "return [...a.keys()]",
    "return [a instanceof Array, Object.getPrototypeOf(a) === Array.prototype, a.constructor === Array]",
    "return Object.prototype.toString.call(a)",
    "return [0 in a, 2 in a, 3 in a, 'length' in a, 'push' in a]",
    "return a.map(String).filter((s) => s !== '2')",
    "a.forEach((x, i) => { if (i === 0) a.push(4); }); return a.length",
    "return a.copyWithin(0, 1)",
    "return [a.lastIndexOf(3), a.findLast((x) => x < 3)]",
    "a.splice(1, 0, ...[7, 8]); return a.flat()",
    "Object.defineProperty(a, '0', { value: 'd', writable: true, enumerable: true, configurable: true }); return a[0]",
    "Object.defineProperty(a, 'length', { value: 1 }); return a.length",
]


def as_data(value):
    """value with the JSObjects that JavaScript stored in it copied (to_py)."""
    if isinstance(value, node.JSObject):
        return value.to_py()
    if isinstance(value, list):
        return [as_data(v) for v in value]
    if isinstance(value, dict):
        return {k: as_data(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize("body", LIST_CASES)
def test_a_live_list_behaves_as_an_array(body):
    items = [1, 2, 3]
    plain, live = node.eval(SIDE_BY_SIDE)(node.live(items), json.dumps(items), body)
    assert live == plain
    assert as_data(items) == json.loads(plain)[1]


DICT_CASES = [
    "return [a.b, a['b'], a.zz]",
    "a.b = 20; return a.b",
    "a.c = [1]; return Object.keys(a)",
    "return ['b' in a, 'zz' in a, 'toString' in a, 'hasOwnProperty' in a]",
    "return [delete a.b, 'b' in a, delete a.zz]",
    "return Object.keys(a)",
    "return Object.entries(a)",
    "return Object.values(a)",
    "const keys = []; for (const k in a) keys.push(k); return keys",
    "return JSON.stringify(a)",
    "return { ...a }",
    "return Object.assign({}, a)",
    "Object.assign(a, { c: 3, b: 4 }); return Object.keys(a)",
    "return [a.hasOwnProperty('b'), a.hasOwnProperty('toString'), Object.hasOwn(a, 'c')]",
    "return [Object.getPrototypeOf(a) === Object.prototype, a.constructor === Object, a instanceof Object]",
    "return [String(a), Object.prototype.toString.call(a), typeof a.toString]",
    "return Object.getOwnPropertyDescriptor(a, 'b')",
    "return Object.getOwnPropertyDescriptor(a, 'zz')",
    "return Object.getOwnPropertyNames(a)",
    "return [a.then, a.toJSON]",
    "Object.defineProperty(a, 'd', { value: 5, writable: true, enumerable: true, configurable: true }); return a.d",
]


@pytest.mark.parametrize("body", DICT_CASES)
def test_a_live_dict_behaves_as_an_object(body):
    data = {"a": 1, "b": "two", "n": None}
    plain, live = node.eval(SIDE_BY_SIDE)(node.live(data), json.dumps(data), body)
    assert live == plain
    assert as_data(data) == json.loads(plain)[1]


def test_list_changes_are_seen_at_once_both_ways():
    items = [1]
    seen = []
    check = node.eval("""(items, look) => {
        items.push(2);
        look();              // Python sees the push before this call returns
        items[0] = 'one';
        look();
        return items.length;
    }""")
    assert check(node.live(items), lambda: seen.append(list(items))) == 2
    assert seen == [[1, 2], ["one", 2]]
    keep = node.eval("(items) => { globalThis.liveItems = items; }")
    keep(node.live(items))
    items.append(3)
    items[0] = "first"
    assert node.eval("[liveItems.length, liveItems[0], liveItems[2]]").to_py() == [3, "first", 3]
    del items[:]
    assert node.eval("liveItems.length") == 0
    node.eval("delete globalThis.liveItems")


def test_dict_changes_are_seen_at_once_both_ways():
    data = {"a": 1}
    seen = []
    check = node.eval("""(d, look) => { d.b = 2; delete d.a; look(); d.b += 1; look(); }""")
    check(node.live(data), lambda: seen.append(dict(data)))
    assert seen == [{"b": 2}, {"b": 3}]
    node.eval("(d) => { globalThis.liveDict = d; }")(node.live(data))
    data["c"] = [1]
    del data["b"]
    assert node.eval("[Object.keys(liveDict), 'b' in liveDict, liveDict.c[0]]").to_py() == [["c"], False, 1]
    node.eval("delete globalThis.liveDict")


def test_nested_lists_and_dicts_are_live_and_other_values_are_copied():
    data = {"list": [1], "dict": {"x": 1}, "tuple": (1, [2]), "set": {3}, "none": None, "text": "t"}
    out = node.eval("""(d) => {
        d.list.push(2);
        d.dict.y = 2;
        const copy = d.tuple;
        copy[1].push('copy');
        return [Array.isArray(d.list), copy, d.tuple, d.set instanceof Set, d.none, d.text, d.list === d.list];
    }""")(node.live(data)).to_py()
    assert out == [True, [1, [2, "copy"]], [1, [2]], True, None, "t", True]
    assert data["list"] == [1, 2] and data["dict"] == {"x": 1, "y": 2} and data["tuple"] == (1, [2])


def test_values_written_from_javascript_follow_the_javascript_to_python_rules():
    items = []
    other = [9]
    node.eval("(a, other) => { a.push(1, 2.5, 'x', true, null, undefined, 2n ** 64n, other, [1], { k: 1 }) }")(
        node.live(items), node.live(other))
    assert items[:7] == [1, 2.5, "x", True, None, None, 2**64]
    assert items[7] is other
    assert isinstance(items[8], node.JSObject) and items[8].to_py() == [1]
    assert isinstance(items[9], node.JSObject) and items[9].to_py() == {"k": 1}


def test_the_same_container_gives_the_same_proxy_and_comes_back_as_itself():
    items, data = [1], {"a": []}
    same = node.eval("(a, b) => a === b")
    echo = node.eval("(x) => x")
    assert same(node.live(items), node.live(items))
    assert not same(node.live(items), node.live([1]))
    assert echo(node.live(items)) is items
    assert echo(node.live(data)) is data
    assert node.eval("(d) => d.a")(node.live(data)) is data["a"]
    assert node.eval("(d) => [d, d.a]")(node.live(data)).to_py() == [data, data["a"]]
    assert node.to_js(node.live(items)) is items
    # as an assigned property, and as a callback's return value
    holder = node.eval("({})")
    holder.list = node.live(items)
    assert node.eval("(h) => Array.isArray(h.list) && h.list.push(2)")(holder) == 2
    assert holder.list is items and items == [1, 2]
    assert node.eval("(f) => { const a = f(); a.push(3); return a === f(); }")(lambda: node.live(items))
    assert items == [1, 2, 3]


def test_ref_still_gives_the_pymport_pyobject():
    items = [1]
    out = node.eval("(p) => [Array.isArray(p), p.get('append').call(2) === undefined, p.toJS()]")(node.ref(items))
    assert out.to_py() == [False, False, [1, 2]]


def test_missing_items_and_keys_are_undefined_as_in_javascript():
    out = node.eval("""(a, d) => [a[5], a[1], d.nope, d['also-missing'], a[4294967294], a['1.0']]
        .map((v) => v === undefined)""")(node.live([1]), node.live({}))
    assert out.to_py() == [True] * 6


def test_what_a_python_list_cannot_hold_throws():
    out = node.eval("""(a) => {
        const thrown = (f) => { try { f(); return 'none'; } catch (e) { return `${e.constructor.name}: ${e.message}`; } };
        return [
            thrown(() => { a.name = 'x'; }),
            thrown(() => { a[Symbol.iterator] = null; }),
            thrown(() => { a.length = -1; }),
            thrown(() => { a.length = 1.5; }),
            thrown(() => Object.freeze(a)),
            thrown(() => Object.setPrototypeOf(a, null)),
            thrown(() => Object.defineProperty(a, '0', { get() { return 1; } })),
            thrown(() => Object.defineProperty(a, 'length', { value: 0, writable: false })),
            thrown(() => { 'use strict'; delete a.length; }),
        ];
    }""")(node.live([1]))
    thrown = out.to_py()
    assert thrown[0] == "TypeError: Cannot set 'name' of a live Python list: it has only items and a length"
    assert thrown[1].startswith("TypeError: Cannot set a symbol of a live Python list")
    assert thrown[2:4] == ["RangeError: Invalid array length"] * 2
    assert all(t.startswith("TypeError") for t in thrown[4:]), thrown


def test_symbol_keys_of_a_dict_cannot_be_set():
    out = node.eval("(d) => { try { d[Symbol('s')] = 1; } catch (e) { return e.message; } }")(node.live({}))
    assert out == "Cannot set a symbol on a live Python dict: its keys are strings"


def test_keys_that_are_not_str_are_not_visible():
    data = {"a": 1, 2: "two", (3,): "tuple"}
    assert node.eval("(d) => [Object.keys(d), d[2], JSON.stringify(d)]")(node.live(data)).to_py() == [
        ["a"], None, '{"a":1}']


def test_padding_and_holes_are_none():
    items = [1]
    node.eval("(a) => { a[3] = 4; delete a[0]; }")(node.live(items))
    assert items == [None, None, None, 4]
    node.eval("(a) => { a.length = 6; }")(node.live(items))
    assert items == [None, None, None, 4, None, None]


def test_a_python_exception_in_an_access_throws_a_js_error_and_comes_back_as_itself():
    class Picky(dict):
        def __setitem__(self, key, value):
            if key == "bad":
                raise ValueError("no bad keys")
            super().__setitem__(key, value)

    class Broken(list):
        def __getitem__(self, i):
            raise LookupError("broken")

    picky = Picky()
    out = node.eval("""(d, a) => [d, a].map((c, i) => {
        try { if (i === 0) c.bad = 1; else return c[0]; } catch (e) {
            return [e instanceof Error, e.message, e.pythonType, e.pythonValue !== undefined];
        }
    })""")(node.live(picky), node.live(Broken([1])))
    assert out.to_py() == [[True, "ValueError: no bad keys", "ValueError", True],
                           [True, "LookupError: broken", "LookupError", True]]
    with pytest.raises(ValueError, match="no bad keys") as info:
        node.eval("(d) => { d.bad = 1; }")(node.live(picky))
    assert type(info.value) is ValueError
    assert picky == {}


def test_live_takes_lists_dicts_and_mutable_collections_only():
    for value in [(1, 2), "text", b"bytes", 5, None, {1, 2}, frozenset(), object()]:
        with pytest.raises(TypeError, match=r"live\(\) takes a list or a dict"):
            node.live(value)
    with pytest.raises(TypeError):
        node.live()
    with pytest.raises(TypeError):
        node.live([], extra=1)
    marker = node.live(items := [1])
    assert marker.value is items and repr(marker) == "live([1])"


def test_subclasses_and_other_mutable_collections():
    user_list = collections.UserList([1, 2])
    out = node.eval("(a) => { a.push(3); a.splice(0, 1); a.length = 3; return [Array.isArray(a), [...a]]; }")(
        node.live(user_list))
    assert out.to_py() == [True, [2, 3, None]] and user_list == [2, 3, None]
    doubles = array.array("d", [1.5])
    assert node.eval("(a) => { a.push(2); a.unshift(0.5); return a.slice(); }")(node.live(doubles)).to_py() == [0.5, 1.5, 2]
    assert doubles == array.array("d", [0.5, 1.5, 2.0])
    with pytest.raises(TypeError):
        node.eval("(a) => { a.length = 5; }")(node.live(doubles))  # array.array cannot hold None
    counts = collections.defaultdict(int)
    out = node.eval("(d) => { d.x = (d.x ?? 0) + 1; return [d.then, d.y, 'z' in d, Object.keys(d)]; }")(
        node.live(counts))
    assert out.to_py() == [None, None, False, ["x"]] and dict(counts) == {"x": 1}  # no __missing__
    ordered = collections.OrderedDict(a=1)
    node.eval("(d) => { d.b = 2; delete d.a; }")(node.live(ordered))
    assert list(ordered.items()) == [("b", 2)]


class CountingList(collections.abc.MutableSequence):
    """A MutableSequence that counts the calls JavaScript's accesses make."""

    def __init__(self, items):
        self.items = list(items)
        self.calls = collections.Counter()

    def __len__(self):
        self.calls["len"] += 1
        return len(self.items)

    def __getitem__(self, i):
        self.calls["getitem"] += 1
        return self.items[i]

    def __setitem__(self, i, v):
        self.calls["setitem"] += 1
        self.items[i] = v

    def __delitem__(self, i):
        del self.items[i]

    def insert(self, i, v):
        self.items.insert(i, v)


def test_each_access_reads_the_python_object_once():
    seq = CountingList([10, 20, 30])
    read = node.eval("(a) => a[1]")
    assert read(node.live(seq)) == 20
    assert seq.calls == {"len": 1, "getitem": 1}
    seq.calls.clear()
    assert node.eval("(a) => { let s = 0; for (const x of a) s += x; return s; }")(node.live(seq)) == 60
    assert seq.calls["getitem"] == 3  # each item once, no length-then-item pairs
    seq.calls.clear()
    assert node.eval("(a) => a.map((x) => x / 10)")(node.live(seq)).to_py() == [1, 2, 3]
    assert seq.calls["getitem"] == 3
    seq.calls.clear()
    node.eval("(a) => { a[0] = 1; }")(node.live(seq))
    assert seq.calls == {"len": 1, "setitem": 1}


def test_util_inspect_shows_the_current_items():
    items = [1, "two", None, {"k": [3]}]
    inspect = node.eval("(x, opts) => require('util').inspect(x, opts)")
    assert inspect(node.live(items)) == "[ 1, 'two', null, { k: [ 3 ] } ]"
    assert inspect(node.live({"a": 1})) == "{ a: 1 }"
    items.append(5)
    assert inspect(node.live(items)).endswith(", 5 ]")
    deep = [[[[["deep"]]]]]
    assert inspect(node.live(deep)) == "[ [ [ [Array] ] ] ]"
    assert inspect(node.live(deep), {"depth": None}) == "[ [ [ [ [ 'deep' ] ] ] ] ]"
    looped = [1]
    looped.append(looped)
    assert inspect(node.live(looped)) == "<ref *1> [ 1, [Circular *1] ]"
    assert inspect(node.live(looped), {"depth": None}) == "<ref *1> [ 1, [Circular *1] ]"
    mapping = {"name": "m"}
    mapping["self"] = mapping
    assert inspect(node.live(mapping), {"depth": None}) == "<ref *1> { name: 'm', self: [Circular *1] }"


def test_console_log_of_a_live_container(capsys):
    node.eval("(a, d) => console.log(a, d)")(node.live([1, [2]]), node.live({"x": "y"}))
    assert capsys.readouterr().out == "[ 1, [ 2 ] ] { x: 'y' }\n"


def test_live_containers_work_in_every_environment(env):
    items, data = [1], {}
    out = env.eval("(a, d) => { a.push(2); d.n = a.length; return [Array.isArray(a), Object.keys(d)]; }")(
        node.live(items), node.live(data))
    assert out.to_py() == [True, ["n"]]
    assert items == [1, 2] and data == {"n": 2}


def test_live_containers_in_node_worker_threads():
    shared = {"hits": 0}
    builtins.__pymport_live_test__ = shared
    try:
        out = node.eval("""() => new Promise((resolve, reject) => {
            const { Worker } = require('worker_threads');
            const w = new Worker(`
                const { parentPort } = require('worker_threads');
                const { pyval } = require('pymport');
                const d = pyval('__import__("pymport_py").live(__import__("builtins").__pymport_live_test__)');
                for (let i = 0; i < 100; i++) d.hits += 1;
                d.list = pyval('__import__("pymport_py").live([1])');
                d.list.push(2);
                parentPort.postMessage([Object.keys(d), JSON.stringify(d), Array.isArray(d.list)]);
            `, { eval: true });
            w.on('message', resolve);
            w.on('error', reject);
        })""")().result(WAIT)
    finally:
        del builtins.__pymport_live_test__
    assert out.to_py() == [["hits", "list"], '{"hits":100,"list":[1,2]}', True]
    assert shared == {"hits": 100, "list": [1, 2]}


def test_python_threads_and_javascript_change_one_list_at_once():
    # Python threads push through JavaScript (main environment and a Worker, whose JS runs
    # in parallel with the main one's) while others append in Python; every push lands.
    n = 300
    items = []
    counts = {}
    with node.Worker() as worker:
        push_main = node.eval("(a, d, tag, n) => { for (let i = 0; i < n; i++) { a.push(`${tag}${i}`); d[tag] = (d[tag] ?? 0) + 1; } }")
        push_worker = worker.eval("(a, tag, n) => { for (let i = 0; i < n; i++) a.push(`${tag}${i}`); }")
        lock = threading.Lock()
        errors = []
        start = threading.Barrier(4)

        def run(fn):
            try:
                start.wait(WAIT)
                fn()
            except BaseException as e:  # reported below
                errors.append(e)

        def python_appends():
            for i in range(n):
                items.append(f"p{i}")
                with lock:
                    counts["p"] = counts.get("p", 0) + 1

        threads = [
            threading.Thread(target=run, args=(lambda: push_main(node.live(items), node.live(counts), "m", n),)),
            threading.Thread(target=run, args=(lambda: push_main(node.live(items), node.live(counts), "k", n),)),
            threading.Thread(target=run, args=(lambda: push_worker(node.live(items), "w", n),)),
            threading.Thread(target=run, args=(python_appends,)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(JOIN_TIMEOUT)
        assert not [t for t in threads if t.is_alive()], "threads still running (deadlock?)"
        assert not errors, errors
        assert node.eval("(a) => a.length")(node.live(items)) == len(items) == 4 * n
    assert sorted(items) == sorted(f"{tag}{i}" for tag in "mkwp" for i in range(n))
    for tag in "mwkp":
        assert [x for x in items if x[0] == tag] == [f"{tag}{i}" for i in range(n)]
    assert counts == {"m": n, "k": n, "p": n}


def test_a_live_proxy_releases_its_python_object_after_javascript_drops_it(run_python):
    proc = run_python("""
import gc, threading, weakref, pymport_py
pymport_py.start(argv=["--expose-gc"])

class Items(list):
    pass

def js_gc_round():
    done = threading.Event()
    pymport_py.eval("(done) => { gc(); setImmediate(() => setImmediate(done)); }")(done.set)
    assert done.wait(10)
    gc.collect()

items = Items([1, [2]])
alive = weakref.ref(items)
pymport_py.eval("(a) => { globalThis.kept = a; a.push(a[1]); }")(pymport_py.live(items))
del items
js_gc_round()
print(alive() is not None)
pymport_py.eval("delete globalThis.kept")
for _ in range(10):
    if alive() is None:
        break
    js_gc_round()
print(alive() is None)
""")
    assert proc.returncode == 0, proc.report
    assert proc.stdout.split() == ["True", "True"], proc.report


def test_results_of_pymport_calls_are_live_containers():
    data = {"a": 1}
    out = node.eval("""(d) => {
        const { pyval } = require('pymport');
        const live = pyval('__import__("pymport_py").live(d)', { d });
        live.b = 2;
        return [Array.isArray(pyval('__import__("pymport_py").live([1])')), live === pyval('__import__("pymport_py").live(d)', { d }),
                pyval('d is e', { d, e: live }).toJS()];
    }""")(node.ref(data))
    assert out.to_py() == [True, True, True]
    assert data == {"a": 1, "b": 2}


def test_closing_an_environment_releases_the_containers_its_javascript_held():
    items, data = [1], {"a": 1}
    base = [sys.getrefcount(items), sys.getrefcount(data)]
    with node.Worker() as worker:
        worker.eval("(a, d) => { globalThis.kept = [a, d]; }")(node.live(items), node.live(data))
        assert sys.getrefcount(items) > base[0] and sys.getrefcount(data) > base[1]
        assert worker.eval("kept[0].push(2)") == 2
    gc.collect()
    assert [sys.getrefcount(items), sys.getrefcount(data)] == base
    assert items == [1, 2]
