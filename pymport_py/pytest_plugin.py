"""pytest plugin: fixtures for testing JavaScript from pytest (docs/pytest-plugin.md).

Registered with the ``pytest11`` entry point ``pymport_py``, so it is active in
every pytest run of an environment where pymport_py is installed; disable it with
``-p no:pymport_py``. Loading it starts no Node environment: the fixtures do,
when a test asks for them.

Fixtures:

- ``node``: the :mod:`pymport_py` module, with the main environment running
  (session scope; the main environment is shared by every test of the run).
- ``node_worker``: a fresh :class:`pymport_py.Worker` for the test, whose
  directory is the test file's directory; closed after the test.
- ``js_require``: ``js_require(id)`` is ``require(id)`` in the main environment
  as from a module next to the test file.

With ``pymport_js_tests = true`` in the ini file, JavaScript test files
(node:test, mocha-style) are collected as pytest items (``_jstests.py``).

JavaScript exceptions (:class:`pymport_py.JSError`) in a test show the
JavaScript stack (it is an exception note) below the test's line, without the
frames of pymport_py's Python layer (``--fulltrace`` keeps them).
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

# pymport_py's submodules are imported inside the fixtures and hooks, when they
# are needed: this module loads in every pytest run.

ENTRY_POINT_NAME = "pymport_py"


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    # This module can be registered under two names: its entry point's
    # ("pymport_py", when pytest loads the pytest11 entry points) and its module
    # name (``-p pymport_py.pytest_plugin``, ``pytest_plugins = [...]`` in a
    # conftest). pluggy refuses to register a module a second time under
    # another name ("Plugin already registered under a different name"), so
    # the other name is blocked: loading the plugin under it is skipped.
    name = pluginmanager.get_name(sys.modules[__name__])
    other = __name__ if name == ENTRY_POINT_NAME else ENTRY_POINT_NAME
    if pluginmanager.get_plugin(other) is None:
        pluginmanager.set_blocked(other)
    # JavaScript test files as pytest items: a plugin of its own (_jstests.py).
    from . import _jstests
    if not pluginmanager.has_plugin(_jstests.PLUGIN_NAME):
        pluginmanager.register(_jstests, _jstests.PLUGIN_NAME)


def _test_dir(request: pytest.FixtureRequest) -> Path:
    """The directory of the requesting test's file (the rootdir if it has none)."""
    path = getattr(request, "path", None)
    if path is not None:
        where = Path(path)
        return where if where.is_dir() else where.parent
    return Path(request.config.rootpath)


def _anchor(request: pytest.FixtureRequest) -> str:
    """A file name for createRequire: the test file itself when there is one, so
    that Node's "Require stack" of a failed require names it."""
    path = getattr(request, "path", None)
    if path is not None and Path(path).is_file():
        return str(path)
    return os.path.join(_test_dir(request), "[pytest]")


@pytest.fixture(scope="session")
def node() -> Any:
    """The ``pymport_py`` module, with its main Node environment started.

    Every test of the session shares the main environment (its globals and its
    module cache). Use ``node_worker`` for an environment of the test's own."""
    import pymport_py

    if not pymport_py.running():
        try:
            pymport_py.start()
        except RuntimeError:
            pass  # another thread started it meanwhile
    return pymport_py


