'use strict';
// require('pymport') inside environments hosted by pymport_py: JavaScript
// reaches the Python interpreter of this process. (The full pymport API is
// built on this; see docs/threading.md for what each thread may do.)

const binding = process._linkedBinding('pymport_py');
if (!binding.ready()) {
  // A Node worker_thread: its environment was made by Node, not pymport_py.
  require(binding.bootstrapPath())(binding, { worker: true });
}

module.exports = {
  // The Python module `name` (import), as a proxy.
  pymport: (name) => binding.pyimport(String(name)),
  // The value of the Python expression `code`.
  pyval: (code) => binding.pyeval(String(code)),
  version: require('./package.json').version,
};
