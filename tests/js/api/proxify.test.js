'use strict';
// proxify: JS Proxies that act like the Python objects.
const assert = require('assert');
const { pymport, pyval, proxify, PyObject } = require('pymport');
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

// pymport's proxy semantics: instanceof, identity, PyObject members, and
// pymport/proxified's PyObject.
Object.assign(module.exports, {
  'proxies are instances of PyObject and stay callable'() {
    const list = proxify(pyval('[1, 2]'));
    const len = proxify(pyval('len'));
    for (const p of [list, len]) {
      assert.ok(p instanceof PyObject);
      assert.ok(p instanceof proxified.PyObject);
      assert.strictEqual(typeof p, 'function');
    }
    assert.strictEqual(+len(list), 2);
    assert.ok(pyval('1') instanceof proxified.PyObject);
    for (const other of [{}, () => 1, null, 1, new Proxy({}, {})]) {
      assert.ok(!(other instanceof PyObject));
      assert.ok(!(other instanceof proxified.PyObject));
    }
    assert.throws(() => new proxified.PyObject(), TypeError);
  },
  'one proxy per Python object'() {
    const math = pymport('math');
    assert.strictEqual(proxify(math), proxify(math));
    const m = proxify(math);
    assert.strictEqual(m.sqrt, m.sqrt);
    assert.strictEqual(proxified.pymport('math'), m);
    assert.strictEqual(proxify(m), m);
    assert.strictEqual(m.sqrt.__PyObject__, math.get('sqrt'));
    // a structure that refers back to itself is walked to its end
    const ns = proxify(pyval('(lambda ns: setattr(ns, "me", ns) or ns)(__import__("types").SimpleNamespace())'));
    assert.strictEqual(ns.me, ns);
    assert.strictEqual(ns.me.me, ns);
  },
  'the PyObject statics of pymport/proxified return proxies'() {
    const P = proxified.PyObject;
    const list = P.list([1]);
    assert.strictEqual(typeof list, 'function');
    list.append(2);
    assert.deepStrictEqual(list.toJS(), [1, 2]);
    assert.ok(P.fromJS({ a: 1 }).__PyObject__ instanceof PyObject);
    assert.strictEqual(+P.int(12).constr(14), 14);
    assert.deepStrictEqual(P.keys(P.dict({ a: 0, b: 1 })).toJS(), ['a', 'b']);
    assert.deepStrictEqual([...P.tuple([8, 9])].map((el) => el.__PyObject__.type), ['int', 'int']);
    const rawStatics = Object.getOwnPropertyNames(PyObject).filter((n) => typeof PyObject[n] === 'function');
    assert.deepStrictEqual(rawStatics.filter((n) => typeof P[n] !== 'function'), []);
  },
  'a proxy reaches the PyObject members the Python object does not have'() {
    const list = proxify(pyval('[10, 20, 30]'));
    assert.strictEqual(list.type, 'list');
    assert.strictEqual(list.length, 3);
    assert.ok('length' in list);
    assert.strictEqual(list.callable, false);
    assert.strictEqual(list.id, list.__PyObject__.id);
    assert.strictEqual(+list.item(1), 20);
    assert.ok(list.item(1).__PyObject__ instanceof PyObject);
    assert.ok(list.has('append'));
    assert.strictEqual(list.get('append').type, 'builtin_function_or_method');
    assert.strictEqual(list.constr, proxify(pyval('list')));
    assert.deepStrictEqual(list.map((el, i) => [el.type, i]), [['int', 0], ['int', 1], ['int', 2]]);
    assert.strictEqual(list.item, list.item);
    assert.strictEqual(list.toString, list.toString);
    const max = proxify(pyval('max'));
    assert.strictEqual(+max.call(list), 30);
    assert.strictEqual(max.name, 'max');
    assert.strictEqual(typeof max.bind, 'function');
    const set = proxify(pyval('{"x"}'));
    assert.ok('add' in set && !('x' in set)); // attributes, not members
    const cm = proxify(pyval('__import__("contextlib").nullcontext([1])'));
    assert.strictEqual(cm.with((v) => v.append.name), 'append');
  },
  'a Python attribute takes precedence over a PyObject member'() {
    const ns = proxify(pyval('__import__("types").SimpleNamespace(type="own", item=lambda: "own item")'));
    assert.strictEqual(ns.type.toString(), 'own');
    assert.strictEqual(ns.item().toString(), 'own item');
    assert.strictEqual(ns.__PyObject__.type, 'types.SimpleNamespace');
    const klass = proxify(pyval('type("K", (), {"name": "python name"})'));
    assert.strictEqual(klass.name.toString(), 'python name');
    assert.strictEqual(klass.type, 'type');
  },
  'JS callbacks of proxified calls get proxified arguments'() {
    const callWith = proxify(pyval('lambda f: f(__import__("types").SimpleNamespace(a=1))'));
    const seen = [];
    const callback = (ns) => { seen.push(ns); return ns.a; };
    assert.strictEqual(+callWith(callback), 1);
    assert.ok(seen[0] instanceof PyObject && typeof seen[0] === 'function');
    assert.strictEqual(seen[0].__PyObject__.type, 'types.SimpleNamespace');
    // the same JS function reaches Python as the same callable
    const same = proxify(pyval('lambda f, g: f is g'));
    assert.strictEqual(+same(callback, callback), 1);
  },
});
