"""The kinds of fuzz case. Each draws what it needs from its own seeded generator and
returns a Case: a description (written down before it runs, so that a crash still says
what was running) and a run() that raises Mismatch when the outcome is wrong.
"""
from __future__ import annotations

import itertools
import json
import random
from dataclasses import dataclass
from typing import Any, Callable

import pymport_py as node

import jsside
import pyside
from oracle import (NO_VALUE, EqualTo, Expect, Mismatch, Promise, Raised, Same, check, describe_exc,
                    expect, outcome, show, too_deep)


@dataclass
class Case:
    kind: str
    text: str                # what the case does, to reproduce it by hand
    run: Callable[[], None]
    hook_exceptions: list    # exceptions the case's hooks may raise (unraisable reports allowed)


class Context:
    """What cases share: the environments, the JS helper functions of each, the known
    defects to exercise."""

    def __init__(self, known: set[str]):
        self.known = known
        self.worker = node.Worker()
        self.float16 = node.eval("typeof Float16Array === 'function'")
        self._helpers: dict[int, dict[str, Any]] = {}

    def helpers(self, env: Any) -> dict[str, Any]:
        h = self._helpers.get(id(env))
        if h is None:
            h = self._helpers[id(env)] = {
                "echo": env.eval("(x) => x"),
                "async_echo": env.eval("async (x) => x"),
                "args": env.eval("(...a) => a"),
                "call": env.eval("(f) => f()"),
                "describe": env.eval(pyside.DESCRIBE_JS),
                "flip": env.eval("(x) => { const u = new Uint8Array(x.buffer, x.byteOffset, "
                                 "x.byteLength); u[0] ^= 255 }"),
                "is_last": env.eval("(x) => x === globalThis.fuzzLast"),
                "catching": env.eval("(f) => { try { f() } catch (e) { return [e instanceof Error, "
                                     "e.message, e.pythonType, e.pythonValue] } }"),
                "twice": env.eval("(f, g) => f(g)"),
                "awaiting": env.eval("async (f) => await f()"),
            }
        return h

    def env(self, r: random.Random) -> tuple[Any, str]:
        return (self.worker, "worker") if r.random() < 0.15 else (node, "main")

    def close(self) -> None:
        self._helpers.clear()
        self.worker.close()


def unwrap(x: Any) -> Any:
    """What a round trip is compared by: to_py() of a JSObject, anything else as it is."""
    return x.to_py() if issubclass(type(x), node.JSObject) else x


def itself(x: Any) -> Any:
    return x


def becomes_function(v: Any) -> bool:
    """Whether v reaches JavaScript as a function made from a Python callable."""
    if type(v) is node.ref:
        inner = v.value  # by reference, whatever it is: a JSObject is callable too
        return callable(inner) and not issubclass(type(inner), BaseException)
    copied = (node.JSObject, list, tuple, dict, set, frozenset, bytes)
    if issubclass(type(v), copied) or pyside._has_buffer(v) or pyside.is_awaitable(v):
        return False
    return callable(v) and not issubclass(type(v), BaseException)


# ---- Python values through JavaScript and back ----

CHANNELS = ["call", "call", "to_js", "attribute", "item", "callback", "args", "kwargs", "nested",
            "call_async", "async"]


