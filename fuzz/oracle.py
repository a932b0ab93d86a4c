"""What a case expects, and the comparison of what happened with it.

An expectation is a model value (what the conversion should give) plus the exceptions that
are acceptable instead. Model values are plain Python values compared strictly (an int is
not a float, True is not 1, NaN equals NaN), with a few markers for what cannot be spelled
as a value: Same(obj) for identity, View(...) for a memoryview, AnyJSObject for a live
JavaScript object, Promise(...) for a JavaScript Promise.
"""
from __future__ import annotations

import ctypes
import datetime
import math
import os
import struct
import types
from dataclasses import dataclass, field
from typing import Any, Callable

import pymport_py as node


class Mismatch(Exception):
    """A case's outcome differs from its expectation (a fuzz failure)."""


# ---- model markers ----

@dataclass(frozen=True)
class Same:
    """The very object `obj` (a proxy crossing back gives the original)."""
    obj: Any


@dataclass(frozen=True)
class EqualTo:
    """A JSObject equal to `obj` (the same JavaScript value, maybe another proxy of it)."""
    obj: Any


@dataclass(frozen=True)
class View:
    """A memoryview with this format and these items."""
    format: str
    items: tuple


class _Marker:
    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


AnyJSObject = _Marker("AnyJSObject")  # some JSObject
AnyValue = _Marker("AnyValue")        # whatever comes back (nothing sure to check)


@dataclass(frozen=True)
class JSValue:
    """A JSObject whose to_py() gives `deep` (itself a model, or an Expect)."""
    deep: Any


@dataclass(frozen=True)
class Promise:
    """A JSObject for a Promise that settles with `outcome` (an Expect)."""
    outcome: "Expect"


@dataclass(frozen=True)
class Raised:
    """An acceptable exception: this exact object, or (when `obj` is None) an instance of
    exactly `type` (subclasses are not accepted unless `subclasses`), optionally with a
    JavaScript message containing `marker`."""
    type: type
    obj: BaseException | None = None
    marker: str | None = None
    subclasses: bool = False

    def accepts(self, exc: BaseException) -> bool:
        if self.obj is not None:
            return exc is self.obj
        if self.subclasses:
            if not isinstance(exc, self.type):
                return False
        elif type(exc) is not self.type:
            return False
        if self.marker is not None:
            message = getattr(exc, "message", None)
            return isinstance(message, str) and self.marker in message
        return True

    def __str__(self) -> str:
        if self.obj is not None:
            return f"the very {type(self.obj).__name__} {self.obj!r}"
        return self.type.__name__ + (f" (marker {self.marker!r})" if self.marker else "")


NO_VALUE = object()  # the model when no value can be the outcome, only an exception

# Under AddressSanitizer (scripts/test-sanitized's build, preloaded) C frames are larger, and
# a deep to_py() that calls JavaScript at each level (a Map or Set) reaches V8's stack limit
# before Python's recursion limit.
SANITIZED = "libasan" in os.environ.get("LD_PRELOAD", "")


def too_deep() -> list["Raised"]:
    """The exceptions of a copy that goes deeper than it can."""
    out = [Raised(RecursionError)]
    if SANITIZED:
        out.append(Raised(node.JSRangeError, marker="Maximum call stack size exceeded"))
    return out


@dataclass
class Expect:
    """A value (`NO_VALUE` when only an exception can happen) or one of `raises`."""
    value: Any = NO_VALUE
    raises: list = field(default_factory=list)

    def describe(self) -> str:
        parts = [] if self.value is NO_VALUE else [f"value {show(self.value)}"]
        parts += [f"raise {r}" for r in self.raises]
        return " or ".join(parts) or "nothing (no outcome is acceptable)"


# ---- comparing ----

def canon(x: Any) -> Any:
    """A hashable key that tells apart what strict comparison tells apart (for sets and
    dict keys: NaN equals NaN, 1 is not True, 0.0 and -0.0 differ)."""
    t = type(x)
    if t is float:
        return ("float", "nan") if math.isnan(x) else ("float", struct.pack("<d", x))
    if t in (int, bool, str, bytes) or x is None:
        return (t.__name__, x)
    if t is datetime.datetime:
        return ("datetime", x)
    if t is tuple:
        return ("tuple",) + tuple(canon(i) for i in x)
    if t is memoryview:
        return ("memoryview", x.format, tuple(x.tolist()))
    if t is View:
        return ("memoryview", x.format, x.items)
    return ("id", id(x))