@pytest.fixture
def node_worker(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh ``pymport_py.Worker`` for this test, closed after it.

    Its directory (``cwd``) is the test file's directory, so
    ``node_worker.require('./lib.js')`` loads ``lib.js`` next to the test file,
    and bare ids search the ``node_modules`` folders from there up."""
    import pymport_py

    worker = pymport_py.Worker(cwd=_test_dir(request))
    try:
        yield worker
    finally:
        worker.close()


class JSRequire:
    """``require`` of the main environment as from a module in ``directory``.

    ``js_require('./lib.js')`` loads ``lib.js`` from ``directory``;
    ``js_require('lodash')`` searches the ``node_modules`` folders from there up;
    builtins (``'fs'``, ``'node:path'``) work as usual. Node's module cache is the
    main environment's: a module is loaded once per session."""

    def __init__(self, anchor: str):
        self.directory = os.path.dirname(anchor)
        self._anchor = anchor

    def _require(self) -> Any:
        import pymport_py

        # Made at each use: a JSObject dies with its environment, and a test may
        # shut the main environment down (the next use starts a new one).
        return pymport_py.eval("require('module').createRequire")(self._anchor)

    def __call__(self, id: str) -> Any:  # noqa: A002 - the JS name
        return self._require()(id)

    def resolve(self, id: str) -> str:  # noqa: A002 - the JS name
        """The absolute file name that ``js_require(id)`` loads (or the builtin's id)."""
        return self._require().resolve(id)

    def __repr__(self) -> str:
        return f"<js_require from {self.directory}>"


@pytest.fixture
def js_require(request: pytest.FixtureRequest, node: Any) -> JSRequire:
    """``js_require(id)``: ``require(id)`` in the main environment, resolved as
    from a module next to the test file (relative ids from the test file's
    directory, bare ids through ``node_modules`` from there up)."""
    return JSRequire(_anchor(request))


# JavaScript exceptions in reports ------------------------------------------
#
# A JSError's traceback ends in pymport_py's Python layer (and in
# concurrent.futures for result()), and its JavaScript stack (an exception
# note, which pytest prints below the message) ends in Node's internals and
# pymport_py's bootstrap. While pytest makes the report, both are cut to the
# user's frames; they are restored afterwards (--pdb sees everything), and
# --fulltrace keeps everything.

_NOTE_HEADER = "JavaScript stack:\n"
_internal: tuple[tuple[str, ...], re.Pattern[str]] | None = None


def _internals() -> tuple[tuple[str, ...], re.Pattern[str]]:
    """(directories of internal Python frames, pattern of internal JS frames)."""
    global _internal
    if _internal is None:
        import asyncio
        import concurrent.futures

        def directory(module: Any) -> str:
            return os.path.dirname(os.path.realpath(str(module.__file__)))

        package = directory(sys.modules["pymport_py"])
        dirs = (directory(concurrent.futures) + os.sep, directory(asyncio) + os.sep,
                package + os.sep)
        js = os.path.join(package, "js") + os.sep
        # "    at f (node:internal/...:1:2)", "    at node:vm:1:2",
        # "    at async f (file:///.../pymport_py/js/esm.mjs:3:4)"
        where = "|".join(re.escape(p) for p in ("node:", js, Path(js).as_uri() + "/"))
        frame = re.compile(rf"^\s+at (?:async )?(?:[^(]*\()?(?:{where})")
        _internal = (dirs, frame)
    return _internal


def _is_js_error(exc: BaseException) -> bool:
    native = sys.modules.get("pymport_py._pymport")  # loaded only if JS ran
    return native is not None and isinstance(exc, native.JSError)


def _tidy(exc: BaseException, tb: Any, undo: list[Callable[[], None]]) -> None:
    """Cut the internal frames of the JSError ``exc`` (raised with traceback
    ``tb``) until the callables appended to ``undo`` run."""
    dirs, js_frame = _internals()
    # The Python traceback ends at its last frame outside the internal directories.
    chain = []
    while tb is not None:
        chain.append(tb)
        tb = tb.tb_next
    end = len(chain)
    while end > 1 and os.path.realpath(chain[end - 1].tb_frame.f_code.co_filename).startswith(dirs):
        end -= 1
    if end < len(chain):
        last, tb_next = chain[end - 1], chain[end - 1].tb_next
        last.tb_next = None
        undo.append(lambda: setattr(last, "tb_next", tb_next))
    # The JavaScript stack note keeps the message and the frames outside Node and pymport_py.
    notes = getattr(exc, "__notes__", None)
    if isinstance(notes, list) and any(isinstance(n, str) and n.startswith(_NOTE_HEADER) for n in notes):
        def strip(note: Any) -> Any:
            if not (isinstance(note, str) and note.startswith(_NOTE_HEADER)):
                return note
            return "\n".join(line for line in note.split("\n") if not js_frame.match(line))
        exc.__notes__ = [strip(n) for n in notes]
        undo.append(lambda: setattr(exc, "__notes__", notes))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Tidy the JSErrors of a failing test (and their chain) while pytest makes
    its report. (``__tracebackhide__`` cannot reach the frames of
    concurrent.futures, and pytest rebuilds tracebacks from the frame objects:
    an edited copy of ``call.excinfo.traceback`` would not last.)"""
    excinfo = call.excinfo
    undo: list[Callable[[], None]] = []
    if excinfo is not None and not item.config.getoption("fulltrace", False):
        try:
            saved = excinfo.traceback  # pytest's cached entries, made before any cut
            seen: set[int] = set()
            exc: BaseException | None = excinfo.value
            tb = excinfo.tb
            while exc is not None and id(exc) not in seen:
                seen.add(id(exc))
                if _is_js_error(exc):
                    _tidy(exc, tb, undo)
                exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
                tb = getattr(exc, "__traceback__", None)
            if undo:
                excinfo.traceback = type(saved)(excinfo.tb)  # made again from the cut frames
                undo.append(lambda: setattr(excinfo, "traceback", saved))
        except Exception:  # a cosmetic step: never let it break the report
            pass
    try:
        yield
    finally:
        for step in reversed(undo):
            step()


def pytest_assertrepr_compare(config: pytest.Config, op: str, left: object,
                              right: object) -> list[str] | None:
    """``js_object == {...}`` (or a list, tuple, set) is False whatever the
    contents: a JSObject compares by identity. The failure says to compare
    its Python copy instead."""
    native = sys.modules.get("pymport_py._pymport")
    if native is None or op not in ("==", "!="):
        return None
    containers = (dict, list, tuple, set, frozenset)
    if not any(isinstance(a, native.JSObject) and isinstance(b, containers)
               for a, b in ((left, right), (right, left))):
        return None
    from _pytest._io.saferepr import saferepr
    return [f"{saferepr(left)} {op} {saferepr(right)}",
            f"a JSObject is compared by identity, so it never equals a Python "
            f"{type(right if isinstance(left, native.JSObject) else left).__name__}: "
            "compare its Python copy, obj.to_py(), instead"]
