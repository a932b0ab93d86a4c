'use strict';
// The runner of JavaScript test files for pytest (pymport_py/_jstests.py,
// docs/pytest-plugin.md). It loads a test file with node:test's and mocha's
// functions replaced by recording ones, so that the tree of suites, tests and
// hooks is known without running a test; pytest then asks it to run the hooks
// of a suite or one test, by the names of its suites and its own. It uses no
// node:test programmatic API (run(), reporters, name patterns), whose forms
// differ between Node 18, 20 and 24.
//
// Everything here runs on the thread that holds the environment's Node lock;
// the state is per environment (each environment loads this module afresh).

const Module = require('module');
const path = require('path');
const url = require('url');
const util = require('util');
const { AsyncLocalStorage } = require('async_hooks');
const { ensureHooks, isModuleEntry } = require('./esm.js');

const realNodeTest = require('node:test');
const here = __dirname + path.sep;

const files = new Map();         // file name -> TestFile, for each file loaded here
let loading = null;              // the TestFile whose code is being loaded
const current = new AsyncLocalStorage();  // the Suite whose body runs (async bodies too)

// Default timeouts in ms, as under each runner: node:test has none, mocha 2 s.
const DEFAULT_TIMEOUT = { node: Infinity, mocha: 2000 };

// ---------------------------------------------------------------------------
// The tree

class Suite {
  constructor(file, parent, name, style, options = {}) {
    this.file = file;
    this.parent = parent;
    this.name = name;
    this.style = style;
    this.children = [];
    this.hooks = { before: [], after: [], beforeEach: [], afterEach: [] };
    this.skip = options.skip;      // a reason (string) or undefined
    this.todo = options.todo;
    this.timeout = options.timeout;  // ms, or undefined: the parent's
    this.retries = undefined;
    this.line = options.line ?? 0;
    this.mochaContext = Object.create(parent ? parent.mochaContext : MochaContext.prototype);
  }

  get titles() {
    const titles = [];
    for (let s = this; s.parent; s = s.parent) titles.unshift(s.name);
    return titles;
  }
}

class Test {
  constructor(parent, name, fn, style, options = {}) {
    this.parent = parent;
    this.name = name;
    this.fn = fn;
    this.style = style;
    this.skip = options.skip;
    this.todo = options.todo;
    this.timeout = options.timeout;
    this.retries = undefined;
    this.line = options.line ?? 0;
  }

  get titles() { return [...this.parent.titles, this.name]; }
}

class TestFile {
  constructor(filename, options) {
    this.filename = filename;
    this.fileURL = url.pathToFileURL(filename).href;
    this.defaultTimeout = options.timeout;  // ms, or null: each style's own
    this.root = new Suite(this, null, '', 'node');
    this.pending = [];  // Promises of async suite bodies
  }
}

function where() {
  if (loading === null) {
    throw new Error('tests and hooks are defined while pytest loads a test file; '
                    + 'this call came later, which pymport_py\'s runner does not support');
  }
  return current.getStore() ?? loading.root;
}

// The line of the innermost stack frame in the file being loaded.
function definitionLine(file) {
  const prepare = Error.prepareStackTrace;
  const limit = Error.stackTraceLimit;
  let sites = [];
  try {
    Error.stackTraceLimit = 100;
    Error.prepareStackTrace = (_, callSites) => callSites;
    sites = new Error().stack;
  } finally {
    Error.prepareStackTrace = prepare;
    Error.stackTraceLimit = limit;
  }
  for (const site of Array.isArray(sites) ? sites : []) {
    const name = site.getFileName();
    if (name === file.filename || name === file.fileURL) return site.getLineNumber() ?? 0;
  }
  return 0;
}

function uniqueName(parent, name) {
  let text = String(name).replace(/[\r\n]+/g, ' ');
  if (text === '') text = '<anonymous>';
  const taken = new Set(parent.children.map((c) => c.name));
  if (!taken.has(text)) return text;
  for (let n = 2; ; n++) {
    if (!taken.has(`${text} (${n})`)) return `${text} (${n})`;
  }
}

function reason(value, fallback) {
  if (value === undefined || value === false || value === null) return undefined;
  return typeof value === 'string' && value !== '' ? value : fallback;
}

function parseMs(value) {
  if (typeof value === 'number') return value;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(String(value));
  if (!m) throw new TypeError(`not a timeout: ${value}`);
  return Number(m[1]) * ({ ms: 1, s: 1000, m: 60000 }[m[2] ?? 'ms']);
}

