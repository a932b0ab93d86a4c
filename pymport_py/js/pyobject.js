'use strict';
// PyObject: the JS face of a Python object, as in pymport. Instances are made
// by the binding (C); every member calls into Python through it.

const util = require('util');

const binding = process._linkedBinding('pymport_py');

function isPlainObject(v) {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

// pymport's calling convention: a trailing plain object is kwargs.
function splitArgs(args) {
  if (args.length && isPlainObject(args[args.length - 1]) && !(args[args.length - 1] instanceof PyObject)) {
    return [args.slice(0, -1), args[args.length - 1]];
  }
  return [args, undefined];
}

// The proxies that proxify() made (pymport.js): each stands for a PyObject and
// is an instance of PyObject for `instanceof`, while its target stays a
// function so that it can be called.
const proxies = new WeakSet();
const ordinaryHasInstance = Function.prototype[Symbol.hasInstance];

let builtins;
function builtin(name) {
  builtins ??= binding.pyimport('builtins');
  return binding.pyGet(builtins, name);
}

// What toJS() makes of a Python callable, as pymport does: a JS function that
// calls it with pymport's calling convention and returns a PyObject, with
// fn.__PyObject__ the callable's PyObject. One function per PyObject (and so
// per Python object), which converts back to the callable wherever it goes.
const functionOf = new WeakMap();
function pyFunction(py) {
  let fn = functionOf.get(py);
  if (fn !== undefined) return fn;
  fn = function (...args) { return py.call(...args); };
  Object.defineProperty(fn, 'name', { value: functionName(py) });
  Object.defineProperty(fn, '__PyObject__', { value: py });
  binding.pyMark(py, fn);
  functionOf.set(py, fn);
  return fn;
}

// A callable's __name__, else its type's name (a __name__ that raises too).
function functionName(py) {
  try {
    const name = binding.pyGet(py, '__name__');
    if (name !== undefined && name.type === 'str') return name.toString();
  } catch {
    // the type's name
  }
  return py.type;
}

class PyObject {
  static [Symbol.hasInstance](v) {
    return ordinaryHasInstance.call(this, v) || (this === PyObject && proxies.has(v));
  }

  get(name) { return binding.pyGet(this, name); }
  has(name) { return binding.pyHas(this, name); }
  item(key) { return binding.pyItem(this, key); }
  call(...args) {
    const [positional, kwargs] = splitArgs(args);
    return binding.pyCall(this, positional, kwargs);
  }
  callAsync(...args) {
    const [positional, kwargs] = splitArgs(args);
    return binding.pyCallAsync(this, positional, kwargs);
  }
  // opts.depth: containers deeper than this stay PyObjects (default: all);
  // opts.buffer: false keeps bytes, bytearray and memoryview as PyObjects.
  toJS(opts) {
    return binding.pyToJS(this, opts?.depth, opts?.buffer, pyFunction);
  }
  valueOf() { return this.toJS(); }
  toString() { return binding.str(this); }
  get id() { return binding.pyInfo(this)[0]; }
  get type() { return binding.pyInfo(this)[1]; }
  get callable() { return binding.pyInfo(this)[2]; }
  get length() {
    const len = binding.pyInfo(this)[3];
    return len < 0 ? undefined : len;
  }
  get constr() { return binding.pyType(this); }
  *[Symbol.iterator]() {
    const it = binding.pyIter(this);
    for (let item = binding.pyNext(it); item !== undefined; item = binding.pyNext(it)) yield item;
  }
  with(fn) {
    const value = this.get('__enter__').call();
    let result;
    try {
      result = fn(value);
    } catch (err) {
      // __exit__ gets the Python exception: the original one, or JSError for JS errors.
      const exc = binding.pyException(err);
      const suppress = this.get('__exit__').call(exc.constr, exc, exc.get('__traceback__'));
      if (!suppress.toJS()) throw err;
      return undefined;
    }
    this.get('__exit__').call(null, null, null);
    return result;
  }
  map(callback, thisArg) {
    const out = [];
    let i = 0;
    for (const item of this) out.push(callback.call(thisArg, item, i++, this));
    return out;
  }
  [util.inspect.custom]() { return `[PyObject ${binding.repr(this)}]`; }

  static fromJS(v) { return binding.pyFromJS(v); }
  static string(v) { return builtin('str').call(String(v)); }
  static int(v) { return builtin('int').call(typeof v === 'bigint' ? v : Math.trunc(Number(v))); }
  static float(v) { return builtin('float').call(Number(v)); }
  static dict(obj) { return builtin('dict').call(binding.pyFromJS(obj ?? {})); }
  static list(arr) { return builtin('list').call(binding.pyFromJS(Array.from(arr ?? []))); }
  static tuple(arr) { return builtin('tuple').call(binding.pyFromJS(Array.from(arr ?? []))); }
  static set(arr) { return builtin('set').call(binding.pyFromJS(Array.from(arr ?? []))); }
  static frozenSet(arr) { return builtin('frozenset').call(binding.pyFromJS(Array.from(arr ?? []))); }
  static slice(start, stop, step) {
    if (Array.isArray(start)) [start, stop, step] = start;
    else if (isPlainObject(start)) ({ start, stop, step } = start);
    return builtin('slice').call(start ?? null, stop ?? null, step ?? null);
  }
  static bytes(buffer) { return builtin('bytes').call(Buffer.from(buffer)); }
  static bytearray(buffer) { return builtin('bytearray').call(Buffer.from(buffer)); }
  static memoryview(buffer) { return binding.pyMemoryview(buffer); }
  static func(fn) { return binding.pyFromJS(fn); }
  static keys(obj) { return binding.pyKeys(obj instanceof PyObject ? obj : PyObject.dict(obj)); }
  static values(obj) { return binding.pyValues(obj instanceof PyObject ? obj : PyObject.dict(obj)); }
}

module.exports = { PyObject, splitArgs, proxies };
