'use strict';
// require('pymport') inside environments hosted by pymport_py: pymport's API,
// backed by the Python interpreter of this process (docs/javascript.md).

const binding = process._linkedBinding('pymport_py');
if (!binding.ready()) {
  // A Node worker_thread: its environment was made by Node, not pymport_py.
  require(binding.bootstrapPath())(binding, { worker: true });
}
const { PyObject, splitArgs, proxies } = require('./pyobject.js');
const { share, fromShared } = require('./share.js');

const PROXY = '__PymportProxy__';

// One proxy per PyObject (and so per Python object, whose PyObject is unique
// while it is alive): p === proxify(p.__PyObject__), and walkers that track
// what they have seen (deep equality, mocha's diff) terminate.
const proxyOf = new WeakMap();

// The names that a proxy resolves to PyObject members when the Python object
// has no attribute of that name, as pymport's proxy does.
const MEMBERS = new Set(Object.getOwnPropertyNames(PyObject.prototype).filter((m) => m !== 'constructor'));

// A JS Proxy that acts like the Python object: attributes are properties,
// calls call it, results are proxified too.
function proxify(v, name) {
  if (proxies.has(v) || !(v instanceof PyObject)) return v;
  let proxy = proxyOf.get(v);
  if (proxy !== undefined) return proxy;
  const target = function () {};
  const [, type, callable] = binding.pyInfo(v);
  Object.defineProperty(target, 'name', { value: name ?? defaultName(v, type, callable) });
  // Functions handed out for PyObject members and the special properties,
  // one per name, so that p.toString === p.toString.
  const methods = new Map();
  const method = (key, make) => {
    let fn = methods.get(key);
    if (fn === undefined) methods.set(key, (fn = make()));
    return fn;
  };
  proxy = new Proxy(target, {
    get(_, prop) {
      if (prop === PROXY || prop === '__PyObject__') return v;
      if (typeof prop === 'symbol') {
        if (prop === Symbol.iterator) {
          return method(prop, () => function* () { for (const item of v) yield proxify(item); });
        }
        if (prop === Symbol.toPrimitive) {
          return method(prop, () => (hint) => (hint === 'string' ? v.toString() : v.toJS()));
        }
        return undefined;
      }
      if (prop === 'toString') return method(prop, () => () => v.toString());
      if (prop === 'valueOf' || prop === 'toJS') return method(prop, () => (opts) => v.toJS(opts));
      if (prop === 'then') return undefined; // not a thenable
      if (prop === 'constructor') return PyObject;
      // 1. the Python attribute
      const attr = binding.pyGet(v, prop);
      if (attr !== undefined) return proxify(attr, prop);
      // 2. the PyObject member (p.type, p.item(k), p.has(name), p.length ...)
      if (MEMBERS.has(prop)) {
        const member = v[prop];
        if (typeof member === 'function') {
          return method(prop, () => {
            const fn = (...args) => proxify(member.apply(v, args.map(proxifyingCallback)));
            Object.defineProperty(fn, 'name', { value: prop });
            return fn;
          });
        }
        if (member !== undefined) return proxify(member);
      }
      // 3. a callable's function properties (name, length, bind, apply ...)
      return callable ? Reflect.get(target, prop) : undefined;
    },
    has(_, prop) {
      if (typeof prop === 'symbol') return prop === Symbol.iterator || prop === Symbol.toPrimitive;
      return hasAttr(v, prop) || MEMBERS.has(prop) || (callable && Reflect.has(target, prop));
    },
    set(_, prop, value) {
      if (typeof prop !== 'string') return false;
      binding.pySet(v, prop, unproxify(value));
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
      const attr = typeof prop === 'string' ? binding.pyGet(v, prop) : undefined;
      if (attr === undefined) return undefined;
      return { configurable: true, enumerable: true, writable: true, value: proxify(attr, prop) };
    },
    apply(_, thisArg, args) {
      const [positional, kwargs] = splitArgs(args.map(proxifyingArgument));
      return proxify(binding.pyCall(v, positional, kwargs));
    },
    construct(_, args) {
      const [positional, kwargs] = splitArgs(args.map(proxifyingArgument));
      return proxify(binding.pyCall(v, positional, kwargs));
    },
  });
  binding.pyMark(v, proxy); // wherever the Proxy goes, Python gets the object back
  proxies.add(proxy);
  proxyOf.set(v, proxy);
  return proxy;
}

// hasattr(v, name). Not v.has(), which pymport makes a membership test for sets.
function hasAttr(v, name) { return binding.pyGet(v, name) !== undefined; }

// The name of a proxy's function: a callable's __name__, else its type's name.
function defaultName(v, type, callable) {
  const name = callable ? binding.pyGet(v, '__name__') : undefined;
  return name !== undefined && name.type === 'str' ? name.toString() : type;
}

// A JS function given to a proxified call is called by Python with PyObjects:
// it gets them proxified, as in pymport. One wrapper per function, so that
// the same function reaches Python as the same callable.
const callbackOf = new WeakMap();
function proxifyingCallback(fn) {
  if (typeof fn !== 'function' || proxies.has(fn)) return fn;
  let wrapper = callbackOf.get(fn);
  if (wrapper === undefined) {
    wrapper = function (...args) { return fn.apply(this, args.map((a) => proxify(a))); };
    Object.defineProperty(wrapper, 'name', { value: fn.name });
    Object.defineProperty(wrapper, 'length', { value: fn.length });
    callbackOf.set(fn, wrapper);
  }
  return wrapper;
}

function proxifyingArgument(a) { return proxifyingCallback(unproxify(a)); }

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

// pymport's version object. `pymport` is the version of this implementation
// of its API (pymport_py's); the Python is the interpreter that hosts Node,
// never a built-in one. String(version) is pymport_py's version string.
let versionInfo;
function version() {
  if (versionInfo) return versionInfo;
  const [text, info, hex, home] = binding.pyeval(
    '(__import__("pymport_py").__version__, tuple(__import__("sys").version_info), ' +
    '"%x" % __import__("sys").hexversion, __import__("os").environ.get("PYTHONHOME"))').toJS();
  const [, major, minor, patch, suffix] = /^(\d+)\.(\d+)\.(\d+)[-.+]?(.*)$/.exec(text) ?? [, 0, 0, 0, text];
  const levels = { alpha: 0xa, beta: 0xb, candidate: 0xc, final: 0xf };
  const info_ = {
    pymport: { major: +major, minor: +minor, patch: +patch, suffix },
    pythonLibrary: {
      builtin: false,
      major: info[0], minor: info[1], micro: info[2], release: levels[info[3]] ?? 0xf, serial: info[4],
      version: hex,
    },
    pythonHome: home,
    pythonRuntime: hex,
  };
  Object.defineProperty(info_, 'toString', { value: () => text });
  versionInfo = Object.freeze(info_);
  Object.values(info_).forEach((o) => o && typeof o === 'object' && Object.freeze(o));
  return versionInfo;
}

module.exports = {
  pymport,
  pyval,
  proxify,
  PyObject,
  share,
  fromShared,
  get version() { return version(); },
};