// A mocha timeout: 0 (or more than setTimeout takes) means none.
function mochaMs(value) {
  const ms = parseMs(value);
  return ms <= 0 || ms > 2 ** 31 - 1 ? Infinity : ms;
}

function defineSuite(style, name, options, body, thisArg) {
  const parent = where();
  const suite = new Suite(parent.file, parent, uniqueName(parent, name), style, {
    ...options, line: definitionLine(parent.file),
  });
  parent.children.push(suite);
  if (typeof body === 'function') {
    const result = current.run(suite, () => body.call(thisArg(suite), thisArg(suite)));
    if (result && typeof result.then === 'function') suite.file.pending.push(result);
  }
  return suite;
}

function defineTest(style, name, options, fn) {
  const parent = where();
  const test = new Test(parent, uniqueName(parent, name), fn, style, {
    ...options, line: definitionLine(parent.file),
  });
  parent.children.push(test);
  return test;
}

function defineHook(style, kind, fn, options = {}) {
  if (typeof fn !== 'function') throw new TypeError(`${kind}() takes a function`);
  where().hooks[kind].push({ fn, style, kind, timeout: options.timeout, title: options.title });
}

// ---------------------------------------------------------------------------
// node:test's functions

// node:test's (name, options, fn) arguments, each optional.
function nodeArgs(args) {
  let [name, options, fn] = args;
  if (typeof name === 'function') [name, options, fn] = [name.name, {}, name];
  else if (typeof name === 'object' && name !== null) [name, options, fn] = [undefined, name, options];
  if (typeof options === 'function') [options, fn] = [{}, options];
  options = options ?? {};
  if (name === undefined) name = fn?.name || '<anonymous>';
  return { name, options, fn };
}

function nodeOptions(options, extra = {}) {
  const o = { ...options, ...extra };
  return {
    skip: reason(o.skip, 'skipped'),
    todo: reason(o.todo, 'todo'),
    timeout: o.timeout === undefined || o.timeout === Infinity ? undefined : parseMs(o.timeout),
  };
}

function nodeFunctions() {
  function makeTest(extra) {
    return function test(...args) {
      if (loading === null) return realNodeTest.test(...args);
      const { name, options, fn } = nodeArgs(args);
      defineTest('node', name, nodeOptions(options, extra), fn);
      return Promise.resolve();
    };
  }
  function makeSuite(extra) {
    return function describe(...args) {
      if (loading === null) return realNodeTest.describe(...args);
      const { name, options, fn } = nodeArgs(args);
      defineSuite('node', name, nodeOptions(options, extra), fn, (suite) => suiteContext(suite));
      return Promise.resolve();
    };
  }
  const hook = (kind) => function (fn, options) {
    if (loading === null) return realNodeTest[kind](fn, options);
    defineHook('node', kind, fn, nodeOptions(options ?? {}));
  };
  const withShortcuts = (make) => Object.assign(make({}), {
    skip: make({ skip: true }), todo: make({ todo: true }), only: make({}),
  });
  const test = withShortcuts(makeTest);
  const describe = withShortcuts(makeSuite);
  const fns = {
    test, it: withShortcuts(makeTest), describe, suite: withShortcuts(makeSuite),
    before: hook('before'), after: hook('after'),
    beforeEach: hook('beforeEach'), afterEach: hook('afterEach'),
  };
  // node:test's module is its test() function, with the others as properties;
  // what is not replaced (mock, run, snapshot ...) is node:test's own.
  for (const key of Object.keys(realNodeTest)) {
    if (!(key in fns)) fns[key] = realNodeTest[key];
  }
  return Object.assign(test, fns);
}

function suiteContext(suite) {
  return { name: suite.name, filePath: suite.file.filename, signal: new AbortController().signal };
}

// ---------------------------------------------------------------------------
// mocha's BDD functions (describe/context, it/specify, the x- forms, .skip,
// .only and the four hooks), and the `this` of its functions.

class Pending {
  constructor(message) { this.message = message; }
}

class MochaContext {
  timeout(ms) {
    if (ms === undefined) return this._run?.timeoutMs ?? Infinity;
    this._run?.setTimeout(mochaMs(ms));
    return this;
  }
  slow(ms) { return ms === undefined ? 75 : this; }
  retries(n) {
    if (n === undefined) return this._run?.retries ?? 0;
    if (this._run) this._run.retries = n;
    return this;
  }
  skip() { throw new Pending('skipped with this.skip()'); }
}

