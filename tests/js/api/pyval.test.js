'use strict';
// pyval and pymport: Python values as PyObjects.
const assert = require('assert');
const { pymport, pyval, PyObject } = require('pymport');

module.exports = {
  'pyval returns PyObjects that convert with toJS'() {
    const v = pyval('1 + 2');
    assert.ok(v instanceof PyObject);
    assert.strictEqual(v.type, 'int');
    assert.strictEqual(v.toJS(), 3);
    assert.strictEqual(+v, 3);
  },
  'pyval with globals as a plain object and as a PyObject dict'() {
    assert.strictEqual(pyval('a * b', { a: 6, b: 7 }).toJS(), 42);
    const g = PyObject.dict({ x: 'py' });
    assert.strictEqual(pyval('x + "thon"', g).toJS(), 'python');
  },
  'pymport imports modules'() {
    const math = pymport('math');
    assert.strictEqual(math.type, 'module');
    assert.strictEqual(math.get('sqrt').call(81).toJS(), 9);
    assert.ok(math.has('pi'));
    assert.strictEqual(math.get('no_such_name'), undefined);
  },
  'kwargs as a trailing plain object'() {
    const sorted = pymport('builtins').get('sorted');
    assert.deepStrictEqual(sorted.call([3, 1, 2], { reverse: true }).toJS(), [3, 2, 1]);
  },
  'the same Python object gives the same PyObject'() {
    const m1 = pymport('math');
    const m2 = pymport('math');
    assert.strictEqual(m1, m2);
    assert.strictEqual(m1.id, m2.id);
  },
};

module.exports['a Python object without a JS equivalent is the same PyObject after toJS'] = function () {
  const o = pyval('object()');
  assert.strictEqual(o.toJS(), o);
};
