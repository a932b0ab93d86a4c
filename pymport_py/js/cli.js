'use strict';
// What `python -m pymport_py` (pymport_py/__main__.py) and the node launcher
// run in the embedded Node: node's ways of giving it a program (a file, -e,
// -p, standard input), --require, --import and --inspect (docs/cli.md).

const Module = require('module');
const path = require('path');
const url = require('url');
const vm = require('vm');
const esm = require('./esm.js');

// import() resolved from the working directory, as node resolves --import
// and the dynamic imports of -e code.
let importer;
function importFromCwd(specifier) {
  esm.ensureHooks();
  if (importer === undefined) {
    const filename = path.join(process.cwd(), '[pymport_py import]');
    const m = new Module(filename, null);
    m.filename = filename;
    m.paths = Module._nodeModulePaths(process.cwd());
    m._compile('module.exports = (specifier) => import(specifier);', filename);
    importer = m.exports;
  }
  return importer(specifier);
}

// process.argv as node has it: [execPath, ...rest].
function setArgv(rest) {
  process.argv.splice(1, process.argv.length - 1, ...rest);
}

// The main module, as node runs a file: undefined for CommonJS, a Promise
// for an ES module.
function runMain(file) {
  if (esm.isModuleEntry(file, {})) {
    esm.ensureHooks();
    return import(url.pathToFileURL(file).href);
  }
  Module._load(file, null, true);
  return undefined;
}

// -r/--require: loaded as node's preload modules, resolved from the working
// directory.
function preload(requests) {
  if (typeof Module._preloadModules === 'function') {
    Module._preloadModules(requests);
    return;
  }
  const require = Module.createRequire(path.join(process.cwd(), '[preload]'));
  for (const request of requests) require(request);
}

// --import: each module in order, before the program.
async function importAll(specifiers) {
  for (const specifier of specifiers) {
    const relative = specifier.startsWith('./') || specifier.startsWith('../');
    await importFromCwd(relative ? url.pathToFileURL(path.resolve(specifier)).href : specifier);
  }
}

// Script source given by -e, -p or standard input, run as node runs it: in
// the global scope, with module, exports, require, __filename and __dirname
// of a module named [eval] (or [stdin]) in the working directory.
function evalScript(name, body, print) {
  const cwd = process.cwd();
  const module = new Module(name, null);
  module.filename = path.join(cwd, name);
  module.paths = Module._nodeModulePaths(cwd);
  const wrapper = 'globalThis.module = module; globalThis.exports = exports; ' +
    'globalThis.__dirname = __dirname; globalThis.require = require; return (main) => main();';
  globalThis.__filename = name;
  const result = module._compile(wrapper, `${name}-wrapper`)(() => vm.runInThisContext(body, {
    filename: name,
    displayErrors: true,
    importModuleDynamically: (specifier) => importFromCwd(specifier),
  }));
  if (print) console.log(result);
}

// The same source as an ES module (--input-type=module), at the URL node
// gives it: file:///<cwd>/[eval1]. eval-hooks.mjs serves it.
function evalModule(name, source) {
  const href = url.pathToFileURL(path.join(process.cwd(), `${name.slice(0, -1)}1]`)).href;
  esm.ensureHooks();
  if (typeof Module.register !== 'function') {
    throw new Error('ES module input needs module.register (Node 18.19 or later)');
  }
  Module.register(url.pathToFileURL(path.join(__dirname, 'eval-hooks.mjs')).href,
                  { data: { url: href, source } });
  return import(href);
}

// Node 22 and later run input that is not valid CommonJS but is valid ESM
// (import statements, top-level await) as an ES module.
function looksLikeModule(error) {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 22 || !(error instanceof SyntaxError)) return false;
  return /Cannot use import statement|Unexpected token 'export'|import\.meta|await is only valid/
    .test(error.message);
}

// -e / -p / stdin: a Promise when the source ran as an ES module.
function evalSource(name, source, print, inputType) {
  if (inputType === 'module') {
    if (print) {
      const error = new Error('--print cannot be used with ESM input');
      error.code = 'ERR_EVAL_ESM_CANNOT_PRINT';
      throw error;
    }
    return evalModule(name, source);
  }
  try {
    evalScript(name, source, print);
  } catch (error) {
    if (inputType !== 'commonjs' && !print && looksLikeModule(error)) return evalModule(name, source);
    throw error;
  }
  return undefined;
}

// --inspect / --inspect-brk: the inspector on host:port, and its URL printed
// (by Node) as node prints it. With wait, blocks until a debugger attached
// and asked the program to run, then stops at a breakpoint before it.
function inspect(host, port, wait) {
  const inspector = require('inspector');
  inspector.open(port, host, wait);
  if (wait) {
    // eslint-disable-next-line no-debugger
    debugger; // the program starts after this line (node stops at its first line)
  }
  return inspector.url();
}

module.exports = { setArgv, runMain, preload, importAll, evalSource, inspect };
