'use strict';
// Iteration, with and map.
const assert = require('assert');
const { pyval } = require('pymport');

module.exports = {
  'for..of over Python iterables'() {
    const out = [];
    for (const x of pyval('range(4)')) out.push(x.toJS());
    assert.deepStrictEqual(out, [0, 1, 2, 3]);
    assert.deepStrictEqual([...pyval('{"a": 1, "b": 2}')].map(String), ['a', 'b']);
  },
  'map calls back with item, index and the object'() {
    const l = pyval('[10, 20]');
    assert.deepStrictEqual(l.map((x, i, self) => [x.toJS(), i, self === l]), [[10, 0, true], [20, 1, true]]);
  },
  'with enters and exits a context manager'() {
    const cm = pyval('__import__("contextlib").nullcontext("inside")');
    assert.strictEqual(cm.with((v) => v.toJS() + '!'), 'inside!');
    const log = pyval('[]');
    const tracking = pyval(`type("T", (), {
        "__enter__": lambda self: log.append("enter") or self,
        "__exit__": lambda self, *a: log.append("exit") or False})()`, { log });
    assert.throws(() => tracking.with(() => { throw new Error('boom'); }), /boom/);
    assert.deepStrictEqual(log.toJS(), ['enter', 'exit']);
  },
};

module.exports['with passes a JS error to __exit__ (a transaction rolls back)'] = function () {
  const { pymport } = require('pymport');
  const db = pymport('sqlite3').get('connect').call(':memory:');
  db.get('execute').call('create table t (x)');
  assert.throws(() => db.with(() => {
    db.get('execute').call('insert into t values (1)');
    throw new Error('abort');
  }), /abort/);
  assert.strictEqual(db.get('execute').call('select count(*) from t').get('fetchone').call().toJS()[0], 0);
  db.get('close').call();
};