def py_roundtrip(r: random.Random, ctx: Context) -> Case:
    env, where = ctx.env(r)
    gen = pyside.PyGen(r, ctx.known, env)
    v = gen.top()
    channel = r.choice(CHANNELS)
    if channel in ("call_async", "async"):
        if issubclass(type(v), dict) and "then" in dict.keys(v):
            channel = "call"  # a thenable: settling the Promise calls its then()
    if channel == "attribute" and becomes_function(v) and "attr-callable" not in ctx.known:
        channel = "item"  # known defect 'attr-callable'
    key = r.choice(["k", "k", "with space", "\ud800", "0", "__proto__"])
    if key == "__proto__" and "proto-key" not in ctx.known:
        key = "k"  # known defect 'proto-key'
    exp = pyside.roundtrip_model(v, returned=channel in ("call", "callback", "call_async", "async"),
                                 nested=channel in ("args", "kwargs", "nested"))
    h = ctx.helpers(env)
    if channel in ("args", "nested"):
        exp = Expect(NO_VALUE if exp.value is NO_VALUE else [exp.value], exp.raises)
    elif channel == "kwargs":
        exp = Expect(NO_VALUE if exp.value is NO_VALUE else {key: exp.value}, exp.raises)
    elif channel in ("async", "call_async") and isinstance(exp.value, Promise):
        # A Promise that settles with a Promise settles as that one does.
        exp = Expect(exp.value.outcome.value, exp.raises + exp.value.outcome.raises)

    # A proxy crossing back must be the original object itself: no to_py() in between.
    back = itself if isinstance(exp.value, Same) else unwrap
    if channel == "attribute" and isinstance(exp.value, Same) and issubclass(type(v), node.JSObject):
        exp = Expect(EqualTo(v), exp.raises)  # a function read as o.k is bound: equal, not the same

    def thunk() -> Any:
        if channel == "call":
            return back(h["echo"](v))
        if channel == "to_js":
            return back(env.to_js(v))
        if channel == "attribute":
            o = env.eval("({})")
            o.k = v
            return back(o.k)
        if channel == "item":
            a = env.eval("[0]")
            a[0] = v
            return back(a[0])
        if channel == "callback":
            return back(h["call"](lambda: v))
        if channel == "args":
            return back(h["args"](v))
        if channel == "kwargs":
            return back(h["echo"](**{key: v}))
        if channel == "call_async":  # converted on the loop thread
            return back(h["echo"].call_async(v).result(10))
        if channel == "async":
            return back(h["async_echo"](v).result(10))
        return back(h["echo"]([v]))

    def run() -> None:
        expect(exp, thunk, f"round trip ({channel})")

    return Case(f"py_roundtrip/{channel}/{where}" + (f" (key {ascii(key)})" if channel == "kwargs" else ""),
                f"value = {show(v)}\nexpected: {exp.describe()[:3000]}", run, hook_excs(v))


def py_in_js(r: random.Random, ctx: Context) -> Case:
    """What JavaScript sees of a Python value (type, number bits, string code units,
    typed array kind and bytes, keys), independent of the way back."""
    env, where = ctx.env(r)
    v = pyside.PyGen(r, ctx.known, env, jsobjects=False).top()
    exp = pyside.describe_model(v)
    h = ctx.helpers(env)

    def run() -> None:
        expect(exp, lambda: pyside.canonical(json.loads(h["describe"](v))), "JavaScript's view")
        if not issubclass(type(v), (bytes, memoryview)) and pyside._has_buffer(v) \
                and pyside.buffer_kind(v)[0] == "shared":
            # Shared memory: a write in JavaScript is seen in Python.
            view = memoryview(v).cast("B") if memoryview(v).c_contiguous else None
            before = view[0]
            h["flip"](v)
            if view[0] != before ^ 255:
                raise Mismatch(f"a JavaScript write to the shared buffer is not seen: {view[0]}")
            view[0] = before
            view.release()

    return Case(f"py_in_js/{where}", f"value = {show(v)}\nexpected: {exp.describe()[:3000]}",
                run, hook_excs(v))


def hook_excs(v: Any) -> list:
    """The exceptions of the hooks inside v."""
    out, seen, stack = [], set(), [v]
    while stack:
        x = stack.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        exc = getattr(x, "fuzz_exc", None) if not issubclass(type(x), node.JSObject) else None
        if isinstance(exc, BaseException):
            out.append(exc)
        t = type(x)
        if issubclass(t, dict):
            stack.extend(dict.values(x))
        elif issubclass(t, list):
            stack.extend(list.__iter__(x))
        elif issubclass(t, tuple):
            stack.extend(tuple.__iter__(x))
        elif issubclass(t, (set, frozenset)):
            stack.extend(set.__iter__(x) if issubclass(t, set) else frozenset.__iter__(x))
        elif t is node.ref:
            stack.append(x.value)
    return out


# ---- JavaScript values into Python ----

JSOBJECT_NAMES = set(dir(node.JSObject))


