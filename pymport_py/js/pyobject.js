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

// pymport's calling convention: a trailing plain object is kwargs; else a
// trailing undefined is dropped (how pymport code passes a plain object as
// the last positional argument: f.call({ a: 0 }, undefined)).
function splitArgs(args) {
  const last = args[args.length - 1];
  if (args.length && isPlainObject(last) && !(last instanceof PyObject)) {
    return [args.slice(0, -1), last];
  }
  if (args.length && last === undefined) return [args.slice(0, -1), undefined];
  return [args, undefined];
}

// The checks of pymport's constructors, with its messages.
function argError(what) { return new TypeError(`Argument must be ${what}`); }
function isPyObject(v) { return v instanceof PyObject; }
function pyObjectOf(v) { return v?.__PymportProxy__ ?? v; } // a proxy's PyObject

// The items for list(), tuple(), set(): a PyObject iterable as it is, or a
// list of the items of an Array (or another JS iterable), each converted;
// anything else throws as pymport does.
function itemsOf(arr) {
  if (isPyObject(arr)) return pyObjectOf(arr);
  if (Array.isArray(arr)) return binding.pyFromJS(arr);
  if (arr !== null && typeof arr === 'object' && typeof arr[Symbol.iterator] === 'function') {
    return binding.pyFromJS(Array.from(arr));
  }
  throw argError(arr !== null && typeof arr === 'object' ? 'a PyObject' : 'an object');
}

// A JS Error thrown by a Python exception carries it as pymport's do: the
// type, the exception and the traceback, as PyObjects.
// An Error in the Python API's form (message "Type: text", the type's name)
// gets pymport's message, "Python exception: text", too.
function pymportError(err) {
  if (err instanceof Error && err.pythonValue instanceof PyObject && typeof err.pythonType === 'string') {
    const prefix = `${err.pythonType}: `;
    if (err.message.startsWith(prefix)) {
      const message = `Python exception: ${err.message.slice(prefix.length)}`;
      if (typeof err.stack === 'string' && err.stack.startsWith(`Error: ${err.message}`)) {
        err.stack = `Error: ${message}${err.stack.slice(`Error: ${err.message}`.length)}`;
      }
      err.message = message;
    }
    err.pythonType = err.pythonValue.constr;
    err.pythonTrace = err.pythonValue.get('__traceback__');
  }
  return err;
}

// Calls binding function fn(...args), with its Python error in pymport's form.
function pymportCall(fn, ...args) {
  try {
    return fn(...args);
  } catch (err) {
    throw pymportError(err);
  }
}

