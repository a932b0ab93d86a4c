"""require() and import_module() resolve as Node does from a given place."""
import os
import pathlib

import pytest

import pymport_py




@pytest.fixture
def tree(tmp_path):
    """app/ with a local package in app/node_modules and files beside it."""
    pkg = tmp_path / "app" / "node_modules" / "greeter"
    pkg.mkdir(parents=True)
    (pkg / "package.json").write_text('{"name": "greeter", "main": "lib.js"}')
    (pkg / "lib.js").write_text("exports.greet = (n) => `hello ${n}`;")
    esm = tmp_path / "app" / "node_modules" / "esm-greeter"
    esm.mkdir()
    (esm / "package.json").write_text(
        '{"name": "esm-greeter", "type": "module", "exports": "./index.js"}')
    (esm / "index.js").write_text("export const greet = (n) => `hi ${n}`;")
    app = tmp_path / "app"
    (app / "config.json").write_text('{"port": 8080, "tags": ["a", "b"]}')
    (app / "local.js").write_text("module.exports = { here: __dirname };")
    (app / "local.mjs").write_text(
        "import { greet } from 'esm-greeter'; export const msg = greet('esm');")
    (app / "src").mkdir()
    (app / "src" / "main.py").write_text("# a file whose directory is the base\n")
    return app


def test_bare_ids_resolve_through_node_modules_from_base(env, tree):
    assert env.require("greeter", tree).greet("py") == "hello py"
    # from a subdirectory, node_modules is found by walking up
    assert env.require("greeter", tree / "src").greet("x") == "hello x"


def test_a_file_as_base_means_its_directory(env, tree):
    assert env.require("../local.js", tree / "src" / "main.py").here == str(tree)


def test_relative_ids_and_json_files(env, tree):
    assert env.require("./local.js", tree).here == str(tree)
    assert env.require("./config.json", tree).to_py() == {"port": 8080, "tags": ["a", "b"]}


def test_paths_searches_given_directories(env, tree, tmp_path):
    assert env.require("greeter", paths=[tmp_path, tree]).greet("p") == "hello p"
    with pytest.raises(TypeError):
        env.require("greeter", tree, paths=[tree])
    with pytest.raises(TypeError):
        env.require("greeter", paths=str(tree))


def test_missing_module_is_a_js_error_with_its_code(env, tree):
    with pytest.raises(pymport_py.JSError) as info:
        env.require("no-such-package-here", tree)
    assert info.value.code == "MODULE_NOT_FOUND"
    assert "no-such-package-here" in str(info.value)
    with pytest.raises(pymport_py.JSError) as info:
        env.import_module("no-such-package-here", tree)
    assert info.value.code == "ERR_MODULE_NOT_FOUND"
    with pytest.raises(pymport_py.JSError) as info:
        env.import_module("./missing.mjs", tree)
    assert info.value.code == "ERR_MODULE_NOT_FOUND"
    # the environment goes on
    assert env.require("greeter", tree).greet("ok") == "hello ok"


def test_a_missing_module_says_where_resolution_started_and_names_base(env, tree):
    for load in (env.require, env.import_module):
        with pytest.raises(pymport_py.JSError) as info:
            load("no-such-package-here", tree / "src")
        message = str(info.value)
        assert f"resolved 'no-such-package-here' from {tree / 'src'}" in message
        assert "base=__file__" in message
        assert "base=__file__" in info.value.stack  # as printed in tracebacks
    with pytest.raises(pymport_py.JSError) as info:
        env.require("no-such-package-here", paths=[tree])
    assert str(tree) in str(info.value) and "paths=" in str(info.value)


def test_require_of_an_es_module_it_cannot_load_names_import_module(env, tree):
    # Node 18 cannot require() any ES module (ERR_REQUIRE_ESM); from 20.19 on
    # it can, except one with top-level await (ERR_REQUIRE_ASYNC_MODULE).
    waits = tree / "node_modules" / "esm-waits"
    waits.mkdir()
    (waits / "package.json").write_text('{"name": "esm-waits", "type": "module", "exports": "./index.js"}')
    (waits / "index.js").write_text("export const ready = await Promise.resolve(true);")
    with pytest.raises(pymport_py.JSError) as info:
        env.require("esm-waits", tree)
    assert info.value.code in ("ERR_REQUIRE_ESM", "ERR_REQUIRE_ASYNC_MODULE")
    assert "pymport_py.import_module('esm-waits')" in str(info.value)
    assert env.import_module("esm-waits", tree).ready is True


def test_a_missing_dependency_of_a_package_gets_no_base_hint(env, tree):
    # The package was found; what it requires is its own business.
    broken = tree / "node_modules" / "broken"
    broken.mkdir()
    (broken / "index.js").write_text("require('its-missing-dependency');")
    with pytest.raises(pymport_py.JSError) as info:
        env.require("broken", tree)
    assert info.value.code == "MODULE_NOT_FOUND"
    assert "its-missing-dependency" in str(info.value)
    assert "base=__file__" not in str(info.value)


def test_import_module_relative_bare_and_urls(env, tree):
    assert env.import_module("./local.mjs", tree).msg == "hi esm"
    assert env.import_module("esm-greeter", tree).greet("b") == "hi b"
    url = (tree / "local.mjs").as_uri()
    assert env.import_module(url).msg == "hi esm"
    assert env.import_module(str(tree / "local.mjs")).msg == "hi esm"
    # CommonJS files import as modules with a default export
    assert env.import_module("./local.js", tree).default.here == str(tree)


def test_node_builtins(env):
    assert env.require("node:path").join("a", "b") == os.path.join("a", "b")
    assert env.require("os").EOL == os.linesep
    assert env.import_module("node:url").pathToFileURL("/tmp/x").href == "file:///tmp/x"
    with pytest.raises(pymport_py.JSError) as info:
        env.require("node:no-such-builtin")
    assert info.value.code in ("ERR_UNKNOWN_BUILTIN_MODULE", "MODULE_NOT_FOUND")


def test_default_base_is_the_working_directory(tree, run_python):
    proc = run_python("""
        import pymport_py
        print(pymport_py.require("greeter").greet("cwd"))
        print(pymport_py.import_module("./local.mjs").msg)
    """, cwd=tree)
    assert proc.returncode == 0, proc.report
    assert proc.stdout.split() == ["hello", "cwd", "hi", "esm"]


def test_worker_cwd_is_its_default_base(tree):
    with pymport_py.Worker(cwd=tree) as w:
        assert w.require("greeter").greet("w") == "hello w"
        assert w.require("./config.json").port == 8080


def test_js_error_fields_default_to_none():
    e = pymport_py.JSError("made in Python")
    assert (e.code, e.name, e.stack, e.value) == (None, None, None, None)


def test_pathlike_base(tree):
    assert pymport_py.require("greeter", pathlib.PurePath(tree)).greet("pp") == "hello pp"
