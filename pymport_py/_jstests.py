"""JavaScript test files as pytest items (docs/pytest-plugin.md, "JavaScript test files").

With ``pymport_js_tests = true`` in the ini file, files whose names match
``pymport_js_test_files`` (``*.test.js *.test.mjs *.test.cjs``) are collected:
``pymport_py/js/jstests.js`` loads each one in a collection Worker with
node:test's and mocha's ``describe``/``it``/``test``/hooks replaced by
recording functions, and each ``describe`` becomes a collector (:class:`JSSuite`),
each test an item (:class:`JSTest`) named after it.

To run, a file is loaded again in the environment it runs in: the main
environment, or a fresh :class:`pymport_py.Worker` of its own when isolation is
asked for (``pymport_js_isolate = true``, or the ``pymport_isolate`` marker on
one of its items). pytest's setup and teardown of the collectors run the
``before``/``after`` hooks of the file and of each suite; an item runs the
``beforeEach`` hooks, its test and the ``afterEach`` hooks.

This module is a pytest plugin of its own (``PLUGIN_NAME``), which
pytest_plugin.py registers; nothing here starts Node before a JavaScript test
file is collected.
"""
from __future__ import annotations

import contextlib
import fnmatch
import json
import os
from pathlib import Path
from typing import Any, Iterable, Iterator

import pytest

PLUGIN_NAME = "pymport_py.jstests"
ENABLE = "pymport_js_tests"
FILES = "pymport_js_test_files"
ISOLATE = "pymport_js_isolate"
TIMEOUT = "pymport_js_timeout"
MARKER = "pymport_isolate"
DEFAULT_FILES = ["*.test.js", "*.test.mjs", "*.test.cjs"]

RUNNER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "js", "jstests.js")

_collector_key = pytest.StashKey[Any]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(ENABLE, "collect JavaScript test files (node:test and mocha-style) as "
                  "pytest items (pymport_py)", type="bool", default=False)
    parser.addini(FILES, "glob patterns of the JavaScript test files' names (pymport_py; "
                  "default: " + " ".join(DEFAULT_FILES) + ")", type="args", default=DEFAULT_FILES)
    parser.addini(ISOLATE, "run each JavaScript test file in a pymport_py.Worker of its own "
                  "(pymport_py)", type="bool", default=False)
    parser.addini(TIMEOUT, "timeout of each JavaScript test and hook in seconds, 0 for none "
                  "(pymport_py; default: none for node:test, 2 s for mocha-style)",
                  type="string", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}: run this item's JavaScript test file in a pymport_py.Worker "
        "of its own (pymport_py)")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> "JSFile | None":
    config = parent.config
    if not config.getini(ENABLE):
        return None
    if not any(fnmatch.fnmatch(file_path.name, p) for p in config.getini(FILES)):
        return None
    file: JSFile = JSFile.from_parent(parent, path=file_path)
    return file


def pytest_collection_finish(session: pytest.Session) -> None:
    """The collection Worker is not needed any more."""
    _close_collector(session.config)


def pytest_unconfigure(config: pytest.Config) -> None:
    _close_collector(config)


def _close_collector(config: pytest.Config) -> None:
    worker = config.stash.get(_collector_key, None)
    if worker is not None:
        del config.stash[_collector_key]
        worker.close()


def _timeout_ms(config: pytest.Config) -> float | None:
    """The ini's timeout in ms (inf for none), or None for each style's own."""
    text = str(config.getini(TIMEOUT)).strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        raise pytest.UsageError(f"{TIMEOUT} must be a number of seconds, not {text!r}") from None
    return float("inf") if seconds <= 0 else seconds * 1000


def _load(runner: Any, path: Path, config: pytest.Config) -> dict[str, Any]:
    """Load the file ``path`` with ``runner`` (jstests.js in some environment)."""
    tree: dict[str, Any] = json.loads(
        runner.load(str(path), {"timeout": _timeout_ms(config)}).result())
    return tree


def _check(result_json: str) -> None:
    """Turn the runner's result into pytest's outcome of the current phase."""
    result = json.loads(result_json)
    outcome = result["outcome"]
    if outcome == "failed":
        pytest.fail(result["error"], pytrace=False)
    elif outcome == "skipped":
        pytest.skip(result.get("reason") or "skipped")
    elif outcome == "xfailed":
        pytest.xfail(result.get("reason") or "todo")