// What describe() returns and its body's `this`: mocha's Suite, in part.
function mochaSuiteHandle(suite) {
  const handle = {
    title: suite.name,
    timeout(ms) {
      if (ms === undefined) return suite.timeout ?? DEFAULT_TIMEOUT.mocha;
      suite.timeout = mochaMs(ms);
      return handle;
    },
    retries(n) {
      if (n === undefined) return suite.retries ?? 0;
      suite.retries = n;
      return handle;
    },
    slow() { return handle; },
    fullTitle: () => suite.titles.join(' '),
  };
  return handle;
}

// What it() returns: mocha's Test, in part.
function mochaTestHandle(test) {
  const handle = {
    title: test.name,
    timeout(ms) { test.timeout = mochaMs(ms); return handle; },
    retries(n) { test.retries = n; return handle; },
    slow() { return handle; },
    fullTitle: () => test.titles.join(' '),
  };
  return handle;
}

function mochaFunctions() {
  const makeSuite = (extra) => function describe(title, fn) {
    const suite = defineSuite('mocha', title, extra, fn, mochaSuiteHandle);
    return mochaSuiteHandle(suite);
  };
  // mocha: a test without a function is pending (skipped).
  const makeTest = (extra) => function it(title, fn) {
    const skip = extra.skip ?? (typeof fn === 'function' ? undefined : 'pending: no function');
    return mochaTestHandle(defineTest('mocha', title, { ...extra, skip }, fn));
  };
  const hook = (kind) => function (title, fn) {
    if (typeof title === 'function') [title, fn] = [title.name, title];
    defineHook('mocha', kind, fn, { title });
  };
  const skipped = { skip: 'skipped' };
  const describe = Object.assign(makeSuite({}), { skip: makeSuite(skipped), only: makeSuite({}) });
  const it = Object.assign(makeTest({}), { skip: makeTest(skipped), only: makeTest({}) });
  return {
    describe, context: describe, xdescribe: makeSuite(skipped), xcontext: makeSuite(skipped),
    it, specify: it, xit: makeTest(skipped), xspecify: makeTest(skipped),
    before: hook('before'), after: hook('after'),
    beforeEach: hook('beforeEach'), afterEach: hook('afterEach'),
  };
}

const nodeTestShim = nodeFunctions();
const mochaShim = mochaFunctions();

// require('node:test') gives the recording functions in this environment
// (outside a file's loading they are node:test's own); require('mocha') gives
// mocha's while a test file loads. import of either goes through
// jstests-hooks.mjs to node-test.mjs and mocha.mjs.
let installed = false;
function install() {
  if (installed) return;
  installed = true;
  const load = Module._load;
  Module._load = function _load(request, parent, isMain) {
    if (request === 'node:test') return nodeTestShim;
    if (request === 'mocha' && loading !== null) return mochaShim;
    return load.call(this, request, parent, isMain);
  };
  ensureHooks();
  Module.register?.(url.pathToFileURL(path.join(__dirname, 'jstests-hooks.mjs')).href);
}

// ---------------------------------------------------------------------------
// Loading a file

function treeOf(node, inherited = {}) {
  const skip = inherited.skip ?? node.skip;
  const todo = inherited.todo ?? node.todo;
  if (node instanceof Test) {
    // timeout: ms, or null (JSON's Infinity) for none
    return { kind: 'test', name: node.name, line: node.line, skip: skip ?? null, todo: todo ?? null,
             timeout: timeoutOf(node, node.parent) };
  }
  return {
    kind: 'suite', name: node.name, line: node.line,
    children: node.children.map((c) => treeOf(c, { skip, todo })),
  };
}

// Loads `filename` (once per environment) and returns its tree as JSON:
// {children: [{kind: 'suite', name, line, children}, {kind: 'test', name,
// line, skip, todo, timeout}]}, or {error: text} when the file fails to load.
async function load(filename, options = {}) {
  install();
  let file = files.get(filename);
  if (file === undefined) {
    file = new TestFile(filename, { timeout: options.timeout ?? null });
    files.set(filename, file);
    file.loaded = loadFile(file);
  }
  try {
    await file.loaded;
  } catch (err) {
    return JSON.stringify({ error: describeError(err) });
  }
  return JSON.stringify(treeOf(file.root));
}

