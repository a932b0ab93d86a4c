'use strict';
// `import ... from 'pymport'` needs ESM resolve hooks (esm-hooks.mjs). Node runs
// them on a thread of their own that takes ~50 ms to start, and hooks are per
// thread (a worker_thread does not inherit them), so each thread registers
// them once, just before its first ES module could load: the first
// import_module from Python, an import() in eval'd code, a CommonJS module
// whose source calls import(), or a worker_thread whose entry is an ES module.

const Module = require('module');
const path = require('path');
const url = require('url');

const registered = Symbol.for('pymport_py.esmHooks');
let before = () => {}; // what must happen before any ES module loads (preload.js)

function beforeHooks(fn) {
  before = fn;
}

function ensureHooks() {
  if (globalThis[registered]) return;
  globalThis[registered] = true;
  before();
  Module.register?.(url.pathToFileURL(path.join(__dirname, 'esm-hooks.mjs')).href);
}

function hooksRegistered() {
  return globalThis[registered] === true;
}

// True when a worker_thread started with this entry runs it as an ES module.
function isModuleEntry(filename, options) {
  if (options.eval) return /\bimport\b/.test(String(filename));
  let file = filename;
  if (filename instanceof URL) {
    if (filename.protocol === 'data:') return true;
    if (filename.protocol !== 'file:') return false;
    file = url.fileURLToPath(filename);
  } else if (typeof filename !== 'string') {
    return false;
  } else if (filename.startsWith('file:')) {
    file = url.fileURLToPath(filename);
  } else if (filename.startsWith('data:')) {
    return true;
  }
  if (file.endsWith('.mjs')) return true;
  if (!file.endsWith('.js')) return false;
  for (let dir = path.dirname(path.resolve(file)); ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(require('fs').readFileSync(path.join(dir, 'package.json'), 'utf8'));
      return pkg.type === 'module';
    } catch (err) {
      if (err.code !== 'ENOENT') return false;
    }
    if (path.dirname(dir) === dir) return false;
  }
}

module.exports = { ensureHooks, beforeHooks, hooksRegistered, isModuleEntry };
