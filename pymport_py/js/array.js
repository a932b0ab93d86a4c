'use strict';
// require('pymport/array'): Python array.array <-> JS typed arrays.
const { pymport } = require('./pymport.js');

const byTypecode = {
  b: Int8Array, B: Uint8Array, h: Int16Array, H: Uint16Array, i: Int32Array, I: Uint32Array,
  l: BigInt64Array, L: BigUint64Array, q: BigInt64Array, Q: BigUint64Array,
  f: Float32Array, d: Float64Array,
};
const byConstructor = new Map([
  [Int8Array, 'b'], [Uint8Array, 'B'], [Uint8ClampedArray, 'B'], [Int16Array, 'h'],
  [Uint16Array, 'H'], [Int32Array, 'i'], [Uint32Array, 'I'], [BigInt64Array, 'q'],
  [BigUint64Array, 'Q'], [Float32Array, 'f'], [Float64Array, 'd'],
]);

// The TypedArray constructor for a Python array typecode.
function getJSType(typecode) {
  const ctor = byTypecode[typecode];
  if (!ctor) throw new TypeError(`no typed array for the typecode ${JSON.stringify(typecode)}`);
  return ctor;
}

// The Python array typecode for a typed array (or its constructor).
function getPythonType(typed) {
  const code = byConstructor.get(typeof typed === 'function' ? typed : typed.constructor);
  if (!code) throw new TypeError('not a typed array');
  return code;
}

// A typed array with a copy of a Python array.array's items.
function toTypedArray(pyArray) {
  const array = pyArray?.__PymportProxy__ ?? pyArray; // a proxy's PyObject, or the PyObject
  const Ctor = getJSType(array.get('typecode').toJS());
  const bytes = Buffer.from(array.get('tobytes').call().toJS());
  const out = new Ctor(bytes.length / Ctor.BYTES_PER_ELEMENT);
  Buffer.from(out.buffer).set(bytes);
  return out;
}

// A Python array.array with a copy of a typed array's items.
function toPythonArray(typed) {
  const array = pymport('array').get('array').call(getPythonType(typed));
  array.get('frombytes').call(Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength));
  return array;
}

module.exports = { getJSType, getPythonType, toTypedArray, toPythonArray };
