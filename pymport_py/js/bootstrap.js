'use strict';
// The bootstrap of every environment that pymport_py starts. It runs once, as
// an ordinary CommonJS module, on the environment's loop thread, and hands the
// C side the helpers it calls (binding.init).

const Module = require('module');
const path = require('path');
const util = require('util');
const url = require('url');
const vm = require('vm');

module.exports = function bootstrap(binding, { worker = false } = {}) {
  if (!worker) Module[Symbol.for('pymport_py.host')] = true; // read by preload.js
  require('./preload.js');
  if (!worker) hostOnly(binding);
  initHelpers(binding);
};

// What only environments started by pymport_py do (a Node worker_thread keeps
// Node's own stdio, piped to its parent, and its own error events).
function hostOnly(binding) {
  // Console output goes to Python's sys.stdout / sys.stderr, whatever they are
  // at the time of the write (pytest's capture, a notebook), and Node never
  // touches Python's file descriptors 0-2.
  // When Python's stream is a terminal, the stream looks like a tty.WriteStream
  // (isTTY, columns, colour depth, cursor moves), so that libraries colour and
  // lay out their output as under `node`; under pytest's capture or a pipe it
  // does not. Made at first use, as node makes its own: `stream` and `tty` (with
  // `net`) are a large part of what a start would load otherwise.
  let PythonStream;
  function pythonStreamClass() {
    const { Writable } = require('stream');
    const tty = require('tty');
    const borrowed = ['getColorDepth', 'hasColors', 'clearLine', 'clearScreenDown', 'cursorTo',
                      'moveCursor'];
    class PythonStream extends Writable {
      constructor(fd) {
        super({ decodeStrings: false });
        this.fd = fd;
      }
      get isTTY() { return binding.isatty(this.fd); }
      get columns() { return binding.terminal(this.fd)?.[0]; }
      get rows() { return binding.terminal(this.fd)?.[1]; }
      getWindowSize() { return binding.terminal(this.fd) ?? [80, 24]; }
      _write(chunk, encoding, callback) {
        try {
          binding.write(this.fd, typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
          callback();
        } catch (err) {
          callback(err);
        }
      }
    }
    for (const name of borrowed) {
      Object.defineProperty(PythonStream.prototype, name, {
        configurable: true, writable: true, value: tty.WriteStream.prototype[name],
      });
    }
    return PythonStream;
  }
  for (const [name, fd] of [['stdout', 1], ['stderr', 2]]) {
    let stream;
    Object.defineProperty(process, name, {
      configurable: true, enumerable: true,
      get: () => {
        if (stream === undefined) {
          PythonStream ??= pythonStreamClass();
          stream = new PythonStream(fd);
        }
        return stream;
      },
    });
  }

  // Errors that no Python caller waits for go to sys.unraisablehook; the
  // environment keeps running.
  process.on('uncaughtException', (err) => binding.unraisable(err, 'uncaught exception'));
  process.on('unhandledRejection', (reason) => binding.unraisable(reason, 'unhandled rejection'));
}

function initHelpers(binding) {

  // require() and import() resolved from a directory, as from a module there.
  const loaders = new Map();
  function loaderFor(base) {
    const dir = base === undefined || base === null ? binding.getcwd() : base;
    let loader = loaders.get(dir);
    if (loader === undefined) {
      const filename = path.join(dir, '[pymport_py]');
      let importer;
      loader = {
        require: Module.createRequire(filename),
        // Compiled at the first import: code with import() loads the ESM loader.
        get import() {
          if (importer === undefined) {
            const m = new Module(filename, null);
            m.filename = filename;
            m.paths = Module._nodeModulePaths(dir);
            m._compile('module.exports = (specifier) => import(specifier);', filename);
            importer = m.exports;
          }
          return importer;
        },
      };
      loaders.set(dir, loader);
    }
    return loader;
  }

  // ESM resolution of 'pymport' needs loader hooks (esm.js).
  const { ensureHooks } = require('./esm.js');
  function importModule(specifier, base) {
    ensureHooks();
    const loader = loaderFor(base);
    if (specifier.startsWith('./') || specifier.startsWith('../')) {
      const dir = base === undefined || base === null ? binding.getcwd() : base;
      specifier = url.pathToFileURL(path.resolve(dir, specifier)).href;
    } else if (path.isAbsolute(specifier)) {
      specifier = url.pathToFileURL(specifier).href;
    }
    return loader.import(specifier);
  }

  // A global `require` for eval'd code, resolving from the working directory.
  globalThis.require = function require(id) {
    return loaderFor(undefined).require(id);
  };
  globalThis.require.resolve = (id, options) => loaderFor(undefined).require.resolve(id, options);
  globalThis.require.cache = Module._cache;

  // V8's compilation cache keeps every script it compiles (about 0.5 KiB
  // each) and reuses it for the same source, except for scripts compiled with
  // importModuleDynamically, which never match: each eval would add one. So
  // only source that may call import() gets the option, and such scripts are
  // compiled once per (source, base) and kept, a bounded number of them.
  const importingScripts = new Map();
  const maxImportingScripts = 256;
  function importingScript(source, base) {
    const key = `${base ?? ''}\0${source}`;
    let script = importingScripts.get(key);
    if (script === undefined) {
      script = new vm.Script(source, {
        filename: 'pymport_py.eval',
        displayErrors: false,
        importModuleDynamically: (specifier) => importModule(specifier, base),
      });
      if (importingScripts.size >= maxImportingScripts) {
        importingScripts.delete(importingScripts.keys().next().value);
      }
      importingScripts.set(key, script);
    }
    return script;
  }

  function evalScript(source, base) {
    if (/\bimport\b/.test(source)) {
      return importingScript(source, base).runInThisContext({ displayErrors: false });
    }
    return vm.runInThisContext(source, { filename: 'pymport_py.eval', displayErrors: false });
  }

  function keys(o) {
    const names = new Set();
    for (let p = o; p !== null && p !== undefined && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
      for (const k of Object.getOwnPropertyNames(p)) names.add(k);
    }
    return [...names];
  }

  function length(o) {
    if (typeof o === 'function') return undefined; // a function's length is its arity
    if (typeof o.length === 'number') return o.length;
    if (typeof o.size === 'number') return o.size;
    return undefined;
  }

  // JSError's stack leaves out what is pymport_py's own: the frames of the
  // files in this directory (the bootstrap, the preload, the pymport module),
  // of the modules that resolve require and import from a directory
  // (`[pymport_py]`), the `[python]` frame that calls from Python enter
  // through, and the node:vm frames under them (they run pymport_py.eval's
  // scripts). The JS error object itself keeps its whole stack.
  const ownPrefixes = [__dirname + path.sep, url.pathToFileURL(__dirname).href + '/'];
  const ownLocation = /[([]?(\[python\]|.*\[pymport_py\]):\d+:\d+\)?$/;
  function isFrame(line) { return /^\s+at /.test(line); }
  function isOwnFrame(line) {
    return ownPrefixes.some((prefix) => line.includes(`(${prefix}`) || line.includes(`at ${prefix}`)) ||
      ownLocation.test(line);
  }
  function isVmFrame(line) { return /\(node:vm:\d+:\d+\)$/.test(line); }
  function userStack(stack) {
    const lines = stack.split('\n');
    const kept = [];
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (isFrame(line) && isOwnFrame(line)) continue;
      if (isFrame(line) && isVmFrame(line)) {
        let next = i + 1;
        while (next < lines.length && isVmFrame(lines[next])) next++;
        if (next === lines.length || isOwnFrame(lines[next])) {
          i = next - 1;
          continue;
        }
      }
      kept.push(line);
    }
    return kept.join('\n');
  }

  function describeError(e) {
    try {
      if (e instanceof Error || (e !== null && typeof e === 'object' && 'message' in e && 'stack' in e)) {
        const stack = typeof e.stack === 'string' ? userStack(e.stack) : null;
        const code = typeof e.code === 'string' ? e.code : null;
        return [String(e.name), String(e.message), stack, e.pythonValue, code];
      }
      return [null, String(e), null, undefined, null];
    } catch (inner) {
      return [null, '<a JavaScript exception that cannot be printed>', null, undefined, null];
    }
  }

  function pyError(message, type, value, trace) {
    const err = new Error(message);
    Error.captureStackTrace(err, pyError); // the stack starts where JS called Python
    Object.defineProperties(err, {
      pythonType: { value: type, writable: true, configurable: true },
      pythonValue: { value, writable: true, configurable: true },
      pythonTrace: { value: trace, writable: true, configurable: true },
    });
    return err;
  }

  // A module that cannot be loaded: the error says what to do from Python.
  // A missing module (not one of its missing dependencies) says where
  // resolution started and how to start from the calling file instead; an ES
  // module that require cannot load names import_module.
  function explainLoadError(err, how, id, base) {
    if (err === null || typeof err !== 'object' || typeof err.message !== 'string') return err;
    const dir = base === undefined || base === null ? binding.getcwd() : base;
    const quoted = JSON.stringify(String(id)).replace(/^"|"$/g, "'");
    let hint = null;
    if (err.code === 'MODULE_NOT_FOUND' && Array.isArray(err.requireStack) &&
        err.requireStack.length === 1 && path.basename(err.requireStack[0]) === '[pymport_py]') {
      hint = Array.isArray(dir)
        ? `pymport_py looked for it from these directories (paths=): ${dir.join(", ")}.`
        : `pymport_py resolved ${quoted} from ${dir} (the working directory, start(cwd=...), ` +
          `or the base given); require(${quoted}, base=__file__) resolves from the directory ` +
          `of the calling Python file.`;
    } else if (err.code === 'ERR_MODULE_NOT_FOUND' && err.message.includes('[pymport_py]')) {
      hint = `pymport_py resolved ${quoted} from ${dir} (the working directory, ` +
        `start(cwd=...), or the base given); import_module(${quoted}, base=__file__) resolves ` +
        `from the directory of the calling Python file.`;
    } else if (how === 'require' &&
               (err.code === 'ERR_REQUIRE_ESM' || err.code === 'ERR_REQUIRE_ASYNC_MODULE')) {
      hint = `${quoted} is an ES module that require() cannot load here: use ` +
        `pymport_py.import_module(${quoted}) (worker.import_module in a Worker), which returns ` +
        `its namespace.`;
    }
    if (hint === null) return err;
    const message = `${err.message}\n${hint}`;
    const stack = typeof err.stack === 'string' ? err.stack.replace(err.message, message) : undefined;
    try {
      // Own, writable properties (some of Node's errors keep them on accessors).
      Object.defineProperty(err, 'message', { value: message, writable: true, configurable: true });
      if (stack !== undefined)
        Object.defineProperty(err, 'stack', { value: stack, writable: true, configurable: true });
    } catch {
      // a frozen error keeps its message
    }
    return err;
  }

  const { PyObject } = require('./pyobject.js');
  const done = Object.freeze({ done: true }); // the end of an iteration, for C
  const live = require('./live.js')(binding, done);

  // Calls and constructions from Python enter JS through these two functions,
  // compiled as the script `[python]` (as `node -e` code is `[eval]`): so the
  // function called has a caller frame, `[python]:1:N`, as every call has
  // under node. Code that looks at its caller's call site (puppeteer's
  // evaluate takes the frame above its own through Error.prepareStackTrace)
  // finds one. JSError's stack leaves that frame out (describeError).
  const [call, construct] = vm.runInThisContext(
    '(apply) => [function (fn, self, ...args) { return apply(fn, self, args); },\n' +
    '            function (fn, ...args) { return new fn(...args); }]',
    { filename: '[python]', displayErrors: false })(Reflect.apply);

  // Promises that calls hand to Python are marked handled at once (their
  // rejection is Python's to read, later, with result() or await). One that
  // rejects and that Python drops without ever observing it (awaiting it, or
  // handing it back to JS) is reported then, as asyncio reports an exception
  // never retrieved; JSObject's dealloc calls `dropped` (C: jsp_dealloc).
  const toPython = new WeakMap(); // promise -> { rejected, reason, dropped }
  const neverObserved = 'a rejected JavaScript Promise that Python dropped without awaiting it';
  function markHandled() {
    const p = this;
    if (toPython.has(p)) {
      toPython.get(p).dropped = false; // handed to Python again
      return;
    }
    const state = { rejected: false, reason: undefined, dropped: false };
    toPython.set(p, state);
    p.then(undefined, (reason) => {
      state.rejected = true;
      state.reason = reason;
      if (state.dropped) binding.unraisable(reason, neverObserved);
    });
  }
  function dropped(p) {
    const state = toPython.get(p);
    if (state === undefined || state.dropped) return;
    state.dropped = true;
    if (state.rejected) binding.unraisable(state.reason, neverObserved);
  }

  binding.init({
    // base: a directory, or an array of directories to search as
    // require.resolve(id, { paths }) does.
    require: (id, base) => {
      try {
        if (!Array.isArray(base)) return loaderFor(base).require(id);
        const { require } = loaderFor(undefined);
        return require(require.resolve(id, { paths: base }));
      } catch (err) {
        throw explainLoadError(err, 'require', id, base);
      }
    },
    importModule: (specifier, base, onFulfilled, onRejected) => {
      importModule(specifier, base).then(
        onFulfilled, (err) => onRejected(explainLoadError(err, 'import_module', specifier, base)));
    },
    evalScript,
    inspect: (o) => util.inspect(o),
    keys,
    iter: (o) => {
      const f = o[Symbol.iterator];
      if (typeof f !== 'function') throw new TypeError('object is not iterable');
      const it = f.call(o);
      // As for...of does: the iterator must be an object.
      if (it === null || (typeof it !== 'object' && typeof it !== 'function')) {
        throw new TypeError('Result of the Symbol.iterator method is not an object');
      }
      return it;
    },
    next: (it, done) => {
      const r = it.next();
      // As for...of does: an iterator result must be an object.
      if (r === null || (typeof r !== 'object' && typeof r !== 'function')) {
        throw new TypeError(`Iterator result ${typeof r === 'symbol' ? r.toString() : r} is not an object`);
      }
      return r.done ? done : r.value;
    },
    settle: (p, onFulfilled, onRejected) => { Promise.resolve(p).then(onFulfilled, onRejected); },
    describeError,
    pyError,
    entries: (m) => Array.from(m),
    Set,
    Map,
    PyObject,
    done,
    length,
    markHandled,
    dropped,
    drain: () => {},
    Promise,
    call,
    construct,
    live,
    str: (o) => {
      const convertible = typeof o === 'function' || typeof o[Symbol.toPrimitive] === 'function' ||
        typeof o.toString === 'function' || typeof o.valueOf === 'function';
      return convertible ? String(o) : util.inspect(o);
    },
  });
};
