'use strict';
// Errors both ways.
const assert = require('assert');
const { pyval, PyObject } = require('pymport');

module.exports = {
  'a Python exception is an Error with pythonType, pythonValue and pythonTrace'() {
    try {
      pyval('int("x")');
      assert.fail('no exception');
    } catch (e) {
      assert.ok(e instanceof Error);
      // as in pymport: the type, the exception and the traceback, as PyObjects
      assert.strictEqual(e.pythonType, PyObject.fromJS(pyval('ValueError')));
      assert.match(e.message, /^Python exception: invalid literal/); // pymport's wording
      assert.strictEqual(e.pythonValue.type, 'ValueError');
      assert.strictEqual(e.pythonValue.constr, e.pythonType);
      assert.strictEqual(e.pythonTrace.type, 'traceback');
      const text = pyval('"".join(__import__("traceback").format_tb(tb))', { tb: e.pythonTrace }).toJS();
      assert.match(text, /<string>/);
    }
  },
  'a JS RangeError (a stack overflow) thrown through Python comes back as the same value'() {
    const original = new RangeError('from JS');
    const thrower = PyObject.func(() => { throw original; });
    try {
      pyval('f()', { f: thrower });
      assert.fail('no exception');
    } catch (e) {
      assert.strictEqual(e, original);
    }
  },
};
