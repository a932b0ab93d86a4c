'use strict';
// proxify: JS Proxies that act like the Python objects.
const assert = require('assert');
const { pymport, pyval, proxify } = require('pymport');
const proxified = require('pymport/proxified');

module.exports = {
  'attributes, calls and results are proxified'() {
    const os = proxify(pymport('os'));
    assert.strictEqual(os.path.join('a', 'b').toString(), 'a/b');
    const math = proxified.pymport('math');
    assert.strictEqual(+math.floor(2.5), 2);
  },
  'set, delete, has and ownKeys reach Python'() {
    const o = proxify(pyval('type("C", (), {})()'));
    o.answer = 42;
    assert.ok('answer' in o);
    assert.strictEqual(+o.answer, 42);
    assert.ok(Object.keys(o).includes('answer'));
    delete o.answer;
    assert.ok(!('answer' in o));
  },
  'classes construct with new or a call'() {
    const Fraction = proxify(pymport('fractions')).Fraction;
    assert.strictEqual(new Fraction(1, 3).toString(), '1/3');
    assert.strictEqual(Fraction(2, 4).toString(), '1/2');
  },
  'the underlying PyObject is reachable'() {
    const p = proxify(pyval('[1]'));
    assert.strictEqual(p.__PymportProxy__.type, 'list');
  },
};

module.exports['a proxified object converts back to its Python object everywhere'] = function () {
  const typeName = pyval('lambda v: type(v).__name__');
  const p = proxify(pyval('[1]'));
  assert.strictEqual(typeName.call(p).toJS(), 'list');
  assert.strictEqual(typeName.call([p], {}).toJS(), 'list');
  assert.strictEqual(pyval('type(x[0]).__name__', { x: [p] }).toJS(), 'list');
  assert.strictEqual(p.__PyObject__, p.__PymportProxy__);
};
