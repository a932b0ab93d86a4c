'use strict';
// pymport/array: Python arrays and typed arrays.
const assert = require('assert');
const { pyval, proxify } = require('pymport');
const { getJSType, getPythonType, toTypedArray, toPythonArray } = require('pymport/array');

module.exports = {
  'typecodes and typed array types map both ways'() {
    assert.strictEqual(getJSType('d'), Float64Array);
    assert.strictEqual(getJSType('h'), Int16Array);
    assert.strictEqual(getPythonType(new Uint32Array(1)), 'I');
    assert.strictEqual(getPythonType(Float32Array), 'f');
    assert.throws(() => getJSType('u'), TypeError);
  },
  'arrays convert to typed arrays and back'() {
    const py = pyval('__import__("array").array("d", [1.5, -2.25, 3])');
    const typed = toTypedArray(py);
    assert.ok(typed instanceof Float64Array);
    assert.deepStrictEqual(Array.from(typed), [1.5, -2.25, 3]);
    const back = toPythonArray(new Int16Array([-1, 2, 300]));
    assert.strictEqual(back.get('typecode').toJS(), 'h');
    assert.deepStrictEqual(back.get('tolist').call().toJS(), [-1, 2, 300]);
  },
  'a proxified array converts too'() {
    const py = proxify(pyval('__import__("array").array("i", [7, -8])'));
    assert.deepStrictEqual(toTypedArray(py), new Int32Array([7, -8]));
  },
};
