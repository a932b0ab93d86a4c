"""Shared fixtures for the pymport_py test suite."""

import gc
import os
import subprocess
import sys
import textwrap

import pytest

import pymport_py

# CI passes `-n 2` in PYTEST_ADDOPTS (.ci/run); pytest has read it by now. The
# pytest runs that tests start themselves (documented sessions, the plugin's)
# must run as a user's would, without it.
os.environ.pop("PYTEST_ADDOPTS", None)

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(TESTS_DIR)
JS_DIR = os.path.join(TESTS_DIR, "js")


@pytest.fixture(autouse=True)
def _collect_python_garbage():
    """Run the cyclic GC after every test so that dropped proxies are released
    (and any crash or unraisable error it triggers is attributed to the test
    that caused it)."""
    yield
    gc.collect()


@pytest.fixture
def js_dir():
    """Absolute path of tests/js (the JavaScript fixtures)."""
    return JS_DIR


@pytest.fixture
def npm_dir(monkeypatch):
    """tests/js made the current directory, so that require and import_module of
    the main environment resolve the npm packages installed there (by `npm ci`
    from tests/js/package-lock.json, which scripts/install-deps runs). Fails,
    never skips, when they are not installed."""
    marker = os.path.join(JS_DIR, "node_modules", ".package-lock.json")
    assert os.path.isfile(marker), (
        "the npm packages of tests/js are not installed: run scripts/install-deps "
        "(or `npm ci` in tests/js)")
    monkeypatch.chdir(JS_DIR)
    return JS_DIR


@pytest.fixture(params=["main", "worker"])
def env(request):
    """The test runs twice: with the pymport_py module (the main environment)
    and with a fresh pymport_py.Worker (closed after the test)."""
    if request.param == "main":
        yield pymport_py
    else:
        with pymport_py.Worker() as worker:
            yield worker


@pytest.fixture
def repo_root():
    """Absolute path of the repository root."""
    return REPO_ROOT


def _run_python(code, *, timeout=60, **kwargs):
    kwargs.setdefault("cwd", REPO_ROOT)
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )
    # text for assertion messages
    proc.report = (
        f"exit code {proc.returncode}\n--- stdout ---\n{proc.stdout}"
        f"\n--- stderr ---\n{proc.stderr}"
    )
    return proc


@pytest.fixture
def run_python():
    """run_python(code, **subprocess_kwargs): run `code` (dedented) in a fresh
    interpreter from the repository root (so an in-place build is importable;
    an installed package works as well). Returns the CompletedProcess (text
    mode, stdout/stderr captured) with an extra `.report` string for
    assertion messages."""
    return _run_python
