'use strict';
// require('pymport/proxified'): the same functions, results already proxified.
const pymport = require('./pymport.js');

const { proxify } = pymport;

// PyObject of pymport/proxified: `instanceof` recognizes PyObjects and their
// proxies, and every static constructor returns a proxified object, as in
// pymport. It is not a constructor.
class PyObject {
  constructor() { throw new TypeError('PyObject cannot be constructed'); }
  static [Symbol.hasInstance](v) { return v instanceof pymport.PyObject; }
}
for (const [name, desc] of Object.entries(Object.getOwnPropertyDescriptors(pymport.PyObject))) {
  if (typeof desc.value !== 'function' || name === 'prototype') continue;
  const fn = desc.value;
  Object.defineProperty(PyObject, name, {
    value: { [name]: (...args) => proxify(fn.apply(pymport.PyObject, args)) }[name],
    writable: true, configurable: true,
  });
}

module.exports = {
  proxify,
  PyObject,
  get version() { return pymport.version; },
  pymport: (name) => proxify(pymport.pymport(name), name),
  pyval: (code, globals, locals) => proxify(pymport.pyval(code, globals, locals)),
};
