'use strict';
// Conversions both ways through PyObject, with pymport's defects fixed.
const assert = require('assert');
const { pyval, PyObject } = require('pymport');

module.exports = {
  'numbers: int64 overflow and small floats are exact'() {
    assert.strictEqual(pyval('2 ** 70').toJS(), 2n ** 70n);
    assert.strictEqual(pyval('1e-7').toJS(), 1e-7);
    assert.strictEqual(PyObject.fromJS(2n ** 80n).toString(), String(2n ** 80n));
  },
  'containers convert deeply'() {
    assert.deepStrictEqual(pyval('{"a": [1, 2, {"b": None}], "c": (3, 4)}').toJS(), { a: [1, 2, { b: null }], c: [3, 4] });
    assert.deepStrictEqual(pyval('{1, 2}').toJS(), [1, 2]); // pymport: a set is an Array
  },
  'JS values become Python values'() {
    const type = pyval('lambda v: type(v).__name__');
    assert.strictEqual(type.call(1).toJS(), 'int');
    assert.strictEqual(type.call(1.5).toJS(), 'float');
    assert.strictEqual(type.call('s').toJS(), 'str');
    assert.strictEqual(type.call([1]).toJS(), 'list');
    // a trailing plain object is kwargs (pymport's convention): pass {} after it
    assert.strictEqual(type.call({ a: 1 }, {}).toJS(), 'dict');
    assert.strictEqual(type.call(new Map([[1, 2]])).toJS(), 'dict');
    assert.strictEqual(type.call(new Set([1])).toJS(), 'set');
    assert.strictEqual(type.call(new Date(0)).toJS(), 'datetime');
    assert.strictEqual(type.call(true).toJS(), 'bool');
    assert.strictEqual(type.call(null).toJS(), 'NoneType');
  },
  'statics build Python values'() {
    assert.strictEqual(PyObject.int(7.9).toJS(), 7);
    assert.strictEqual(PyObject.float(2).type, 'float');
    assert.strictEqual(PyObject.string('12').toJS(), '12');
    assert.deepStrictEqual(PyObject.tuple([1, 2]).toJS(), [1, 2]);
    assert.strictEqual(PyObject.tuple([1, 2]).type, 'tuple');
    assert.strictEqual(PyObject.frozenSet([1, 1, 2]).length, 2);
    assert.strictEqual(PyObject.slice(1, 10, 3).toString(), 'slice(1, 10, 3)');
    assert.strictEqual(PyObject.slice({ start: 2 }).toString(), 'slice(2, None, None)');
    assert.deepStrictEqual(PyObject.keys({ a: 1, b: 2 }).toJS(), ['a', 'b']);
    assert.deepStrictEqual(PyObject.values({ a: 1, b: 2 }).toJS(), [1, 2]);
  },
  'bytes, bytearray and a zero-copy memoryview'() {
    assert.strictEqual(PyObject.bytes(Buffer.from('hi')).type, 'bytes');
    assert.strictEqual(PyObject.bytearray(Buffer.from('hi')).length, 2);
    const buf = Buffer.from('abc');
    const view = PyObject.memoryview(buf);
    pyval('m.__setitem__(0, 65)', { m: view });
    assert.strictEqual(buf.toString(), 'Abc');
  },
  'func wraps a JS function for Python'() {
    const f = PyObject.func((x) => x * 2);
    assert.strictEqual(pyval('f(21)', { f }).toJS(), 42);
  },
  'accessors'() {
    const l = pyval('[1, 2, 3]');
    assert.strictEqual(l.length, 3);
    assert.strictEqual(l.callable, false);
    assert.strictEqual(l.constr.toString(), "<class 'list'>");
    assert.strictEqual(pyval('len').callable, true);
    assert.strictEqual(typeof l.id, 'number');
    assert.strictEqual(pyval('3').length, undefined);
  },
};

module.exports['toJS depth and buffer options'] = function () {
  const v = pyval('[1, [2, [3]], b"x"]');
  assert.ok(v.toJS({ depth: 1 })[1] instanceof PyObject);
  assert.deepStrictEqual(v.toJS({ depth: 1 })[1].toJS(), [2, [3]]);
  assert.ok(v.toJS({ depth: 2 })[1][1] instanceof PyObject);
  assert.deepStrictEqual(v.toJS().slice(0, 2), [1, [2, [3]]]);
  assert.ok(Buffer.isBuffer(v.toJS()[2]));
  assert.ok(v.toJS({ buffer: false })[2] instanceof PyObject);
  assert.strictEqual(v.toJS({ depth: 0 }), v);
};
