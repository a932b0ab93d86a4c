"""adopt(): a structured-clone copy of a JSObject into another environment
(docs/conversions.md#copying-between-environments)."""
import builtins

import pytest

import pymport_py as node

WAIT = 60  # seconds: ends a wait that would otherwise hang; a passing test never reaches it

NESTED = """(() => {
  const shared = { name: 'shared' };
  const o = {
    n: 1.5, s: 'text', big: 2n ** 70n, none: null, flag: true,
    list: [1, [2, [3]], shared], shared,
    map: new Map([['k', new Set([1, 2])], [3, 'three']]),
    when: new Date(86400000), pattern: /ab+c/gi,
    bytes: Buffer.from('hi'), floats: new Float64Array([0.5, 1.5]),
    error: new RangeError('out of range'),
  };
  o.self = o;
  return o;
})()"""

# Checks, in the environment of the copy, that it has NESTED's data.
CHECK = """(c) => [
  c.n, c.s, c.big === 2n ** 70n, c.none, c.flag,
  c.list[1][1][0], c.list[2] === c.shared, c.self === c,
  c.map instanceof Map && c.map.get('k') instanceof Set && c.map.get('k').has(2), c.map.get(3),
  c.when instanceof Date && c.when.getTime(), c.pattern instanceof RegExp && c.pattern.source + '/' + c.pattern.flags,
  Buffer.isBuffer(c.bytes) && c.bytes.toString(), c.floats instanceof Float64Array && [...c.floats],
  c.error instanceof RangeError && c.error.message,
]"""

EXPECTED = [1.5, "text", True, None, True, 3, True, True, True, "three", 86400000, "ab+c/gi",
            "hi", [0.5, 1.5], "out of range"]


@pytest.fixture
def worker():
    with node.Worker() as w:
        yield w


def test_adopt_copies_nested_data_from_a_worker_into_the_main_environment(worker):
    original = worker.eval(NESTED)
    copy = node.adopt(original)
    assert isinstance(copy, node.JSObject)
    assert node.eval(CHECK)(copy).to_py() == EXPECTED
    # the copy belongs to the main environment: its functions take it, the worker's refuse it
    assert node.eval("(x) => x")(copy) == copy
    with pytest.raises(ValueError):
        worker.eval("(x) => x")(copy)


def test_adopt_between_two_workers_and_into_a_worker(worker):
    with node.Worker() as other:
        copy = other.adopt(worker.eval(NESTED))
        assert other.eval(CHECK)(copy).to_py() == EXPECTED
    from_main = worker.adopt(node.eval(NESTED))
    assert worker.eval(CHECK)(from_main).to_py() == EXPECTED


def test_the_copy_is_independent_of_the_original(worker):
    original = worker.eval("({ count: 1, items: [1, 2] })")
    copy = node.adopt(original)
    original.count = 2
    original["items"].push(3)
    copy.count = 10
    assert (copy.count, copy["items"].to_py()) == (10, [1, 2])
    assert (original.count, original["items"].to_py()) == (2, [1, 2, 3])


def test_adopt_within_one_environment_makes_a_copy_too():
    original = node.eval("({ a: [1] })")
    copy = node.adopt(original)
    assert copy != original and copy.to_py() == {"a": [1]}


@pytest.mark.parametrize("source, where, what", [
    ("(function tick() {})", "the value", "a function (tick)"),
    ("({ handlers: [1, () => 2] })", "value.handlers[1]", "a function (anonymous)"),
    ("({ tag: Symbol('t') })", "value.tag", "a symbol (t)"),
    ("({ py: require('pymport').pyval('[1, 2]') })", "value.py", "a Python object (a PyObject)"),
    ("({ p: new Proxy({}, {}) })", "value.p", "a Proxy"),
    ("({ m: new Map([['k', Promise.resolve(1)]]) })", 'value.m.get("k")', "a Promise"),
    ("({ w: new WeakMap() })", "value.w", "a WeakMap"),
    ("new Set([new WeakSet()])", "an element of value", "a WeakSet"),
    ("({ 'odd key': new SharedArrayBuffer(8) })", 'value["odd key"]', "a SharedArrayBuffer"),
])
def test_what_a_structured_clone_cannot_copy_raises_type_error_naming_it(worker, source, where, what):
    value = worker.eval(source)
    with pytest.raises(TypeError) as caught:
        node.adopt(value)
    assert str(caught.value) == (f"TypeError: adopt() cannot copy {where}: it is {what}, and a "
                                 "structured clone copies only data" + (
                                     "; pass the Python object itself: every environment shares "
                                     "Python objects" if "Python" in what else ""))
    assert isinstance(caught.value, node.JSError)


def test_a_value_that_only_v8_finds_uncloneable_raises_type_error_with_its_message(worker):
    # a getter runs only when v8.serialize copies the object
    value = worker.eval("({ get later() { return function made() {} } })")
    with pytest.raises(TypeError) as caught:
        node.adopt(value)
    assert str(caught.value) == ("TypeError: adopt() cannot copy the value: function made() {} "
                                 "could not be cloned.")


def test_adopt_takes_only_jsobjects_and_not_those_of_a_closed_environment():
    for value in (1, "text", [1], {"a": 1}, None):
        with pytest.raises(TypeError, match="adopt\\(\\) takes a JSObject"):
            node.adopt(value)
    with node.Worker() as w:
        value = w.eval("({ a: 1 })")
    with pytest.raises(node.EnvironmentClosed):
        node.adopt(value)


def test_the_value_error_for_another_environment_points_to_adopt(worker):
    with pytest.raises(ValueError, match=r"belongs to another Node environment; copy it into "
                                         r"this one with adopt\(\)"):
        node.eval("(x) => x")(worker.eval("({})"))


def test_adopt_from_a_node_worker_thread_inside_its_call(worker):
    # A JSObject of a worker_thread's environment is usable only on that thread,
    # inside a call from its JavaScript: adopt it into the Python Worker there.
    copies = []

    def keep(obj):
        copies.append(worker.adopt(obj))
        return len(copies)

    out = node.eval("""() => new Promise((resolve, reject) => {
      const { Worker } = require('worker_threads');
      const w = new Worker(`
        const { parentPort } = require('worker_threads');
        const { pyval } = require('pymport');
        const keep = pyval('__import__("builtins").__pymport_keep__');
        // an ArrayBuffer reaches Python as a JSObject through the JS API (a plain
        // object would be a dict, and a class instance throws, as in pymport)
        parentPort.postMessage(keep.call(new Uint8Array([7, 8, 9]).buffer).toJS());
      `, { eval: true });
      w.on('message', resolve);
      w.on('error', reject);
    })""")
    builtins.__pymport_keep__ = keep
    try:
        assert out().result(WAIT) == 1
    finally:
        del builtins.__pymport_keep__
    copy, = copies
    assert worker.eval("(c) => [c instanceof ArrayBuffer, c.byteLength, new Uint8Array(c)[1]]")(
        copy).to_py() == [True, 3, 8]
