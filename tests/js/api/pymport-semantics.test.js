'use strict';
// What JavaScript written for pymport relies on: item(), has(), the
// constructors' checks and messages, errors and with(), as pymport has them.
const assert = require('assert');
const { pyval, PyObject, pymport } = require('pymport');

module.exports = {
  'item() is undefined when the item cannot be read'() {
    assert.strictEqual(PyObject.list([1, 2]).item(10), undefined);
    assert.strictEqual(PyObject.dict({ a: 1 }).item('b'), undefined);
    assert.strictEqual(PyObject.float(2.5).item(0), undefined);
    assert.strictEqual(PyObject.set([1]).item(0), undefined);
    assert.strictEqual(PyObject.tuple([1, 'a']).item(1).toJS(), 'a');
    assert.throws(() => PyObject.list([1]).item(), /Missing mandatory argument/);
  },
  'has() tests membership for sets and needs a string name otherwise'() {
    const set = PyObject.set([2, 'Добро утро']);
    assert.strictEqual(set.has(2), true);
    assert.strictEqual(set.has(PyObject.fromJS('Добро утро')), true);
    assert.strictEqual(set.has(3), false);
    assert.strictEqual(PyObject.frozenSet([[1, 2].length]).has(2), true);
    const list = pyval('[1]');
    assert.strictEqual(list.has('append'), true);
    assert.strictEqual(list.has('nope'), false);
    assert.throws(() => list.has([1]), (e) => e instanceof TypeError && /must be a string/.test(e.message));
  },
  'a trailing undefined argument is dropped, so a plain object can be the last positional one'() {
    const show = pyval('lambda *args, **kwargs: f"{args} {kwargs}"');
    assert.strictEqual(show.call({ a: 0 }, undefined).toJS(), "({'a': 0},) {}");
    assert.strictEqual(show.call(1, undefined).toJS(), '(1,) {}');
    assert.strictEqual(show.call(undefined, 1).toJS(), '(None, 1) {}');
  },
  'list(), set() and tuple() take Arrays and Python iterables, and throw for the rest'() {
    assert.deepStrictEqual(PyObject.list(PyObject.string('ab')).toJS(), ['a', 'b']);
    assert.strictEqual(PyObject.set(PyObject.list([1, 1, 2])).length, 2);
    assert.strictEqual(PyObject.frozenSet(new Set([1, 2])).type, 'frozenset');
    assert.deepStrictEqual(PyObject.tuple(PyObject.list([1, 2])).toJS(), [1, 2]);
    for (const make of [PyObject.list, PyObject.tuple, PyObject.set, PyObject.frozenSet]) {
      assert.throws(() => make({ b: 12 }), (e) => e instanceof TypeError && /^Argument must be/.test(e.message));
      assert.throws(() => make(12), /^TypeError: Argument must be/);
    }
    assert.throws(() => PyObject.tuple(PyObject.string('ab')), /PyObject is not a list/);
  },
  'string(), int(), float() and dict() accept what pymport accepts'() {
    assert.strictEqual(PyObject.float(PyObject.string('3.14')).toJS(), 3.14);
    assert.strictEqual(PyObject.int(PyObject.float(3.99)).toJS(), 3);
    assert.strictEqual(PyObject.int(Number.MIN_SAFE_INTEGER - 5).toJS(), BigInt(Number.MIN_SAFE_INTEGER - 5));
    assert.strictEqual(PyObject.int(2n ** 70n).toJS(), 2n ** 70n);
    assert.deepStrictEqual(PyObject.dict(pyval('{"a": 1}')).toJS(), { a: 1 });
    assert.throws(() => PyObject.float('a'), /^TypeError: Argument must be a number/);
    assert.throws(() => PyObject.int({ b: 12 }), /^TypeError: Argument must be a number/);
    assert.throws(() => PyObject.int(), /No argument given/);
    assert.throws(() => PyObject.string({ b: 12 }), /^TypeError: Argument must be a string/);
    assert.throws(() => PyObject.string(12), /^TypeError: Argument must be a string/);
    assert.throws(() => PyObject.dict(12), /^TypeError: Argument must be an object/);
    assert.throws(() => PyObject.func(12), /^TypeError: Argument must be a function/);
  },
  'keys() and values() need the mapping protocol'() {
    for (const v of [PyObject.float(1), PyObject.fromJS(true), PyObject.set([1]), pyval('len')]) {
      assert.throws(() => PyObject.keys(v), /Object does not support mapping protocol/);
      assert.throws(() => PyObject.values(v), /Object does not support mapping protocol/);
    }
    assert.throws(() => PyObject.keys(PyObject.list([1])), /'list' object has no attribute 'keys'/);
  },
  'iterating an object that is not iterable names its type'() {
    assert.throws(() => [...PyObject.float(2.3)], (e) => e instanceof TypeError && /PyObject type float is not iterable/.test(e.message));
    assert.throws(() => { for (const x of PyObject.fromJS(null)) void x; }, /NoneType is not iterable/);
    assert.throws(() => [...PyObject.slice({})], /slice is not iterable/);
    assert.deepStrictEqual([...PyObject.string('ab')].map(String), ['a', 'b']);
  },
  'a Python error carries its type, value and traceback as PyObjects'() {
    const helpers = pyval('__import__("types").SimpleNamespace(raise_it=lambda: 1 / 0)');
    try {
      helpers.get('raise_it').call();
      assert.fail('no exception');
    } catch (e) {
      assert.ok(e.pythonType instanceof PyObject && e.pythonValue instanceof PyObject && e.pythonTrace instanceof PyObject);
      assert.strictEqual(e.pythonValue.constr, e.pythonType);
      assert.strictEqual(e.pythonValue.type, 'ZeroDivisionError');
      const text = pymport('traceback').get('extract_tb').call(e.pythonTrace).get('format').call().toJS().join('');
      assert.match(text, /line 1, in <lambda>/);
    }
  },
  'with() passes pymport\'s exception triple to __exit__'() {
    const seen = [];
    const manager = (suppress) => ({
      get: (name) => ({
        __enter__: { call: () => PyObject.fromJS('entered') },
        __exit__: { call: (...args) => { seen.push(args); return PyObject.fromJS(suppress); } },
      }[name]),
      with: PyObject.prototype.with,
    });
    assert.strictEqual(manager(true).with((v) => `${v}!`), 'entered!');
    assert.deepStrictEqual(seen.pop(), [null, null, null]);
    const err = new RangeError('JS breakage');
    assert.strictEqual(manager(true).with(() => { throw err; }), undefined);
    assert.deepStrictEqual(seen.pop(), [RangeError, err, err.stack]);
    assert.throws(() => manager(false).with(() => { throw err; }), (e) => e === err);
    let python;
    assert.strictEqual(manager(true).with(() => { try { pyval('1 / 0'); } catch (e) { python = e; throw e; } }), undefined);
    const [type, value, trace] = seen.pop();
    assert.ok(type === python.pythonType && value === python.pythonValue && trace === python.pythonTrace);
    // a real context manager sees the Python exception and can suppress it
    const suppress = pymport('contextlib').get('suppress').call(pyval('ZeroDivisionError'));
    assert.strictEqual(suppress.with(() => pyval('1 / 0')), undefined);
    const none = pymport('contextlib').get('suppress').call(pyval('KeyError'));
    assert.throws(() => none.with(() => pyval('1 / 0')), (e) => e.pythonValue.type === 'ZeroDivisionError');
    // so does it for the error of a Python function called as a JS function
    const fails = pyval('lambda: {}["k"]').toJS();
    const keyError = pymport('contextlib').get('suppress').call(pyval('KeyError'));
    assert.strictEqual(keyError.with(() => fails()), undefined);
  },
};
