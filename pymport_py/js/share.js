'use strict';
// share(obj) and fromShared(token): a Python object sent to another thread of
// JavaScript (worker_threads, MessagePort, BroadcastChannel) without a copy
// (docs/javascript.md#sharing-python-objects-between-threads). The token is a
// plain object around a SharedArrayBuffer, which structured clone passes by
// reference: the Python object lives while any copy of the token does
// (csrc/share.c).

const binding = process._linkedBinding('pymport_py');

const KEY = '__pymport_shared__';

// A cloneable token for the Python object behind obj (a PyObject, a
// proxified object, or a JS function that stands for a Python callable).
function share(obj) {
  return { [KEY]: binding.pyShare(obj) };
}

// The PyObject of a token's Python object, in this thread. A token works any
// number of times, in any number of threads, for as long as it is alive.
function fromShared(token) {
  const buffer = token !== null && typeof token === 'object' ? token[KEY] : undefined;
  return binding.pyFromShared(buffer);
}

module.exports = { share, fromShared };