class JSFile(pytest.File):
    """A JavaScript test file: its suites and tests."""

    runner: Any = None
    _worker: Any = None

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        import pymport_py

        worker = self.config.stash.get(_collector_key, None)
        if worker is None:
            worker = pymport_py.Worker()
            self.config.stash[_collector_key] = worker
        tree = _load(worker.require(RUNNER), self.path, self.config)
        if "error" in tree:
            raise self.CollectError(f"{self.path.name} failed to load:\n{tree['error']}")
        return _children(self, tree)

    def _isolated(self) -> bool:
        if self.config.getini(ISOLATE) or self.get_closest_marker(MARKER) is not None:
            return True
        return any(item.get_closest_marker(MARKER) is not None for item in _items(self))

    def setup(self) -> None:
        import pymport_py

        if self._isolated():
            self._worker = pymport_py.Worker()
            self.runner = self._worker.require(RUNNER)
        else:
            self.runner = pymport_py.require(RUNNER)
        tree = _load(self.runner, self.path, self.config)
        if "error" in tree:
            pytest.fail(f"{self.path.name} failed to load:\n{tree['error']}", pytrace=False)
        _check(self.runner.suiteHooks(str(self.path), [], "before").result())

    def teardown(self) -> None:
        try:
            if self.runner is not None:
                _check(self.runner.suiteHooks(str(self.path), [], "after").result())
        finally:
            self.runner = None
            worker, self._worker = self._worker, None
            if worker is not None:
                worker.close()


class JSSuite(pytest.Collector):
    """A ``describe`` block; pytest's setup and teardown of it run its
    ``before`` and ``after`` hooks."""

    tree: dict[str, Any]

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        return _children(self, self.tree)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, max(self.tree["line"] - 1, 0), _title(self)

    def setup(self) -> None:
        file = _file(self)
        _check(file.runner.suiteHooks(str(file.path), _titles(self), "before").result())

    def teardown(self) -> None:
        file = _file(self)
        if file.runner is not None:
            _check(file.runner.suiteHooks(str(file.path), _titles(self), "after").result())


class JSTest(pytest.Item):
    """A JavaScript test (``it``, ``test``, ``specify``)."""

    tree: dict[str, Any]

    def runtest(self) -> None:
        file = _file(self)
        with _deadline(self.tree.get("timeout")):
            pending = file.runner.runTest(str(file.path), _titles(self))
        _check(pending.result())

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, max(self.tree["line"] - 1, 0), _title(self)


@contextlib.contextmanager
def _deadline(ms: float | None) -> Iterator[None]:
    """With a timeout (``ms``, None for none), JavaScript that runs on
    synchronously past it (a loop that never returns) is stopped: no timer
    could fire to end it."""
    import pymport_py

    if ms is None:
        yield
        return
    try:
        with pymport_py.deadline(ms / 1000 + 1):
            yield
    except TimeoutError:
        raise pytest.fail.Exception(
            f"Timeout of {ms:g}ms exceeded: the test's synchronous JavaScript was still "
            "running, and was stopped", pytrace=False) from None


def _children(parent: pytest.Collector, tree: dict[str, Any]) -> list[pytest.Item | pytest.Collector]:
    nodes: list[pytest.Item | pytest.Collector] = []
    for child in tree["children"]:
        node: JSSuite | JSTest
        if child["kind"] == "suite":
            node = JSSuite.from_parent(parent, name=child["name"])
        else:
            node = JSTest.from_parent(parent, name=child["name"])
            if child["skip"] is not None:
                node.add_marker(pytest.mark.skip(reason=child["skip"]))
            elif child["todo"] is not None:
                node.add_marker(pytest.mark.xfail(reason=f"todo: {child['todo']}", strict=False))
        node.tree = child
        nodes.append(node)
    return nodes


def _file(node: pytest.Node) -> JSFile:
    file = node.getparent(JSFile)
    assert file is not None
    return file


def _titles(node: pytest.Node) -> list[str]:
    """The names of the suites from the file down to ``node``, and its own."""
    titles: list[str] = []
    while not isinstance(node, JSFile):
        titles.insert(0, node.name)
        assert node.parent is not None
        node = node.parent
    return titles


def _title(node: pytest.Node) -> str:
    return " > ".join(_titles(node))


def _items(node: pytest.Node) -> Iterator[pytest.Item]:
    for item in node.session.items:
        if item.nodeid.startswith(node.nodeid + "::"):
            yield item


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A skip that a JavaScript test asked for while it ran (mocha's
    ``this.skip()``, node:test's ``t.skip()``) is reported at the test's line,
    not at the line of this module that turned it into pytest's skip."""
    outcome: Any = yield
    report = outcome.get_result()
    if isinstance(item, JSTest) and report.skipped and isinstance(report.longrepr, tuple):
        path, line, _ = item.reportinfo()
        report.longrepr = (str(path), (line or 0) + 1, report.longrepr[2])
