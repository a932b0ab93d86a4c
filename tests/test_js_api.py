"""pymport's JS API inside the embedded Node: the JS test files in tests/js/api,
each exporting named test functions, run here one by one."""
import os

import pytest

import pymport_py

API_DIR = os.path.join(os.path.dirname(__file__), "js", "api")


def _cases():
    for name in sorted(os.listdir(API_DIR)):
        if name.endswith(".test.js"):
            path = os.path.join(API_DIR, name)
            with open(path) as f:
                source = f.read()
            # test names are the quoted method names of module.exports
            for line in source.splitlines():
                stripped = line.strip()
                if stripped.startswith(("'", "async '")) and stripped.endswith("() {"):
                    yield pytest.param(path, stripped.split("'")[1], id=f"{name}::{stripped.split(chr(39))[1]}")


@pytest.mark.parametrize("path, test", list(_cases()))
def test_js(path, test):
    run = pymport_py.eval("(file, name) => require(file)[name]()")
    result = run(path, test)
    if isinstance(result, pymport_py.JSObject):  # an async test: its Promise
        result.result(30)
