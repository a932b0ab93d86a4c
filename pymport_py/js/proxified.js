'use strict';
// require('pymport/proxified'): the same functions, results already proxified.
const pymport = require('./pymport.js');

module.exports = {
  ...pymport,
  pymport: (name) => pymport.proxify(pymport.pymport(name), name),
  pyval: (code, globals, locals) => pymport.proxify(pymport.pyval(code, globals, locals)),
};
