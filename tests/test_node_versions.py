"""The embedded Node is the libnode the extension was built against (Node 18, 20 or 24), and
what that version gives a user under `node` works from Python the same way: globals such as
`crypto` and `File`, `util.styleText`, `require()` of an ES module, Node's own CLI options.
Each test asserts the behaviour of the version that runs, old versions included."""
import os
import re

import pytest

import pymport_py as node
from pymport_py import _pymport

# NODE_MODULE_VERSION (libnode's soname) -> Node major, for the versions supported.
MODULE_VERSIONS = {"108": 18, "115": 20, "127": 22, "137": 24}
VERSION = tuple(int(x) for x in node.eval("process.versions.node").split("."))
MAJOR = VERSION[0]


def test_runs_the_libnode_it_was_built_against():
    modules = node.eval("process.versions.modules")
    with open("/proc/self/maps") as f:
        loaded = {line.split()[-1].rsplit("/", 1)[-1] for line in f if "libnode.so" in line}
    assert loaded == {f"libnode.so.{modules}"}
    assert MODULE_VERSIONS[modules] == MAJOR


def test_web_crypto_is_global_from_node_19():
    kind = node.eval("typeof globalThis.crypto?.randomUUID")
    if MAJOR >= 19:
        assert kind == "function"
        uuid = node.eval("crypto.randomUUID()")
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", uuid)
        digest = node.eval("crypto.subtle.digest('SHA-256', new TextEncoder().encode('abc'))")
        assert bytes(digest.result()).hex().startswith("ba7816bf")
    else:
        assert kind == "undefined"


def test_file_is_global_from_node_20():
    if MAJOR >= 20:
        f = node.eval("new File(['hello'], 'a.txt', { type: 'text/plain' })")
        assert (f.name, f.size, f.type) == ("a.txt", 5, "text/plain")
        assert f.text().result() == "hello"
    else:
        assert node.eval("typeof File") == "undefined"


def test_util_style_text_from_node_20_12():
    util = node.require("util")
    if VERSION >= (20, 12):
        # validateStream (Node 22.13+; ignored before) off: styled whatever the stream is.
        assert util.styleText("bold", "x", validateStream=False) == "\x1b[1mx\x1b[22m"
        assert util.styleText("red", "y", validateStream=False) == "\x1b[31my\x1b[39m"
    else:
        assert "styleText" not in util


def test_require_of_an_es_module(tmp_path):
    mod = tmp_path / "answer.mjs"
    mod.write_text("export const answer = 42;\nexport default 'dflt';\n")
    if VERSION >= (20, 19):
        ns = node.require(str(mod))
        assert (ns.answer, ns.default) == (42, "dflt")
    else:
        with pytest.raises(node.JSError) as info:
            node.require(str(mod))
        assert info.value.code == "ERR_REQUIRE_ESM"


# One experimental flag per version, each seen from JS as under `node FLAG`.
EXPERIMENTAL = {
    18: ("--experimental-global-webcrypto", "typeof crypto", "object"),
    20: ("--experimental-websocket", "typeof WebSocket", "function"),
    24: ("--experimental-eventsource", "typeof EventSource", "function"),
}


def test_node_cli_options_given_to_start_take_effect(run_python):
    flag, probe, expected = EXPERIMENTAL[MAJOR]
    proc = run_python(
        f"""
        import pymport_py as node
        print(node.eval({probe!r}))
        node.shutdown()
        node.start([{flag!r}, "--enable-source-maps"])
        print(node.eval({probe!r}), node.eval("process.sourceMapsEnabled"))
        print(node.eval("process.execArgv.includes('--enable-source-maps')"))
        """)
    assert proc.returncode == 0, proc.report
    assert proc.stdout.split("\n")[1:3] == [f"{expected} True", "True"], proc.report
    assert "unrecognized flag" not in proc.stderr, proc.report


def test_node_cli_options_given_to_a_worker_take_effect(run_python):
    flag, probe, expected = EXPERIMENTAL[MAJOR]
    proc = run_python(
        f"""
        import pymport_py as node
        with node.Worker([{flag!r}]) as w:
            print(w.eval({probe!r}))
        """)
    assert proc.returncode == 0, proc.report
    assert proc.stdout == f"{expected}\n", proc.report


def test_an_option_node_does_not_know_is_a_value_error_and_loses_nothing(run_python):
    proc = run_python(
        """
        import pymport_py as node
        try:
            node.start(["--no-such-option"])
        except ValueError as e:
            print(e)
        print(node.eval("6 * 7"))
        """)
    assert proc.returncode == 0, proc.report
    assert proc.stdout.splitlines() == [
        "cannot start Node: Node rejected the options: bad option: --no-such-option", "42"]


def test_environments_start_from_the_startup_snapshot_on_node_24(run_python):
    code = """
        import pymport_py as node
        from pymport_py import _pymport
        print(node.eval("typeof require('fs').readFileSync"), _pymport._startup_snapshot())
        """
    assert run_python(code).stdout == f"function {MAJOR >= 24}\n"
    env = dict(os.environ, PYMPORT_NO_SNAPSHOT="1")
    assert run_python(code, env=env).stdout == "function False\n"
    node.eval("1")
    assert _pymport._startup_snapshot() == (MAJOR >= 24 and not os.environ.get("PYMPORT_NO_SNAPSHOT"))


def test_float16_arrays_of_node_24_cross_as_half_precision_buffers():
    if MAJOR < 24:
        assert node.eval("typeof Float16Array") == "undefined"
        return
    arr = node.eval("new Float16Array([1.5, -2, 65504])")
    view = memoryview(arr)
    assert (view.format, view.itemsize, view.tolist()) == ("e", 2, [1.5, -2.0, 65504.0])
    assert arr.to_py().tolist() == [1.5, -2.0, 65504.0]