async function loadFile(file) {
  while (loading !== null) await loading.loaded.catch(() => {});
  const saved = new Map();
  for (const [name, value] of Object.entries(mochaShim)) {
    saved.set(name, Object.getOwnPropertyDescriptor(globalThis, name));
    globalThis[name] = value;
  }
  loading = file;
  try {
    if (isModuleEntry(file.filename, {})) await import(file.fileURL);
    else require(file.filename);
    while (file.pending.length) await file.pending.shift();
  } finally {
    loading = null;
    for (const [name, descriptor] of saved) {
      if (descriptor === undefined) delete globalThis[name];
      else Object.defineProperty(globalThis, name, descriptor);
    }
  }
}

function find(filename, titles) {
  const file = files.get(filename);
  if (file === undefined) throw new Error(`not loaded: ${filename}`);
  let node = file.root;
  for (const title of titles) {
    node = node.children?.find((c) => c.name === title);
    if (node === undefined) {
      throw new Error(`"${titles.join(' > ')}" was not defined when ${filename} was loaded `
                      + 'again to run it (its tests must be the same at each load)');
    }
  }
  return node;
}

// ---------------------------------------------------------------------------
// Running

function timeoutOf(runnable, suite) {
  if (runnable.timeout !== undefined) return runnable.timeout;
  for (let s = suite; s; s = s.parent) {
    if (s.timeout !== undefined) return s.timeout;
  }
  return suite.file.defaultTimeout ?? DEFAULT_TIMEOUT[runnable.style];
}

function retriesOf(test) {
  if (test.retries !== undefined) return test.retries;
  for (let s = test.parent; s; s = s.parent) {
    if (s.retries !== undefined) return s.retries;
  }
  return 0;
}

function timeoutError(style, ms) {
  const err = style === 'mocha'
    ? new Error(`Timeout of ${ms}ms exceeded. For async tests and hooks, ensure "done()" is `
                + 'called; if returning a Promise, ensure it resolves.')
    : new Error(`test timed out after ${ms}ms`);
  err.code = 'ERR_TEST_TIMEOUT';
  err.stack = `Error: ${err.message}`;  // the runner's frames say nothing
  return err;
}

// Calls fn (a test's or a hook's) with a done callback when it takes one, and
// resolves to undefined or to what it threw, rejected with or passed to done.
// run: {timeoutMs, setTimeout(ms)}, the timeout that `this.timeout()` changes.
function invoke(fn, thisArg, args, style, ms, onRun) {
  return new Promise((resolve) => {
    let settled = false;
    let timer = null;
    const finish = (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(err);
    };
    const run = {
      timeoutMs: ms,
      setTimeout(value) {
        run.timeoutMs = value;
        clearTimeout(timer);
        if (Number.isFinite(value)) {
          timer = setTimeout(() => finish(timeoutError(style, value)), value);
        }
      },
    };
    onRun?.(run);
    run.setTimeout(ms);
    try {
      // A done callback: mocha's fn(done), node:test's fn(t, done).
      const takesDone = fn.length > (style === 'mocha' ? 0 : 1);
      if (takesDone) {
        args = [...args, function done(err) {
          finish(err === undefined || err === null ? undefined
            : err instanceof Error ? err : new Error(`done() invoked with non-Error: ${util.inspect(err)}`));
        }];
      }
      const result = fn.apply(thisArg, args);
      if (result && typeof result.then === 'function') {
        result.then(() => { if (!takesDone) finish(); },
                    (err) => finish(err ?? new Error(`rejected with ${err}`)));
      } else if (!takesDone) {
        finish();
      }
    } catch (err) {
      finish(err);
    }
  });
}

function runHook(hook, suite, ctx, test) {
  const ms = hook.timeout ?? timeoutOf({ style: hook.style }, suite);
  if (hook.style === 'mocha') {
    const mctx = suite.mochaContext;
    mctx.currentTest = test ? mochaTestHandle(test) : undefined;
    return invoke(hook.fn, mctx, [], 'mocha', ms, (run) => {
      mctx._run = run;
      mctx.test = { title: hookTitle(hook), fullTitle: () => hookTitle(hook) };
    });
  }
  return invoke(hook.fn, undefined, [ctx ?? suiteContext(suite)], 'node', ms);
}

function hookTitle(hook, test) {
  const name = { before: 'before all', after: 'after all', beforeEach: 'before each',
                 afterEach: 'after each' }[hook.kind];
  const title = hook.title ? `: ${hook.title}` : '';
  return test ? `"${name}" hook${title} for "${test.name}"` : `"${name}" hook${title}`;
}

