'use strict';
// `version`: pymport's version object, describing pymport_py and the Python
// that hosts Node.
const assert = require('assert');
const { version, pyval } = require('pymport');
const proxified = require('pymport/proxified');

module.exports = {
  'version has the shape of pymport\'s'() {
    const [major, minor, patch] = pyval('__import__("pymport_py").__version__').toJS().split('.').map((n) => parseInt(n, 10));
    assert.deepStrictEqual([version.pymport.major, version.pymport.minor, version.pymport.patch], [major, minor, patch]);
    assert.strictEqual(typeof version.pymport.suffix, 'string');
    const info = pyval('tuple(__import__("sys").version_info)').toJS();
    const lib = version.pythonLibrary;
    assert.strictEqual(lib.builtin, false);
    assert.deepStrictEqual([lib.major, lib.minor, lib.micro, lib.serial], [info[0], info[1], info[2], info[4]]);
    assert.strictEqual(lib.release, { alpha: 0xa, beta: 0xb, candidate: 0xc, final: 0xf }[info[3]]);
    const hex = pyval('"%x" % __import__("sys").hexversion').toJS();
    assert.strictEqual(lib.version, hex);
    assert.strictEqual(version.pythonRuntime, hex);
    assert.strictEqual(version.pythonHome, pyval('__import__("os").environ.get("PYTHONHOME")').toJS());
    assert.strictEqual(proxified.version, version);
  },
  'version converts to pymport_py\'s version string'() {
    const text = pyval('__import__("pymport_py").__version__').toJS();
    assert.strictEqual(String(version), text);
    assert.strictEqual(`${version}`, text);
    assert.ok(!Object.keys(version).includes('toString'));
  },
};