def check(model: Any, got: Any, where: str = "value") -> None:
    """Raises Mismatch unless `got` matches the model value `model`."""
    def fail(why: str) -> None:
        raise Mismatch(f"{where}: {why}: expected {show(model)}, got {show(got)}")

    if isinstance(model, Same):
        if got is not model.obj:
            fail("not the original object")
        return
    if model is AnyValue:
        return
    if isinstance(model, EqualTo):
        if not issubclass(type(got), node.JSObject) or got != model.obj:
            fail("not equal to the original JSObject")
        return
    if model is AnyJSObject:
        if not issubclass(type(got), node.JSObject):
            fail("not a JSObject")
        return
    if isinstance(model, JSValue):
        if not issubclass(type(got), node.JSObject):
            fail("not a JSObject")
        expect(model.deep if isinstance(model.deep, Expect) else Expect(model.deep),
               got.to_py, where + ".to_py()")
        return
    if isinstance(model, Promise):
        if not issubclass(type(got), node.JSObject):
            fail("not a JSObject (Promise)")
        expect(model.outcome, lambda: got.result(10), where + ".result()")
        return
    if isinstance(model, View):
        if type(got) is not memoryview:
            fail("not a memoryview")
        if got.format != model.format:
            fail(f"format {got.format!r}")
        check(list(model.items), got.tolist(), where + ".tolist()")
        return
    if type(got) is not type(model):
        fail(f"type {type(got).__name__}")
    if isinstance(model, float):
        if not (math.isnan(model) and math.isnan(got)) and \
                struct.pack("<d", model) != struct.pack("<d", got):
            fail("different float")
    elif isinstance(model, list):
        if len(got) != len(model):
            fail(f"length {len(got)}")
        for i, (m, g) in enumerate(zip(model, got)):
            check(m, g, f"{where}[{i}]")
    elif isinstance(model, dict):
        mk = {canon(k): (k, v) for k, v in model.items()}
        gk = {canon(k): (k, v) for k, v in got.items()}
        if mk.keys() != gk.keys():
            fail("different keys")
        for c, (k, v) in mk.items():
            check(k, gk[c][0], f"{where} key {show(k)}")
            check(v, gk[c][1], f"{where}[{show(k)}]")
    elif isinstance(model, (set, frozenset)):
        if {canon(x) for x in model} != {canon(x) for x in got}:
            fail("different members")
    elif isinstance(model, datetime.datetime):
        if got != model or got.tzinfo != model.tzinfo:
            fail("different datetime")
    elif got != model:
        fail("different value")


def outcome(thunk: Callable[[], Any]) -> tuple[bool, Any]:
    """(True, result) or (False, the exception it raised)."""
    try:
        return True, thunk()
    except BaseException as e:  # noqa: B902 - hooks raise KeyboardInterrupt and SystemExit too
        return False, e


def expect(exp: Expect, thunk: Callable[[], Any], where: str = "value") -> Any:
    """Runs `thunk` and raises Mismatch unless its outcome is acceptable; returns the value
    (or None when an acceptable exception was raised)."""
    ok, res = outcome(thunk)
    if ok:
        if exp.value is NO_VALUE:
            raise Mismatch(f"{where}: expected to raise {' or '.join(map(str, exp.raises))}, "
                           f"got {show(res)}")
        try:
            check(exp.value, res, where)
        except Mismatch:
            raise
        except BaseException as e:  # a step of the check (to_py, result) raised
            if not any(r.accepts(e) for r in exp.raises):
                raise Mismatch(f"{where}: checking the value raised {describe_exc(e)}; "
                               f"expected {exp.describe()}") from e
        return res
    if any(r.accepts(res) for r in exp.raises):
        return None
    if isinstance(res, Mismatch):
        raise res
    raise Mismatch(f"{where}: raised {describe_exc(res)}; expected {exp.describe()}") from res


def describe_exc(e: BaseException) -> str:
    try:
        text = str(e)
    except BaseException:  # noqa: B902 - str() of a hook's exception may raise
        text = "<str() raised>"
    return f"{type(e).__module__}.{type(e).__qualname__}: {ascii(text)[:300]}"