// The result pytest reads: {outcome: 'passed' | 'failed' | 'skipped' |
// 'xfailed', reason, error (text)}, as JSON.
function outcome(err, where, todo) {
  if (err === undefined) return { outcome: 'passed' };
  if (err instanceof Pending) return { outcome: 'skipped', reason: err.message };
  const text = (where ? `Error in ${where}:\n` : '') + describeError(err);
  if (todo !== undefined) return { outcome: 'xfailed', reason: `todo: ${todo}`, error: text };
  return { outcome: 'failed', error: text };
}

// The before (or after) hooks of a suite: the file's own with titles [].
async function suiteHooks(filename, titles, kind) {
  let suite;
  try {
    suite = find(filename, titles);
  } catch (err) {
    return JSON.stringify(outcome(err));
  }
  let first;
  for (const hook of suite.hooks[kind]) {
    const err = await runHook(hook, suite);
    if (err !== undefined && first === undefined) {
      first = outcome(err, hookTitle(hook));
      if (kind === 'before') break;  // the suite's tests do not run
    }
  }
  return JSON.stringify(first ?? { outcome: 'passed' });
}

// Runs one test: the beforeEach hooks from the file's down to its suite's,
// the test, the afterEach hooks from its suite's up; again on failure as many
// times as mocha's retries() says.
async function runTest(filename, titles) {
  let test;
  try {
    test = find(filename, titles);
  } catch (err) {
    return JSON.stringify(outcome(err));
  }
  const chain = [];
  for (let s = test.parent; s; s = s.parent) chain.unshift(s);
  let result;
  for (let attempt = 0, retries = retriesOf(test); attempt <= retries; attempt++) {
    result = await runOnce(test, chain);
    if (result.outcome !== 'failed') break;
  }
  return JSON.stringify(result);
}

async function runOnce(test, chain) {
  const ctx = test.style === 'node' ? new TestContext(test.name, test.titles.join(' > '), test.parent.file.filename) : null;
  let result = null;
  const ran = [];  // the suites whose beforeEach hooks ran: their afterEach hooks run
  for (const suite of chain) {
    ran.push(suite);
    for (const hook of suite.hooks.beforeEach) {
      const err = await runHook(hook, suite, ctx, test);
      if (err !== undefined) {
        result = outcome(err, hookTitle(hook, test), test.todo);
        break;
      }
    }
    if (result) break;
  }
  if (!result) result = await runBody(test, ctx);
  for (const suite of ran.reverse()) {
    for (const hook of suite.hooks.afterEach) {
      const err = await runHook(hook, suite, ctx, test);
      if (err !== undefined && result.outcome !== 'failed') {
        result = outcome(err, hookTitle(hook, test), test.todo);
      }
    }
  }
  return result;
}

async function runBody(test, ctx) {
  const ms = timeoutOf(test, test.parent);
  if (typeof test.fn !== 'function') return { outcome: 'passed' };
  if (test.style === 'mocha') {
    const mctx = test.parent.mochaContext;
    mctx.currentTest = mochaTestHandle(test);
    let retries;
    const err = await invoke(test.fn, mctx, [], 'mocha', ms, (run) => {
      mctx._run = run;
      mctx.test = mctx.currentTest;
      run.retries = retriesOf(test);
      retries = run;
    });
    if (retries.retries !== retriesOf(test)) test.retries = retries.retries;
    return outcome(err, undefined, test.todo);
  }
  const err = await ctx.run(test.fn, ms);
  return ctx.result(err, test.todo);
}

// ---------------------------------------------------------------------------
// node:test's TestContext, in part: name, fullName, signal, diagnostic(),
// skip(), todo(), test() (subtests, run as part of their test), after(),
// beforeEach()/afterEach() for subtests, mock (reset after the test), assert
// and plan().

class TestContext {
  constructor(name, fullName, filePath) {
    this.name = name;
    this.fullName = fullName;
    this.filePath = filePath;
    this._abort = new AbortController();
    this._skip = undefined;
    this._todo = undefined;
    this._subtests = [];
    this._after = [];
    this._beforeEach = [];
    this._afterEach = [];
    this._mock = null;
    this._plan = undefined;
    this._assertions = 0;
    this._timeout = Infinity;
  }

