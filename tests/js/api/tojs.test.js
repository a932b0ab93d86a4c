'use strict';
// toJS() and fromJS() by pymport's rules (the JS API), where they differ from
// the Python API's (docs/javascript.md, "Conversions").
const assert = require('assert');
const { pymport, pyval, PyObject } = require('pymport');

module.exports = {
  'toJS: set and frozenset become Arrays'() {
    const set = pyval('{1, 2, "three"}').toJS();
    assert.ok(Array.isArray(set));
    assert.deepStrictEqual([...set].sort(), [1, 2, 'three']);
    assert.deepStrictEqual(pyval('frozenset([4])').toJS(), [4]);
    assert.deepStrictEqual(pyval('{"s": {5}}').toJS(), { s: [5] });
  },

  'toJS({depth}) counts every level, values included'() {
    const list = pyval('[1, "a", {"name": "text"}]');
    assert.strictEqual(list.toJS({ depth: 0 }), list);
    assert.ok(pyval('7').toJS({ depth: 0 }) instanceof PyObject);
    const one = list.toJS({ depth: 1 });
    assert.strictEqual(one.length, 3);
    assert.ok(one.every((item) => item instanceof PyObject));
    assert.strictEqual(one[0].toJS(), 1);
    const two = list.toJS({ depth: 2 });
    assert.strictEqual(two[0], 1);
    assert.strictEqual(two[1], 'a');
    assert.ok(two[2].name instanceof PyObject);
    assert.deepStrictEqual(list.toJS({ depth: 3 }), [1, 'a', { name: 'text' }]);
    assert.deepStrictEqual(list.toJS({ depth: -1 }), [1, 'a', { name: 'text' }]);
    assert.deepStrictEqual(list.toJS({ depth: Infinity }), [1, 'a', { name: 'text' }]);
  },

  'toJS: a dict with keys of any type becomes an object keyed by their strings'() {
    assert.deepStrictEqual(pyval('{1: "a", (2, 3): "b", "c": None}').toJS(), { 1: 'a', '2,3': 'b', c: null });
  },

  'toJS: a module expands to an object of its attributes'() {
    const json = pymport('json');
    const js = json.toJS();
    assert.strictEqual(typeof js.dumps, 'function');
    assert.strictEqual(js.dumps([1, { a: null }]).toJS(), '[1, {"a": null}]');
    assert.strictEqual(typeof js.decoder, 'object'); // a submodule expands too
    assert.strictEqual(typeof js.decoder.JSONDecodeError, 'function');
    // objects and functions obtained by different means are the same
    assert.strictEqual(js._default_encoder, json.get('_default_encoder'));
    assert.strictEqual(js.dumps, json.get('dumps').toJS());
    assert.strictEqual(js.dumps.__PyObject__, json.get('dumps'));
    assert.strictEqual(pymport('json').toJS().loads, js.loads);
  },

  'toJS: callables become functions that return PyObjects'() {
    const len = pyval('len');
    const fn = len.toJS();
    assert.strictEqual(typeof fn, 'function');
    assert.strictEqual(fn.name, 'len');
    const n = fn([1, 2, 3]);
    assert.ok(n instanceof PyObject);
    assert.strictEqual(n.toJS(), 3);
    assert.strictEqual(fn.__PyObject__, len);
    assert.strictEqual(len.toJS(), fn);
    // pymport's calling convention: a trailing plain object is kwargs
    assert.deepStrictEqual(pyval('sorted').toJS()([3, 1, 2], { reverse: true }).toJS(), [3, 2, 1]);
    // classes too, and the function converts back to the callable
    const Fraction = pymport('fractions').get('Fraction').toJS();
    assert.strictEqual(Fraction(1, 3).toString(), '1/3');
    assert.strictEqual(pyval('f is len', { f: fn }).toJS(), true);
    assert.strictEqual(PyObject.fromJS(fn), len);
  },

  'toJS: shared and circular Python structures stay shared and circular'() {
    const list = pyval('(lambda l: (l.append(l), l)[1])([1])').toJS();
    assert.strictEqual(list[1], list);
    const dict = pyval('(lambda d: (d.__setitem__("me", d), d)[1])({})').toJS();
    assert.strictEqual(dict.me, dict);
    const shared = pyval('(lambda x: [x, (x,), {"x": x}])([2])').toJS();
    assert.strictEqual(shared[0], shared[1][0]);
    assert.strictEqual(shared[0], shared[2].x);
  },

  'fromJS: shared and circular JS structures stay shared and circular'() {
    const array = [];
    array[0] = array;
    const list = PyObject.fromJS(array);
    assert.strictEqual(list.toString(), '[[...]]');
    assert.strictEqual(list.length, 1);
    assert.deepStrictEqual(list.toJS(), array);
    assert.strictEqual(PyObject.tuple(array).toString(), '([[...]],)');
    const object = {};
    object.self = object;
    const dict = PyObject.fromJS(object);
    assert.strictEqual(dict.toString(), "{'self': {...}}");
    const back = dict.toJS();
    assert.strictEqual(back.self, back);
    const item = [1];
    assert.strictEqual(pyval('x[0] is x[1]["k"]', { x: [item, { k: item }] }).toJS(), true);
    const map = new Map();
    map.set('m', map);
    assert.strictEqual(pyval('m["m"] is m', { m: map }).toJS(), true);
  },

  'toJS: bytes, bytearray, memoryview and other buffers become Buffer copies'() {
    const bytearray = pyval('bytearray(b"a string")');
    const buf = bytearray.toJS();
    assert.ok(Buffer.isBuffer(buf));
    assert.strictEqual(buf.toString(), 'a string');
    buf[0] = 65; // a copy
    assert.strictEqual(bytearray.toString(), "bytearray(b'a string')");
    const view = PyObject.memoryview(Buffer.from('view'));
    assert.ok(Buffer.isBuffer(view.toJS()));
    assert.strictEqual(view.toJS().toString(), 'view');
    const floats = pymport('array').get('array').call('d', [1.5]).toJS();
    assert.ok(Buffer.isBuffer(floats));
    assert.strictEqual(floats.readDoubleLE(0), 1.5);
    assert.strictEqual(pyval('b"x"').toJS({ buffer: false }).type, 'bytes');
    const strided = PyObject.memoryview(Buffer.from('123')).item(PyObject.slice({ step: 2 }));
    assert.throws(() => strided.toJS(), /not C-contiguous/);
  },

  'fromJS: a Buffer or Uint8Array becomes a bytearray'() {
    const buf = Buffer.from('a string');
    const bytearray = PyObject.fromJS(buf);
    assert.strictEqual(bytearray.type, 'bytearray');
    assert.deepStrictEqual(bytearray.toJS(), buf);
    assert.strictEqual(pyval('type(b).__name__', { b: new Uint8Array(2) }).toJS(), 'bytearray');
  },
};
