"""The type stub pymport_py/_pymport.pyi matches the extension module, and every public
name has a docstring.

A full check with mypy (not installed by scripts/install-deps, so not run here)::

    python -m pip install mypy
    python -m mypy.stubtest --allowlist tests/stubtest_allowlist.txt pymport_py._pymport
    python -m mypy --strict pymport_py/__init__.py pymport_py/_futures.py pymport_py/_pymport.pyi
"""
import ast
import inspect
import os

import pytest

import pymport_py
from pymport_py import _pymport

PACKAGE_DIR = os.path.dirname(pymport_py.__file__)
STUB = os.path.join(PACKAGE_DIR, "_pymport.pyi")
ALLOWLIST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "stubtest_allowlist.txt")


def _allowed():
    """Names in tests/stubtest_allowlist.txt: stub entries known to be absent at runtime."""
    with open(ALLOWLIST, encoding="utf-8") as f:
        return {line.strip() for line in f if line.strip() and not line.startswith("#")}


def _is_type_check_only(node):
    return any(ast.unparse(d).endswith("type_check_only") for d in node.decorator_list)


def _stub():
    """name -> ClassDef/FunctionDef/AnnAssign of the stub's top level (type aliases and
    @type_check_only classes left out: they do not exist at runtime)."""
    with open(STUB, encoding="utf-8") as f:
        tree = ast.parse(f.read(), STUB)
    names = {}
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and not _is_type_check_only(node):
            names[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = node
    return names


def _members(class_node):
    """The names a stub class defines (methods, properties, attributes)."""
    names = set()
    for node in class_node.body:
        if isinstance(node, ast.FunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def test_py_typed_and_stub_exist():
    assert os.path.isfile(os.path.join(PACKAGE_DIR, "py.typed"))
    assert os.path.isfile(STUB)


def test_stub_names_are_the_module_names():
    runtime = {n for n in vars(_pymport) if not (n.startswith("__") and n.endswith("__"))}
    assert set(_stub()) == runtime


def test_stub_classes_match():
    allowed = _allowed()
    for name, node in _stub().items():
        if not isinstance(node, ast.ClassDef):
            continue
        cls = getattr(_pymport, name)
        assert isinstance(cls, type), name
        bases = [ast.unparse(b) for b in node.bases]
        assert bases == [b.__name__ for b in cls.__bases__ if b is not object], name
        stub_members = _members(node)
        # Everything the stub declares exists (or is a known, allowlisted difference) ...
        missing = {m for m in stub_members
                   if not hasattr(cls, m) and f"{_pymport.__name__}.{name}.{m}" not in allowed}
        assert not missing, f"{name}: in the stub, not at runtime: {sorted(missing)}"
        # ... and every public member of the class is declared.
        public = {m for m in vars(cls) if not m.startswith("_")}
        undeclared = public - stub_members
        assert not undeclared, f"{name}: at runtime, not in the stub: {sorted(undeclared)}"


def test_stub_functions_match():
    for name, node in _stub().items():
        if isinstance(node, ast.FunctionDef):
            assert callable(getattr(_pymport, name)), name


def _public_objects():
    """(qualified name, object) for everything in pymport_py.__all__ and the public
    methods and properties of its classes."""
    for name in pymport_py.__all__:
        if name == "globalThis":      # a JSObject, looked up (and Node started) on access
            continue
        obj = getattr(pymport_py, name)
        if isinstance(obj, str):      # __version__
            continue
        yield name, obj
        if isinstance(obj, type):
            for member, value in vars(obj).items():
                if member.startswith("_") or member in ("args", "with_traceback", "add_note"):
                    continue
                if issubclass(obj, BaseException) and not callable(value):
                    continue          # JSError's attributes: described in its docstring
                yield f"{name}.{member}", value
    yield "Environment", _pymport.Environment
    for member, value in vars(_pymport.Environment).items():
        if not member.startswith("_"):
            yield f"Environment.{member}", value


_PUBLIC = list(_public_objects())


@pytest.mark.parametrize("name, obj", _PUBLIC, ids=[name for name, _ in _PUBLIC])
def test_public_names_have_docstrings(name, obj):
    doc = inspect.getdoc(obj)
    assert doc and doc.strip(), f"{name} has no docstring"


def test_all_names_exist():
    for name in pymport_py.__all__:
        if name != "globalThis":
            assert hasattr(pymport_py, name), name
    assert "globalThis" in pymport_py.__all__


def test_jsfuture_await_is_documented():
    assert inspect.getdoc(pymport_py.JSFuture.__await__)


def test_adopt_takes_a_jsobject_in_the_stub_and_the_package():
    stub = _stub()["Environment"]
    adopt = next(n for n in stub.body if isinstance(n, ast.FunctionDef) and n.name == "adopt")
    assert [ast.unparse(a.annotation) for a in adopt.args.posonlyargs + adopt.args.args
            if a.annotation is not None] == ["JSObject"]
    for fn in (pymport_py.adopt, pymport_py.Worker.adopt):
        assert inspect.signature(fn).parameters["value"].annotation == "JSObject", fn
