'use strict';
// adopt(value) from Python (csrc/environment.c): a structured-clone copy of a
// JS value of one environment in another. serialize() runs in the value's
// environment, deserialize() in the target; the bytes cross through Python
// (docs/conversions.md#copying-between-environments).

const v8 = require('v8');
const { types } = require('util');
const { PyObject } = require('./pyobject.js');

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

// What the value v is, when a structured clone cannot copy it; else undefined.
function uncloneable(v) {
  if (typeof v === 'function') return `a function (${v.name || 'anonymous'})`;
  if (typeof v === 'symbol') return `a symbol (${v.description ?? ''})`;
  if (v === null || typeof v !== 'object') return undefined;
  if (types.isProxy(v)) return 'a Proxy';
  if (v instanceof PyObject) return 'a Python object (a PyObject)';
  if (types.isPromise(v)) return 'a Promise';
  if (types.isWeakMap(v)) return 'a WeakMap';
  if (types.isWeakSet(v)) return 'a WeakSet';
  if (typeof WeakRef === 'function' && v instanceof WeakRef) return 'a WeakRef';
  if (types.isSharedArrayBuffer(v)) return 'a SharedArrayBuffer';
  if (types.isGeneratorObject(v)) return 'a generator';
  if (types.isModuleNamespaceObject(v)) return 'a module namespace';
  return undefined;
}

// Values a structured clone copies as they are, without looking inside.
function opaque(v) {
  return types.isDate(v) || types.isRegExp(v) || types.isArrayBuffer(v) ||
    types.isArrayBufferView(v) || types.isBoxedPrimitive(v) || types.isNativeError(v);
}

// [path, what] of the first value in root's graph that a structured clone
// cannot copy, else undefined. It follows what v8.serialize copies (own
// enumerable string-keyed data properties, Map entries, Set elements) and
// runs no getter.
function findUncloneable(root) {
  const seen = new Set();
  const todo = [[root, 'the value']];
  while (todo.length) {
    const [v, path] = todo.pop();
    const what = uncloneable(v);
    if (what) return [path, what];
    if (v === null || typeof v !== 'object' || seen.has(v) || opaque(v)) continue;
    seen.add(v);
    const base = path === 'the value' ? 'value' : path;
    if (types.isMap(v)) {
      for (const [key, item] of v) {
        todo.push([item, `${base}.get(${typeof key === 'string' ? JSON.stringify(key) : String(key)})`]);
        todo.push([key, `a key of ${base}`]);
      }
      continue;
    }
    if (types.isSet(v)) {
      for (const item of v) todo.push([item, `an element of ${base}`]);
      continue;
    }
    const array = Array.isArray(v);
    for (const key of Object.keys(v).reverse()) {
      const desc = Object.getOwnPropertyDescriptor(v, key);
      if (!desc || !('value' in desc)) continue; // a getter: v8.serialize's own error names it
      const step = array && /^\d+$/.test(key) ? `[${key}]`
        : IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
      todo.push([desc.value, base + step]);
    }
  }
  return undefined;
}

function serialize(value) {
  const found = findUncloneable(value);
  if (found) {
    const [path, what] = found;
    const hint = what.startsWith('a Python object')
      ? '; pass the Python object itself: every environment shares Python objects'
      : '';
    throw new TypeError(`adopt() cannot copy ${path}: it is ${what}, and a structured clone ` +
      `copies only data${hint}`);
  }
  try {
    return v8.serialize(value);
  } catch (err) {
    if (err instanceof Error && / could not be cloned\.$/.test(err.message)) {
      throw new TypeError(`adopt() cannot copy the value: ${err.message}`);
    }
    throw err;
  }
}

function deserialize(buffer) {
  return v8.deserialize(buffer);
}

module.exports = { serialize, deserialize };
