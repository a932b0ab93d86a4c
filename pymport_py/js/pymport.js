'use strict';
// require('pymport') inside environments hosted by pymport_py: pymport's API,
// backed by the Python interpreter of this process (docs/javascript.md).

const binding = process._linkedBinding('pymport_py');
if (!binding.ready()) {
  // A Node worker_thread: its environment was made by Node, not pymport_py.
  require(binding.bootstrapPath())(binding, { worker: true });
}
const { PyObject, splitArgs } = require('./pyobject.js');
const { share, fromShared } = require('./share.js');

const PROXY = '__PymportProxy__';

// A JS Proxy that acts like the Python object: attributes are properties,
// calls call it, results are proxified too.
function proxify(v, name) {
  if (!(v instanceof PyObject)) return v;
  const target = function () {};
  Object.defineProperty(target, 'name', { value: name ?? v.type });
  const proxy = new Proxy(target, {
    get(_, prop) {
      if (prop === PROXY || prop === '__PyObject__') return v;
      if (typeof prop === 'symbol') {
        if (prop === Symbol.iterator) return function* () { for (const item of v) yield proxify(item); };
        if (prop === Symbol.toPrimitive) return (hint) => (hint === 'string' ? v.toString() : v.toJS());
        return undefined;
      }
      if (prop === 'toString') return () => v.toString();
      if (prop === 'valueOf' || prop === 'toJS') return (opts) => v.toJS(opts);
      if (prop === 'then') return undefined; // not a thenable
      const attr = v.get(prop);
      if (attr !== undefined) return proxify(attr, prop);
      return undefined;
    },
    has(_, prop) { return typeof prop === 'string' && v.has(prop); },
    set(_, prop, value) {
      if (typeof prop !== 'string') return false;
      binding.pySet(v, prop, value instanceof Object && value[PROXY] ? value[PROXY] : value);
      return true;
    },
    deleteProperty(_, prop) {
      if (typeof prop !== 'string') return false;
      binding.pySet(v, prop);
      return true;
    },
    ownKeys() {
      const names = builtinDir(v);
      return [...new Set([...names, 'prototype'])];
    },
    getOwnPropertyDescriptor(_, prop) {
      if (prop === 'prototype') return Object.getOwnPropertyDescriptor(target, 'prototype');
      if (typeof prop === 'string' && v.has(prop)) {
        return { configurable: true, enumerable: true, writable: true, value: proxify(v.get(prop), prop) };
      }
      return undefined;
    },
    apply(_, thisArg, args) {
      const [positional, kwargs] = splitArgs(args.map(unproxify));
      return proxify(binding.pyCall(v, positional, kwargs));
    },
    construct(_, args) {
      const [positional, kwargs] = splitArgs(args.map(unproxify));
      return proxify(binding.pyCall(v, positional, kwargs));
    },
  });
  binding.pyMark(v, proxy); // wherever the Proxy goes, Python gets the object back
  return proxy;
}

function unproxify(a) {
  return (typeof a === 'function' || (a !== null && typeof a === 'object')) && a[PROXY] ? a[PROXY] : a;
}

let dir;
function builtinDir(v) {
  dir ??= binding.pyGet(binding.pyimport('builtins'), 'dir');
  return dir.call(v).toJS();
}

function pymport(name) { return binding.pyimport(String(name)); }

function pyval(code, globals, locals) {
  return binding.pyeval(String(code), unproxify(globals), unproxify(locals));
}

module.exports = {
  pymport,
  pyval,
  proxify,
  PyObject,
  share,
  fromShared,
  get version() { return binding.pyeval('__import__("pymport_py").__version__').toJS(); },
};