def show(x: Any, limit: int = 2000) -> str:
    """repr() that never runs a hook's code, stops at cycles, escapes surrogates and keeps
    to about `limit` characters."""
    out: list[str] = []
    budget = [limit]

    def emit(text: str) -> None:
        budget[0] -= len(text)
        out.append(text)

    def walk(x: Any, path: dict[int, int]) -> None:
        if budget[0] <= 0:
            emit("...")
            return
        t = type(x)
        if x is None or t in (bool, int, float, str, bytes):
            text = ascii(x) if t is not int or x.bit_length() < 1000 else hex(x)
            emit(text if len(text) <= 300 else f"{text[:300]}...({len(text)} long)")
            return
        if x is NO_VALUE:
            emit("NO_VALUE")
            return
        if x is AnyJSObject or x is AnyValue:
            emit(repr(x))
            return
        if t in (Same, EqualTo, View, JSValue, Promise, Expect):
            emit(t.__name__ + "(")
            if t in (Same, EqualTo):
                walk(x.obj, path)
            elif t is View:
                emit(repr(x.format) + ", ")
                walk(list(x.items), path)
            elif t is JSValue:
                walk(x.deep, path)
            elif t is Promise:
                walk(x.outcome, path)
            else:
                walk(x.value, path)
                for r in x.raises:
                    emit(f" or raise {r}")
            emit(")")
            return
        if issubclass(t, (int, float, str, bytes)):
            raw = (int.__int__(x) if issubclass(t, int) else float.__float__(x) if issubclass(t, float)
                   else str.__str__(x) if issubclass(t, str) else bytes(memoryview(x)))
            emit(f"{t.__name__}(")
            walk(raw, path)
            emit(")")
            return
        if issubclass(t, (list, tuple, dict, set, frozenset)):
            if id(x) in path:
                emit(f"<cycle: the {t.__name__} {len(path) - path[id(x)]} levels up>")
                return
            path = {**path, id(x): len(path)}
            name = "" if t in (list, tuple, dict) else t.__name__
            if issubclass(t, dict):
                emit(name + "{")
                for i, (k, v) in enumerate(dict.items(x)):
                    emit(", " if i else "")
                    walk(k, path)
                    emit(": ")
                    walk(v, path)
                emit("}")
                return
            if issubclass(t, list):
                items, brackets = list.__iter__(x), "[]"
            elif issubclass(t, tuple):
                items, brackets = tuple.__iter__(x), "()"
            else:
                # Members sorted as text: iteration order follows hashes, some of which (None's
                # before 3.12) differ from one process to the next.
                members = set.__iter__(x) if issubclass(t, set) else frozenset.__iter__(x)
                items = sorted((show(m, max(budget[0], 0)) for m in members))
                emit((name or t.__name__) + "({" + ", ".join(items) + "})")
                budget[0] -= sum(map(len, items))
                return
            emit(name + brackets[0])
            for i, v in enumerate(items):
                emit(", " if i else "")
                walk(v, path)
            emit(brackets[1])
            return
        if t is bytearray:
            emit(f"bytearray({bytes(x)!r})")
            return
        if t is memoryview:
            emit(f"memoryview(format={x.format!r}, readonly={x.readonly}, "
                 f"contiguous={x.c_contiguous}, {x.tobytes()!r})")
            return
        if t is datetime.datetime or t.__module__ == "array":
            emit(repr(x))
            return
        if issubclass(t, ctypes.Array):
            emit(f"({t._type_.__name__} * {t._length_})(raw={bytes(memoryview(x).cast('B'))!r})")
            return
        if issubclass(t, node.JSObject):
            emit("<JSObject>")
            return
        if t is node.ref:
            emit("ref(")
            walk(x.value, path)
            emit(")")
            return
        describe = getattr(t, "fuzz_describe", None)
        if describe is not None:
            emit(describe(x))
            return
        if issubclass(t, BaseException):
            emit(f"{t.__name__}{x.args!r}")
            return
        if t in (types.FunctionType, types.BuiltinFunctionType, type):
            emit(f"<{t.__name__} {x.__qualname__}>")
            return
        emit(f"<{t.__qualname__}>")

    walk(x, {})
    return "".join(out)
