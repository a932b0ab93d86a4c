"""A Node-API addon from npm: @node-rs/crc32 ships a prebuilt linux-x64 glibc binary
(@node-rs/crc32-linux-x64-gnu, installed by `npm ci` in tests/js). It must load and
compute real CRCs in the main environment, in pymport_py Workers and in Node
worker_threads. Results are checked against zlib and a Python CRC-32C."""
import concurrent.futures
import os
import random
import zlib

import pytest

import pymport_py as node

pytestmark = pytest.mark.usefixtures("npm_dir")

ADDON = "@node-rs/crc32"
BINARY = "crc32.linux-x64-gnu.node"

DATA = random.Random(1234).randbytes(1 << 16)


def _crc32c_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc32c_table()


def crc32c(data, crc=0):
    """CRC-32C (Castagnoli), independent of the addon."""
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = _CRC32C[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def test_python_crc32c_reference():
    assert crc32c(b"123456789") == 0xE3069283  # the standard check value


def check_addon(env):
    """Load the addon in env (a module or a Worker) and check its results."""
    crc = env.require(ADDON)
    assert crc.crc32("hello") == zlib.crc32(b"hello") == 907060870
    assert crc.crc32(b"hello world") == zlib.crc32(b"hello world")
    assert crc.crc32(b" world", crc.crc32(b"hello")) == zlib.crc32(b"hello world")
    assert crc.crc32(DATA) == zlib.crc32(DATA)
    assert crc.crc32c("123456789") == 0xE3069283
    assert crc.crc32c(DATA) == crc32c(DATA)
    # a Buffer made in JavaScript
    assert crc.crc32(env.eval("Buffer.from([1, 2, 3])")) == zlib.crc32(bytes([1, 2, 3]))
    # it is the native binary that was loaded (not a fallback)
    loaded = env.eval("Object.keys(require.cache)").to_py()
    assert any(k.endswith(os.sep + BINARY) for k in loaded), loaded
    return crc


def test_addon_in_the_main_environment():
    crc = check_addon(node)
    # argument errors of the addon are JavaScript errors with napi-rs's code
    with pytest.raises(node.JSError) as info:
        crc.crc32(123)
    assert info.value.value.code == "InvalidArg"


def test_addon_in_a_fresh_interpreter(run_python, npm_dir):
    # the addon is the first thing the process loads into Node: its Node-API
    # symbols resolve against libnode
    proc = run_python(f"""
        import os, zlib, pymport_py
        os.chdir({npm_dir!r})
        crc = pymport_py.require('@node-rs/crc32')
        assert crc.crc32(b'abc') == zlib.crc32(b'abc'), crc.crc32(b'abc')
        print('ok', crc.crc32c('123456789'))
    """)
    assert proc.returncode == 0, proc.report
    assert proc.stdout.split() == ["ok", str(0xE3069283)]


def test_addon_in_workers(npm_dir):
    with node.Worker(cwd=npm_dir) as w:
        check_addon(w)
    # loaded again in a later Worker, after the first one was torn down
    with node.Worker(cwd=npm_dir) as w:
        assert w.require(ADDON).crc32(b"again") == zlib.crc32(b"again")


def test_addon_in_several_workers_at_once(npm_dir):
    workers = [node.Worker(cwd=npm_dir) for _ in range(3)]
    try:
        chunks = [DATA[i::3] for i in range(3)]

        def compute(i):
            crc = workers[i].require(ADDON)
            return [crc.crc32(chunks[i]) for _ in range(20)], crc.crc32c(chunks[i])

        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            results = list(pool.map(compute, range(3)))
        for chunk, (plain, castagnoli) in zip(chunks, results):
            assert plain == [zlib.crc32(chunk)] * 20
            assert castagnoli == crc32c(chunk)
    finally:
        for w in workers:
            w.close()


WORKER_THREAD = """(source, workerData) => new Promise((resolve, reject) => {
  const { Worker } = require('worker_threads');
  const w = new Worker(source, { eval: true, workerData });
  w.on('message', resolve);
  w.on('error', reject);
})"""

ADDON_IN_WORKER_THREAD = """
const { parentPort, workerData } = require('worker_threads');
const { crc32, crc32c } = require(workerData.addon);
parentPort.postMessage([crc32(workerData.text), crc32c(workerData.text),
                        crc32(Buffer.from(workerData.text))]);
"""


def addon_in_worker_thread(env, npm_dir):
    # a worker_thread's eval'd code resolves from its own cwd: pass the full path
    addon = os.path.join(npm_dir, "node_modules", *ADDON.split("/"))
    out = env.eval(WORKER_THREAD)(ADDON_IN_WORKER_THREAD, {"addon": addon, "text": "thread"})
    return out.result(30).to_py()


def test_addon_in_a_node_worker_thread_of_the_main_environment(npm_dir):
    expected = [zlib.crc32(b"thread"), crc32c(b"thread"), zlib.crc32(b"thread")]
    assert addon_in_worker_thread(node, npm_dir) == expected
    # and the main environment still has it too
    assert node.require(ADDON).crc32("thread") == expected[0]


def test_addon_in_a_node_worker_thread_of_a_worker(npm_dir):
    expected = [zlib.crc32(b"thread"), crc32c(b"thread"), zlib.crc32(b"thread")]
    with node.Worker(cwd=npm_dir) as w:
        assert addon_in_worker_thread(w, npm_dir) == expected
