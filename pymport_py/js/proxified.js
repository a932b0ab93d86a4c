'use strict';
// require('pymport/proxified'): the same functions, results already proxified.
const pymport = require('./pymport.js');

module.exports = {
  proxify: pymport.proxify,
  PyObject: pymport.PyObject,
  get version() { return pymport.version; },
  pymport: (name) => pymport.proxify(pymport.pymport(name), name),
  pyval: (code, globals, locals) => pymport.proxify(pymport.pyval(code, globals, locals)),
};
