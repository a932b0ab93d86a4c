"""A Node-API addon from npm: @node-rs/crc32 ships a prebuilt linux-x64 glibc binary
(@node-rs/crc32-linux-x64-gnu, installed by `npm ci` in tests/js). It must load and
compute real CRCs in the main environment, in pymport_py Workers and in Node
worker_threads. Results are checked against zlib and a Python CRC-32C.
better-sqlite3, an addon built against V8's C++ API, must be built for the embedded
Node by `python -m pymport_py npm`, load in the main environment and in Workers, and an
addon of another NODE_MODULE_VERSION must fail with the command that rebuilds it."""
import concurrent.futures
import json
import os
import random
import re
import subprocess
import sys
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


# --- Addons built against V8's C++ API, for the embedded Node's ABI ---------
# better-sqlite3 (from tests/js/addons/package-lock.json) is built by
# scripts/install-deps with `python -m pymport_py npm ci`, against the headers
# of the embedded libnode (docs/npm.md#native-addons).

ADDONS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "js", "addons")
SQLITE = "better-sqlite3"


@pytest.fixture
def addons_dir():
    """tests/js/addons, with its addons built. Fails, never skips, when they are not."""
    binary = os.path.join(ADDONS_DIR, "node_modules", SQLITE, "build", "Release",
                          "better_sqlite3.node")
    assert os.path.isfile(binary), (
        "better-sqlite3 is not built in tests/js/addons: run scripts/install-deps "
        "(or `python -m pymport_py npm ci` there)")
    return ADDONS_DIR


def check_sqlite(env):
    """Opens an in-memory database in env (a module or a Worker), writes and queries it."""
    Database = env.require(SQLITE)
    db = Database.new(":memory:")
    try:
        db.exec("CREATE TABLE langs (name TEXT, year INTEGER)")
        insert = db.prepare("INSERT INTO langs VALUES (?, ?)")
        for row in [("Python", 1991), ("JavaScript", 1995), ("C", 1972)]:
            assert insert.run(*row).changes == 1
        rows = db.prepare("SELECT name, year FROM langs WHERE year > ? ORDER BY year").all(1980)
        assert rows.to_py() == [{"name": "Python", "year": 1991},
                                {"name": "JavaScript", "year": 1995}]
        assert db.prepare("SELECT sum(year) AS s FROM langs").pluck().get() == 1991 + 1995 + 1972
        # SQL errors are JavaScript errors of the addon's own class
        with pytest.raises(node.JSError) as info:
            db.exec("SELECT * FROM nowhere")
        assert info.value.value.code == "SQLITE_ERROR"
        assert "no such table" in info.value.message
    finally:
        db.close()
    loaded = env.eval("Object.keys(require.cache)").to_py()
    assert any(k.endswith(os.sep + "better_sqlite3.node") for k in loaded), loaded


def test_cpp_addon_in_the_main_environment(addons_dir, monkeypatch):
    monkeypatch.chdir(addons_dir)
    check_sqlite(node)


def test_cpp_addon_in_a_worker(addons_dir):
    with node.Worker(cwd=addons_dir) as w:
        check_sqlite(w)


def test_cpp_addon_in_a_fresh_interpreter(run_python, addons_dir):
    # the addon is the first thing loaded: its node:: and v8:: symbols resolve
    # against libnode, which the extension made global
    proc = run_python(f"""
        import os, pymport_py
        os.chdir({addons_dir!r})
        db = pymport_py.require('better-sqlite3').new(':memory:')
        print('ok', db.prepare('SELECT 6 * 7').pluck().get())
    """)
    assert proc.returncode == 0, proc.report
    assert proc.stdout.split() == ["ok", "42"]


# An addon that registers for another NODE_MODULE_VERSION, as node-gyp builds
# one against another Node's headers (the fields of node.h's struct
# node_module, as its NODE_MODULE macro fills them).
WRONG_ABI_C = r"""
struct node_module {
    int nm_version;
    unsigned int nm_flags;
    void *nm_dso_handle;
    const char *nm_filename;
    void (*nm_register_func)(void);
    void (*nm_context_register_func)(void);
    const char *nm_modname;
    void *nm_priv;
    struct node_module *nm_link;
};
void node_module_register(void *module);
static void init(void) {}
static struct node_module module = {
    WRONG_VERSION, 0, 0, __FILE__, init, 0, "wrong_abi", 0, 0,
};
__attribute__((constructor)) static void wrong_abi_register(void) {
    node_module_register(&module);
}
"""


def test_addon_of_another_abi_names_the_rebuild_command(tmp_path):
    embedded = int(node.eval("process.versions.modules"))
    package = tmp_path / "node_modules" / "wrong-abi"
    package.mkdir(parents=True)
    source = tmp_path / "wrong_abi.c"
    source.write_text(WRONG_ABI_C)
    binary = package / "wrong_abi.node"
    subprocess.run(["cc", "-shared", "-fPIC", f"-DWRONG_VERSION={embedded + 7}", "-o",
                    str(binary), str(source)], check=True, timeout=60)
    with pytest.raises(node.JSError) as info:
        node.require(str(binary))
    error = info.value
    assert error.value.code == "ERR_DLOPEN_FAILED"
    # Node's own message, then how to build it for this Node
    assert f"NODE_MODULE_VERSION {embedded + 7}" in error.message
    hint = f"python -m pymport_py npm rebuild wrong-abi (in {tmp_path})"
    assert hint in error.message
    assert hint in error.stack
    assert "preload.js" not in error.stack
    # the same from a Worker
    with node.Worker() as w:
        with pytest.raises(node.JSError) as info:
            w.require(str(binary))
        assert hint in info.value.message


def npm_command(*args, cwd):
    return subprocess.run([sys.executable, "-m", "pymport_py", "npm", *args], cwd=cwd,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)


SHOW_CONFIG = ("node -e \"console.log(JSON.stringify(['nodedir', 'target', 'runtime']"
               ".map((k) => process.env['npm_config_' + k])))\"")


def test_npm_command_points_install_scripts_at_the_embedded_node(tmp_path):
    # what node-gyp and prebuild-install read in a package's install script
    (tmp_path / "package.json").write_text(json.dumps(
        {"name": "show-config", "private": True, "scripts": {"show": SHOW_CONFIG}}))
    proc = npm_command("run", "--silent", "show", cwd=tmp_path)
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    nodedir, target, runtime = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (target, runtime) == (node.eval("process.versions.node"), "node")
    with open(os.path.join(nodedir, "include", "node", "node_version.h")) as f:
        header = f.read()
    modules = node.eval("process.versions.modules")
    assert re.search(rf"^#define NODE_MODULE_VERSION {modules}\b", header, re.M), nodedir
    assert os.path.isfile(os.path.join(nodedir, "include", "node", "common.gypi"))
    # npm's own exit status comes back
    proc = npm_command("run", "--silent", "no-such-script", cwd=tmp_path)
    assert proc.returncode != 0