  get signal() { return this._abort.signal; }
  diagnostic(message) { console.log(`# ${message}`); }
  skip(message) { this._skip = message ?? 'skipped with t.skip()'; }
  todo(message) { this._todo = message ?? 'todo'; }
  runOnly() {}
  plan(count) { this._plan = count; }
  after(fn) { this._after.push(fn); }
  beforeEach(fn) { this._beforeEach.push(fn); }
  afterEach(fn) { this._afterEach.push(fn); }
  before() { throw new Error('t.before() is not supported by pymport_py\'s runner'); }

  get mock() {
    if (this._mock === null) this._mock = new realNodeTest.mock.constructor();
    return this._mock;
  }

  get assert() {
    const assert = require('assert').strict;
    const counted = {};
    for (const [key, value] of Object.entries(assert)) {
      counted[key] = typeof value === 'function'
        ? (...args) => { this._assertions++; return value(...args); } : value;
    }
    return counted;
  }

  // A subtest: run now, awaited by its test at the latest; a failure fails the test.
  test(...args) {
    const { name, options, fn } = nodeArgs(args);
    const sub = new TestContext(name, `${this.fullName} > ${name}`, this.filePath);
    const opts = nodeOptions(options);
    const promise = (async () => {
      if (opts.skip !== undefined || typeof fn !== 'function') return undefined;
      let err;
      for (const hook of this._beforeEach) {
        err = err ?? await invoke(hook, undefined, [sub], 'node', Infinity);
      }
      if (err === undefined) err = await sub.run(fn, opts.timeout ?? Infinity);
      const result = sub.result(err, opts.todo);
      for (const hook of this._afterEach) await invoke(hook, undefined, [sub], 'node', Infinity);
      return result.outcome === 'failed' ? { name, error: result.error } : undefined;
    })();
    this._subtests.push(promise);
    return promise.then(() => undefined);
  }

  async run(fn, ms) {
    let err = await invoke(fn, this, [this], 'node', ms);
    while (this._subtests.length) {
      const failed = await this._subtests.shift();
      if (failed && err === undefined) {
        err = new SubtestFailure(failed);
      }
      this._assertions++;
    }
    for (const hook of this._after) {
      const e = await invoke(hook, this, [this], 'node', Infinity);
      if (err === undefined) err = e;
    }
    this._abort.abort();
    this._mock?.reset();
    if (err === undefined && this._plan !== undefined && this._plan !== this._assertions) {
      err = new Error(`plan expected ${this._plan} assertions but received ${this._assertions}`);
    }
    return err;
  }

  result(err, todo) {
    if (err === undefined && this._skip !== undefined) return { outcome: 'skipped', reason: this._skip };
    return outcome(err, undefined, todo ?? this._todo);
  }
}

class SubtestFailure {
  constructor(failed) { this.failed = failed; }
}

// ---------------------------------------------------------------------------
// Errors as text: the stack without Node's and this runner's frames, then an
// assertion's actual and expected values.

function isInternalFrame(line) {
  if (!/^\s+at /.test(line)) return false;
  return /\(node:|^\s+at node:|\(<anonymous>\)$/.test(line) || line.includes(here)
    || line.includes(url.pathToFileURL(here).href);
}

function describeError(err) {
  if (err instanceof SubtestFailure) return `subtest "${err.failed.name}" failed:\n${err.failed.error}`;
  if (!(err instanceof Error) && !(err && typeof err === 'object' && 'stack' in err)) {
    return `thrown: ${util.inspect(err)}`;
  }
  let text;
  const header = `${err.name ?? 'Error'}: ${err.message ?? ''}`;
  if (typeof err.stack === 'string' && err.stack.includes(String(err.message ?? '').split('\n')[0])) {
    text = err.stack.split('\n').filter((line) => !isInternalFrame(line)).join('\n');
  } else {
    text = header;
  }
  const lines = [text.replace(/\s+$/, '')];
  if ('actual' in err || 'expected' in err) {
    lines.push('');
    lines.push(`actual: ${util.inspect(err.actual, { depth: 6 })}`);
    lines.push(`expected: ${util.inspect(err.expected, { depth: 6 })}`);
    if (err.operator !== undefined) lines.push(`operator: ${err.operator}`);
  }
  if (err.cause !== undefined) lines.push('', `cause: ${describeError(err.cause)}`);
  return lines.join('\n');
}

module.exports = { load, suiteHooks, runTest, nodeTestShim, mochaShim, install };