def js_to_py(r: random.Random, ctx: Context) -> Case:
    env, where = ctx.env(r)
    gen = jsside.JSGen(r, ctx.known, ctx.float16)
    v = gen.top()
    src = v.src()
    channel = r.choice(["eval", "eval", "callback"])
    m = jsside.Model()
    shallow = v.shallow(m)
    ops = []
    if v.is_object:
        ops = r.sample(["len", "bool", "iter", "buffer", "item", "attr", "in", "dir", "repr",
                        "str", "identity", "index"], r.randrange(1, 5))
        if v.kind == "symbol":  # a JSObject, but not an object in JavaScript
            ops = [op for op in ops if op in ("repr", "str", "identity")]
    h = ctx.helpers(env)

    def get() -> Any:
        if channel == "eval":
            return env.eval(f"globalThis.fuzzLast = ({src})")
        got = []
        env.eval(f"(f) => {{ f(globalThis.fuzzLast = ({src})) }}")(got.append)
        return got[0]

    def run() -> None:
        x = expect(Expect(shallow, m.raises), get, "conversion")
        if not issubclass(type(x), node.JSObject):
            return
        for op in ops:
            js_op(op, v, x, r, h)

    return Case(f"js_to_py/{channel}/{where}",
                f"source = {ascii(src)[:6000]}\nops = {ops}\nexpected: {show(shallow)}", run, [])


def js_op(op: str, v: jsside.JS, x: Any, r: random.Random, h: dict) -> None:
    m = jsside.Model()
    if op == "len":
        exp = v.length()
        if exp is not None:
            expect(exp, lambda: len(x), "len()")
    elif op == "bool":
        exp = v.length()
        if exp is not None:
            # False for a length or size of 0; True for none (or an unusable one).
            if exp.value is not NO_VALUE:
                exp = Expect(exp.value != 0, exp.raises)
            else:
                none = any(e.type in (TypeError, ValueError) for e in exp.raises)
                exp = Expect(True if none else NO_VALUE,
                             [e for e in exp.raises if e.type not in (TypeError, ValueError)])
            expect(exp, lambda: bool(x), "bool()")
    elif op == "iter":
        exp = v.iteration(m)
        if exp is not None:
            n = len(exp.value) if isinstance(exp.value, list) else 10
            expect(exp, lambda: list(itertools.islice(iter(x), n + 2)), "iteration")
    elif op == "buffer":
        exp = v.buffer()
        if exp is not None:
            def view() -> memoryview:
                with memoryview(x) as mv:
                    return memoryview(mv.tobytes()).cast(mv.format) if mv.nbytes else \
                        memoryview(b"").cast(mv.format)
            expect(exp, view, "memoryview()")
    elif op in ("item", "attr", "in"):
        keys = v.keys()
        key = r.choice(keys) if keys and r.random() < 0.8 else "fuzzMissing"
        if op == "in":
            exp = Expect(key in keys)
            if isinstance(v, jsside.ProxyJS):
                exp = v.lenient(exp)
            expect(exp, lambda: key in x, f"{ascii(key)} in")
            return
        exp = v.item(key, m)
        if exp is None:
            return
        if op == "attr":
            if key in JSOBJECT_NAMES or key.startswith("__"):
                return
            exp = Expect(exp.value, [Raised(AttributeError) if e.type is KeyError else e
                                     for e in exp.raises])
            expect(exp, lambda: getattr(x, key), f"getattr {ascii(key)}")
        else:
            expect(exp, lambda: x[key], f"item {ascii(key)}")
    elif op == "index" and isinstance(v, jsside.Array):
        i = r.choice([0, 1, len(v.items) - 1, len(v.items), -1, 2 ** 31])
        expect(v.index(i, m), lambda: x[i], f"item [{i}]")
    elif op == "dir":
        allowed = v.errors() if isinstance(v, jsside.ProxyJS) else []
        ok, names = outcome(lambda: dir(x))
        if not ok:
            if not any(e.accepts(names) for e in allowed):
                raise Mismatch(f"dir() raised {describe_exc(names)}")
            return
        missing = [k for k in v.keys() if k not in names]
        if missing and not isinstance(v, jsside.ProxyJS):
            raise Mismatch(f"dir() lacks own keys {show(missing)}")
    elif op in ("repr", "str"):
        # str() is String(): any JavaScript error it throws (a Symbol or a throwing trap
        # inside an Array, say) is fine. util.inspect runs no code of the object, except
        # on a Proxy (Node 18 calls a getter of its target, or fails inside).
        has_proxy = "Proxy" in v.src()
        allowed = [Raised(node.JSError, subclasses=True)] if op == "str" or has_proxy else []
        ok, text = outcome(lambda: (repr if op == "repr" else str)(x))
        if ok and type(text) is not str:
            raise Mismatch(f"{op}() gave {type(text).__name__}")
        if not ok and not any(e.accepts(text) for e in allowed):
            raise Mismatch(f"{op}() raised {describe_exc(text)}")
    elif op == "identity":
        if h["is_last"](x) is not True:
            raise Mismatch("the JSObject passed back is not the same JavaScript value")
        if h["echo"](x) is not x:
            raise Mismatch("the same JavaScript object gave another JSObject")
        if hash(x) != hash(x) or x != x:
            raise Mismatch("hash() or == is not stable")


