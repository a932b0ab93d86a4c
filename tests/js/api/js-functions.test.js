'use strict';
// JS functions given to Python through require('pymport'), and the other
// JS -> Python rules of this API that follow pymport.
const assert = require('assert');
const { pyval, PyObject, proxify } = require('pymport');

module.exports = {
  'a JS function is a pymport.js_function, and toJS() gives it back'() {
    const fn = (a) => +a + 1;
    const py = PyObject.fromJS(fn);
    assert.strictEqual(py.type, 'pymport.js_function');
    assert.strictEqual(PyObject.func(fn).type, 'pymport.js_function');
    assert.strictEqual(py.callable, true);
    assert.strictEqual(py.length, undefined);
    assert.strictEqual(py.toJS(), fn);
    assert.strictEqual(pyval('f is g', { f: fn, g: py }).toJS(), true);
    assert.throws(() => [...py], /function is not iterable/);
    assert.throws(() => pyval('type(f)()', { f: fn }), /cannot create 'pymport.js_function' instances/);
  },
  'Python calls it with PyObjects, keyword arguments in a trailing object'() {
    const seen = [];
    const fn = PyObject.func((...args) => { seen.push(args); return null; });
    pyval('f(1, [2], "s", None, slice(1, 2, 3), k=4)', { f: fn });
    const [args] = seen;
    assert.strictEqual(args.length, 6);
    assert.deepStrictEqual(args.slice(0, 5).map((a) => a instanceof PyObject && a.type), ['int', 'list', 'str', 'NoneType', 'slice']);
    const kwargs = args[5];
    assert.deepStrictEqual(Object.keys(kwargs), ['k']);
    assert.ok(kwargs.k instanceof PyObject && kwargs.k.toJS() === 4);
    // the list is the caller's own object, not a copy
    const same = pyval('(lambda l: f(l) is l)', { f: PyObject.func((l) => l) });
    assert.strictEqual(same.call([1]).toJS(), true);
  },
  'what it returns converts back deeply'() {
    const call = pyval('lambda f: f()');
    assert.strictEqual(call.call(() => ({ signed: true, list: [1, { a: 2 }] })).type, 'dict');
    assert.deepStrictEqual(call.call(() => ({ signed: true, list: [1, { a: 2 }] })).toJS(), { signed: true, list: [1, { a: 2 }] });
    assert.strictEqual(call.call(() => PyObject.float(3)).type, 'float');
    assert.strictEqual(call.call(() => 2 ** 60).toJS(), 2n ** 60n);
    assert.strictEqual(call.call(() => undefined).type, 'NoneType');
  },
  'a JS exception is raised in Python as pymport raises it, an Exception with its message'() {
    const ns = PyObject.dict({});
    pyval('exec("def t(f):\\n  try:\\n    f()\\n  except Exception as e:\\n    return e", ns)', { ns });
    const tryIt = ns.item('t');
    const err = tryIt.call(() => { throw new Error('JS exception'); });
    assert.strictEqual(err.type, 'Exception');
    assert.strictEqual(err.toString(), 'JS exception');
    // the JS error stays at hand, with its stack, as the cause
    assert.strictEqual(err.get('__cause__').type, 'JSError');
    assert.match(err.get('__cause__').get('stack').toString(), /js-functions\.test\.js/);
    // thrown on through Python, it comes back to JS as a Python exception, in pymport's words
    const rethrow = pyval('lambda f: f()');
    assert.throws(() => rethrow.call(() => { throw new TypeError('again'); }),
      (e) => e.message === 'Python exception: again' && e.pythonValue.type === 'Exception');
    // a RangeError (a stack overflow) and a thrown non-Error keep their value both ways
    for (const thrown of [new RangeError('deep'), 42]) {
      assert.throws(() => rethrow.call(() => { throw thrown; }), (e) => e === thrown);
    }
  },
  'proxified calls give their callbacks proxies of the PyObjects'() {
    const apply = proxify(pyval('lambda f, x: f(x)'));
    assert.strictEqual(+apply((x) => x.__add__(2), 40), 42);
  },
  'numbers: integral ones of any size are ints; small floats stay floats'() {
    assert.strictEqual(PyObject.fromJS(Number.MAX_SAFE_INTEGER + 5).type, 'int');
    assert.strictEqual(PyObject.fromJS(Number.MAX_SAFE_INTEGER + 5).toJS(), BigInt(Number.MAX_SAFE_INTEGER + 5));
    assert.strictEqual(PyObject.fromJS(1e20).toString(), '100000000000000000000');
    assert.strictEqual(PyObject.fromJS(1e-7).type, 'float');
    assert.strictEqual(PyObject.fromJS(1 - 1e-7).type, 'float');
    assert.strictEqual(PyObject.fromJS(Infinity).type, 'float');
    assert.strictEqual(PyObject.fromJS(NaN).type, 'float');
  },
  'symbols and class instances throw; Errors, Promises and binary data stay JSObjects'() {
    assert.throws(() => PyObject.fromJS(Symbol('s')), (e) => /Object type is not supported/.test(e.message));
    assert.throws(() => PyObject.fromJS(new URL('http://localhost')), /class objects cannot be converted to Python/);
    assert.throws(() => pyval('x', { x: new (class Point {})() }), /class objects/);
    assert.throws(() => PyObject.fromJS([1, { p: new (class Point {})() }]), /class objects/);
    const kind = pyval('lambda v: type(v).__name__');
    for (const v of [new Error('e'), Promise.resolve(1), new ArrayBuffer(1), new DataView(new ArrayBuffer(1))]) {
      assert.strictEqual(kind.call(v).toJS(), 'JSObject');
    }
  },
};