function* pyItems(it) {
  for (let item = binding.pyNext(it); item !== undefined; item = binding.pyNext(it)) yield item;
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
  // A set's has() is a membership test, as in pymport; else hasattr, whose
  // name must be a string.
  has(name) {
    if (binding.pyIsSet(this)) return binding.pyContains(this, name);
    if (typeof name !== 'string') throw argError('a string');
    return binding.pyHas(this, name);
  }
  // undefined when the item cannot be read (IndexError, KeyError, not
  // subscriptable ...), as in pymport.
  item(key) {
    if (arguments.length < 1) throw new Error('Missing mandatory argument');
    return binding.pyItemOrUndefined(this, key);
  }
  call(...args) {
    const [positional, kwargs] = splitArgs(args);
    return binding.pyCall(this, positional, kwargs);
  }
  callAsync(...args) {
    const [positional, kwargs] = splitArgs(args);
    return binding.pyCallAsync(this, positional, kwargs).catch((err) => { throw pymportError(err); });
  }
  // opts.depth: containers deeper than this stay PyObjects (default: all);
  // opts.buffer: false keeps bytes, bytearray and memoryview as PyObjects.
  toJS(opts) {
    return binding.pyToJS(this, opts?.depth, opts?.buffer, pyFunction);
  }
  valueOf() { return this.toJS(); }
  toString() { return pymportCall(binding.str, this); }
  get id() { return binding.pyInfo(this)[0]; }
  get type() { return binding.pyInfo(this)[1]; }
  get callable() { return binding.pyInfo(this)[2]; }
  get length() {
    const len = binding.pyInfo(this)[3];
    return len < 0 ? undefined : len;
  }
  get constr() { return binding.pyType(this); }
  [Symbol.iterator]() {
    if (this.get('__iter__') === undefined && this.get('__getitem__') === undefined) {
      throw new TypeError(`PyObject type ${this.type} is not iterable`);
    }
    return pyItems(binding.pyIter(this));
  }
  // pymport's with(): __exit__ gets the Python exception's type, value and
  // traceback for a Python error, and the constructor, the error and its
  // stack for any other thrown value.
  with(fn) {
    const value = this.get('__enter__').call();
    let result;
    try {
      result = fn(value);
    } catch (err) {
      const e = pymportError(err); // a Python API error's type name and trace text, as PyObjects
      const args = e?.pythonValue ? [e.pythonType, e.pythonValue, e.pythonTrace]
        : [e?.constructor, e, e?.stack];
      const suppress = this.get('__exit__').call(...args);
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
  [util.inspect.custom]() { return `[PyObject ${pymportCall(binding.repr, this)}]`; }

  static fromJS(v) {
    if (arguments.length < 1) throw new Error('Missing argument');
    return binding.pyFromJS(v);
  }
  // The constructors accept what pymport's accept and throw its TypeErrors
  // for the rest.
  static string(v) {
    if (typeof v !== 'string') throw argError('a string');
    return binding.pyFromJS(v);
  }
  static int(v) {
    if (arguments.length < 1) throw new Error('No argument given');
    if (typeof v === 'number') return builtin('int').call(Number.isFinite(v) ? Math.trunc(v) : v);
    if (typeof v === 'bigint') return binding.pyFromJS(v);
    if (isPyObject(v)) return builtin('int').call(pyObjectOf(v));
    throw argError('a number');
  }
  static float(v) {
    if (arguments.length < 1) throw new Error('No argument given');
    if (typeof v === 'number' || isPyObject(v)) return builtin('float').call(pyObjectOf(v));
    throw argError('a number');
  }
  static dict(obj) {
    if (obj === null || typeof obj !== 'object') throw argError('an object');
    return builtin('dict').call(isPyObject(obj) ? pyObjectOf(obj) : binding.pyFromJS(obj));
  }
  static list(arr) { return builtin('list').call(itemsOf(arr)); }
  // pymport makes tuples of Arrays and of Python lists only.
  static tuple(arr) {
    if (isPyObject(arr) && pyObjectOf(arr).type !== 'list') throw new TypeError('PyObject is not a list');
    return builtin('tuple').call(itemsOf(arr));
  }
  static set(arr) { return builtin('set').call(itemsOf(arr)); }
  static frozenSet(arr) { return builtin('frozenset').call(itemsOf(arr)); }
  static slice(start, stop, step) {
    if (Array.isArray(start)) [start, stop, step] = start;
    else if (isPlainObject(start)) ({ start, stop, step } = start);
    return builtin('slice').call(start ?? null, stop ?? null, step ?? null);
  }
  static bytes(buffer) { return builtin('bytes').call(Buffer.from(buffer)); }
  static bytearray(buffer) { return builtin('bytearray').call(Buffer.from(buffer)); }
  static memoryview(buffer) { return binding.pyMemoryview(buffer); }
  static func(fn) {
    if (typeof fn !== 'function') throw argError('a function');
    return binding.pyFromJS(fn);
  }
  static keys(obj) { return binding.pyKeys(obj instanceof PyObject ? obj : PyObject.dict(obj)); }
  static values(obj) { return binding.pyValues(obj instanceof PyObject ? obj : PyObject.dict(obj)); }
}

module.exports = { PyObject, splitArgs, proxies, pymportError };