# ---- exceptions both ways ----

def js_throw(r: random.Random, ctx: Context) -> Case:
    env, where = ctx.env(r)
    t = jsside.JSGen(r, ctx.known, ctx.float16).thrown()
    channel = r.choice(["eval", "call", "getter", "rejection", "call_async", "through_python"])

    if channel == "through_python" and t.src in ("null", "undefined") \
            and "nullish-through-python" not in ctx.known:
        channel = "eval"  # known defect 'nullish-through-python'

    def run() -> None:
        if channel == "through_python":
            # A JS error passing through a Python callback comes back to JS as itself.
            same = env.eval(f"(callIt) => {{ const original = {t.src}; try {{ callIt(() => "
                            f"{{ throw original }}) }} catch (e) {{ return Object.is(e, original) }} }}")
            if same(lambda f: f()) is not True:
                raise Mismatch("the JS value thrown through a Python callback is not the original")
            return
        if channel == "eval":
            ok, e = outcome(lambda: env.eval(f"throw {t.src}"))
        elif channel == "call":
            ok, e = outcome(lambda: env.eval(f"() => {{ throw {t.src} }}")())
        elif channel == "getter":
            ok, e = outcome(lambda: env.eval(f"({{get x() {{ throw {t.src} }}}})").x)
        elif channel == "rejection":
            ok, e = outcome(lambda: env.eval(f"Promise.reject({t.src})").result(10))
        else:
            fut = env.eval(f"() => {{ throw {t.src} }}").call_async()
            ok, e = True, fut.exception(10)
            if e is None:
                raise Mismatch("call_async of a throwing function did not fail")
            ok = False
        if ok:
            raise Mismatch(f"nothing was raised, expected {t.type.__name__}")
        if not isinstance(e, node.JSError):
            raise Mismatch(f"raised {describe_exc(e)}, expected {t.type.__name__}") from e
        wrong = t.check(e)
        if wrong:
            raise Mismatch(f"the exception has {wrong}")

    return Case(f"js_throw/{channel}/{where}", f"throw {ascii(t.src)}", run, [])


def py_raise(r: random.Random, ctx: Context) -> Case:
    env, where = ctx.env(r)
    exc = pyside.new_exception(r, "callback")
    h = ctx.helpers(env)
    channel = r.choice(["call", "caught", "twice", "async", "map"])

    def raiser(*args: Any) -> None:
        raise exc

    def run() -> None:
        if channel == "caught":
            got = h["catching"](raiser).to_py()
            expected = [True, f"{type(exc).__name__}: {exc}", type(exc).__name__, Same(exc)]
            check(expected, got, "the Error JavaScript caught")
            return
        if channel == "call":
            thunk = lambda: h["call"](raiser)  # noqa: E731
        elif channel == "twice":
            thunk = lambda: h["twice"](lambda g: g(), raiser)  # noqa: E731
        elif channel == "async":
            thunk = lambda: h["awaiting"](raiser).result(10)  # noqa: E731
        else:
            thunk = lambda: env.eval("(f) => [1, 2].map((x) => f(x))")(raiser)  # noqa: E731
        expect(Expect(raises=[Raised(type(exc), obj=exc)]), thunk, "the exception back in Python")

    return Case(f"py_raise/{channel}/{where}", f"raise {show(exc)} from a callback ({channel})",
                run, [exc])


# ---- JavaScript operations on Python objects with hostile dunders ----

PYOBJECT_OPS = [
    # JS expression, the dunder it runs, the Python value it gives when that does not raise
    ("String(p)", "__str__", lambda h: f"str {h.tag}"),
    ("`${p}`", "__str__", lambda h: f"str {h.tag}"),
    ("require('util').inspect(p)", "__repr__", lambda h: f"[PyObject repr {h.tag}]"),
    ("p.get('foo')", "__getattr__", lambda h: "attr foo"),
    ("p.has('foo')", "__getattr__", lambda h: True),
    ("p.item(3)", "__getitem__", lambda h: "item 3"),
    ("p.length", "__len__", lambda h: h.tag),
    ("[...p].length", "__iter__", lambda h: h.tag % 5),
    ("p.toJS() === p", None, lambda h: True),
    ("p.type", None, lambda h: "Hostile"),  # tp_name: a class's __name__
]


def pyobject(r: random.Random, ctx: Context) -> Case:
    env, where = ctx.env(r)
    exc = pyside.new_exception(r, "dunder")
    hostile = pyside.Hostile(exc, frozenset(r.sample(pyside.HOSTILE_DUNDERS, r.randrange(0, 4))),
                             r.randrange(0, 100))
    op, dunder, value = r.choice(PYOBJECT_OPS)
    if op == "p.length" and dunder in hostile.raising and "pyobject-length" not in ctx.known:
        op, dunder, value = PYOBJECT_OPS[0]  # known defect 'pyobject-length'
    caught = r.random() < 0.5
    raises = dunder in hostile.raising
    if op.startswith("p.has") and raises and "pyobject-has" not in ctx.known:
        op, dunder, value = PYOBJECT_OPS[0]  # known defect 'pyobject-has'
        raises = dunder in hostile.raising
    if dunder == "__getattr__" and raises and type(exc) is AttributeError:
        # PyObject.get() gives undefined and has() false for an AttributeError.
        raises, value = False, (lambda h: None) if op.startswith("p.get") else (lambda h: False)
    if op.startswith("p.item") and raises and isinstance(exc, Exception):
        # As pymport's: item() gives undefined when the element cannot be had.
        raises, value = False, (lambda h: None)

    def run() -> None:
        if caught:
            f = env.eval(f"(p) => {{ try {{ return ['ok', {op}] }} catch (e) {{ "
                         f"return ['error', e.pythonType, e.pythonValue] }} }}")
            # pythonType is the exception's class, as in pymport
            expected = ["error", type(exc), Same(exc)] if raises else ["ok", value(hostile)]
            check(expected, f(hostile).to_py(), f"JavaScript {op}")
        else:
            f = env.eval(f"(p) => {op}")
            exp = Expect(raises=[Raised(type(exc), obj=exc)]) if raises else Expect(value(hostile))
            expect(exp, lambda: f(hostile), f"JavaScript {op}")

    return Case(f"pyobject/{where}", f"{op} on {show(hostile)} ({'caught in JS' if caught else 'uncaught'})",
                run, [exc])


# ---- nesting deeper than the recursion limit ----

def deep(r: random.Random, ctx: Context) -> Case:
    env, where = ctx.env(r)
    n = r.choice([r.randrange(1, 400), r.randrange(400, 1500), r.randrange(1500, 20000)])
    side = r.choice(["python", "js"])
    sure = n < 400   # no RecursionError below this depth; always one above 1000 (the limit)
    raises = too_deep()

    def walk(got: Any) -> None:
        for _ in range(n):
            if type(got) is not list or len(got) != 1:
                raise Mismatch(f"nesting of depth {n} came back as {show(got, 200)}")
            got = got[0]
        if got != []:
            raise Mismatch(f"the innermost list is {show(got, 200)}")

    def run() -> None:
        if side == "python":
            v: list = []
            for _ in range(n):
                v = [v]
            thunk = lambda: ctx.helpers(env)["echo"](v).to_py()  # noqa: E731
        else:
            thunk = lambda: env.eval(f"JSON.parse('['.repeat({n}) + '[]' + ']'.repeat({n}))").to_py()  # noqa: E731
        ok, got = outcome(thunk)
        if ok:
            if n > 1000:
                raise Mismatch(f"nesting of depth {n} gave no RecursionError")
            walk(got)
        elif not (any(e.accepts(got) for e in raises) and not sure):
            raise Mismatch(f"nesting of depth {n} raised {describe_exc(got)}") from got

    return Case(f"deep/{side}/{where}", f"nested lists of depth {n} ({side} side)", run, [])


KINDS = [(py_roundtrip, 30), (py_in_js, 15), (js_to_py, 30), (js_throw, 8), (py_raise, 5),
         (pyobject, 8), (deep, 2)]


def make(r: random.Random, ctx: Context) -> Case:
    kind = r.choices([k for k, _ in KINDS], [w for _, w in KINDS])[0]
    return kind(r, ctx)
